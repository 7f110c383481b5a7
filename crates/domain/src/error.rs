//! Errors of the domain rules.

/// A value broke one of the contract's rules. `field` names the offending field (with an index
/// prefix such as `[3].valor` when it sits in an array), so a client can fix its request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct ValidationError {
    /// The JSON path of the offending field.
    pub field: String,
    /// What is wrong with it, in words a client can act on.
    pub reason: String,
}

impl ValidationError {
    /// A rule broken by `field`.
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// The same error, located inside element `index` of an array.
    #[must_use]
    pub fn at_index(self, index: usize) -> Self {
        Self {
            field: format!("[{index}].{}", self.field),
            reason: self.reason,
        }
    }
}

/// A message was asked to move to a status its current status cannot reach.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a message cannot go from {from} to {to}")]
pub struct TransitionError {
    /// The current status.
    pub from: crate::StatusMensagem,
    /// The status that was asked for.
    pub to: crate::StatusMensagem,
}
