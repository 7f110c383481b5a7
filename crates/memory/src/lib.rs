//! The embedded backends: [`MemoryStore`] and [`MemoryBus`], in process, with no service to run.
//!
//! They are real backends, not stubs: records expire, indexes answer pages in
//! `O(log n + skip + limit)`, series keep their kind, cap and retention, records on the bus get
//! offsets and every subscriber receives every record. They are what a new user runs on, and the
//! reference the Redis and Kafka adapters are tested against (the suites of
//! `integra-conformance`). State lives in this process only: it is gone on restart and not shared
//! between instances.
//!
//! ```
//! use std::time::Duration;
//! use integra_memory::{MemoryEngine, MemoryStore};
//!
//! let store = MemoryStore::new(MemoryEngine::new(Some(Duration::from_secs(3600))));
//! ```

mod bus;
mod documents;
mod presence;
mod series;

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use integra_documents::DocumentStore;

pub use bus::MemoryBus;

/// The embedded [`Store`](integra_ports::Store): the typed store over a [`MemoryEngine`].
pub type MemoryStore = DocumentStore<MemoryEngine>;

/// The in-process engine: documents, metric series and presence, each behind a lock of its own,
/// never held across an await.
pub struct MemoryEngine {
    /// Documents expire this long after their last write; `None` keeps them.
    ttl_ms: Option<i64>,
    documents: Mutex<documents::Collections>,
    series: Mutex<series::Series>,
    presence: Mutex<presence::Presence>,
}

impl MemoryEngine {
    /// An engine whose documents expire `ttl` after their last write; `None` (or zero) keeps them.
    pub fn new(ttl: Option<Duration>) -> Self {
        let ttl_ms = ttl
            .filter(|t| !t.is_zero())
            .map(|t| i64::try_from(t.as_millis()).unwrap_or(i64::MAX));
        Self {
            ttl_ms,
            documents: Mutex::default(),
            series: Mutex::default(),
            presence: Mutex::default(),
        }
    }
}

/// Locks `state`; a panic while it was held leaves no half-made change behind (every change is
/// made in one step), so a poisoned lock is taken as it is.
fn lock<T>(state: &Mutex<T>) -> MutexGuard<'_, T> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}
