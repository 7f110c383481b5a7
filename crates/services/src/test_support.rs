//! Helpers shared by the services' unit tests.

use std::sync::Arc;

use integra_memory::{MemoryBus, MemoryEngine, MemoryStore};
use integra_ports::{Bus, MetricSink, MockBus, MockMetricSink, NoopMetrics, Store};

use crate::Ports;

/// Ports over a store part (usually a mock) and a mocked bus; the metric sink accepts anything.
pub fn mocked<S: ?Sized>(store: Arc<S>, bus: MockBus) -> Ports<S> {
    let mut metrics = MockMetricSink::new();
    metrics.expect_bus_publish().return_const(());
    metrics.expect_store_error().return_const(());
    metrics.expect_record().return_const(());
    metrics.expect_ws_connections().return_const(());
    metrics.expect_counter_total().return_const(0.0);
    metrics.expect_store_memory().return_const(());
    Ports::new(store, Arc::new(bus), Arc::new(metrics))
}

/// Ports over the real in-process store, with a bus the test chooses.
pub fn memory_with_bus(bus: Arc<dyn Bus>) -> Ports<dyn Store> {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new(MemoryEngine::new(None)));
    let metrics: Arc<dyn MetricSink> = Arc::new(NoopMetrics);
    Ports::new(store, bus, metrics)
}

/// Ports over the real in-process backends.
pub fn memory() -> Ports<dyn Store> {
    memory_with_bus(Arc::new(MemoryBus::default()))
}

/// A bus that records what it stores: it can be switched off, made slow, made to never answer,
/// or to lose its answers. Subscriptions are not offered.
#[derive(Default)]
pub struct FakeBus {
    /// While set, every publish fails as an unreachable broker.
    pub down: std::sync::atomic::AtomicBool,
    /// While set, every publish is stored but answered as timed out, as when the broker's answer
    /// is lost.
    pub answers_lost: std::sync::atomic::AtomicBool,
    delay: std::time::Duration,
    hangs: bool,
    published: std::sync::Mutex<Vec<integra_ports::Outbound>>,
    /// When each record of `published` was stored.
    stored_at: std::sync::Mutex<Vec<integra_domain::Timestamp>>,
}

impl FakeBus {
    /// A bus that takes `delay` to acknowledge, like a real broker.
    pub fn slow(delay: std::time::Duration) -> Self {
        Self {
            delay,
            ..Self::default()
        }
    }

    /// A bus that never acknowledges anything.
    pub fn hanging() -> Self {
        Self {
            hangs: true,
            ..Self::default()
        }
    }

    /// What was acknowledged, in order.
    pub fn published(&self) -> Vec<integra_ports::Outbound> {
        self.published
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The `evento` and key of each acknowledged record: `alerta.criado a1`.
    pub fn events(&self) -> Vec<String> {
        self.published()
            .iter()
            .map(|r| {
                let v: serde_json::Value = serde_json::from_slice(&r.payload).unwrap_or_default();
                format!("{} {}", v["evento"].as_str().unwrap_or("?"), r.key)
            })
            .collect()
    }
}

#[async_trait::async_trait]
impl Bus for FakeBus {
    async fn publish(
        &self,
        record: &integra_ports::Outbound,
        _within: std::time::Duration,
    ) -> Result<integra_domain::CoordenadasKafka, integra_ports::BusError> {
        if self.hangs {
            std::future::pending::<()>().await;
        }
        tokio::time::sleep(self.delay).await;
        if self.down.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(integra_ports::BusError::Unavailable("broker down".into()));
        }
        let mut published = self
            .published
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        published.push(record.clone());
        self.stored_at
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(integra_domain::Timestamp::now());
        if self.answers_lost.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(integra_ports::BusError::Timeout(
                "the answer was lost".into(),
            ));
        }
        Ok(integra_domain::CoordenadasKafka {
            topico: record.topic.clone(),
            particao: 0,
            offset: i64::try_from(published.len()).unwrap_or(i64::MAX) - 1,
        })
    }

    async fn find(
        &self,
        topic: &str,
        key: &str,
        sent: integra_domain::TimeRange,
    ) -> Result<Option<integra_domain::CoordenadasKafka>, integra_ports::BusError> {
        let published = self
            .published
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let stored_at = self
            .stored_at
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Ok(published
            .iter()
            .zip(stored_at.iter())
            .position(|(r, at)| r.topic == topic && r.key == key && sent.contains(*at))
            .map(|offset| integra_domain::CoordenadasKafka {
                topico: topic.to_owned(),
                particao: 0,
                offset: i64::try_from(offset).unwrap_or(i64::MAX),
            }))
    }

    async fn subscribe(
        &self,
        _: &str,
    ) -> Result<integra_ports::Subscription, integra_ports::BusError> {
        Err(integra_ports::BusError::Unavailable(
            "this fake bus offers no subscriptions".into(),
        ))
    }

    async fn ping(&self) -> Result<(), integra_ports::BusError> {
        Ok(())
    }
}
