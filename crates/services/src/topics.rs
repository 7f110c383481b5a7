//! The topic names, in one place. The bus adds `bus.topic_prefix` in front of each.

use integra_domain::TipoMensagem;

/// Alert events: `alerta.criado`, `alerta.resolvido`, `alerta.reaberto`.
pub const ALERTS: &str = "alerts";

/// WebSocket fan-out between instances: broadcasts, personal messages, events, heartbeats.
pub const WS_FANOUT: &str = "integra.ws";

/// The topic of a message kind: `messages.{tipo}`.
pub fn messages(tipo: TipoMensagem) -> String {
    format!("messages.{tipo}")
}
