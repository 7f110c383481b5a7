//! The handle through which services tell the WebSocket hub about changes.

use integra_domain::{Canal, Evento, TipoMensagem};
use tokio::sync::mpsc;

/// Sends events to the hub without waiting: a business call never slows down or fails because of
/// its events. When the hub's queue is full the event is dropped and logged.
#[derive(Clone, Debug)]
pub struct Events {
    tx: mpsc::Sender<Emitted>,
}

/// An event on its way to the hub: its JSON, and the system channels it feeds.
#[derive(Debug)]
pub struct Emitted {
    /// The event, as [`Evento::to_json`] wrote it.
    pub(crate) json: String,
    /// What it is about, which names its channels.
    pub(crate) about: About,
}

/// What an event is about, for the system channels it feeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum About {
    /// A message of this tipo: `mensagens` and `mensagens.{tipo}`.
    Mensagem(TipoMensagem),
    /// An alert: `alertas`.
    Alerta,
    /// Nothing a channel carries.
    Nothing,
}

impl About {
    fn of(event: &Evento<'_>) -> Self {
        match event {
            Evento::MensagemAtualizada(m) => Self::Mensagem(m.tipo),
            Evento::Alerta(..) => Self::Alerta,
            Evento::Conectado { .. }
            | Evento::Erro { .. }
            | Evento::Inscrito { .. }
            | Evento::Cancelado { .. } => Self::Nothing,
        }
    }

    /// The system channels an event about this goes to.
    pub(crate) fn channels(self) -> Vec<Canal> {
        match self {
            Self::Mensagem(tipo) => vec![Canal::mensagens(), Canal::mensagens_de(tipo)],
            Self::Alerta => vec![Canal::alertas()],
            Self::Nothing => Vec::new(),
        }
    }
}

impl Events {
    /// A handle and the receiving end, for a hub or a test to drain.
    pub fn channel(capacity: usize) -> (Self, mpsc::Receiver<Emitted>) {
        let (tx, rx) = mpsc::channel(capacity);
        (Self { tx }, rx)
    }

    /// Queues an event.
    pub fn emit(&self, event: Evento<'_>) {
        self.emit_json(&event, event.to_json());
    }

    /// Queues an event already written as JSON (`json` is `event`'s [`Evento::to_json`]), so that
    /// a change published on the bus is not serialized twice. Crate-private: the fan-out carries
    /// events as JSON, so only texts an [`Evento`] wrote may come through here.
    pub(crate) fn emit_json(&self, event: &Evento<'_>, json: String) {
        let emitted = Emitted {
            json,
            about: About::of(event),
        };
        if let Err(e) = self.tx.try_send(emitted) {
            tracing::warn!(event = event.name(), error = %e, "event dropped");
        }
    }
}

impl Emitted {
    /// The event's JSON.
    pub fn json(&self) -> &str {
        &self.json
    }
}
