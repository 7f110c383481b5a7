//! Silences: for a while, the alerts they match are opened `silenciado`. Those alerts are stored
//! and published as usual, but send no notification.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{validate, Alerta, Id, Severidade, Timestamp, ValidationError};

/// What a silence matches. Every matcher given must hold (AND); at least one is given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Matchers {
    /// The alert's `origem`, exactly.
    #[serde(default)]
    pub origem: Option<String>,
    /// The alert's `severidade`.
    #[serde(default)]
    pub severidade: Option<Severidade>,
    /// The start of the alert's id.
    #[serde(default)]
    pub id_prefixo: Option<String>,
    /// Labels the alert carries, each with this value.
    #[serde(default, deserialize_with = "crate::validate::unique_map")]
    pub labels: Option<BTreeMap<String, String>>,
}

impl Matchers {
    /// Whether `alerta` passes every matcher given.
    pub fn matches(&self, alerta: &Alerta) -> bool {
        let origem = self
            .origem
            .as_ref()
            .is_none_or(|o| alerta.origem.as_ref() == Some(o));
        let severidade = self.severidade.is_none_or(|s| alerta.severidade == s);
        let prefix = self
            .id_prefixo
            .as_ref()
            .is_none_or(|p| alerta.id.as_str().starts_with(p.as_str()));
        let labels = self.labels.as_ref().is_none_or(|wanted| {
            wanted
                .iter()
                .all(|(k, v)| alerta.labels.get(k).is_some_and(|have| have == v))
        });
        origem && severidade && prefix && labels
    }

    fn check(&self) -> Result<(), ValidationError> {
        if self.origem.is_none()
            && self.severidade.is_none()
            && self.id_prefixo.is_none()
            && self.labels.as_ref().is_none_or(BTreeMap::is_empty)
        {
            return Err(ValidationError::new(
                "matchers",
                "give at least one of origem, severidade, id_prefixo, labels",
            ));
        }
        if let Some(origem) = &self.origem {
            validate::chars("matchers.origem", origem, 1, 200)?;
        }
        if let Some(prefix) = &self.id_prefixo {
            validate::chars("matchers.id_prefixo", prefix, 1, 128)?;
        }
        if let Some(labels) = &self.labels {
            validate::string_map("matchers.labels", labels, 32, 1024)?;
        }
        Ok(())
    }
}

/// What a client sends to `POST /silences`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NovoSilencio {
    /// The client's id; the server makes one when absent.
    #[serde(default)]
    pub id: Option<Id>,
    /// What it matches.
    pub matchers: Matchers,
    /// When it begins; now when absent.
    #[serde(default)]
    pub inicio: Option<Timestamp>,
    /// When it ends: after `inicio`, and not in the past.
    pub fim: Timestamp,
    /// Why: at most 1024 characters.
    #[serde(default)]
    pub comentario: Option<String>,
    /// Who: 1 to 200 characters.
    #[serde(default)]
    pub criado_por: Option<String>,
}

/// A silence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Silencio {
    /// Its id.
    pub id: Id,
    /// What it matches.
    pub matchers: Matchers,
    /// When it begins.
    pub inicio: Timestamp,
    /// When it ends (or ended: ending a silence sets it to that moment).
    pub fim: Timestamp,
    /// Why.
    pub comentario: Option<String>,
    /// Who.
    pub criado_por: Option<String>,
    /// When it was made.
    pub criado_em: Timestamp,
    /// When it last changed.
    pub atualizado_em: Timestamp,
}

impl Silencio {
    /// A silence made now, checked against the contract's rules.
    ///
    /// # Errors
    /// The first rule the input breaks, naming its field.
    pub fn create(input: NovoSilencio, now: Timestamp) -> Result<Self, ValidationError> {
        input.matchers.check()?;
        let inicio = input.inicio.unwrap_or(now);
        if input.fim <= inicio {
            return Err(ValidationError::new("fim", "must be after inicio"));
        }
        if input.fim <= now {
            return Err(ValidationError::new("fim", "must not be in the past"));
        }
        if let Some(comentario) = &input.comentario {
            validate::chars("comentario", comentario, 0, 1024)?;
        }
        if let Some(by) = &input.criado_por {
            validate::chars("criado_por", by, 1, 200)?;
        }
        Ok(Self {
            id: input.id.unwrap_or_else(Id::generate),
            matchers: input.matchers,
            inicio,
            fim: input.fim,
            comentario: input.comentario,
            criado_por: input.criado_por,
            criado_em: now,
            atualizado_em: now,
        })
    }

    /// Whether it is in force at `now`: begun, and not ended.
    pub fn active(&self, now: Timestamp) -> bool {
        self.inicio <= now && now < self.fim
    }

