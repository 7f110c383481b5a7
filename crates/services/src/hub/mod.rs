//! The WebSocket hub: connections with bounded outbound queues, broadcast, personal messages and
//! events, fanned out across instances through the bus. It knows no transport: a transport asks it
//! for a [`Connection`] and pumps what comes out of it to the socket.
//!
//! Its rooms: the [`registry`] of this instance's connections and their queues; the [`fanout`]
//! through the bus, which every instance subscribes to (so a text reaches every connection of
//! every instance, in the same order everywhere), and its [`liveness`]; the [`batching`] of
//! events into few records, which also feeds the system channels; the [`channels`], with their
//! history in the store; the [`presence`] that tells other instances where a connection lives.

mod batching;
mod channels;
mod fanout;
mod liveness;
mod presence;
mod registry;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use integra_domain::{Canal, Dados, Id, Posicao, Publicacao};
use integra_ports::{ChannelStore, Historico, PresenceStore};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

pub use channels::{ChannelsConfig, Publication};
pub use registry::{CloseReason, Connection, Mode, Outgoing};

use crate::events::Emitted;
use crate::{Events, Ports, ServiceError};

/// Limits and timings of the hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HubConfig {
    /// Outbound queue per connection (`ws.max_queue`); a connection whose queue is full is closed.
    pub max_queue: usize,
    /// Most connections on this instance (`ws.max_connections`).
    pub max_connections: usize,
    /// How long a fan-out publish may wait for the broker (`bus.timeout_ms`).
    pub publish_timeout: Duration,
    /// How often this instance checks its own subscription by sending itself a heartbeat.
    pub heartbeat_every: Duration,
    /// A subscription that brought back none of this instance's heartbeats for this long is not
    /// healthy; one that brought nothing at all for this long is replaced.
    pub stall_after: Duration,
    /// How long the store remembers a connection (and a channel's subscriber count) unless
    /// refreshed.
    pub presence_ttl: Duration,
    /// The channels' limits.
    pub channels: ChannelsConfig,
}

impl Default for HubConfig {
    fn default() -> Self {
        Self {
            max_queue: 1024,
            max_connections: 10_000,
            publish_timeout: Duration::from_secs(5),
            heartbeat_every: Duration::from_secs(1),
            stall_after: Duration::from_secs(5),
            presence_ttl: Duration::from_secs(60),
            channels: ChannelsConfig::default(),
        }
    }
}

/// What every part of the hub shares.
struct Inner {
    /// This instance's id on the fan-out topic.
    instance: String,
    ports: Ports<dyn PresenceStore>,
    /// The channels' histories.
    history: Arc<dyn ChannelStore>,
    config: HubConfig,
    registry: registry::Registry,
    /// This instance's channels with subscribers.
    locals: channels::Locals,
    /// Channels whose subscriber count changed, for the task that writes the counts.
    counts: mpsc::Sender<Canal>,
    /// Its receiving end, until [`Hub::start`] hands it to that task.
    counts_rx: Mutex<Option<mpsc::Receiver<Canal>>>,
    /// The services' events, until [`Hub::start`] hands them to the batching task.
    events: Mutex<Option<mpsc::Receiver<Emitted>>>,
    liveness: liveness::Liveness,
}

/// The WebSocket hub. Cloning is cheap: clones share one registry.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

/// Events queued for fan-out before the hub drops them.
const EVENT_QUEUE: usize = 65_536;

/// Subscriber counts queued for the store before the periodic refresh is left to write them.
const COUNT_QUEUE: usize = 4096;

impl Hub {
    /// A hub over these ports and channel histories, and the [`Events`] handle through which
    /// services feed it. Call [`Hub::start`] to run it.
    pub fn new(
        ports: Ports<dyn PresenceStore>,
        history: Arc<dyn ChannelStore>,
        config: HubConfig,
    ) -> (Self, Events) {
        let (events, rx) = Events::channel(EVENT_QUEUE);
        let (counts, counts_rx) = mpsc::channel(COUNT_QUEUE);
        let inner = Inner {
            counts,
            counts_rx: Mutex::new(Some(counts_rx)),
            instance: Id::generate().to_string(),
            ports,
            history,
            config,
            registry: registry::Registry::default(),
            locals: channels::Locals::default(),
            events: Mutex::new(Some(rx)),
            liveness: liveness::Liveness::new(config.stall_after),
        };
        (
            Self {
                inner: Arc::new(inner),
            },
            events,
        )
    }

    /// This instance's id on the fan-out topic.
    pub fn instance(&self) -> &str {
        &self.inner.instance
    }

