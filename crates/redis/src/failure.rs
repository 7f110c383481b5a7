//! fred's errors classified at the boundary: no fred type leaves this crate.

use fred::prelude::*;
use integra_ports::StoreError;

/// Classifies fred's errors at the boundary.
pub(crate) fn classify(e: &Error) -> StoreError {
    match e.kind() {
        ErrorKind::Timeout => StoreError::Timeout,
        _ => StoreError::Unavailable(format!("redis: {e}")),
    }
}

/// Classifies a command's failure on `pool`: a timeout while the connection is down means Redis
/// is unavailable (503), not slow (504).
pub(crate) fn failure(pool: &Pool, e: &Error) -> StoreError {
    match classify(e) {
        StoreError::Timeout if !pool.is_connected() => {
            StoreError::Unavailable(format!("redis: connection lost ({e})"))
        }
        other => other,
    }
}
