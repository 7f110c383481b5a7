//! The Integra domain: messages ([`Mensagem`]), alerts ([`Alerta`]), metric samples
//! ([`Metrica`]) and channel publications ([`Publicacao`]), the rules that make them valid, the queries that read them back, and the events
//! they produce.
//!
//! This crate does no I/O and needs no async runtime. Every constructor enforces the rules of the
//! HTTP contract (`docs/CONTRACT.md` in the repository), so a value of these types is valid by
//! construction; the JSON they serialize to is exactly the contract's.
//!
//! Names: what the contract names is in Portuguese (`Mensagem`, `tipo`, `CoordenadasKafka`,
//! `alerta.criado`); behaviour and plumbing are in English (`accept`, `Paging`, `Order`).

mod alerta;
mod canal;
mod encoded;
mod error;
mod evento;
mod id;
mod json;
mod mensagem;
mod metrica;
#[cfg(feature = "openapi")]
mod openapi;
mod query;
mod regra;
mod silencio;
mod time;
mod validate;

pub use alerta::{AckError, Alerta, NovoAlerta, Severidade};
pub use canal::{recovered, Canal, Dados, Desde, Posicao, Publicacao, MAX_CANAL_LEN};
pub use encoded::{Encode, Encoded};
pub use error::{TransitionError, ValidationError};
pub use evento::{publicacao_frame, AlertEvent, Evento};
pub use id::Id;
pub use mensagem::{CoordenadasKafka, Mensagem, NovaMensagem, StatusMensagem, TipoMensagem};
pub use metrica::{Metrica, NovaMetrica, TipoMetrica, MAX_LABELS, OWN_METRICS_PREFIX};
pub use query::{AlertFilter, MessageFilter, MetricQuery, Order, Paging};
pub use regra::{
    notification_id, series_hash, series_number, Acao, AcaoDevida, Condicao, EstadoRegra,
    Notificar, NovaRegra, Observacao, Regra, SerieRegra, Transicao, MAX_RULE_ID_LEN,
};
pub use silencio::{Matchers, NovoSilencio, Silencio};
pub use time::{TimeRange, Timestamp};

/// Fields the server owns: a client may send them, and they are ignored (`docs/CONTRACT.md`,
/// Conventions).
pub const SERVER_OWNED_FIELDS: &[&str] = &[
    "status",
    "erro",
    "criado_em",
    "atualizado_em",
    "tentativas",
    "resolvido",
    "resolvido_em",
    "kafka",
];
