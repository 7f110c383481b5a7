//! Channels: named streams of publications, numbered 1, 2, 3… per channel within an `epoca` (one
//! history; a new one begins when the history is lost), kept for a while so that a subscriber
//! that reconnects gets what it missed.

use std::fmt;
use std::sync::Arc;

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

use crate::{Timestamp, TipoMensagem, ValidationError};

/// A channel's name: 1 to 128 characters from `A-Z a-z 0-9 . _ : -`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String, pattern = r"^[A-Za-z0-9._:-]{1,128}$"))]
pub struct Canal(Arc<str>);

/// Longest channel name.
pub const MAX_CANAL_LEN: usize = 128;

impl Canal {
    /// Every `mensagem.atualizada` event.
    pub const MENSAGENS: &'static str = "mensagens";
    /// Every `alerta.*` event.
    pub const ALERTAS: &'static str = "alertas";

    /// Checks a channel name.
    ///
    /// # Errors
    /// Empty, longer than 128 characters, or a character outside `A-Z a-z 0-9 . _ : -`.
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        if text.is_empty() || text.len() > MAX_CANAL_LEN {
            return Err(ValidationError::new(
                "canal",
                "must have 1 to 128 characters",
            ));
        }
        if let Some(bad) = text
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-')))
        {
            return Err(ValidationError::new(
                "canal",
                format!("character {bad:?} is not allowed; use A-Z a-z 0-9 . _ : -"),
            ));
        }
        Ok(Self(Arc::from(text)))
    }

    /// Checks a channel name a client publishes on: the system channels are fed by the server.
    ///
    /// # Errors
    /// What [`Canal::parse`] refuses, or a system channel.
    pub fn for_clients(text: &str) -> Result<Self, ValidationError> {
        let canal = Self::parse(text)?;
        if canal.is_system() {
            return Err(ValidationError::new(
                "canal",
                format!("`{canal}` is fed by the server; clients may not publish on it"),
            ));
        }
        Ok(canal)
    }

    /// The channel of every message's status changes.
    pub fn mensagens() -> Self {
        Self(Arc::from(Self::MENSAGENS))
    }

    /// The channel of the status changes of messages of one `tipo`: `mensagens.{tipo}`.
    pub fn mensagens_de(tipo: TipoMensagem) -> Self {
        Self(Arc::from(format!("{}.{}", Self::MENSAGENS, tipo.as_str())))
    }

    /// The channel of every alert event.
    pub fn alertas() -> Self {
        Self(Arc::from(Self::ALERTAS))
    }

    /// Whether the server feeds it (`mensagens`, `mensagens.{tipo}`, `alertas`).
    pub fn is_system(&self) -> bool {
        match self.0.strip_prefix(Self::MENSAGENS) {
            Some("") => true,
            Some(rest) => rest
                .strip_prefix('.')
                .is_some_and(|tipo| TipoMensagem::ALL.iter().any(|t| t.as_str() == tipo)),
            None => &*self.0 == Self::ALERTAS,
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Canal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Canal {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Canal {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::parse(&text).map_err(|e| de::Error::custom(e.reason))
    }
}

/// Where a channel stands: its latest offset (0 before its first publication) in its `epoca`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Posicao {
    /// The latest publication's offset; 0 when there is none.
    pub offset: u64,
    /// The history this offset belongs to.
    pub epoca: String,
}

/// A publication's data: one JSON value, as its publisher wrote it. Shared, not copied, between
/// the store, the hub and every subscriber.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dados(Arc<str>);

impl Dados {
    /// Checks that `json` is one JSON value.
    ///
    /// # Errors
    /// When it is not.
    pub fn parse(json: String) -> Result<Self, serde_json::Error> {
        serde_json::from_str::<serde::de::IgnoredAny>(&json)?;
        Ok(Self(Arc::from(json)))
    }

    /// `json`, which the caller knows to be one JSON value: what `serde_json` wrote, or what a
    /// store kept of a [`Dados`]. Nothing is checked, so nothing is spent on checking.
    pub fn trusted(json: impl Into<Arc<str>>) -> Self {
        Self(json.into())
    }

    /// The JSON text.
    pub fn get(&self) -> &str {
        &self.0
    }
}

impl Serialize for Dados {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Written as it is (a JSON value inside the document), not as a string.
        RawValue::from_string(self.0.to_string())
            .map_err(serde::ser::Error::custom)?
            .serialize(s)
    }
}

/// One publication on a channel. Its `dados` are any JSON, kept as the publisher wrote them.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Publicacao {
    /// The channel.
    pub canal: Canal,
    /// Its number on the channel: 1, 2, 3…
    pub offset: u64,
    /// The history it belongs to.
    pub epoca: String,
    /// When it was published.
    pub criado_em: Timestamp,
    /// What was published.
    #[cfg_attr(feature = "openapi", schema(value_type = serde_json::Value))]
    pub dados: Dados,
}

