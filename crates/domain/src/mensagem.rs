//! Messages: what a client asks to send, and how its delivery goes.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{json, validate, Id, TimeRange, Timestamp, TransitionError, ValidationError};

/// Largest `conteudo`, in bytes (256 KiB).
pub const MAX_CONTEUDO_BYTES: usize = 256 * 1024;
/// Longest `destinatario`, in characters.
pub const MAX_DESTINATARIO_CHARS: usize = 320;
/// Most entries in `metadados`.
pub const MAX_METADADOS: usize = 32;

/// The channel a message goes out on. It also names its topic (`messages.{tipo}`, see the services'
/// `topics`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum TipoMensagem {
    /// An e-mail.
    Email,
    /// A text message.
    Sms,
    /// A mobile push notification.
    Push,
    /// An HTTP callback.
    Webhook,
}

impl TipoMensagem {
    /// Every kind, in a fixed order.
    pub const ALL: [Self; 4] = [Self::Email, Self::Sms, Self::Push, Self::Webhook];

    /// The contract's name of this kind.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Sms => "sms",
            Self::Push => "push",
            Self::Webhook => "webhook",
        }
    }

    /// Parses the contract's name.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == text)
    }
}

impl fmt::Display for TipoMensagem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum StatusMensagem {
    /// Known but not yet taken up.
    Pendente,
    /// Claimed by a sender that is publishing it.
    Processando,
    /// The broker acknowledged it.
    Concluida,
    /// The last attempt failed; `erro` says why. A resend tries again.
    Erro,
}

impl StatusMensagem {
    /// Every status, in a fixed order.
    pub const ALL: [Self; 4] = [
        Self::Pendente,
        Self::Processando,
        Self::Concluida,
        Self::Erro,
    ];

    /// The contract's name of this status.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pendente => "PENDENTE",
            Self::Processando => "PROCESSANDO",
            Self::Concluida => "CONCLUIDA",
            Self::Erro => "ERRO",
        }
    }

    /// Parses the contract's name.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Whether a message in this status may move to `next`. `PROCESSANDO → PROCESSANDO` is the
    /// take-over of an attempt abandoned by a crashed sender.
    pub const fn can_become(self, next: Self) -> bool {
        use StatusMensagem::{Concluida, Erro, Pendente, Processando};
        matches!(
            (self, next),
            (Pendente | Erro | Processando, Processando) | (Processando, Concluida | Erro)
        )
    }
}

impl fmt::Display for StatusMensagem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where the bus stored a published message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CoordenadasKafka {
    /// The topic, with the configured prefix.
    pub topico: String,
    /// The partition.
    pub particao: i32,
    /// The record's offset in that partition.
    pub offset: i64,
}

/// What a client sends to `POST /messages`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NovaMensagem {
    /// The client's id; the server makes one when absent.
    #[serde(default)]
    pub id: Option<Id>,
    /// The channel.
    pub tipo: TipoMensagem,
    /// Who receives it: 1 to 320 characters.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 320))]
    pub destinatario: String,
    /// The body: at most 256 KiB (in UTF-8 bytes).
    #[cfg_attr(feature = "openapi", schema(max_length = 262_144))]
    pub conteudo: String,
    /// Free string-to-string data: at most 32 entries, keys of 1 to 128 characters, values of
    /// at most 4096.
    #[serde(default, deserialize_with = "crate::validate::unique_map")]
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::openapi::metadados))]
    pub metadados: Option<BTreeMap<String, String>>,
}

/// A message and the state of its delivery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Mensagem {
    /// Its id.
    pub id: Id,
    /// Its channel.
    pub tipo: TipoMensagem,
    /// Who receives it.
    pub destinatario: String,
    /// Its body.
    pub conteudo: String,
    /// Free data from the client.
    #[serde(default)]
    pub metadados: BTreeMap<String, String>,
    /// Where its delivery stands.
    pub status: StatusMensagem,
    /// Why the last attempt failed, when `status` is `ERRO`.
    pub erro: Option<String>,
    /// How many attempts were made to publish it.
    pub tentativas: u32,
    /// When it was first accepted.
    pub criado_em: Timestamp,
    /// When it last changed.
    pub atualizado_em: Timestamp,
    /// Where the bus stored it, once published.
    pub kafka: Option<CoordenadasKafka>,
}

