//! Helpers shared by the services' unit tests.

use std::sync::Arc;

use integra_memory::{MemoryBus, MemoryStore};
use integra_ports::{Bus, MetricSink, MockBus, MockMetricSink, MockStore, NoopMetrics, Store};

use crate::Ports;

/// Ports over mocks; the metric sink accepts anything.
pub fn mocked(store: MockStore, bus: MockBus) -> Ports {
    let mut metrics = MockMetricSink::new();
    metrics.expect_bus_publish().return_const(());
    metrics.expect_store_error().return_const(());
    metrics.expect_record().return_const(());
    metrics.expect_ws_connections().return_const(());
    Ports::new(Arc::new(store), Arc::new(bus), Arc::new(metrics))
}

/// Ports over the real in-process backends, with a bus the test may swap for a mock.
pub fn memory_with_bus(bus: Arc<dyn Bus>) -> Ports {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new(None));
    let metrics: Arc<dyn MetricSink> = Arc::new(NoopMetrics);
    Ports::new(store, bus, metrics)
}

/// Ports over the real in-process backends.
pub fn memory() -> Ports {
    memory_with_bus(Arc::new(MemoryBus::default()))
}
