//! Events: what the service tells the bus and the WebSocket clients about a change.

use serde::Serialize;

use crate::{Alerta, Mensagem};

/// A change worth telling. It serializes as `{"evento": "<name>", "dados": <entity>}`.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(tag = "evento", content = "dados")]
pub enum Evento<'a> {
    /// A message changed status.
    #[serde(rename = "mensagem.atualizada")]
    MensagemAtualizada(&'a Mensagem),
    /// An alert was raised.
    #[serde(rename = "alerta.criado")]
    AlertaCriado(&'a Alerta),
    /// An alert was resolved.
    #[serde(rename = "alerta.resolvido")]
    AlertaResolvido(&'a Alerta),
    /// A resolved alert was raised again.
    #[serde(rename = "alerta.reaberto")]
    AlertaReaberto(&'a Alerta),
}

impl Evento<'_> {
    /// The event's name, as in its JSON.
    pub const fn name(&self) -> &'static str {
        match self {
            Self::MensagemAtualizada(_) => "mensagem.atualizada",
            Self::AlertaCriado(_) => "alerta.criado",
            Self::AlertaResolvido(_) => "alerta.resolvido",
            Self::AlertaReaberto(_) => "alerta.reaberto",
        }
    }

    /// The event as JSON text.
    pub fn to_json(&self) -> String {
        // Serializing these plain structs cannot fail: no maps with non-string keys, no I/O.
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{NovoAlerta, Timestamp};

    #[test]
    fn serializes_as_evento_and_dados() {
        let input: NovoAlerta =
            serde_json::from_str(r#"{"titulo":"t","severidade":"baixa"}"#).unwrap();
        let a = Alerta::raise(input, Timestamp::now()).unwrap();
        let v: serde_json::Value =
            serde_json::from_str(&Evento::AlertaCriado(&a).to_json()).unwrap();
        assert_eq!(v["evento"], "alerta.criado");
        assert_eq!(v["dados"]["titulo"], "t");
        assert_eq!(Evento::AlertaResolvido(&a).name(), "alerta.resolvido");
    }
}
