//! Alerts: raised, deduplicated by id, acknowledged, resolved, reopened.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{json, validate, Id, Timestamp, ValidationError};

/// How urgent an alert is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Severidade {
    /// Low.
    Baixa,
    /// Medium.
    Media,
    /// High.
    Alta,
    /// Critical.
    Critica,
}

impl Severidade {
    /// Every severity, in a fixed order.
    pub const ALL: [Self; 4] = [Self::Baixa, Self::Media, Self::Alta, Self::Critica];

    /// The contract's name of this severity.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Baixa => "baixa",
            Self::Media => "media",
            Self::Alta => "alta",
            Self::Critica => "critica",
        }
    }

    /// Parses the contract's name.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

impl fmt::Display for Severidade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a client sends to `POST /alerts`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NovoAlerta {
    /// The client's id; the same id again deduplicates. The server makes one when absent.
    #[serde(default)]
    pub id: Option<Id>,
    /// A title: 1 to 200 characters.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 200))]
    pub titulo: String,
    /// A description: at most 4096 characters.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 4096))]
    pub descricao: Option<String>,
    /// How urgent it is.
    pub severidade: Severidade,
    /// What raised it: 1 to 200 characters.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 200))]
    pub origem: Option<String>,
    /// Free string-to-string data: at most 32 entries, keys of 1 to 128 characters, values of
    /// at most 1024.
    #[serde(default, deserialize_with = "crate::validate::unique_map")]
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::openapi::alert_labels))]
    pub labels: Option<BTreeMap<String, String>>,
}

/// An alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Alerta {
    /// Its id.
    pub id: Id,
    /// Its title.
    pub titulo: String,
    /// Its description (empty when none was given).
    pub descricao: String,
    /// How urgent it is.
    pub severidade: Severidade,
    /// What raised it.
    pub origem: Option<String>,
    /// Free data from the client.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Whether it was resolved.
    pub resolvido: bool,
    /// When it was raised.
    pub criado_em: Timestamp,
    /// When it last changed.
    pub atualizado_em: Timestamp,
    /// When it was resolved; null while open.
    pub resolvido_em: Option<Timestamp>,
    /// Whether someone acknowledged it since it was last opened.
    #[serde(default)]
    pub reconhecido: bool,
    /// Who acknowledged it, as they said.
    #[serde(default)]
    pub reconhecido_por: Option<String>,
    /// When it was first acknowledged since it was last opened.
    #[serde(default)]
    pub reconhecido_em: Option<Timestamp>,
    /// Whether a silence matched it when it was opened.
    #[serde(default)]
    pub silenciado: bool,
    /// The id of the rule that opened it; null for one a client raised.
    #[serde(default)]
    pub regra: Option<String>,
    /// How many times it was opened: 1, and one more at each reopening.
    #[serde(default = "one")]
    pub aberturas: u32,
}

