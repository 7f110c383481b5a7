//! The vocabulary of what the server tells: every event and frame a WebSocket client receives, and
//! the alert events published on the bus. Each name is written once, here, and every use matches
//! on these types.

use std::fmt;

use serde::ser::SerializeStruct;
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

use crate::{Alerta, Encoded, Mensagem, Posicao};

/// What happened to an alert: the events published on the `alerts` topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlertEvent {
    /// It was raised (`alerta.criado`).
    Criado,
    /// It was resolved (`alerta.resolvido`).
    Resolvido,
    /// A resolved alert was raised again (`alerta.reaberto`).
    Reaberto,
    /// Someone acknowledged it (`alerta.reconhecido`).
    Reconhecido,
}

impl AlertEvent {
    /// Every alert event, in a fixed order.
    pub const ALL: [Self; 4] = [
        Self::Criado,
        Self::Resolvido,
        Self::Reaberto,
        Self::Reconhecido,
    ];

    /// The event's name, as in its JSON.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Criado => "alerta.criado",
            Self::Resolvido => "alerta.resolvido",
            Self::Reaberto => "alerta.reaberto",
            Self::Reconhecido => "alerta.reconhecido",
        }
    }

    /// Parses an event's name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.name() == name)
    }

    /// The JSON of this event about the alert whose JSON is `alerta`: the text
    /// [`Evento::to_json`] writes for [`AlertEvent::about`], made of the alert's text as it is.
    pub fn json_about(self, alerta: &Encoded<Alerta>) -> String {
        frame(self.name(), alerta.json())
    }

    /// This event about `alerta`.
    pub const fn about(self, alerta: &Alerta) -> Evento<'_> {
        Evento::Alerta(self, alerta)
    }
}

impl fmt::Display for AlertEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for AlertEvent {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for AlertEvent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::parse(&name)
            .ok_or_else(|| de::Error::custom(format!("`{name}` is not an alert event")))
    }
}

/// A frame the server sends: `{"evento": <name>, "dados": <data>}`.
#[derive(Debug, Clone, Copy)]
pub enum Evento<'a> {
    /// The first frame of a connection (`conectado`), with the id that personal messages address.
    Conectado {
        /// The connection's id.
        conexao_id: &'a str,
    },
    /// A command the client sent was refused (`erro`); the connection stays open.
    Erro {
        /// The HTTP status the same failure gets over HTTP.
        status: u16,
        /// What went wrong, in words the client can act on.
        detail: &'a str,
    },
    /// A message changed status (`mensagem.atualizada`).
    MensagemAtualizada(&'a Mensagem),
    /// A subscription began (`inscrito`): where the channel stands, and whether what the client
    /// missed since its `desde` follows in full.
    Inscrito {
        /// The channel.
        canal: &'a str,
        /// Its latest offset and epoca.
        posicao: &'a Posicao,
        /// Every missed publication follows (see [`crate::recovered`]).
        recuperado: bool,
    },
    /// A subscription ended (`cancelado`).
    Cancelado {
        /// The channel.
        canal: &'a str,
    },
    /// Something happened to an alert (`alerta.*`).
    Alerta(AlertEvent, &'a Alerta),
}

impl Evento<'_> {
    /// The event's name, as in its JSON.
    pub const fn name(&self) -> &'static str {
        match self {
            Self::Conectado { .. } => "conectado",
            Self::Erro { .. } => "erro",
            Self::MensagemAtualizada(_) => "mensagem.atualizada",
            Self::Inscrito { .. } => "inscrito",
            Self::Cancelado { .. } => "cancelado",
            Self::Alerta(event, _) => event.name(),
        }
    }

    /// The event as JSON text.
    pub fn to_json(&self) -> String {
        // Serializing these structs cannot fail: string-keyed maps only, no I/O.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The JSON of `mensagem.atualizada` about the message whose JSON is `mensagem`: the text
    /// [`Evento::to_json`] writes for [`Evento::MensagemAtualizada`], made of the message's text
    /// as it is.
    pub fn mensagem_json(mensagem: &Encoded<Mensagem>) -> String {
        frame(Evento::MensagemAtualizada(mensagem).name(), mensagem.json())
    }
}

/// The frame of a publication (`publicacao`), from the publication's JSON
/// ([`crate::Publicacao::to_json`]), which it carries as it is.
pub fn publicacao_frame(publicacao_json: &str) -> String {
    frame("publicacao", publicacao_json)
}

/// The frame of the event `name` (plain ASCII: nothing to escape) whose `dados` is the JSON text
/// `dados`, as it is: what serde writes for an [`Evento`], without writing `dados` again.
fn frame(name: &str, dados: &str) -> String {
    const HEAD: &str = r#"{"evento":""#;
    const DADOS: &str = r#"","dados":"#;
    let mut json = String::with_capacity(HEAD.len() + name.len() + DADOS.len() + dados.len() + 1);
    json.push_str(HEAD);
    json.push_str(name);
    json.push_str(DADOS);
    json.push_str(dados);
    json.push('}');
    json
}

