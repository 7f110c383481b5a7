//! The Integra services: [`MessageService`], [`MetricsService`], [`AlertService`] and the
//! WebSocket [`Hub`]. They hold the ports (`Arc<dyn Store>`, `Arc<dyn Bus>`,
//! `Arc<dyn MetricSink>`) and carry every rule of the contract that is not a transport's concern.
//!
//! Embedding them on the in-process backends takes a few lines; see `examples/embed.rs`.

mod alerts;
#[cfg(feature = "conformance")]
pub mod conformance;
mod error;
mod events;
mod hub;
mod messages;
mod metrics;
mod ports;
mod records;
#[cfg(test)]
mod test_support;
pub mod topics;

pub use alerts::{AlertFilter, AlertOutcome, AlertService};
pub use error::ServiceError;
pub use events::Events;
pub use hub::{CloseReason, Connection, Hub, HubConfig, HubTasks, Outgoing};
pub use messages::{MessageConfig, MessageFilter, MessageService, Sent};
pub use metrics::{MetricsConfig, MetricsService};
pub use ports::Ports;

/// Paging of a list: how many to pass over, how many to return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    /// How many to pass over (≥ 0).
    pub skip: usize,
    /// How many to return: 1 to [`Paging::MAX_LIMIT`].
    pub limit: usize,
}

impl Paging {
    /// The largest page.
    pub const MAX_LIMIT: usize = 1000;

    /// Checks a page size.
    ///
    /// # Errors
    /// `limit` is 0 or over [`Paging::MAX_LIMIT`].
    pub fn new(skip: usize, limit: usize) -> Result<Self, ServiceError> {
        if limit == 0 || limit > Self::MAX_LIMIT {
            return Err(ServiceError::invalid("limit", "must be between 1 and 1000"));
        }
        Ok(Self { skip, limit })
    }
}

impl Default for Paging {
    fn default() -> Self {
        Self {
            skip: 0,
            limit: 100,
        }
    }
}