impl crate::Encode for Alerta {
    /// Written field by field into one buffer, in the order serde writes them (a test holds the
    /// two texts equal): an alert is encoded at every change, and serde's general path was the
    /// largest single cost of a new alert.
    fn encode(&self) -> String {
        let mut out = Vec::with_capacity(
            320 + self.titulo.len() + self.descricao.len() + json::map_size(&self.labels),
        );
        out.extend_from_slice(br#"{"id":"#);
        json::push_string(&mut out, self.id.as_str());
        out.extend_from_slice(br#","titulo":"#);
        json::push_string(&mut out, &self.titulo);
        out.extend_from_slice(br#","descricao":"#);
        json::push_string(&mut out, &self.descricao);
        out.extend_from_slice(br#","severidade":""#);
        out.extend_from_slice(self.severidade.as_str().as_bytes());
        out.extend_from_slice(br#"","origem":"#);
        json::push_opt_string(&mut out, self.origem.as_deref());
        out.extend_from_slice(br#","labels":"#);
        json::push_map(&mut out, &self.labels);
        out.extend_from_slice(br#","resolvido":"#);
        json::push_bool(&mut out, self.resolvido);
        out.extend_from_slice(br#","criado_em":"#);
        json::push_timestamp(&mut out, self.criado_em);
        out.extend_from_slice(br#","atualizado_em":"#);
        json::push_timestamp(&mut out, self.atualizado_em);
        out.extend_from_slice(br#","resolvido_em":"#);
        json::push_opt_timestamp(&mut out, self.resolvido_em);
        out.extend_from_slice(br#","reconhecido":"#);
        json::push_bool(&mut out, self.reconhecido);
        out.extend_from_slice(br#","reconhecido_por":"#);
        json::push_opt_string(&mut out, self.reconhecido_por.as_deref());
        out.extend_from_slice(br#","reconhecido_em":"#);
        json::push_opt_timestamp(&mut out, self.reconhecido_em);
        out.extend_from_slice(br#","silenciado":"#);
        json::push_bool(&mut out, self.silenciado);
        out.extend_from_slice(br#","regra":"#);
        json::push_opt_string(&mut out, self.regra.as_deref());
        out.extend_from_slice(br#","aberturas":"#);
        // Writing into a Vec cannot fail.
        let _ = std::io::Write::write_fmt(&mut out, format_args!("{}", self.aberturas));
        out.push(b'}');
        json::into_string(out)
    }
}

const fn one() -> u32 {
    1
}

/// An acknowledgement was asked of an alert that cannot take one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("alert {0} is resolved: only an open alert is acknowledged")]
pub struct AckError(pub Id);

impl Alerta {
    /// An open alert raised now, checked against the contract's rules.
    ///
    /// # Errors
    /// The first rule the input breaks, naming its field.
    pub fn raise(input: NovoAlerta, now: Timestamp) -> Result<Self, ValidationError> {
        validate::chars("titulo", &input.titulo, 1, 200)?;
        let descricao = input.descricao.unwrap_or_default();
        validate::chars("descricao", &descricao, 0, 4096)?;
        if let Some(origem) = &input.origem {
            validate::chars("origem", origem, 1, 200)?;
        }
        let labels = input.labels.unwrap_or_default();
        validate::string_map("labels", &labels, 32, 1024)?;
        Ok(Self {
            id: input.id.unwrap_or_else(Id::generate),
            titulo: input.titulo,
            descricao,
            severidade: input.severidade,
            origem: input.origem,
            labels,
            resolvido: false,
            criado_em: now,
            atualizado_em: now,
            resolvido_em: None,
            reconhecido: false,
            reconhecido_por: None,
            reconhecido_em: None,
            silenciado: false,
            regra: None,
            aberturas: 1,
        })
    }

    /// Acknowledges it, by `por` when given. Returns false, changing nothing, when it already
    /// was: the first acknowledgement stands.
    ///
    /// # Errors
    /// [`AckError`] when it is resolved.
    pub fn acknowledge(&mut self, por: Option<String>, now: Timestamp) -> Result<bool, AckError> {
        if self.resolvido {
            return Err(AckError(self.id.clone()));
        }
        if self.reconhecido {
            return Ok(false);
        }
        self.reconhecido = true;
        self.reconhecido_por = por;
        self.reconhecido_em = Some(now);
        self.atualizado_em = now;
        Ok(true)
    }

    /// Resolves it. Returns false, changing nothing, when it already was: the first
    /// `resolvido_em` stands.
    pub fn resolve(&mut self, now: Timestamp) -> bool {
        if self.resolvido {
            return false;
        }
        self.resolvido = true;
        self.resolvido_em = Some(now);
        self.atualizado_em = now;
        true
    }

    /// Reopens a resolved alert. Returns false, changing nothing, when it is open.
    pub fn reopen(&mut self, now: Timestamp) -> bool {
        if !self.resolvido {
            return false;
        }
        self.resolvido = false;
        self.resolvido_em = None;
        self.reconhecido = false;
        self.reconhecido_por = None;
        self.reconhecido_em = None;
        self.aberturas = self.aberturas.saturating_add(1);
        self.atualizado_em = now;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raised() -> Alerta {
        let input: NovoAlerta = serde_json::from_str(
            r#"{"titulo":"Fila parada","severidade":"alta","origem":"billing"}"#,
        )
        .unwrap();
        Alerta::raise(input, Timestamp::from_millis(5)).unwrap()
    }

    #[test]
    fn serializes_exactly_as_the_contract_shows() {
        let v = serde_json::to_value(raised()).unwrap();
        let mut keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "aberturas",
                "atualizado_em",
                "criado_em",
                "descricao",
                "id",
                "labels",
                "origem",
                "reconhecido",
                "reconhecido_em",
                "reconhecido_por",
                "regra",
                "resolvido",
                "resolvido_em",
                "severidade",
                "silenciado",
                "titulo"
            ]
        );
        assert_eq!(
            (v["severidade"].as_str(), v["resolvido"].as_bool()),
            (Some("alta"), Some(false))
        );
        assert!(v["resolvido_em"].is_null());
    }

    #[test]
    fn resolving_twice_keeps_the_first_time_and_reopening_clears_it_and_counts() {
        let mut a = raised();
        assert_eq!(a.aberturas, 1);
        assert!(a.resolve(Timestamp::from_millis(10)));
        assert!(!a.resolve(Timestamp::from_millis(20)));
        assert_eq!(a.resolvido_em, Some(Timestamp::from_millis(10)));
        assert!(a.reopen(Timestamp::from_millis(30)));
        assert!(!a.resolvido && a.resolvido_em.is_none());
        assert!(!a.reopen(Timestamp::from_millis(40)));
        assert_eq!(a.aberturas, 2);
    }

    #[test]
    fn an_acknowledgement_keeps_the_first_and_a_reopened_alert_starts_unacknowledged() {
        let mut a = raised();
        assert_eq!(
            a.acknowledge(Some("ana".into()), Timestamp::from_millis(10)),
            Ok(true)
        );
        assert_eq!(
            a.acknowledge(Some("rui".into()), Timestamp::from_millis(20)),
            Ok(false)
        );
        assert_eq!(
            (
                a.reconhecido,
                a.reconhecido_por.as_deref(),
                a.reconhecido_em
            ),
            (true, Some("ana"), Some(Timestamp::from_millis(10)))
        );
        a.resolve(Timestamp::from_millis(30));
        assert_eq!(
            a.acknowledge(None, Timestamp::from_millis(40)),
            Err(AckError(a.id.clone()))
        );
        a.reopen(Timestamp::from_millis(50));
        assert!(!a.reconhecido && a.reconhecido_por.is_none() && a.reconhecido_em.is_none());
        assert_eq!(a.acknowledge(None, Timestamp::from_millis(60)), Ok(true));
    }

    #[test]
    fn an_alert_stored_before_acknowledgements_existed_reads_back_unacknowledged() {
        let alert = raised();
        let mut old = serde_json::to_value(&alert).unwrap();
        for field in [
            "reconhecido",
            "reconhecido_por",
            "reconhecido_em",
            "silenciado",
            "regra",
        ] {
            old.as_object_mut().unwrap().remove(field);
        }
        let read: Alerta = serde_json::from_value(old).unwrap();
        assert_eq!(read, alert);
    }

    #[test]
    fn enforces_title_and_description_lengths_and_severity_names() {
        let parse = |j: &str| serde_json::from_str::<NovoAlerta>(j).unwrap();
        let empty = parse(r#"{"titulo":"","severidade":"baixa"}"#);
        assert_eq!(
            Alerta::raise(empty, Timestamp::now()).unwrap_err().field,
            "titulo"
        );
        let long = parse(&format!(
            r#"{{"titulo":"t","descricao":"{}","severidade":"baixa"}}"#,
            "d".repeat(4097)
        ));
        assert_eq!(
            Alerta::raise(long, Timestamp::now()).unwrap_err().field,
            "descricao"
        );
        assert!(
            serde_json::from_str::<NovoAlerta>(r#"{"titulo":"t","severidade":"grave"}"#).is_err()
        );
    }
}