/// The `dados` of the frames that carry no entity.
#[derive(Serialize)]
struct Conexao<'a> {
    conexao_id: &'a str,
}

#[derive(Serialize)]
struct Inscricao<'a> {
    canal: &'a str,
    offset: u64,
    epoca: &'a str,
    recuperado: bool,
}

#[derive(Serialize)]
struct Cancelamento<'a> {
    canal: &'a str,
}

#[derive(Serialize)]
struct Falha<'a> {
    status: u16,
    detail: &'a str,
}

impl Serialize for Evento<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut frame = s.serialize_struct("Evento", 2)?;
        frame.serialize_field("evento", self.name())?;
        match *self {
            Self::Conectado { conexao_id } => {
                frame.serialize_field("dados", &Conexao { conexao_id })?;
            }
            Self::Erro { status, detail } => {
                frame.serialize_field("dados", &Falha { status, detail })?;
            }
            Self::MensagemAtualizada(mensagem) => frame.serialize_field("dados", mensagem)?,
            Self::Inscrito {
                canal,
                posicao,
                recuperado,
            } => frame.serialize_field(
                "dados",
                &Inscricao {
                    canal,
                    offset: posicao.offset,
                    epoca: &posicao.epoca,
                    recuperado,
                },
            )?,
            Self::Cancelado { canal } => frame.serialize_field("dados", &Cancelamento { canal })?,
            Self::Alerta(_, alerta) => frame.serialize_field("dados", alerta)?,
        }
        frame.end()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;
    use crate::{NovoAlerta, Timestamp};

    fn json(e: Evento<'_>) -> Value {
        serde_json::from_str(&e.to_json()).unwrap()
    }

    #[test]
    fn every_frame_is_evento_then_dados() {
        let input: NovoAlerta =
            serde_json::from_str(r#"{"titulo":"t","severidade":"baixa"}"#).unwrap();
        let a = Alerta::raise(input, Timestamp::now()).unwrap();
        let v = json(AlertEvent::Criado.about(&a));
        assert_eq!(
            (v["evento"].as_str(), v["dados"]["titulo"].as_str()),
            (Some("alerta.criado"), Some("t"))
        );
        assert!(AlertEvent::Resolvido
            .about(&a)
            .to_json()
            .starts_with(r#"{"evento":"alerta.resolvido","dados":{"#));
        assert_eq!(
            json(Evento::Conectado { conexao_id: "c1" }),
            json!({"evento": "conectado", "dados": {"conexao_id": "c1"}})
        );
        let posicao = Posicao {
            offset: 41,
            epoca: "e".into(),
        };
        assert_eq!(
            json(Evento::Inscrito {
                canal: "c",
                posicao: &posicao,
                recuperado: true
            }),
            json!({"evento": "inscrito", "dados": {"canal": "c", "offset": 41, "epoca": "e", "recuperado": true}})
        );
        assert_eq!(
            json(Evento::Cancelado { canal: "c" }),
            json!({"evento": "cancelado", "dados": {"canal": "c"}})
        );
        assert_eq!(
            serde_json::from_str::<Value>(&publicacao_frame(r#"{"offset":1}"#)).unwrap(),
            json!({"evento": "publicacao", "dados": {"offset": 1}})
        );
        assert_eq!(
            json(Evento::Erro {
                status: 502,
                detail: "no"
            }),
            json!({"evento": "erro", "dados": {"status": 502, "detail": "no"}})
        );
    }

    #[test]
    fn an_alert_event_made_of_the_alerts_text_is_the_same_text_as_serialized() {
        let input: NovoAlerta = serde_json::from_str(
            r#"{"titulo":"Fila \"parada\"\n","severidade":"alta","labels":{"fila":"pedidos"}}"#,
        )
        .unwrap();
        let a = Alerta::raise(input, Timestamp::now()).unwrap();
        let encoded = Encoded::new(a.clone());
        for event in AlertEvent::ALL {
            assert_eq!(event.json_about(&encoded), event.about(&a).to_json());
        }
    }

    #[test]
    fn a_message_event_made_of_the_messages_text_is_the_same_text_as_serialized() {
        let input: crate::NovaMensagem = serde_json::from_str(
            r#"{"tipo":"sms","destinatario":"ana","conteudo":"Olá \"mundo\"\n","metadados":{"a":"b"}}"#,
        )
        .unwrap();
        let m = Mensagem::accept(input, Timestamp::now()).unwrap();
        assert_eq!(
            Evento::mensagem_json(&Encoded::new(m.clone())),
            Evento::MensagemAtualizada(&m).to_json()
        );
    }

    #[test]
    fn alert_events_read_back_by_name_and_refuse_unknown_names() {
        for event in AlertEvent::ALL {
            let text = serde_json::to_string(&event).unwrap();
            assert_eq!(serde_json::from_str::<AlertEvent>(&text).unwrap(), event);
        }
        assert!(serde_json::from_str::<AlertEvent>(r#""alerta.perdido""#).is_err());
    }
}