impl crate::Encode for Mensagem {
    /// Written field by field into one buffer, in the order serde writes them (a test holds the
    /// two texts equal): a message is encoded at each change of its status.
    fn encode(&self) -> String {
        use std::io::Write as _;
        let mut out = Vec::with_capacity(
            280 + self.destinatario.len() + self.conteudo.len() + json::map_size(&self.metadados),
        );
        out.extend_from_slice(br#"{"id":"#);
        json::push_string(&mut out, self.id.as_str());
        out.extend_from_slice(br#","tipo":""#);
        out.extend_from_slice(self.tipo.as_str().as_bytes());
        out.extend_from_slice(br#"","destinatario":"#);
        json::push_string(&mut out, &self.destinatario);
        out.extend_from_slice(br#","conteudo":"#);
        json::push_string(&mut out, &self.conteudo);
        out.extend_from_slice(br#","metadados":"#);
        json::push_map(&mut out, &self.metadados);
        out.extend_from_slice(br#","status":""#);
        out.extend_from_slice(self.status.as_str().as_bytes());
        out.extend_from_slice(br#"","erro":"#);
        json::push_opt_string(&mut out, self.erro.as_deref());
        // Writing into a Vec cannot fail.
        let _ = write!(out, r#","tentativas":{},"criado_em":"#, self.tentativas);
        json::push_timestamp(&mut out, self.criado_em);
        out.extend_from_slice(br#","atualizado_em":"#);
        json::push_timestamp(&mut out, self.atualizado_em);
        out.extend_from_slice(br#","kafka":"#);
        match &self.kafka {
            Some(k) => {
                out.extend_from_slice(br#"{"topico":"#);
                json::push_string(&mut out, &k.topico);
                let _ = write!(out, r#","particao":{},"offset":{}}}"#, k.particao, k.offset);
            }
            None => out.extend_from_slice(b"null"),
        }
        out.push(b'}');
        json::into_string(out)
    }
}

impl Mensagem {
    /// A message accepted now: checked against the contract's rules, `PROCESSANDO`, first attempt.
    ///
    /// # Errors
    /// The first rule the input breaks, naming its field.
    pub fn accept(input: NovaMensagem, now: Timestamp) -> Result<Self, ValidationError> {
        validate::chars(
            "destinatario",
            &input.destinatario,
            1,
            MAX_DESTINATARIO_CHARS,
        )?;
        if input.conteudo.len() > MAX_CONTEUDO_BYTES {
            return Err(ValidationError::new(
                "conteudo",
                format!(
                    "must be at most {MAX_CONTEUDO_BYTES} bytes, is {}",
                    input.conteudo.len()
                ),
            ));
        }
        let metadados = input.metadados.unwrap_or_default();
        validate::string_map("metadados", &metadados, MAX_METADADOS, 4096)?;
        Ok(Self {
            id: input.id.unwrap_or_else(Id::generate),
            tipo: input.tipo,
            destinatario: input.destinatario,
            conteudo: input.conteudo,
            metadados,
            status: StatusMensagem::Processando,
            erro: None,
            tentativas: 1,
            criado_em: now,
            atualizado_em: now,
            kafka: None,
        })
    }

    /// Whether `other` asks to send the same thing: same tipo, destinatario and conteudo. A reused
    /// id whose request differs is refused, not replayed.
    pub fn same_request(&self, other: &Self) -> bool {
        self.tipo == other.tipo
            && self.destinatario == other.destinatario
            && self.conteudo == other.conteudo
    }

    /// When the earlier attempts of this message may have reached the bus without an answer
    /// coming back (a timeout, a broker lost mid-request): from its creation to the end of its
    /// last attempt, which is its failure (`ERRO`), or for an attempt abandoned in `PROCESSANDO`,
    /// its start plus `attempt_bound`. `None` when no attempt can have reached the bus unanswered:
    /// `PENDENTE` (none began) or `CONCLUIDA` (the answer came).
    pub fn unanswered_attempts(&self, attempt_bound: std::time::Duration) -> Option<TimeRange> {
        let end = match self.status {
            StatusMensagem::Pendente | StatusMensagem::Concluida => return None,
            StatusMensagem::Erro => self.atualizado_em,
            StatusMensagem::Processando => self
                .atualizado_em
                .plus_millis(i64::try_from(attempt_bound.as_millis()).unwrap_or(i64::MAX)),
        };
        TimeRange::new(Some(self.criado_em), Some(end.max(self.criado_em))).ok()
    }

    /// Starts a new attempt: `PROCESSANDO`, one more `tentativas`, the last error cleared.
    ///
    /// # Errors
    /// The message is `CONCLUIDA`.
    pub fn begin_attempt(&mut self, now: Timestamp) -> Result<(), TransitionError> {
        self.become_(StatusMensagem::Processando, now)?;
        self.tentativas = self.tentativas.saturating_add(1);
        self.erro = None;
        Ok(())
    }

    /// The broker acknowledged it at `coords`.
    ///
    /// # Errors
    /// The message is not `PROCESSANDO`.
    pub fn complete(
        &mut self,
        coords: CoordenadasKafka,
        now: Timestamp,
    ) -> Result<(), TransitionError> {
        self.become_(StatusMensagem::Concluida, now)?;
        self.kafka = Some(coords);
        Ok(())
    }

    /// The attempt failed because of `cause`.
    ///
    /// # Errors
    /// The message is not `PROCESSANDO`.
    pub fn fail(
        &mut self,
        cause: impl Into<String>,
        now: Timestamp,
    ) -> Result<(), TransitionError> {
        self.become_(StatusMensagem::Erro, now)?;
        self.erro = Some(cause.into());
        Ok(())
    }

    fn become_(&mut self, next: StatusMensagem, now: Timestamp) -> Result<(), TransitionError> {
        if !self.status.can_become(next) {
            return Err(TransitionError {
                from: self.status,
                to: next,
            });
        }
        self.status = next;
        self.atualizado_em = now;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(json: &str) -> NovaMensagem {
        serde_json::from_str(json).unwrap()
    }

    fn accepted() -> Mensagem {
        let i = input(r#"{"tipo":"email","destinatario":"ana@example.com","conteudo":"Olá"}"#);
        Mensagem::accept(i, Timestamp::from_millis(1_000)).unwrap()
    }

    #[test]
    fn an_accepted_message_is_processing_its_first_attempt_with_a_generated_id() {
        let m = accepted();
        assert_eq!(m.status, StatusMensagem::Processando);
        assert_eq!(m.tentativas, 1);
        assert_eq!(m.id.as_str().len(), 36);
    }

    #[test]
    fn serializes_exactly_as_the_contract_shows() {
        let mut m = accepted();
        m.complete(
            CoordenadasKafka {
                topico: "messages.email".into(),
                particao: 0,
                offset: 42,
            },
            m.criado_em,
        )
        .unwrap();
        let v = serde_json::to_value(&m).unwrap();
        let keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
        assert_eq!(
            keys,
            [
                "atualizado_em",
                "conteudo",
                "criado_em",
                "destinatario",
                "erro",
                "id",
                "kafka",
                "metadados",
                "status",
                "tentativas",
                "tipo"
            ]
        );
        assert_eq!(v["status"], "CONCLUIDA");
        assert_eq!(v["criado_em"], "1970-01-01T00:00:01.000Z");
        assert_eq!(v["kafka"]["offset"], 42);
        assert_eq!(serde_json::from_value::<Mensagem>(v).unwrap(), m);
    }

    #[test]
    fn refuses_an_unknown_tipo_and_unknown_fields() {
        let bad = r#"{"tipo":"fax","destinatario":"a","conteudo":"b"}"#;
        assert!(serde_json::from_str::<NovaMensagem>(bad)
            .unwrap_err()
            .to_string()
            .contains("fax"));
        let extra = r#"{"tipo":"sms","destinatario":"a","conteudo":"b","cor":1}"#;
        assert!(serde_json::from_str::<NovaMensagem>(extra)
            .unwrap_err()
            .to_string()
            .contains("cor"));
    }

    #[test]
    fn enforces_the_lengths_of_the_contract() {
        let long_dest = format!(
            r#"{{"tipo":"sms","destinatario":"{}","conteudo":""}}"#,
            "a".repeat(321)
        );
        let e = Mensagem::accept(input(&long_dest), Timestamp::now()).unwrap_err();
        assert_eq!(e.field, "destinatario");
        let empty_dest = r#"{"tipo":"sms","destinatario":"","conteudo":""}"#;
        assert_eq!(
            Mensagem::accept(input(empty_dest), Timestamp::now())
                .unwrap_err()
                .field,
            "destinatario"
        );
        let big = format!(
            r#"{{"tipo":"sms","destinatario":"a","conteudo":"{}"}}"#,
            "x".repeat(MAX_CONTEUDO_BYTES + 1)
        );
        assert_eq!(
            Mensagem::accept(input(&big), Timestamp::now())
                .unwrap_err()
                .field,
            "conteudo"
        );
        let max = format!(
            r#"{{"tipo":"sms","destinatario":"a","conteudo":"{}"}}"#,
            "x".repeat(MAX_CONTEUDO_BYTES)
        );
        assert!(Mensagem::accept(input(&max), Timestamp::now()).is_ok());
        let meta: BTreeMap<_, _> = (0..33).map(|i| (format!("k{i}"), String::new())).collect();
        let mut many = input(r#"{"tipo":"sms","destinatario":"a","conteudo":""}"#);
        many.metadados = Some(meta);
        assert_eq!(
            Mensagem::accept(many, Timestamp::now()).unwrap_err().field,
            "metadados"
        );
    }

    #[test]
    fn a_failed_message_can_be_retried_and_a_concluded_one_cannot() {
        let mut m = accepted();
        m.fail("broker down", Timestamp::from_millis(2_000))
            .unwrap();
        assert_eq!(
            (m.status, m.erro.as_deref()),
            (StatusMensagem::Erro, Some("broker down"))
        );
        m.begin_attempt(Timestamp::from_millis(3_000)).unwrap();
        assert_eq!(
            (m.status, m.tentativas, m.erro.clone()),
            (StatusMensagem::Processando, 2, None)
        );
        m.complete(
            CoordenadasKafka {
                topico: "t".into(),
                particao: 0,
                offset: 0,
            },
            Timestamp::now(),
        )
        .unwrap();
        assert!(m.begin_attempt(Timestamp::now()).is_err());
        assert!(m.fail("x", Timestamp::now()).is_err());
    }

    #[test]
    fn status_transitions_follow_the_lifecycle() {
        use StatusMensagem::*;
        assert!(Pendente.can_become(Processando));
        assert!(!Pendente.can_become(Concluida));
        assert!(Processando.can_become(Concluida) && Processando.can_become(Erro));
        assert!(Erro.can_become(Processando) && !Erro.can_become(Concluida));
        assert!(StatusMensagem::ALL
            .iter()
            .all(|s| !Concluida.can_become(*s)));
    }

    #[test]
    fn same_request_compares_what_the_client_asked_to_send() {
        let a = accepted();
        let mut b = accepted();
        b.metadados.insert("x".into(), "y".into());
        assert!(a.same_request(&b));
        b.conteudo.push('!');
        assert!(!a.same_request(&b));
    }

    #[test]
    fn earlier_attempts_span_from_creation_to_the_end_of_the_last_one() {
        let created = Timestamp::from_millis(1_000);
        let mut m = Mensagem::accept(
            NovaMensagem {
                id: None,
                tipo: TipoMensagem::Sms,
                destinatario: "d".into(),
                conteudo: "c".into(),
                metadados: None,
            },
            created,
        )
        .unwrap();
        let bound = std::time::Duration::from_secs(5);
        let range = m.unanswered_attempts(bound).unwrap();
        assert_eq!(
            (range.start(), range.end()),
            (Some(created), Some(Timestamp::from_millis(6_000))),
            "abandoned in PROCESSANDO: it may still publish until its bound"
        );
        m.fail("timeout", Timestamp::from_millis(4_000)).unwrap();
        let range = m.unanswered_attempts(bound).unwrap();
        assert_eq!(range.end(), Some(Timestamp::from_millis(4_000)));
        m.begin_attempt(Timestamp::from_millis(9_000)).unwrap();
        m.complete(
            CoordenadasKafka {
                topico: "t".into(),
                particao: 0,
                offset: 0,
            },
            Timestamp::from_millis(9_100),
        )
        .unwrap();
        assert_eq!(m.unanswered_attempts(bound), None);
    }
}
