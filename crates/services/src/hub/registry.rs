//! This instance's connections, each with a bounded outbound queue that never makes a sender
//! wait: a connection whose queue is full is closed, and the others go on.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, PoisonError, RwLock};

use integra_domain::{Canal, Evento, Id, Posicao};
use tokio::sync::{mpsc, watch};

use super::channels::{Publication, Recovery};
use super::Inner;
use crate::ServiceError;

/// Why the hub closes a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// Its outbound queue overflowed: the client reads too slowly.
    Overflow,
    /// The server is going away.
    GoingAway,
}

/// What the hub hands a transport for one connection.
#[derive(Debug)]
pub enum Outgoing {
    /// A text frame to send.
    Text(Arc<str>),
    /// A publication on a channel the connection subscribed to.
    Publication(Arc<Publication>),
    /// A subscription began: where its channel stands, and whether the missed publications that
    /// follow are all that was missed.
    Subscribed {
        /// The channel.
        canal: Canal,
        /// Its latest offset and epoca.
        posicao: Posicao,
        /// Whether what follows is everything missed since the subscriber's `desde`.
        recuperado: bool,
    },
    /// Close the connection with this reason.
    Close(CloseReason),
}

/// What a connection's queue holds: a text, or a publication of one of its subscriptions (its
/// number, so that what a cancelled subscription left queued is dropped).
#[derive(Debug)]
pub(super) enum Item {
    Text(Arc<str>),
    Publication(Arc<Publication>, u64),
}

/// What a connection receives besides its channels and its personal messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Broadcasts and every event (`GET /ws`); its first text is `conectado`.
    Everything,
    /// Broadcasts, but only the events of its channels (`GET /ws?eventos=canais`); its first
    /// text is `conectado`.
    Channels,
    /// Its channels only, no greeting (an SSE stream).
    Stream,
}

/// Who a text is for.
#[derive(Debug, Clone, Copy)]
pub(super) enum Audience<'a> {
    /// Every connection that takes broadcasts.
    Broadcast,
    /// Every connection that takes every event.
    Events,
    /// One connection.
    One(&'a str),
}

/// One live connection. Dropping it unregisters it.
pub struct Connection {
    id: String,
    rx: mpsc::Receiver<Item>,
    pub(super) tx: mpsc::Sender<Item>,
    close: watch::Receiver<Option<CloseReason>>,
    pub(super) hub: Arc<Inner>,
    /// Its subscriptions: channel → the subscription's number.
    pub(super) channels: HashMap<Canal, u64>,
    /// Numbers subscriptions, so that each has its own.
    pub(super) subscriptions: u64,
    /// What is sent before anything queued: a subscription's `inscrito` and the publications it
    /// recovers, in order.
    pub(super) backlog: VecDeque<Outgoing>,
    /// Recoveries still to read from the store, a page at a time, into the backlog.
    pub(super) recovering: VecDeque<Recovery>,
}

impl Connection {
    /// Registers a new connection; in the modes that have one, its greeting is queued first.
    pub(super) fn open(hub: &Arc<Inner>, mode: Mode) -> Result<Self, ServiceError> {
        let id = Id::generate().to_string();
        let (tx, rx) = mpsc::channel(hub.config.max_queue.max(1));
        let (close, close_rx) = watch::channel(None);
        // The greeting goes first, ahead of anything queued or recovered.
        let mut backlog = VecDeque::new();
        if mode != Mode::Stream {
            let hello = Evento::Conectado { conexao_id: &id }.to_json();
            backlog.push_back(Outgoing::Text(Arc::from(hello)));
        }
        let slot = Slot {
            tx: tx.clone(),
            close,
            mode,
        };
        let open = hub.registry.insert(&id, slot, hub.config.max_connections)?;
        hub.ports
            .metrics
            .ws_connections(i64::try_from(open).unwrap_or(i64::MAX));
        Ok(Self {
            id,
            rx,
            tx,
            close: close_rx,
            hub: Arc::clone(hub),
            channels: HashMap::new(),
            subscriptions: 0,
            backlog,
            recovering: VecDeque::new(),
        })
    }

