//! The embedded backends: [`MemoryStore`] and [`MemoryBus`], in process, with no service to run.
//!
//! They are real backends, not stubs: records expire, indexes answer pages in
//! `O(log n + skip + limit)`, series keep their kind, caps and retention, the whole store keeps
//! within a memory budget (the least recently written records and the oldest points leave first),
//! records on the bus get offsets and every subscriber receives every record. They are what a new
//! user runs on, and the reference the Redis and Kafka adapters are tested against (the suites of
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
mod channels;
mod documents;
mod presence;
mod series;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use integra_documents::DocumentStore;
use integra_ports::{MetricSink, NoopMetrics};

pub use bus::MemoryBus;

/// The embedded [`Store`](integra_ports::Store): the typed store over a [`MemoryEngine`].
pub type MemoryStore = DocumentStore<MemoryEngine>;

/// The budget of an engine made with [`MemoryEngine::new`] (`store.memory_max_bytes`).
pub const DEFAULT_MAX_BYTES: usize = 512 * 1024 * 1024;

/// The in-process engine: documents, metric series and presence, each behind a lock of its own,
/// never held across an await, within one memory budget.
pub struct MemoryEngine {
    /// Documents expire this long after their last write; `None` keeps them.
    ttl_ms: Option<i64>,
    /// Past this many bytes (about) of documents and points, the oldest leave first.
    max_bytes: usize,
    documents: Mutex<documents::Collections>,
    series: Mutex<series::Series>,
    presence: Mutex<presence::Presence>,
    channels: Mutex<channels::Channels>,
    /// What documents, points and channel histories hold (about, in bytes), as their locks last saw it.
    document_bytes: AtomicUsize,
    series_bytes: AtomicUsize,
    channel_bytes: AtomicUsize,
    /// Records and points evicted for the budget, since start.
    evicted: AtomicU64,
    metrics: Arc<dyn MetricSink>,
}

impl MemoryEngine {
    /// An engine whose documents expire `ttl` after their last write (`None`, or zero, keeps
    /// them), within [`DEFAULT_MAX_BYTES`].
    pub fn new(ttl: Option<Duration>) -> Self {
        Self::with_budget(ttl, DEFAULT_MAX_BYTES, Arc::new(NoopMetrics))
    }

    /// An engine within `max_bytes` (about: what its documents and points take, not the
    /// allocator's slack), which reports what it holds and what it evicted to `metrics`.
    pub fn with_budget(
        ttl: Option<Duration>,
        max_bytes: usize,
        metrics: Arc<dyn MetricSink>,
    ) -> Self {
        let ttl_ms = ttl
            .filter(|t| !t.is_zero())
            .map(|t| i64::try_from(t.as_millis()).unwrap_or(i64::MAX));
        Self {
            ttl_ms,
            max_bytes,
            documents: Mutex::default(),
            series: Mutex::default(),
            presence: Mutex::default(),
            channels: Mutex::default(),
            document_bytes: AtomicUsize::new(0),
            series_bytes: AtomicUsize::new(0),
            channel_bytes: AtomicUsize::new(0),
            evicted: AtomicU64::new(0),
            metrics,
        }
    }

    /// Bytes (about) that documents, points and channel histories hold now.
    pub fn used_bytes(&self) -> usize {
        self.document_bytes.load(Ordering::Relaxed)
            + self.series_bytes.load(Ordering::Relaxed)
            + self.channel_bytes.load(Ordering::Relaxed)
    }

    /// Records and points evicted to keep within the budget, since start.
    pub fn evicted(&self) -> u64 {
        self.evicted.load(Ordering::Relaxed)
    }

    /// Evicts, oldest first (a document by its last write, a point by its timestamp, a channel's
    /// history by its last publication), until the store is within its budget. The locks are
    /// taken one at a time, never together.
    fn enforce_budget(&self) {
        let mut used = self.used_bytes();
        let mut evicted = 0;
        while used > self.max_bytes {
            let candidates = [
                lock(&self.documents)
                    .oldest()
                    .map(|at| (at, Kind::Document)),
                lock(&self.series).oldest().map(|at| (at, Kind::Point)),
                lock(&self.channels).oldest().map(|at| (at, Kind::Channel)),
            ];
            let Some((_, oldest)) = candidates.into_iter().flatten().min_by_key(|(at, _)| *at)
            else {
                break;
            };
            let gone = match oldest {
                Kind::Document => self.evict_document(),
                Kind::Point => self.evict_point(),
                Kind::Channel => self.evict_channel(),
            };
            if !gone {
                break;
            }
            evicted += 1;
            used = self.used_bytes();
        }
        let total = self.evicted.fetch_add(evicted, Ordering::Relaxed) + evicted;
        self.metrics
            .store_memory(u64::try_from(used).unwrap_or(u64::MAX), total);
    }
}

/// What the budget evicts.
#[derive(Clone, Copy)]
enum Kind {
    Document,
    Point,
    Channel,
}

impl MemoryEngine {
    fn evict_document(&self) -> bool {
        let mut documents = lock(&self.documents);
        let gone = documents.evict_oldest();
        self.document_bytes
            .store(documents.bytes, Ordering::Relaxed);
        gone
    }

    fn evict_channel(&self) -> bool {
        let mut channels = lock(&self.channels);
        let gone = channels.evict_oldest();
        self.channel_bytes.store(channels.bytes, Ordering::Relaxed);
        gone
    }

    fn evict_point(&self) -> bool {
        let mut series = lock(&self.series);
        let gone = series.evict_oldest();
        self.series_bytes.store(series.bytes, Ordering::Relaxed);
        gone
    }
}

/// Locks `state`; a panic while it was held leaves no half-made change behind (every change is
/// made in one step), so a poisoned lock is taken as it is.
fn lock<T>(state: &Mutex<T>) -> MutexGuard<'_, T> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}
