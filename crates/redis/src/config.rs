//! How to reach Redis, and why a connection could not be made.

use std::path::PathBuf;
use std::time::Duration;

use integra_ports::{Secret, StoreError};

/// One Redis server, or a Redis Cluster.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RedisMode {
    /// One server (a primary, perhaps with replicas behind a proxy).
    #[default]
    Standalone,
    /// A Redis Cluster: the URLs are seed nodes, the client learns the rest and follows slot moves.
    Cluster,
}

/// How to reach Redis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisConfig {
    /// `redis://host:port/db`, or `rediss://` for TLS, with `user:password@` for an ACL user (or
    /// `:password@` for the default user); in cluster mode, seed nodes as comma-separated URLs,
    /// the first one's credentials used for all. It may hold a password: it never prints.
    pub url: Secret,
    /// One server or a cluster.
    pub mode: RedisMode,
    /// A PEM file with the certificate authority that signed the servers' certificates, for
    /// `rediss://`; without it, the system's roots.
    pub tls_ca_file: Option<PathBuf>,
    /// Put in front of every key. No `{` or `}`: the store places its own hash tags.
    pub key_prefix: String,
    /// Documents expire this long after their last write; `None` keeps them.
    pub ttl: Option<Duration>,
    /// Every command fails after this long.
    pub command_timeout: Duration,
}

impl RedisConfig {
    /// One Redis at `url` (standalone), no TLS CA file, no key prefix, no expiry, commands
    /// bounded by 2 s.
    pub fn new(url: impl Into<Secret>) -> Self {
        Self {
            url: url.into(),
            mode: RedisMode::Standalone,
            tls_ca_file: None,
            key_prefix: String::new(),
            ttl: None,
            command_timeout: Duration::from_secs(2),
        }
    }
}

/// Why [`RedisEngine::connect`](crate::RedisEngine::connect) failed. The messages never hold the
/// URL's credentials.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The URL (or, in cluster mode, one of them) cannot be used.
    #[error("not a usable Redis URL: {0}")]
    Url(String),
    /// `key_prefix` holds a hash-tag brace.
    #[error("the key prefix must not contain `{{` or `}}`: the store places its own hash tags")]
    KeyPrefix,
    /// The CA file cannot be read or is not a PEM certificate.
    #[error("cannot use the CA file {path}: {reason}")]
    CaFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Redis refused the credentials.
    #[error("Redis refused the credentials: {0}")]
    Refused(String),
    /// The TLS handshake failed (an unknown certificate authority, a name that does not match).
    #[error("TLS with Redis failed: {0}")]
    Tls(String),
    /// Redis could not be reached, or answered with an error.
    #[error(transparent)]
    Store(#[from] StoreError),
}