    /// Whether it silences `alerta`, opened or reopened at `now`.
    pub fn silences(&self, alerta: &Alerta, now: Timestamp) -> bool {
        self.active(now) && self.matchers.matches(alerta)
    }

    /// Ends it at `now`; it is kept, inactive. Returns false, changing nothing, when it has
    /// already ended. One that has not begun yet ends before it begins.
    pub fn end(&mut self, now: Timestamp) -> bool {
        if self.fim <= now {
            return false;
        }
        self.fim = now.max(self.inicio);
        self.atualizado_em = now;
        true
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::NovoAlerta;

    fn at(ms: i64) -> Timestamp {
        Timestamp::from_millis(ms)
    }

    fn alert(json: serde_json::Value) -> Alerta {
        let input: NovoAlerta = serde_json::from_value(json).unwrap();
        Alerta::raise(input, at(0)).unwrap()
    }

    fn silence(json: serde_json::Value) -> Result<Silencio, ValidationError> {
        let input: NovoSilencio = serde_json::from_value(json).unwrap();
        Silencio::create(input, at(1_000))
    }

    #[test]
    fn matchers_combine_with_and() {
        let a = alert(serde_json::json!({
            "id": "db-lento-1", "titulo": "t", "severidade": "alta", "origem": "billing",
            "labels": {"fila": "pedidos", "zona": "z1"}
        }));
        let m = |json| serde_json::from_value::<Matchers>(json).unwrap();
        assert!(m(serde_json::json!({"origem": "billing"})).matches(&a));
        assert!(m(serde_json::json!({"severidade": "alta", "id_prefixo": "db-"})).matches(&a));
        assert!(m(serde_json::json!({"labels": {"fila": "pedidos"}})).matches(&a));
        assert!(!m(serde_json::json!({"origem": "billing", "severidade": "baixa"})).matches(&a));
        assert!(!m(serde_json::json!({"id_prefixo": "web-"})).matches(&a));
        assert!(!m(serde_json::json!({"labels": {"fila": "pedidos", "zona": "z2"}})).matches(&a));
        assert!(!m(serde_json::json!({"labels": {"outra": "x"}})).matches(&a));
        let no_origem = alert(serde_json::json!({"titulo": "t", "severidade": "alta"}));
        assert!(!m(serde_json::json!({"origem": "billing"})).matches(&no_origem));
    }

    #[test]
    fn a_silence_is_active_from_its_start_until_its_end_and_ending_keeps_it() {
        let mut s = silence(serde_json::json!({
            "matchers": {"origem": "billing"}, "inicio": "1970-01-01T00:00:02Z",
            "fim": "1970-01-01T00:00:05Z", "criado_por": "ana"
        }))
        .unwrap();
        let a =
            alert(serde_json::json!({"titulo": "t", "severidade": "alta", "origem": "billing"}));
        assert!(!s.silences(&a, at(1_999)));
        assert!(s.silences(&a, at(2_000)));
        assert!(!s.silences(&a, at(5_000)));
        assert!(s.end(at(3_000)));
        assert!(!s.active(at(3_000)) && s.fim == at(3_000));
        assert!(!s.end(at(4_000)));
        // Made now when no start is given.
        let now = silence(
            serde_json::json!({"matchers": {"severidade": "alta"}, "fim": "1970-01-01T00:00:09Z"}),
        )
        .unwrap();
        assert_eq!(now.inicio, at(1_000));
    }

    #[test]
    fn a_silence_needs_a_matcher_and_an_end_after_its_start_and_now() {
        let field = |json| silence(json).unwrap_err().field;
        assert_eq!(
            field(serde_json::json!({"matchers": {}, "fim": "1970-01-01T00:00:09Z"})),
            "matchers"
        );
        assert_eq!(
            field(serde_json::json!({"matchers": {"labels": {}}, "fim": "1970-01-01T00:00:09Z"})),
            "matchers"
        );
        assert_eq!(
            field(
                serde_json::json!({"matchers": {"origem": "b"}, "inicio": "1970-01-01T00:00:09Z", "fim": "1970-01-01T00:00:08Z"})
            ),
            "fim"
        );
        assert_eq!(
            field(
                serde_json::json!({"matchers": {"origem": "b"}, "fim": "1970-01-01T00:00:00.500Z"})
            ),
            "fim"
        );
        assert_eq!(
            field(serde_json::json!({"matchers": {"origem": ""}, "fim": "1970-01-01T00:00:09Z"})),
            "matchers.origem"
        );
        assert!(serde_json::from_value::<NovoSilencio>(
            serde_json::json!({"matchers": {"nome": "x"}, "fim": "1970-01-01T00:00:09Z"})
        )
        .is_err());
    }
}
