//! The WebSocket hub: a registry of connections with bounded outbound queues, broadcast, personal
//! messages and events, fanned out across instances through the bus. It knows no transport: a
//! transport asks it for a [`Connection`] and pumps what comes out of it to the socket.
//!
//! Every broadcast, personal message and event is published on the fan-out topic; each instance
//! subscribes to it and delivers to its own connections. So a text reaches every connection of
//! every instance that shares the bus, and all of them see texts in the same order.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use futures_util::StreamExt;
use integra_domain::{Id, Timestamp};
use integra_ports::{Inbound, Outbound};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::{topics, Events, Ports, ServiceError};

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
    /// A subscription that delivered no heartbeat for this long is stalled.
    pub stall_after: Duration,
    /// How long the store remembers a connection unless refreshed.
    pub presence_ttl: Duration,
}

impl Default for HubConfig {
    fn default() -> Self {
        Self {
            max_queue: 1024,
            max_connections: 10_000,
            publish_timeout: Duration::from_secs(5),
            heartbeat_every: Duration::from_secs(2),
            stall_after: Duration::from_secs(15),
            presence_ttl: Duration::from_secs(60),
        }
    }
}

/// Why the hub closes a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// Its outbound queue overflowed: the client reads too slowly (WebSocket code 1008).
    Overflow,
    /// The server is going away (WebSocket code 1001).
    GoingAway,
}

impl CloseReason {
    /// The WebSocket close code.
    pub const fn code(self) -> u16 {
        match self {
            Self::Overflow => 1008,
            Self::GoingAway => 1001,
        }
    }
}

/// What the hub hands a transport for one connection.
#[derive(Debug)]
pub enum Outgoing {
    /// A text frame to send.
    Text(Arc<str>),
    /// Close the connection with this reason.
    Close(CloseReason),
}

/// One live connection. Dropping it unregisters it.
pub struct Connection {
    id: String,
    rx: mpsc::Receiver<Arc<str>>,
    close: watch::Receiver<Option<CloseReason>>,
    hub: Arc<Inner>,
}

impl Connection {
    /// Its id: the `conexao_id` clients address personal messages to.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The next thing to do on the socket. A close wins over queued texts.
    pub async fn next(&mut self) -> Outgoing {
        tokio::select! {
            biased;
            changed = self.close.changed() => match changed {
                Ok(()) => Outgoing::Close((*self.close.borrow()).unwrap_or(CloseReason::GoingAway)),
                Err(_) => Outgoing::Close(CloseReason::GoingAway),
            },
            text = self.rx.recv() => text.map_or(Outgoing::Close(CloseReason::GoingAway), Outgoing::Text),
        }
    }
}

impl Connection {
    /// Resolves when the hub closes this connection. A transport races every socket write against
    /// it, so that a client that stopped reading cannot block its writer forever.
    pub async fn closed(&mut self) -> CloseReason {
        match self.close.wait_for(Option::is_some).await {
            Ok(reason) => (*reason).unwrap_or(CloseReason::GoingAway),
            Err(_) => CloseReason::GoingAway,
        }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.hub.forget(&self.id);
    }
}

/// A record on the fan-out topic.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "k", rename_all = "lowercase")]
enum Fanout {
    /// For every connection.
    All { texto: String },
    /// For every connection, several texts in order (events, batched).
    Many { textos: Vec<String> },
    /// For one connection.
    One { para: String, texto: String },
    /// An instance checking its own subscription.
    Hb { instancia: String },
}

struct Slot {
    tx: mpsc::Sender<Arc<str>>,
    close: watch::Sender<Option<CloseReason>>,
}

struct Inner {
    instance: String,
    ports: Ports,
    config: HubConfig,
    conns: RwLock<HashMap<String, Slot>>,
    events: Mutex<Option<mpsc::Receiver<String>>>,
    last_heartbeat_ms: AtomicI64,
}

/// The WebSocket hub. Cloning is cheap: clones share one registry.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

