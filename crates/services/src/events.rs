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
        if let Err(e) = self.tx.try_send(event.to_json()) {
            tracing::warn!(event = event.name(), error = %e, "event dropped");
        }
    }
}
