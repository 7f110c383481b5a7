//! The ports a service holds, with the bookkeeping around each call: publishes bounded in time
//! and measured, store failures counted and logged.

use std::sync::Arc;
use std::time::{Duration, Instant};

use integra_domain::{CoordenadasKafka, Encoded, Mensagem, Regra, Silencio, TimeRange};
use integra_ports::{
    Bus, BusError, ChannelStore, MetricSink, Outbound, PresenceStore, Records, SeriesStore, Store,
    StoreError, StoredAlert,
};

use crate::ServiceError;

/// A part of the store (`S`), the bus and the metric sink. Each service holds the part it uses:
/// [`Ports::messages`], [`Ports::alerts`], [`Ports::series`], [`Ports::presence`] take it from the
/// whole store. Cloning is cheap.
pub struct Ports<S: ?Sized> {
    /// Where state is kept.
    pub store: Arc<S>,
    /// Where records are published.
    pub bus: Arc<dyn Bus>,
    /// Where measurements go.
    pub metrics: Arc<dyn MetricSink>,
}

impl<S: ?Sized> Clone for Ports<S> {
    fn clone(&self) -> Self {
        Self {
            store: Arc::clone(&self.store),
            bus: Arc::clone(&self.bus),
            metrics: Arc::clone(&self.metrics),
        }
    }
}

impl<S: ?Sized> Ports<S> {
    /// Bundles the ports.
    pub fn new(store: Arc<S>, bus: Arc<dyn Bus>, metrics: Arc<dyn MetricSink>) -> Self {
        Self {
            store,
            bus,
            metrics,
        }
    }

    fn with<P: ?Sized>(&self, store: Arc<P>) -> Ports<P> {
        Ports::new(store, Arc::clone(&self.bus), Arc::clone(&self.metrics))
    }

    /// Publishes a record and waits for the acknowledgement, recording the outcome. The bus
    /// enforces `timeout` itself and classifies what happened; this guard, a grace period later,
    /// only catches a bus that never answers.
    pub(crate) async fn publish(
        &self,
        record: &Outbound,
        timeout: Duration,
    ) -> Result<CoordenadasKafka, BusError> {
        const GRACE: Duration = Duration::from_secs(1);
        let started = Instant::now();
        let result =
            match tokio::time::timeout(timeout + GRACE, self.bus.publish(record, timeout)).await {
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

    /// Finds `record` among those the bus stored while `sent` (see [`Bus::find`]), within
    /// `timeout`.
    pub(crate) async fn find(
        &self,
        record: &Outbound,
        sent: TimeRange,
        timeout: Duration,
    ) -> Result<Option<CoordenadasKafka>, BusError> {
        let found = tokio::time::timeout(timeout, self.bus.find(&record.topic, &record.key, sent))
            .await
            .unwrap_or_else(|_| {
                Err(BusError::Timeout(format!(
                    "the bus could not be searched within {} ms",
                    timeout.as_millis()
                )))
            });
        if let Err(e) = &found {
            tracing::warn!(topic = %record.topic, key = %record.key, error = %e, "search of the bus failed");
        }
        found
    }

    /// Counts and logs a failed store `operation`, and makes it the service's error.
    pub(crate) fn store_failed(
        &self,
        operation: &'static str,
    ) -> impl FnOnce(StoreError) -> ServiceError + '_ {
        move |e| {
            self.metrics.store_error(operation);
            tracing::warn!(operation, error = %e, "store operation failed");
            ServiceError::from(e)
        }
    }
}

impl Ports<dyn Store> {
    /// The ports of the message service.
    pub fn messages(&self) -> Ports<dyn Records<Encoded<Mensagem>>> {
        self.with(Arc::clone(&self.store) as Arc<dyn Records<Encoded<Mensagem>>>)
    }

    /// The ports of the alert service.
    pub fn alerts(&self) -> Ports<dyn Records<StoredAlert>> {
        self.with(Arc::clone(&self.store) as Arc<dyn Records<StoredAlert>>)
    }

    /// The ports of the silence service.
    pub fn silences(&self) -> Ports<dyn Records<Silencio>> {
        self.with(Arc::clone(&self.store) as Arc<dyn Records<Silencio>>)
    }

    /// The ports of the rule service.
    pub fn rules(&self) -> Ports<dyn Records<Regra>> {
        self.with(Arc::clone(&self.store) as Arc<dyn Records<Regra>>)
    }

    /// The ports of the metrics service.
    pub fn series(&self) -> Ports<dyn SeriesStore> {
        self.with(Arc::clone(&self.store) as Arc<dyn SeriesStore>)
    }

    /// The ports of the WebSocket hub.
    pub fn presence(&self) -> Ports<dyn PresenceStore> {
        self.with(Arc::clone(&self.store) as Arc<dyn PresenceStore>)
    }

    /// The channel histories, for the hub.
    pub fn channels(&self) -> Arc<dyn ChannelStore> {
        Arc::clone(&self.store) as Arc<dyn ChannelStore>
    }
}