/// Events queued for fan-out before the hub drops them.
const EVENT_QUEUE: usize = 65_536;

/// How long the event pump waits for more events before publishing what it has.
const EVENT_GATHER: Duration = Duration::from_millis(2);

/// Most bytes of events in one fan-out record: well under the 1 MiB a broker takes by default.
const EVENT_RECORD_BYTES: usize = 512 * 1024;

impl Hub {
    /// A hub, and the [`Events`] handle through which services feed it. Call [`Hub::start`] to run it.
    pub fn new(ports: Ports, config: HubConfig) -> (Self, Events) {
        let (events, rx) = Events::channel(EVENT_QUEUE);
        let inner = Inner {
            instance: Id::generate().to_string(),
            ports,
            config,
            conns: RwLock::new(HashMap::new()),
            events: Mutex::new(Some(rx)),
            last_heartbeat_ms: AtomicI64::new(i64::MIN),
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

    /// Starts the subscription, the event pump, the heartbeat and the presence refresh. They stop
    /// when the returned tasks are dropped.
    pub fn start(&self) -> HubTasks {
        let mut tasks = vec![
            tokio::spawn(Arc::clone(&self.inner).subscribe_forever()),
            tokio::spawn(Arc::clone(&self.inner).heartbeat_forever()),
            tokio::spawn(Arc::clone(&self.inner).refresh_presence_forever()),
        ];
        let events = self
            .inner
            .events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(events) = events {
            tasks.push(tokio::spawn(Arc::clone(&self.inner).pump_events(events)));
        }
        HubTasks(tasks)
    }

    /// Opens a connection. Its first text is `{"evento":"conectado","dados":{"conexao_id":…}}`.
    ///
    /// # Errors
    /// [`ServiceError::Overloaded`] past `max_connections`.
    pub async fn connect(&self) -> Result<Connection, ServiceError> {
        let id = Id::generate().to_string();
        let (tx, rx) = mpsc::channel(self.inner.config.max_queue.max(1));
        let (close, close_rx) = watch::channel(None);
        // Generated ids are UUIDs: nothing in them needs escaping.
        let hello = format!(r#"{{"evento":"conectado","dados":{{"conexao_id":"{id}"}}}}"#);
        let _ = tx.try_send(Arc::from(hello));
        let open = {
            let mut conns = self
                .inner
                .conns
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            if conns.len() >= self.inner.config.max_connections {
                return Err(ServiceError::Overloaded(format!(
                    "this instance holds its maximum of {} WebSocket connections",
                    self.inner.config.max_connections
                )));
            }
            conns.insert(id.clone(), Slot { tx, close });
            conns.len()
        };
        self.inner
            .ports
            .metrics
            .ws_connections(i64::try_from(open).unwrap_or(i64::MAX));
        // Presence lets other instances route personal messages here. If the store is down the
        // connection still works and is registered at the next refresh.
        if let Err(e) = self
            .inner
            .ports
            .store
            .put_presence(&id, &self.inner.instance, self.inner.presence_ttl_ms())
            .await
        {
            self.inner.ports.metrics.store_error("put_presence");
            tracing::warn!(conexao_id = %id, error = %e, "could not register a connection's presence");
        }
        Ok(Connection {
            id,
            rx,
            close: close_rx,
            hub: Arc::clone(&self.inner),
        })
    }

    /// Sends `texto` to every connection of every instance.
    ///
    /// # Errors
    /// [`ServiceError::Publish`] when the bus fails.
    pub async fn broadcast(&self, texto: &str) -> Result<(), ServiceError> {
        self.inner
            .fan_out(&Fanout::All {
                texto: texto.to_owned(),
            })
            .await
    }

    /// Sends `texto` to connection `conexao_id`, on whichever instance holds it.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`] when no instance holds it; [`ServiceError::Publish`];
    /// [`ServiceError::Store`].
    pub async fn send_to(&self, conexao_id: &str, texto: &str) -> Result<(), ServiceError> {
        let known = self
            .inner
            .conns
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .contains_key(conexao_id);
        if !known {
            let ports = &self.inner.ports;
            if ports
                .store
                .presence(conexao_id)
                .await
                .map_err(ports.store_failed("presence"))?
                .is_none()
            {
                return Err(ServiceError::NotFound(format!("connection {conexao_id}")));
            }
        }
        self.inner
            .fan_out(&Fanout::One {
                para: conexao_id.to_owned(),
                texto: texto.to_owned(),
            })
            .await
    }

    /// Open connections on this instance.
    pub fn local_connections(&self) -> usize {
        self.inner
            .conns
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether this instance's fan-out subscription delivered its own heartbeat recently.
    pub fn subscription_healthy(&self) -> bool {
        let last = self.inner.last_heartbeat_ms.load(Ordering::Relaxed);
        let stall = i64::try_from(self.inner.config.stall_after.as_millis()).unwrap_or(i64::MAX);
        last != i64::MIN && Timestamp::now().millis().saturating_sub(last) <= stall
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
        let slots: Vec<_> = self
            .inner
            .conns
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .drain()
            .collect();
        for (_, slot) in slots {
            let _ = slot.close.send(Some(reason));
        }
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

impl Inner {
    fn presence_ttl_ms(&self) -> u64 {
        u64::try_from(self.config.presence_ttl.as_millis()).unwrap_or(u64::MAX)
    }

    async fn fan_out(&self, record: &Fanout) -> Result<(), ServiceError> {
        let payload =
            serde_json::to_vec(record).map_err(|e| ServiceError::Corrupt(e.to_string()))?;
        let outbound = Outbound {
            topic: topics::WS_FANOUT.to_owned(),
            key: self.instance.clone(),
            payload,
            headers: vec![("content-type".to_owned(), "application/json".to_owned())],
        };
        self.ports
            .publish(&outbound, self.config.publish_timeout)
            .await
            .map(|_| ())
            .map_err(|source| ServiceError::Publish { id: None, source })
    }

    /// Delivers what arrives on the fan-out topic, subscribing again whenever the stream breaks.
    async fn subscribe_forever(self: Arc<Self>) {
        loop {
            match self.ports.bus.subscribe(topics::WS_FANOUT).await {
                Ok(mut records) => {
                    tracing::debug!(instance = %self.instance, "fan-out subscription started");
                    self.send_heartbeat().await;
                    while let Some(record) = records.next().await {
                        self.receive(&record);
                    }
                    tracing::warn!("fan-out subscription ended; subscribing again");
                }
                Err(e) => tracing::warn!(error = %e, "fan-out subscription failed; retrying"),
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    fn receive(&self, record: &Inbound) {
        match serde_json::from_slice::<Fanout>(&record.payload) {
            Ok(Fanout::All { texto }) => self.deliver(None, &Arc::from(texto)),
            Ok(Fanout::Many { textos }) => textos
                .into_iter()
                .for_each(|t| self.deliver(None, &Arc::from(t))),
            Ok(Fanout::One { para, texto }) => self.deliver(Some(&para), &Arc::from(texto)),
            Ok(Fanout::Hb { instancia }) if instancia == self.instance => {
                self.last_heartbeat_ms
                    .store(Timestamp::now().millis(), Ordering::Relaxed);
            }
            Ok(Fanout::Hb { .. }) => {}
            Err(e) => tracing::warn!(error = %e, "unreadable fan-out record skipped"),
        }
    }

    /// Queues `text` for one connection or all, never waiting: a full queue closes its connection.
    fn deliver(&self, to: Option<&str>, text: &Arc<str>) {
        let mut overflowed = Vec::new();
        {
            let conns = self.conns.read().unwrap_or_else(PoisonError::into_inner);
            let mut offer = |id: &String, slot: &Slot| {
                if let Err(mpsc::error::TrySendError::Full(_)) = slot.tx.try_send(Arc::clone(text))
                {
                    overflowed.push(id.clone());
                }
            };
            match to {
                Some(id) => {
                    if let Some((id, slot)) = conns.get_key_value(id) {
                        offer(id, slot);
                    }
                }
                None => conns.iter().for_each(|(id, slot)| offer(id, slot)),
            }
        }
        for id in overflowed {
            tracing::info!(conexao_id = %id, "closing a connection whose queue is full");
            if let Some(slot) = self.remove(&id) {
                let _ = slot.close.send(Some(CloseReason::Overflow));
            }
        }
    }

    fn remove(&self, id: &str) -> Option<Slot> {
        let (slot, open) = {
            let mut conns = self.conns.write().unwrap_or_else(PoisonError::into_inner);
            (conns.remove(id), conns.len())
        };
        if slot.is_some() {
            self.ports
                .metrics
                .ws_connections(i64::try_from(open).unwrap_or(i64::MAX));
        }
        slot
    }

    /// Unregisters a connection that ended, here and in the store.
    fn forget(self: &Arc<Self>, id: &str) {
        self.remove(id);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let (inner, id) = (Arc::clone(self), id.to_owned());
            runtime.spawn(async move {
                if let Err(e) = inner.ports.store.remove_presence(&id).await {
                    inner.ports.metrics.store_error("remove_presence");
                    tracing::debug!(conexao_id = %id, error = %e, "presence not removed; it expires");
                }
            });
        }
    }

    /// Publishes queued events in order, as few records as possible: whatever queued up while the
    /// previous record waited for its acknowledgement goes out as one record (up to
    /// [`EVENT_RECORD_BYTES`]), so under load events cost the bus a fraction of a record each.
    async fn pump_events(self: Arc<Self>, mut events: mpsc::Receiver<String>) {
        let mut queued = Vec::with_capacity(1024);
        while events.recv_many(&mut queued, 1024).await > 0 {
            // Let a burst gather: one wake-up and one record for many events, at the price of
            // EVENT_GATHER more latency for WebSocket clients.
            tokio::time::sleep(EVENT_GATHER).await;
            while queued.len() < 4096 {
                match events.try_recv() {
                    Ok(event) => queued.push(event),
                    Err(_) => break,
                }
            }
            let mut rest = queued.drain(..).peekable();
            while rest.peek().is_some() {
                let mut size = 0;
                let mut textos = Vec::new();
                while let Some(next) =
                    rest.next_if(|t| textos.is_empty() || size + t.len() <= EVENT_RECORD_BYTES)
                {
                    size += next.len();
                    textos.push(next);
                }
                if let Err(e) = self.fan_out(&Fanout::Many { textos }).await {
                    tracing::warn!(error = %e, "events not fanned out");
                }
            }
        }
    }

    async fn send_heartbeat(&self) {
        if let Err(e) = self
            .fan_out(&Fanout::Hb {
                instancia: self.instance.clone(),
            })
            .await
        {
            tracing::debug!(error = %e, "heartbeat not published");
        }
    }

    async fn heartbeat_forever(self: Arc<Self>) {
        let mut tick = tokio::time::interval(self.config.heartbeat_every);
        loop {
            tick.tick().await;
            self.send_heartbeat().await;
        }
    }

    async fn refresh_presence_forever(self: Arc<Self>) {
        let mut tick = tokio::time::interval(self.config.presence_ttl / 3);
        tick.tick().await;
        loop {
            tick.tick().await;
            let ids: Vec<String> = self
                .conns
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .keys()
                .cloned()
                .collect();
            for id in ids {
                if let Err(e) = self
                    .ports
                    .store
                    .put_presence(&id, &self.instance, self.presence_ttl_ms())
                    .await
                {
                    self.ports.metrics.store_error("put_presence");
                    tracing::warn!(error = %e, "presence refresh failed");
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "hub_tests.rs"]
mod tests;
