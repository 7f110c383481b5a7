//! The connection pool, the scripts, and the classification of fred's errors: no fred type leaves
//! this crate.

use fred::prelude::*;
use fred::types::scripts::Script;
use fred::types::Value;
use integra_ports::StoreError;

use crate::keys::Collections;
use crate::RedisConfig;

/// Connections to Redis. fred pipelines every command in flight on a connection, and Redis runs
/// one command at a time whatever their number: fewer connections means more commands per
/// system call on both sides. Two (rather than one) keep a long list reply from holding up every
/// write. Measured in POST /messages on Redis (BENCHMARKS.md): 1 and 2 beat 4.
const POOL_SIZE: usize = 2;

/// The Redis engine: documents, metric series and presence, over one connection pool.
pub struct RedisEngine {
    pool: Pool,
    /// `store.key_prefix`.
    pub(crate) prefix: String,
    /// Documents expire this long after their last write (ms); 0 keeps them.
    pub(crate) ttl_ms: i64,
    pub(crate) collections: Collections,
    pub(crate) scripts: Scripts,
}

/// The Lua scripts (`src/lua/`), loaded on first use and after a Redis restart.
pub(crate) struct Scripts {
    pub(crate) insert: Script,
    pub(crate) replace: Script,
    pub(crate) get: Script,
    pub(crate) list: Script,
    pub(crate) append_samples: Script,
    pub(crate) query_samples: Script,
}

impl Scripts {
    fn new() -> Self {
        let documents =
            |body: &str| Script::from_lua(format!("{}{body}", include_str!("lua/lib.lua")));
        Self {
            insert: documents(include_str!("lua/insert.lua")),
            replace: documents(include_str!("lua/replace.lua")),
            get: documents(include_str!("lua/get.lua")),
            list: documents(include_str!("lua/list.lua")),
            append_samples: Script::from_lua(include_str!("lua/append_samples.lua")),
            query_samples: Script::from_lua(include_str!("lua/query_samples.lua")),
        }
    }
}

/// Classifies fred's errors at the boundary.
fn classify(e: &Error) -> StoreError {
    match e.kind() {
        ErrorKind::Timeout => StoreError::Timeout,
        _ => StoreError::Unavailable(format!("redis: {e}")),
    }
}

impl RedisEngine {
    /// Connects a pool that reconnects with backoff (100 ms doubling to 2 s, forever).
    ///
    /// # Errors
    /// A bad URL, or Redis unreachable at start-up.
    pub async fn connect(config: RedisConfig) -> Result<Self, StoreError> {
        let fred_config = Config::from_url(&config.url)
            .map_err(|e| StoreError::Unavailable(format!("bad redis url: {e}")))?;
        let pool = Builder::from_config(fred_config)
            .with_connection_config(|c| {
                c.connection_timeout = config.command_timeout;
                c.internal_command_timeout = config.command_timeout;
                c.max_command_attempts = 2;
            })
            .with_performance_config(|p| p.default_command_timeout = config.command_timeout)
            .set_policy(ReconnectPolicy::new_exponential(0, 100, 2000, 2))
            .build_pool(POOL_SIZE)
            .map_err(|e| classify(&e))?;
        pool.init().await.map_err(|e| classify(&e))?;
        let ttl_ms = config
            .ttl
            .map_or(0, |t| i64::try_from(t.as_millis()).unwrap_or(i64::MAX));
        Ok(Self {
            pool,
            collections: Collections::new(&config.key_prefix),
            prefix: config.key_prefix,
            ttl_ms,
            scripts: Scripts::new(),
        })
    }

    /// Classifies a command's failure: a timeout while the connection is down means Redis is
    /// unavailable (503), not slow (504).
    pub(crate) fn fail(&self, e: &Error) -> StoreError {
        match classify(e) {
            StoreError::Timeout if !self.pool.is_connected() => {
                StoreError::Unavailable(format!("redis: connection lost ({e})"))
            }
            other => other,
        }
    }

    /// A client that is connected, or `Unavailable` at once: while Redis is down, requests answer
    /// 503 without waiting for the command timeout.
    pub(crate) fn client(&self) -> Result<&Client, StoreError> {
        let client = self.pool.next_connected();
        if client.is_connected() {
            Ok(client)
        } else {
            Err(StoreError::Unavailable(
                "redis: not connected (reconnecting)".into(),
            ))
        }
    }

    /// Runs `script` with these keys and arguments.
    pub(crate) async fn eval<R: FromValue>(
        &self,
        script: &Script,
        keys: Vec<String>,
        args: Vec<Value>,
    ) -> Result<R, StoreError> {
        script
            .evalsha_with_reload(self.client()?, keys, args)
            .await
            .map_err(|e| self.fail(&e))
    }

    /// Checks that Redis answers.
    pub(crate) async fn check_connection(&self) -> Result<(), StoreError> {
        self.client()?
            .ping::<()>(None)
            .await
            .map_err(|e| self.fail(&e))
    }
}
