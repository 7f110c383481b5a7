//! Commands on the pool and their failures, classified at the boundary: no fred type leaves
//! this crate.

use fred::prelude::*;
use fred::types::scripts::Script;
use fred::types::Value;
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

/// A client of `pool` that is connected, or `Unavailable` at once: while Redis is down, requests
/// answer 503 without waiting for the command timeout.
pub(crate) fn connected(pool: &Pool) -> Result<&Client, StoreError> {
    let client = pool.next_connected();
    if client.is_connected() {
        Ok(client)
    } else {
        Err(StoreError::Unavailable(
            "redis: not connected (reconnecting)".into(),
        ))
    }
}

/// Runs `script` on a connected client of `pool`, with these keys and arguments.
pub(crate) async fn eval<R: FromValue>(
    pool: &Pool,
    script: &Script,
    keys: Vec<String>,
    args: Vec<Value>,
) -> Result<R, StoreError> {
    script
        .evalsha_with_reload(connected(pool)?, keys, args)
        .await
        .map_err(|e| failure(pool, &e))
}
