//! The connection pool, the scripts, and the classification of fred's errors: no fred type leaves
//! this crate.

use fred::prelude::*;
use fred::types::config::{ClusterDiscoveryPolicy, ServerConfig, TlsConnector};
use fred::types::scripts::Script;
use fred::types::Value;
use integra_ports::StoreError;

use crate::batch::Batcher;
use crate::config::{ConnectError, RedisMode};
use crate::failure::{classify, connected, eval, failure};
use crate::jobs::{InsertJob, SettleJob};
use crate::keys::{Collections, SeriesKeys};
use crate::seen::SeenSeries;
use crate::RedisConfig;

/// Connections to Redis. fred pipelines every command in flight on a connection, and Redis runs
/// one command at a time whatever their number: fewer connections means more commands per
/// system call on both sides. Two (rather than one) keep a long list reply from holding up every
/// write. Measured in POST /messages on Redis (BENCHMARKS.md): 1 and 2 beat 4. The pool runs on
/// the runtime that connects it (the server's main thread); a connection of its own for each
/// actix worker, so that no command crosses threads, measured slower: its batches are half as
/// large (BENCHMARKS.md, fourth stop of 2026-12-07).
const POOL_SIZE: usize = 2;

/// The Redis engine: documents, metric series, presence and channel histories, over one
/// connection pool.
pub struct RedisEngine {
    pool: Pool,
    /// `store.key_prefix`.
    pub(crate) prefix: String,
    /// Documents expire this long after their last write (ms); 0 keeps them.
    pub(crate) ttl_ms: i64,
    pub(crate) collections: Collections,
    pub(crate) series_keys: SeriesKeys,
    /// A Redis Cluster: an operation's keys must share a slot.
    pub(crate) clustered: bool,
    pub(crate) scripts: Scripts,
    /// The metric series seen registered, appended to without a check.
    pub(crate) seen: SeenSeries,
    /// How long a command may take (`RedisConfig::command_timeout`).
    command_timeout: std::time::Duration,
    /// Inserts of documents, sent in batches.
    pub(crate) inserts: Batcher<InsertJob>,
    /// Settles of documents, sent in batches.
    pub(crate) settles: Batcher<SettleJob>,
}

/// The Lua scripts (`src/lua/`), loaded on first use and after a Redis restart.
pub(crate) struct Scripts {
    pub(crate) insert: Script,
    pub(crate) replace: Script,
    pub(crate) cut: Script,
    pub(crate) get: Script,
    pub(crate) remove: Script,
    pub(crate) list: Script,
    pub(crate) series_register: Script,
    pub(crate) series_append: Script,
    pub(crate) series_batch: Script,
    pub(crate) series_log: Script,
    pub(crate) series_query: Script,
    pub(crate) channel_publish: Script,
    pub(crate) channel_history: Script,
    pub(crate) channel_subscribers: Script,
}

impl Scripts {
    fn new() -> Self {
        let documents =
            |body: &str| Script::from_lua(format!("{}{body}", include_str!("lua/lib.lua")));
        let series =
            |body: &str| Script::from_lua(format!("{}{body}", include_str!("lua/series_lib.lua")));
        let channels =
            |body: &str| Script::from_lua(format!("{}{body}", include_str!("lua/channel_lib.lua")));
        Self {
            insert: documents(include_str!("lua/insert.lua")),
            replace: documents(include_str!("lua/replace.lua")),
            cut: documents(include_str!("lua/cut.lua")),
            get: documents(include_str!("lua/get.lua")),
            remove: documents(include_str!("lua/remove.lua")),
            list: documents(include_str!("lua/list.lua")),
            channel_publish: channels(include_str!("lua/channel_publish.lua")),
            channel_history: channels(include_str!("lua/channel_history.lua")),
            channel_subscribers: Script::from_lua(include_str!("lua/channel_subscribers.lua")),
            series_register: series(include_str!("lua/series_register.lua")),
            series_append: series(include_str!("lua/series_append.lua")),
            series_batch: series(include_str!("lua/series_batch.lua")),
            series_log: series(include_str!("lua/series_log.lua")),
            series_query: series(include_str!("lua/series_query.lua")),
        }
    }
}