    /// Starts the subscription, the event batching, the heartbeat and the presence refresh. They
    /// stop when the returned tasks are dropped.
    pub fn start(&self) -> HubTasks {
        let inner = &self.inner;
        let mut tasks = vec![
            tokio::spawn(Arc::clone(inner).subscribe_forever()),
            tokio::spawn(Arc::clone(inner).heartbeat_forever()),
            tokio::spawn(Arc::clone(inner).refresh_presence_forever()),
            tokio::spawn(Arc::clone(inner).fill_gaps_forever()),
        ];
        let events = inner
            .events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(events) = events {
            tasks.push(tokio::spawn(Arc::clone(inner).batch_events(events)));
        }
        let counts = inner
            .counts_rx
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(counts) = counts {
            tasks.push(tokio::spawn(Arc::clone(inner).write_counts(counts)));
        }
        HubTasks(tasks)
    }

    /// Opens a connection that takes broadcasts and every event. Its first text is the
    /// `conectado` event with its id.
    ///
    /// # Errors
    /// [`ServiceError::Overloaded`] past `max_connections`.
    pub async fn connect(&self) -> Result<Connection, ServiceError> {
        self.open(Mode::Everything).await
    }

    /// Opens a connection in `mode`.
    ///
    /// # Errors
    /// [`ServiceError::Overloaded`] past `max_connections`.
    pub async fn open(&self, mode: Mode) -> Result<Connection, ServiceError> {
        let connection = Connection::open(&self.inner, mode)?;
        if mode != Mode::Stream {
            self.inner.register_presence(connection.id()).await;
        }
        Ok(connection)
    }

    /// Sends `text` to every connection of every instance.
    ///
    /// # Errors
    /// A bus failure.
    pub async fn broadcast(&self, text: &str) -> Result<(), ServiceError> {
        self.inner.fan_out(&fanout::Record::all(text)).await
    }

    /// Publishes `dados` on `canal`, for its subscribers on every instance; returns where it
    /// went.
    ///
    /// # Errors
    /// A store failure (nothing was published); a bus failure (the publication is in the
    /// history, and this instance's subscribers have it: the others get it from the history,
    /// with the next publication or when they reconnect).
    pub async fn publish(&self, canal: &Canal, dados: Dados) -> Result<Publicacao, ServiceError> {
        let mut published = self.inner.publish(canal, &[dados]).await?;
        published
            .pop()
            .ok_or_else(|| ServiceError::Conflict(format!("channel {canal}: nothing published")))
    }

    /// The publications of `canal` after offset `desde`, ascending, at most `limit`.
    ///
    /// # Errors
    /// A store failure.
    pub async fn history(
        &self,
        canal: &Canal,
        desde: u64,
        limit: usize,
    ) -> Result<Historico, ServiceError> {
        self.inner.read_history(canal, desde, limit).await
    }

    /// Where `canal` stands, and its subscribers on every instance.
    ///
    /// # Errors
    /// A store failure.
    pub async fn channel(&self, canal: &Canal) -> Result<(Posicao, u64), ServiceError> {
        let found = self.inner.read_history(canal, u64::MAX, 0).await?;
        let subscribers = self
            .inner
            .history
            .subscribers(canal)
            .await
            .map_err(self.inner.ports.store_failed("channel_subscribers"))?;
        Ok((found.posicao, subscribers))
    }

    /// Sends `text` to connection `connection_id`, on whichever instance holds it.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`] when no instance holds it; a bus or a store failure.
    pub async fn send_to(&self, connection_id: &str, text: &str) -> Result<(), ServiceError> {
        if !self.inner.registry.contains(connection_id)
            && !self.inner.present_anywhere(connection_id).await?
        {
            return Err(ServiceError::NotFound(format!(
                "connection {connection_id}"
            )));
        }
        self.inner
            .fan_out(&fanout::Record::one(connection_id, text))
            .await
    }

    /// Open connections on this instance.
    pub fn local_connections(&self) -> usize {
        self.inner.registry.len()
    }

    /// Whether this instance's fan-out subscription works: a heartbeat it sent after the last
    /// bus failure came back, recently (see `liveness.rs`).
    pub fn subscription_healthy(&self) -> bool {
        self.inner.liveness.healthy()
    }

    /// Waits, at most `within`, until the fan-out subscription is live: it has received this
    /// instance's own heartbeat, so what is published from now on reaches this instance's
    /// connections. Returns whether it is. Texts and events published before that are not
    /// delivered here.
    pub async fn wait_subscribed(&self, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        while !self.subscription_healthy() {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        true
    }

    /// Closes every connection of this instance with `reason`.
    pub fn close_all(&self, reason: CloseReason) {
        self.inner.registry.close_all(reason);
        self.inner.ports.metrics.ws_connections(0);
    }
}

/// The hub's background tasks; dropping this stops them.
pub struct HubTasks(Vec<JoinHandle<()>>);

impl Drop for HubTasks {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

#[cfg(test)]
mod tests;
