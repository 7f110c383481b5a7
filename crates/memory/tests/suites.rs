//! The behaviour suites of `integra-conformance`, on the embedded backends.

#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;

use integra_memory::{MemoryBus, MemoryEngine, MemoryStore};

integra_conformance::engine_suite!(|ttl| async move { Arc::new(MemoryEngine::new(ttl)) });
integra_conformance::store_suite!(|ttl| async move {
    Arc::new(MemoryStore::new(MemoryEngine::new(ttl))) as Arc<dyn integra_ports::Store>
});
integra_conformance::bus_suite!(|prefix: String| async move {
    Arc::new(MemoryBus::new(prefix, 1024 * 1024)) as Arc<dyn integra_ports::Bus>
});