impl Publicacao {
    /// The publication as JSON text: the same text serde writes for it, written straight into
    /// one string (it is made for every publication and every event a system channel carries),
    /// with its data appended as they are, without parsing them again.
    pub fn to_json(&self) -> String {
        use fmt::Write as _;
        let dados = self.dados.get();
        let mut json =
            String::with_capacity(96 + self.canal.as_str().len() + self.epoca.len() + dados.len());
        // A channel's name is of an alphabet that JSON never escapes.
        json.push_str(r#"{"canal":""#);
        json.push_str(self.canal.as_str());
        // Writing to a String cannot fail.
        let _ = write!(json, r#"","offset":{},"epoca":"#, self.offset);
        push_json_string(&mut json, &self.epoca);
        // A timestamp's text is what serde writes for it, and holds nothing to escape.
        let _ = write!(json, r#","criado_em":"{}","dados":"#, self.criado_em);
        json.push_str(dados);
        json.push('}');
        json
    }
}

/// Appends `text` as a JSON string, as serde writes it: as it is when nothing in it needs an
/// escape (the common case: an epoca is a generated id), else through serde.
fn push_json_string(json: &mut String, text: &str) {
    if crate::json::plain(text) {
        json.push('"');
        json.push_str(text);
        json.push('"');
    } else {
        // Writing a string cannot fail.
        json.push_str(&serde_json::to_string(text).unwrap_or_default());
    }
}

/// Where a reconnecting subscriber left off: the last offset it received, in its epoca.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Desde {
    /// The last offset received (exclusive: the next one is wanted).
    pub offset: u64,
    /// The epoca it was received in; absent, the current one is assumed.
    #[serde(default)]
    pub epoca: Option<String>,
}

/// What a subscriber recovers: the publications after its `desde` that are still kept, and
/// whether they are all it missed.
pub fn recovered(desde: &Desde, now: &Posicao, first_kept: Option<u64>) -> bool {
    let same_history = desde.epoca.as_ref().is_none_or(|e| *e == now.epoca);
    let nothing_missed = desde.offset == now.offset;
    let all_kept = first_kept.is_some_and(|first| first <= desde.offset.saturating_add(1));
    same_history && desde.offset <= now.offset && (nothing_missed || all_kept)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn names_take_the_id_alphabet_and_the_system_channels_are_closed_to_clients() {
        for good in ["c", "pedidos.novos", "a:b_c-1", &"x".repeat(128)] {
            assert!(Canal::parse(good).is_ok(), "{good}");
        }
        for bad in ["", "com espaço", "a/b", "{tag}", &"x".repeat(129)] {
            assert_eq!(Canal::parse(bad).unwrap_err().field, "canal", "{bad}");
        }
        for system in [
            "mensagens",
            "mensagens.email",
            "mensagens.webhook",
            "alertas",
        ] {
            assert!(Canal::parse(system).unwrap().is_system(), "{system}");
            assert!(Canal::for_clients(system).is_err(), "{system}");
        }
        for open in ["mensagens.fax", "mensagensx", "alertas.meus", "mensagens."] {
            assert!(!Canal::parse(open).unwrap().is_system(), "{open}");
        }
        assert_eq!(
            Canal::mensagens_de(TipoMensagem::Sms).as_str(),
            "mensagens.sms"
        );
    }

    #[test]
    fn a_recovery_is_complete_only_in_the_same_history_with_every_missed_offset_kept() {
        let now = Posicao {
            offset: 600,
            epoca: "e1".into(),
        };
        let desde = |offset, epoca: Option<&str>| Desde {
            offset,
            epoca: epoca.map(str::to_owned),
        };
        assert!(recovered(&desde(100, Some("e1")), &now, Some(1)));
        assert!(recovered(&desde(100, Some("e1")), &now, Some(101)));
        assert!(!recovered(&desde(100, Some("e1")), &now, Some(102)));
        assert!(!recovered(&desde(100, Some("e0")), &now, Some(1)));
        assert!(recovered(&desde(600, Some("e1")), &now, None));
        assert!(!recovered(&desde(700, Some("e1")), &now, Some(1)));
        assert!(recovered(&desde(5, None), &now, Some(1)));
    }

    #[test]
    fn a_publication_is_written_with_its_data_as_the_publisher_wrote_it() {
        let p = Publicacao {
            canal: Canal::parse("c").unwrap(),
            offset: 3,
            epoca: "e".into(),
            criado_em: Timestamp::parse("2026-12-05T10:00:00.000Z").unwrap(),
            dados: Dados::parse(r#"{"b":1,"a":[true]}"#.into()).unwrap(),
        };
        let written = r#"{"canal":"c","offset":3,"epoca":"e","criado_em":"2026-12-05T10:00:00.000Z","dados":{"b":1,"a":[true]}}"#;
        assert_eq!(p.to_json(), written);
        assert_eq!(serde_json::to_string(&p).unwrap(), written);
        let odd = Publicacao {
            epoca: "e\"\\\n1é".into(),
            offset: u64::MAX,
            criado_em: Timestamp::from_millis(-62_167_219_200_001),
            ..p
        };
        assert_eq!(odd.to_json(), serde_json::to_string(&odd).unwrap());
        assert!(Dados::parse("{".into()).is_err());
        assert!(Dados::parse("1 2".into()).is_err());
    }
}