    /// Its id: the `conexao_id` clients address personal messages to.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The next thing to do on the socket. A close wins over everything; then come a
    /// subscription's recovery, then what is queued.
    pub async fn next(&mut self) -> Outgoing {
        loop {
            if let Some(reason) = *self.close.borrow() {
                return Outgoing::Close(reason);
            }
            if let Some(next) = self.backlog.pop_front() {
                return next;
            }
            if !self.recovering.is_empty() {
                self.recover_page().await;
                continue;
            }
            let item = tokio::select! {
                biased;
                changed = self.close.changed() => match changed {
                    Ok(()) => return Outgoing::Close((*self.close.borrow()).unwrap_or(CloseReason::GoingAway)),
                    Err(_) => return Outgoing::Close(CloseReason::GoingAway),
                },
                item = self.rx.recv() => item,
            };
            match item {
                None => return Outgoing::Close(CloseReason::GoingAway),
                Some(Item::Text(text)) => return Outgoing::Text(text),
                // What a cancelled (or replaced) subscription left queued is not sent.
                Some(Item::Publication(p, subscription)) => {
                    if self.channels.get(&p.canal) == Some(&subscription) {
                        return Outgoing::Publication(p);
                    }
                }
            }
        }
    }

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
        for canal in std::mem::take(&mut self.channels).into_keys() {
            self.hub.leave(&canal, &self.id);
        }
        self.hub.forget(&self.id);
    }
}

/// The sending ends of one connection.
pub(super) struct Slot {
    tx: mpsc::Sender<Item>,
    close: watch::Sender<Option<CloseReason>>,
    mode: Mode,
}

impl Audience<'_> {
    fn takes(self, mode: Mode) -> bool {
        match self {
            Self::Broadcast => mode != Mode::Stream,
            Self::Events => mode == Mode::Everything,
            Self::One(_) => true,
        }
    }
}

/// Connection id → its slot. The lock is held only to look up or change the map, never across an
/// await.
#[derive(Default)]
pub(super) struct Registry {
    connections: RwLock<HashMap<String, Slot>>,
}

impl Registry {
    /// Adds a connection unless `max` are open; returns how many are open.
    fn insert(&self, id: &str, slot: Slot, max: usize) -> Result<usize, ServiceError> {
        let mut connections = self.write();
        if connections.len() >= max {
            return Err(ServiceError::Overloaded(format!(
                "this instance holds its maximum of {max} WebSocket connections"
            )));
        }
        connections.insert(id.to_owned(), slot);
        Ok(connections.len())
    }

    /// Removes a connection; returns whether it was there and how many are left.
    pub(super) fn remove(&self, id: &str) -> (bool, usize) {
        let mut connections = self.write();
        let removed = connections.remove(id).is_some();
        (removed, connections.len())
    }

    pub(super) fn contains(&self, id: &str) -> bool {
        self.read().contains_key(id)
    }

    pub(super) fn len(&self) -> usize {
        self.read().len()
    }

    pub(super) fn ids(&self) -> Vec<String> {
        self.read().keys().cloned().collect()
    }

    /// Queues `text` for its audience, never waiting. Connections whose queue is full are
    /// closed with [`CloseReason::Overflow`]; returns their ids.
    pub(super) fn deliver(&self, to: Audience<'_>, text: &Arc<str>) -> Vec<String> {
        let mut overflowed = Vec::new();
        {
            let connections = self.read();
            let mut offer = |id: &String, slot: &Slot| {
                if !to.takes(slot.mode) {
                    return;
                }
                let item = Item::Text(Arc::clone(text));
                if let Err(mpsc::error::TrySendError::Full(_)) = slot.tx.try_send(item) {
                    overflowed.push(id.clone());
                }
            };
            match to {
                Audience::One(id) => {
                    if let Some((id, slot)) = connections.get_key_value(id) {
                        offer(id, slot);
                    }
                }
                Audience::Broadcast | Audience::Events => {
                    connections.iter().for_each(|(id, slot)| offer(id, slot));
                }
            }
        }
        self.close_overflowed(&overflowed);
        overflowed
    }

    /// Closes the connections whose queue overflowed, with [`CloseReason::Overflow`].
    pub(super) fn close_overflowed(&self, overflowed: &[String]) {
        if overflowed.is_empty() {
            return;
        }
        let mut connections = self.write();
        for id in overflowed {
            if let Some(slot) = connections.remove(id) {
                let _ = slot.close.send(Some(CloseReason::Overflow));
            }
        }
    }

    /// Closes and removes every connection.
    pub(super) fn close_all(&self, reason: CloseReason) {
        let slots: Vec<Slot> = self.write().drain().map(|(_, slot)| slot).collect();
        for slot in slots {
            let _ = slot.close.send(Some(reason));
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Slot>> {
        self.connections
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Slot>> {
        self.connections
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }
}
