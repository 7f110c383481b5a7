//! How entities become store documents: their JSON and the indexes that serve the list filters.
//!
//! Every combination of filters has its own index, so any list is one index range whatever the
//! filters: messages are in `all`, `tipo:{t}`, `status:{s}` and `tipo:{t}|status:{s}`; alerts in
//! `all`, `severidade:{s}`, `resolvido:{b}` and `severidade:{s}|resolvido:{b}`.

use integra_domain::{Alerta, Mensagem, Severidade, StatusMensagem, Timestamp, TipoMensagem};
use integra_ports::{Collection, Document};
use serde::{de::DeserializeOwned, Deserialize, Serialize};

use crate::ServiceError;

/// The index of every document of a collection.
pub(crate) const ALL: &str = "all";

/// The index that answers a filter on two optional facets.
fn index(a: Option<(&str, &str)>, b: Option<(&str, &str)>) -> String {
    match (a, b) {
        (None, None) => ALL.to_owned(),
        (Some((k, v)), None) | (None, Some((k, v))) => format!("{k}:{v}"),
        (Some((k1, v1)), Some((k2, v2))) => format!("{k1}:{v1}|{k2}:{v2}"),
    }
}

/// The index of messages with this tipo and status, either optional.
pub(crate) fn message_index(tipo: Option<TipoMensagem>, status: Option<StatusMensagem>) -> String {
    index(
        tipo.map(|t| ("tipo", t.as_str())),
        status.map(|s| ("status", s.as_str())),
    )
}

/// The index of alerts with this severity and resolution, either optional.
pub(crate) fn alert_index(severidade: Option<Severidade>, resolvido: Option<bool>) -> String {
    index(
        severidade.map(|s| ("severidade", s.as_str())),
        resolvido.map(|r| ("resolvido", if r { "true" } else { "false" })),
    )
}

fn to_json<T: Serialize>(value: &T) -> Result<String, ServiceError> {
    serde_json::to_string(value).map_err(|e| ServiceError::Corrupt(e.to_string()))
}

/// Reads a stored document back.
pub(crate) fn decode<T: DeserializeOwned>(body: &str) -> Result<T, ServiceError> {
    serde_json::from_str(body).map_err(|e| ServiceError::Corrupt(e.to_string()))
}

/// The document of a message.
pub(crate) fn message_doc(m: &Mensagem) -> Result<Document, ServiceError> {
    let (t, s) = (Some(m.tipo), Some(m.status));
    Ok(Document {
        collection: Collection::Messages,
        id: m.id.to_string(),
        body: to_json(m)?,
        created_ms: m.criado_em.millis(),
        indexes: vec![
            message_index(None, None),
            message_index(t, None),
            message_index(None, s),
            message_index(t, s),
        ],
    })
}

/// An event an alert owes the bus: written with the change that caused it, cleared once the
/// broker acknowledged it. While `since` is recent another request is publishing it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PendingEvent {
    /// `alerta.criado`, `alerta.resolvido` or `alerta.reaberto`.
    pub evento: String,
    /// When a publisher took it up; `None` after a failed attempt, so that a retry may go at once.
    pub since: Option<Timestamp>,
}

impl PendingEvent {
    /// `evento`, taken up now by the caller.
    pub fn taken(evento: &str) -> Self {
        Self {
            evento: evento.to_owned(),
            since: Some(Timestamp::now()),
        }
    }
}

/// An alert as stored: the alert and the event it still owes, if any.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredAlert {
    #[serde(flatten)]
    pub alerta: Alerta,
    #[serde(
        default,
        rename = "_evento_pendente",
        skip_serializing_if = "Option::is_none"
    )]
    pub pending: Option<PendingEvent>,
}

/// The document of an alert.
pub(crate) fn alert_doc(a: &StoredAlert) -> Result<Document, ServiceError> {
    let (s, r) = (Some(a.alerta.severidade), Some(a.alerta.resolvido));
    Ok(Document {
        collection: Collection::Alerts,
        id: a.alerta.id.to_string(),
        body: to_json(a)?,
        created_ms: a.alerta.criado_em.millis(),
        indexes: vec![
            alert_index(None, None),
            alert_index(s, None),
            alert_index(None, r),
            alert_index(s, r),
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_filter_combination_names_one_index() {
        assert_eq!(message_index(None, None), "all");
        assert_eq!(message_index(Some(TipoMensagem::Sms), None), "tipo:sms");
        assert_eq!(
            message_index(None, Some(StatusMensagem::Erro)),
            "status:ERRO"
        );
        assert_eq!(
            message_index(Some(TipoMensagem::Push), Some(StatusMensagem::Concluida)),
            "tipo:push|status:CONCLUIDA"
        );
        assert_eq!(
            alert_index(Some(Severidade::Alta), Some(false)),
            "severidade:alta|resolvido:false"
        );
    }
}
