//! The errors a caller of the services can act on.

use integra_domain::{TransitionError, ValidationError};
use integra_ports::{BusError, StoreError};

/// Why a service call failed. Each variant maps to one answer of the contract.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The input breaks a rule (422).
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// No such resource (404).
    #[error("{0} not found")]
    NotFound(String),
    /// Another request is working on the same resource (409).
    #[error("{0}")]
    Conflict(String),
    /// The store failed (503, or 504 on a timeout).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The bus refused or missed the record (502, 504 on a timeout, 422 when it will never fit).
    /// `id` names the message or alert concerned, which stays stored.
    #[error("publishing {id:?} failed: {source}")]
    Publish {
        /// The message or alert the record was about.
        id: Option<String>,
        /// What the bus said.
        source: BusError,
    },
    /// A limit of this instance is reached (503).
    #[error("{0}")]
    Overloaded(String),
    /// A stored document could not be read back: the store holds something this version did not
    /// write. Reported as the store being unavailable.
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
}

impl ServiceError {
    /// A broken rule on `field`.
    pub fn invalid(field: &str, reason: impl Into<String>) -> Self {
        Self::Invalid(ValidationError::new(field, reason))
    }
}

impl From<TransitionError> for ServiceError {
    fn from(e: TransitionError) -> Self {
        // Status changes are checked before they are asked for; one that is refused means another
        // writer moved the message first.
        Self::Conflict(e.to_string())
    }
}
