//! The ports of Integra: the traits the services need from the outside world, and the errors a
//! service can act on. Adapters (memory, Redis, Kafka, Prometheus) implement them; the services hold
//! them as `Arc<dyn Store>`, `Arc<dyn Bus>` and `Arc<dyn MetricSink>`.
//!
//! With the `mocks` feature, mockall mocks of each trait (`MockStore`, `MockBus`, `MockMetricSink`)
//! are exported so that services can be tested from other crates.

mod bus;
mod metrics;
mod store;

pub use bus::{Bus, BusError, Delivery, Inbound, Outbound, Subscription};
pub use metrics::{MetricSink, NoopMetrics};
pub use store::{
    Collection, Document, Insert, Page, Replace, SampleQuery, SampleRejection, SeriesLimits, Store,
    StoreError, Versioned,
};

#[cfg(any(test, feature = "mocks"))]
pub use bus::MockBus;
#[cfg(any(test, feature = "mocks"))]
pub use metrics::MockMetricSink;
#[cfg(any(test, feature = "mocks"))]
pub use store::MockStore;
