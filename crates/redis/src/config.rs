//! How to reach Redis.

use std::time::Duration;

/// How to reach Redis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisConfig {
    /// `redis://host:port/db`.
    pub url: String,
    /// Put in front of every key.
    pub key_prefix: String,
    /// Documents expire this long after their last write; `None` keeps them.
    pub ttl: Option<Duration>,
    /// Every command fails after this long.
    pub command_timeout: Duration,
}