/// fred's configuration for `config`: the servers, the credentials and TLS.
fn fred_config(config: &RedisConfig) -> Result<Config, ConnectError> {
    if config.key_prefix.contains(['{', '}']) {
        return Err(ConnectError::KeyPrefix);
    }
    let urls: Vec<&str> = config
        .url
        .expose()
        .split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .collect();
    let Some(first) = urls.first() else {
        return Err(ConnectError::Url("no URL given".into()));
    };
    if config.mode == RedisMode::Standalone && urls.len() > 1 {
        return Err(ConnectError::Url(
            "several URLs are for cluster mode; a standalone Redis has one".into(),
        ));
    }
    let parse = |url: &str| {
        if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
            return Err(ConnectError::Url(
                "must start with redis:// or rediss://".into(),
            ));
        }
        // fred's messages describe the fault, never the URL itself.
        Config::from_url_centralized(url).map_err(|e| ConnectError::Url(e.details().to_owned()))
    };
    let mut fred_config = parse(first)?;
    if config.mode == RedisMode::Cluster {
        let mut hosts = Vec::with_capacity(urls.len());
        for url in &urls {
            if let ServerConfig::Centralized { server } = parse(url)?.server {
                hosts.push(server);
            }
        }
        fred_config.server = ServerConfig::Clustered {
            hosts,
            policy: ClusterDiscoveryPolicy::default(),
        };
        fred_config.database = None;
    }
    if let Some(path) = &config.tls_ca_file {
        let unusable = |reason: String| ConnectError::CaFile {
            path: path.clone(),
            reason,
        };
        if !urls.iter().all(|u| u.starts_with("rediss://")) {
            return Err(unusable(
                "it is for TLS, and the URL is not rediss://".into(),
            ));
        }
        let pem = std::fs::read(path).map_err(|e| unusable(e.to_string()))?;
        let ca = native_tls::Certificate::from_pem(&pem).map_err(|e| unusable(e.to_string()))?;
        let connector = native_tls::TlsConnector::builder()
            .add_root_certificate(ca)
            .build()
            .map_err(|e| unusable(e.to_string()))?;
        fred_config.tls = Some(TlsConnector::from(connector).into());
    }
    Ok(fred_config)
}

/// Tells a refused login and a failed handshake from an unreachable Redis.
fn connect_failed(e: &Error) -> ConnectError {
    let details = e.details();
    match e.kind() {
        ErrorKind::Auth => ConnectError::Refused(details.to_owned()),
        _ if details.starts_with("WRONGPASS") || details.starts_with("NOAUTH") => {
            ConnectError::Refused(details.to_owned())
        }
        ErrorKind::Tls => ConnectError::Tls(details.to_owned()),
        _ => ConnectError::Store(classify(e)),
    }
}

impl RedisConfig {
    /// Checks what can be checked without connecting: the URLs, the key prefix, the CA file.
    ///
    /// # Errors
    /// What [`RedisEngine::connect`] would refuse before it connects.
    pub fn check(&self) -> Result<(), ConnectError> {
        fred_config(self).map(drop)
    }
}

impl RedisEngine {
    /// Connects a pool that reconnects with backoff (100 ms doubling to 2 s, forever).
    ///
    /// # Errors
    /// A bad URL or CA file, credentials or a certificate Redis or the client refuses, or Redis
    /// unreachable at start-up.
    pub async fn connect(config: RedisConfig) -> Result<Self, ConnectError> {
        let pool = Builder::from_config(fred_config(&config)?)
            .with_connection_config(|c| {
                c.connection_timeout = config.command_timeout;
                c.internal_command_timeout = config.command_timeout;
                c.max_command_attempts = 2;
            })
            .with_performance_config(|p| p.default_command_timeout = config.command_timeout)
            .set_policy(ReconnectPolicy::new_exponential(0, 100, 2000, 2))
            .build_pool(POOL_SIZE)
            .map_err(|e| connect_failed(&e))?;
        pool.init().await.map_err(|e| connect_failed(&e))?;
        let ttl_ms = config
            .ttl
            .map_or(0, |t| i64::try_from(t.as_millis()).unwrap_or(i64::MAX));
        let scripts = Scripts::new();
        let inserts = Batcher::start(pool.clone(), scripts.insert.clone());
        let settles = Batcher::start(pool.clone(), scripts.cut.clone());
        Ok(Self {
            pool,
            collections: Collections::new(&config.key_prefix),
            series_keys: SeriesKeys::new(&config.key_prefix),
            clustered: config.mode == RedisMode::Cluster,
            prefix: config.key_prefix,
            ttl_ms,
            scripts,
            seen: SeenSeries::default(),
            inserts,
            settles,
            command_timeout: config.command_timeout,
        })
    }

    /// Classifies a command's failure: a timeout while the connection is down means Redis is
    /// unavailable (503), not slow (504).
    pub(crate) fn fail(&self, e: &Error) -> StoreError {
        failure(&self.pool, e)
    }

    /// A client that is connected, or `Unavailable` at once (see [`connected`]).
    pub(crate) fn client(&self) -> Result<&Client, StoreError> {
        connected(&self.pool)
    }

    /// Runs `script` with these keys and arguments.
    pub(crate) async fn eval<R: FromValue>(
        &self,
        script: &Script,
        keys: Vec<String>,
        args: Vec<Value>,
    ) -> Result<R, StoreError> {
        eval(&self.pool, script, keys, args).await
    }

    /// The answer to a batched call (see [`crate::batch`]), within the command timeout from
    /// the moment it was queued: a call held up behind a slow one fails as a command would,
    /// without waiting for both.
    pub(crate) async fn answer<T>(
        &self,
        answered: tokio::sync::oneshot::Receiver<Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        match tokio::time::timeout(self.command_timeout, answered).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(_)) => Err(crate::batch::stopped()),
            Err(_) if !self.pool.is_connected() => Err(StoreError::Unavailable(
                "redis: connection lost (a batched write timed out)".into(),
            )),
            Err(_) => Err(StoreError::Timeout),
        }
    }

    /// Checks that Redis answers.
    pub(crate) async fn check_connection(&self) -> Result<(), StoreError> {
        self.client()?
            .ping::<()>(None)
            .await
            .map_err(|e| self.fail(&e))
    }
}
