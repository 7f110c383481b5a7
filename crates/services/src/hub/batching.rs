//! Event batching: services emit events one at a time; under load, many go out as one fan-out
//! record, so events cost the bus a fraction of a record each. The same round feeds the system
//! channels (`mensagens`, `mensagens.{tipo}`, `alertas`): one store call per channel and round.

use std::sync::Arc;
use std::time::Duration;

use integra_domain::{Canal, Dados};
use tokio::sync::mpsc;

use super::fanout::{Record, RECORD_BYTES};
use super::Inner;
use crate::events::Emitted;

/// How long the batching waits for more events before publishing what it has.
const GATHER: Duration = Duration::from_millis(2);

/// Most events taken into one round.
const ROUND: usize = 4096;

impl Inner {
    /// Publishes queued events in order, as few records as possible: whatever queued up while the
    /// previous record waited for its acknowledgement goes out as one record (up to
    /// [`RECORD_BYTES`]).
    pub(super) async fn batch_events(self: Arc<Self>, mut events: mpsc::Receiver<Emitted>) {
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
            // The channels' share is set aside first and published after the events, which
            // WebSocket clients are waiting for.
            let for_channels = channel_round(&queued);
            let mut rest = queued.drain(..).map(|e| e.json).peekable();
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
            self.feed_channels(for_channels).await;
        }
    }
}

/// A round of events as the system channels take them: per channel, its events in order.
fn channel_round(round: &[Emitted]) -> Vec<(Canal, Vec<Dados>)> {
    let mut channels: Vec<(Canal, Vec<Dados>)> = Vec::new();
    for emitted in round {
        let targets = emitted.about.channels();
        if targets.is_empty() {
            continue;
        }
        // An event's JSON is what serde wrote for an Evento.
        let dados = Dados::trusted(emitted.json.as_str());
        for canal in targets {
            match channels.iter_mut().find(|(c, _)| *c == canal) {
                Some((_, items)) => items.push(dados.clone()),
                None => channels.push((canal, vec![dados.clone()])),
            }
        }
    }
    channels
}

impl Inner {
    /// Publishes a round of events on the system channels they feed: one store call a channel.
    async fn feed_channels(&self, channels: Vec<(Canal, Vec<Dados>)>) {
        for (canal, dados) in channels {
            let published = self.publish(&canal, &dados).await;
            if let Err(e) = published {
                tracing::warn!(canal = %canal, error = %e, "events not published on their channel");
            }
        }
    }
}
