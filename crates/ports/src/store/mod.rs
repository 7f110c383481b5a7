//! The Store port: where Integra keeps its state, in the domain's words. It is composed of typed
//! parts, so that each service depends on the part it uses and is tested against a mock of it:
//! [`Records`] of messages, alerts, silences and rules, metric [`SeriesStore`], connection [`PresenceStore`],
//! [`ChannelStore`] history.
//!
//! How a store lays these out (keys, indexes, encodings) is its own business: no part of the port
//! names a key, a score or a format.

mod channels;
mod presence;
mod records;
mod series;

use async_trait::async_trait;
use integra_domain::{Encoded, Mensagem, Regra, Silencio};

pub use channels::{ChannelStore, Historico, HistoryLimits};
pub use presence::PresenceStore;
pub use records::{
    Inserted, OwedEvent, Record, Records, Replaced, Revision, StoredAlert, Versioned,
};
pub use series::{SampleRejection, SeriesLimits, SeriesStore};

#[cfg(any(test, feature = "mocks"))]
pub use channels::MockChannelStore;
#[cfg(any(test, feature = "mocks"))]
pub use presence::MockPresenceStore;
#[cfg(any(test, feature = "mocks"))]
pub use records::MockRecords;
#[cfg(any(test, feature = "mocks"))]
pub use series::MockSeriesStore;

/// A failure of the store itself. What a store answers about the data (absent, already there,
/// changed since read) is not an error: it is in [`Inserted`] and [`Replaced`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The store could not be reached, refused the command, or holds data this version cannot
    /// read; retrying later may work.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The store did not answer in time.
    #[error("store timed out")]
    Timeout,
}

/// Where Integra keeps its state: every part, and a health check.
///
/// Every operation is atomic, and none scans the whole store: the cost of a list grows with
/// `skip + limit`, not with the number of records. Messages and alerts expire after their last
/// write (the adapter's configuration); an expired record is gone from every read and list.
/// Silences and rules stay until removed.
#[async_trait]
pub trait Store:
    Records<Encoded<Mensagem>>
    + Records<StoredAlert>
    + Records<Silencio>
    + Records<Regra>
    + SeriesStore
    + PresenceStore
    + ChannelStore
    + Send
    + Sync
{
    /// Checks that the store answers.
    ///
    /// # Errors
    /// [`StoreError`] when it does not.
    async fn ping(&self) -> Result<(), StoreError>;
}
