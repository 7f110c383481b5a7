//! The failures a caller of the services can act on. Each variant says what the caller can do
//! (fix the request, retry, look elsewhere); the cause behind a dependency's failure is kept as
//! the error's source, for the logs.

use integra_domain::{Id, TransitionError, ValidationError};
use integra_ports::{BusError, StoreError};

/// Why a service call failed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The request breaks a rule; the error names the field. Retrying it as it is cannot work.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// No such resource.
    #[error("{0} not found")]
    NotFound(String),
    /// Another request is working on the same resource; retrying later can work.
    #[error("{0}")]
    Conflict(String),
    /// A limit of this instance is reached; retrying later, or on another instance, can work.
    #[error("{0}")]
    Overloaded(String),
    /// The store could not be reached, refused the command, or holds data this version cannot
    /// read.
    #[error("the store is unavailable")]
    StoreUnavailable(#[source] StoreError),
    /// The store did not answer in time.
    #[error("the store did not answer in time")]
    StoreTimedOut(#[source] StoreError),
    /// The bus could not be reached or refused the record; what was stored stays stored, and `id`
    /// (when the record was about a message or an alert) names it for a retry.
    #[error("the bus refused the record or could not be reached")]
    BusUnavailable {
        /// The message or alert concerned.
        id: Option<Id>,
        /// What the bus said.
        #[source]
        cause: BusError,
    },
    /// The bus did not acknowledge in time; as [`ServiceError::BusUnavailable`] otherwise.
    #[error("the bus did not acknowledge in time")]
    BusTimedOut {
        /// The message or alert concerned.
        id: Option<Id>,
        /// What the bus said.
        #[source]
        cause: BusError,
    },
    /// The bus will never take this record (too large for it): retrying cannot help.
    #[error("the bus will not take this record: {reason}")]
    Unpublishable {
        /// The message or alert concerned.
        id: Option<Id>,
        /// Why, from the bus.
        reason: String,
    },
}

impl ServiceError {
    /// A broken rule on `field`.
    pub fn invalid(field: &str, reason: impl Into<String>) -> Self {
        Self::Invalid(ValidationError::new(field, reason))
    }

    /// A failed publish of a record about `id`.
    pub(crate) fn publish(id: Option<Id>, cause: BusError) -> Self {
        match cause {
            BusError::Unavailable(_) => Self::BusUnavailable { id, cause },
            BusError::Timeout(_) => Self::BusTimedOut { id, cause },
            BusError::Rejected(reason) => Self::Unpublishable { id, reason },
        }
    }

    /// The message or alert a failed publish was about, which stays stored.
    pub fn unpublished_id(&self) -> Option<&Id> {
        match self {
            Self::BusUnavailable { id, .. }
            | Self::BusTimedOut { id, .. }
            | Self::Unpublishable { id, .. } => id.as_ref(),
            Self::Invalid(_)
            | Self::NotFound(_)
            | Self::Conflict(_)
            | Self::Overloaded(_)
            | Self::StoreUnavailable(_)
            | Self::StoreTimedOut(_) => None,
        }
    }
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(_) => Self::StoreUnavailable(e),
            StoreError::Timeout => Self::StoreTimedOut(e),
        }
    }
}

impl From<TransitionError> for ServiceError {
    fn from(e: TransitionError) -> Self {
        // Status changes are checked before they are asked for; one that is refused means another
        // writer moved the message first.
        Self::Conflict(e.to_string())
    }
}
