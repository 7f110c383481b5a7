//! The handle through which services tell the WebSocket hub about changes.

use integra_domain::Evento;
use tokio::sync::mpsc;

/// Sends events to the hub without waiting: a business call never slows down or fails because of
/// its events. When the hub's queue is full the event is dropped and logged.
#[derive(Clone, Debug)]
pub struct Events {
    tx: mpsc::Sender<String>,
}

impl Events {
    /// A handle and the receiving end, for a hub or a test to drain.
    pub fn channel(capacity: usize) -> (Self, mpsc::Receiver<String>) {
        let (tx, rx) = mpsc::channel(capacity);
        (Self { tx }, rx)
    }

    /// Queues an event.
    pub fn emit(&self, event: Evento<'_>) {
        self.emit_json(event.name(), event.to_json());
    }

    /// Queues an event already written as JSON (`json` is `event`'s [`Evento::to_json`]), so that
    /// a change published on the bus is not serialized twice. Crate-private: the fan-out carries
    /// events as JSON, so only texts an [`Evento`] wrote may come through here.
    pub(crate) fn emit_json(&self, name: &str, json: String) {
        if let Err(e) = self.tx.try_send(json) {
            tracing::warn!(event = name, error = %e, "event dropped");
        }
    }
}
