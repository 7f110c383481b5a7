//! This instance's connections, each with a bounded outbound queue that never makes a sender
//! wait: a connection whose queue is full is closed, and the others go on.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use integra_domain::{Evento, Id};
use tokio::sync::{mpsc, watch};

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
    /// Registers a new connection, its greeting queued first.
    pub(super) fn open(hub: &Arc<Inner>) -> Result<Self, ServiceError> {
        let id = Id::generate().to_string();
        let (tx, rx) = mpsc::channel(hub.config.max_queue.max(1));
        let (close, close_rx) = watch::channel(None);
        let hello = Evento::Conectado { conexao_id: &id }.to_json();
        // The queue is new and has room: the greeting always fits.
        let _ = tx.try_send(Arc::from(hello));
        let open = hub
            .registry
            .insert(&id, Slot { tx, close }, hub.config.max_connections)?;
        hub.ports
            .metrics
            .ws_connections(i64::try_from(open).unwrap_or(i64::MAX));
        Ok(Self {
            id,
            rx,
            close: close_rx,
            hub: Arc::clone(hub),
        })
    }

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

/// The sending ends of one connection.
pub(super) struct Slot {
    tx: mpsc::Sender<Arc<str>>,
    close: watch::Sender<Option<CloseReason>>,
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

    /// Queues `text` for one connection, or all, never waiting. Connections whose queue is full
    /// are closed with [`CloseReason::Overflow`]; returns their ids.
    pub(super) fn deliver(&self, to: Option<&str>, text: &Arc<str>) -> Vec<String> {
        let mut overflowed = Vec::new();
        {
            let connections = self.read();
            let mut offer = |id: &String, slot: &Slot| {
                if let Err(mpsc::error::TrySendError::Full(_)) = slot.tx.try_send(Arc::clone(text))
                {
                    overflowed.push(id.clone());
                }
            };
            match to {
                Some(id) => {
                    if let Some((id, slot)) = connections.get_key_value(id) {
                        offer(id, slot);
                    }
                }
                None => connections.iter().for_each(|(id, slot)| offer(id, slot)),
            }
        }
        let mut connections = self.write();
        for id in &overflowed {
            if let Some(slot) = connections.remove(id) {
                let _ = slot.close.send(Some(CloseReason::Overflow));
            }
        }
        overflowed
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
