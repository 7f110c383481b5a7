//! The behaviour suites of `integra-conformance`, on the Redis that `make test` starts
//! (`INTEGRA_TEST_REDIS_URL` to use another). Each test has a key prefix of its own.

#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use integra_redis::{RedisConfig, RedisEngine, RedisStore};

fn url() -> String {
    std::env::var("INTEGRA_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// An engine with a key prefix of its own.
async fn isolated(ttl: Option<Duration>) -> RedisEngine {
    let config = RedisConfig {
        url: url(),
        key_prefix: format!("test:{}:", integra_domain::Id::generate()),
        ttl,
        command_timeout: Duration::from_secs(2),
    };
    RedisEngine::connect(config).await.unwrap_or_else(|e| {
        panic!(
            "Redis must run at {} for these tests (make test starts it): {e}",
            url()
        )
    })
}

integra_conformance::engine_suite!(|ttl| async move { Arc::new(isolated(ttl).await) });
integra_conformance::store_suite!(|ttl| async move {
    Arc::new(RedisStore::new(isolated(ttl).await)) as Arc<dyn integra_ports::Store>
});
