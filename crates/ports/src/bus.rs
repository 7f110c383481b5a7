//! The Bus port: publish with the broker's acknowledgement, subscribe for fan-out.

use std::time::Duration;

use async_trait::async_trait;
use futures_util::stream::BoxStream;
use integra_domain::{CoordenadasKafka, TimeRange};

/// A failure to publish or subscribe, classified so that callers can answer precisely.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BusError {
    /// The broker could not be reached or refused the record; a retry later may work.
    #[error("bus unavailable: {0}")]
    Unavailable(String),
    /// No acknowledgement within the configured timeout.
    #[error("bus timed out: {0}")]
    Timeout(String),
    /// The broker will never take this record (too large, invalid topic): retrying cannot help.
    #[error("bus rejected the record: {0}")]
    Rejected(String),
}

impl BusError {
    /// The same failure, its explanation preceded by `what` was being done.
    #[must_use]
    pub fn context(self, what: &str) -> Self {
        match self {
            Self::Unavailable(why) => Self::Unavailable(format!("{what}: {why}")),
            Self::Timeout(why) => Self::Timeout(format!("{what}: {why}")),
            Self::Rejected(why) => Self::Rejected(format!("{what}: {why}")),
        }
    }
}

/// A record to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outbound {
    /// The topic, before the configured prefix.
    pub topic: String,
    /// The key: the entity's id.
    pub key: String,
    /// The value: JSON.
    pub payload: Vec<u8>,
    /// The headers.
    pub headers: Vec<(String, String)>,
}

/// A record received from a subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inbound {
    /// Its key, if it had one.
    pub key: Option<String>,
    /// Its value.
    pub payload: Vec<u8>,
}

/// The records published on a topic after the subscription started, in order per partition.
/// The stream ends if the subscription breaks; the subscriber then subscribes again.
pub type Subscription = BoxStream<'static, Inbound>;

/// The message bus.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait Bus: Send + Sync {
    /// Publishes a record and waits for the broker's acknowledgement, at most `within` (or the
    /// bus's own timeout when shorter): where it stored the record (the topic with its prefix,
    /// the partition, the offset). A publish that fails leaves nothing that could still deliver
    /// the record later, as far as the bus can tell (see each adapter).
    ///
    /// # Errors
    /// [`BusError::Unavailable`], [`BusError::Timeout`] or [`BusError::Rejected`].
    async fn publish(
        &self,
        record: &Outbound,
        within: Duration,
    ) -> Result<CoordenadasKafka, BusError>;

    /// Finds a record with `key` that was stored on `topic` (before the configured prefix), sent
    /// within `sent`: whether a publish that ended without an answer (a timeout, a broker lost
    /// mid-request) was stored after all, before the same record is published again. A bus finds
    /// what it still keeps (Kafka: its retention).
    ///
    /// # Errors
    /// [`BusError::Unavailable`] or [`BusError::Timeout`] when it cannot look.
    async fn find(
        &self,
        topic: &str,
        key: &str,
        sent: TimeRange,
    ) -> Result<Option<CoordenadasKafka>, BusError>;

    /// Receives every record published on `topic` from now on, as this instance alone: each
    /// instance that subscribes gets its own copy of every record (fan-out, not a work queue).
    ///
    /// # Errors
    /// [`BusError::Unavailable`] when the subscription cannot be set up.
    async fn subscribe(&self, topic: &str) -> Result<Subscription, BusError>;

    /// Checks that the broker answers.
    ///
    /// # Errors
    /// [`BusError`] when it does not.
    async fn ping(&self) -> Result<(), BusError>;
}
