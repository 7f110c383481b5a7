//! The ports bundle that every service holds, with the bookkeeping around each call.

use std::sync::Arc;
use std::time::{Duration, Instant};

use integra_ports::{
    Bus, BusError, Collection, Delivery, Document, Insert, MetricSink, Outbound, Page, Replace,
    Store, StoreError, Versioned,
};

/// The three ports, shared by the services. Cloning is cheap.
#[derive(Clone)]
pub struct Ports {
    /// Where state is kept.
    pub store: Arc<dyn Store>,
    /// Where records are published.
    pub bus: Arc<dyn Bus>,
    /// Where measurements go.
    pub metrics: Arc<dyn MetricSink>,
}

impl Ports {
    /// Bundles the ports.
    pub fn new(store: Arc<dyn Store>, bus: Arc<dyn Bus>, metrics: Arc<dyn MetricSink>) -> Self {
        Self {
            store,
            bus,
            metrics,
        }
    }

    /// Publishes and waits for the acknowledgement, recording the outcome. The bus enforces
    /// `timeout` itself and classifies what happened; this guard, a grace period later, only
    /// catches a bus that never answers.
    pub(crate) async fn publish(
        &self,
        record: &Outbound,
        timeout: Duration,
    ) -> Result<Delivery, BusError> {
        const GRACE: Duration = Duration::from_secs(1);
        let started = Instant::now();
        let result = match tokio::time::timeout(timeout + GRACE, self.bus.publish(record)).await {
            Ok(result) => result,
            Err(_) => Err(BusError::Timeout(format!(
                "no acknowledgement within {} ms",
                timeout.as_millis()
            ))),
        };
        let outcome = match &result {
            Ok(_) => "ok",
            Err(BusError::Unavailable(_)) => "unavailable",
            Err(BusError::Timeout(_)) => "timeout",
            Err(BusError::Rejected(_)) => "rejected",
        };
        self.metrics
            .bus_publish(outcome, started.elapsed().as_secs_f64());
        if let Err(e) = &result {
            tracing::warn!(topic = %record.topic, key = %record.key, error = %e, "publish failed");
        }
        result
    }

    /// Counts and logs a failed store operation, passing the error on.
    pub(crate) fn store_failed(
        &self,
        operation: &'static str,
    ) -> impl FnOnce(StoreError) -> StoreError + '_ {
        move |e| {
            self.metrics.store_error(operation);
            tracing::warn!(operation, error = %e, "store operation failed");
            e
        }
    }

    /// [`Store::insert`], counted and logged when it fails.
    pub(crate) async fn insert(&self, doc: &Document) -> Result<Insert, StoreError> {
        self.store
            .insert(doc)
            .await
            .map_err(self.store_failed("insert"))
    }

    /// [`Store::replace`], counted and logged when it fails.
    pub(crate) async fn replace(
        &self,
        doc: &Document,
        expected: u64,
    ) -> Result<Replace, StoreError> {
        self.store
            .replace(doc, expected)
            .await
            .map_err(self.store_failed("replace"))
    }

    /// [`Store::get`], counted and logged when it fails.
    pub(crate) async fn get(
        &self,
        collection: Collection,
        id: &str,
    ) -> Result<Option<Versioned>, StoreError> {
        self.store
            .get(collection, id)
            .await
            .map_err(self.store_failed("get"))
    }

    /// [`Store::list`], counted and logged when it fails.
    pub(crate) async fn list(&self, page: &Page) -> Result<Vec<Versioned>, StoreError> {
        self.store
            .list(page)
            .await
            .map_err(self.store_failed("list"))
    }
}
