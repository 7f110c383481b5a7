//! The ports of Integra: the traits the services need from the outside world, in the domain's
//! words, and the failures a service can act on. Adapters (memory, Redis, Kafka, Prometheus)
//! implement them; each service holds the part it uses as an `Arc<dyn …>`.
//!
//! With the `mocks` feature, mockall mocks of each trait (`MockRecords<T>`, `MockSeriesStore`,
//! `MockPresenceStore`, `MockBus`, `MockMetricSink`) are exported so that services can be tested
//! from other crates.

mod bus;
mod metrics;
mod secret;
mod store;

pub use bus::{Bus, BusError, Inbound, Outbound, Subscription};
pub use metrics::{MetricSink, NoopMetrics};
pub use secret::Secret;
pub use store::{
    ChannelStore, Historico, HistoryLimits, Inserted, OwedEvent, PresenceStore, Record, Records,
    Replaced, Revision, SampleRejection, SeriesLimits, SeriesStore, Store, StoreError, StoredAlert,
    Versioned,
};

#[cfg(any(test, feature = "mocks"))]
pub use bus::MockBus;
#[cfg(any(test, feature = "mocks"))]
pub use metrics::MockMetricSink;
#[cfg(any(test, feature = "mocks"))]
pub use store::{MockChannelStore, MockPresenceStore, MockRecords, MockSeriesStore};
