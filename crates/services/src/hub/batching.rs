//! Event batching: services emit events one at a time; under load, many go out as one fan-out
//! record, so events cost the bus a fraction of a record each.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::fanout::Record;
use super::Inner;

/// How long the batching waits for more events before publishing what it has.
const GATHER: Duration = Duration::from_millis(2);

/// Most events taken into one round.
const ROUND: usize = 4096;

/// Most bytes of events in one fan-out record: well under the 1 MiB a broker takes by default.
const RECORD_BYTES: usize = 512 * 1024;

impl Inner {
    /// Publishes queued events in order, as few records as possible: whatever queued up while the
    /// previous record waited for its acknowledgement goes out as one record (up to
    /// [`RECORD_BYTES`]).
    pub(super) async fn batch_events(self: Arc<Self>, mut events: mpsc::Receiver<String>) {
        let mut queued = Vec::with_capacity(1024);
        while events.recv_many(&mut queued, 1024).await > 0 {
            // Let a burst gather: one wake-up and one record for many events, at the price of
            // GATHER more latency for WebSocket clients.
            tokio::time::sleep(GATHER).await;
            while queued.len() < ROUND {
                match events.try_recv() {
                    Ok(event) => queued.push(event),
                    Err(_) => break,
                }
            }
            let mut rest = queued.drain(..).peekable();
            while rest.peek().is_some() {
                let mut size = 0;
                let mut texts = Vec::new();
                while let Some(next) =
                    rest.next_if(|t| texts.is_empty() || size + t.len() <= RECORD_BYTES)
                {
                    size += next.len();
                    texts.push(next);
                }
                if let Err(e) = self.fan_out(&Record::Events { events: texts }).await {
                    tracing::warn!(error = %e, "events not fanned out");
                }
            }
        }
    }
}
