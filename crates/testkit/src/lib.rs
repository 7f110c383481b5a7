//! What Integra's own tests share: HTTP, WebSocket and Server-Sent Events clients that read whole answers and frames
//! with deadlines, a WebDriver client for a headless browser, and daemons (Redis, Tansu) a test can start, freeze and kill. It depends on
//! nothing of Integra, so every test crate can use it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::missing_panics_doc)]

mod browser;
mod daemons;
mod http;
pub mod raw_ws;
mod sse;
mod topics;
mod ws;

pub use browser::Browser;
pub use daemons::{
    durable_tansu_binary, free_port, shared_brokers, shared_redis_url, tansu_binary, tls_file,
    unique_prefix, Daemon,
};
pub use http::{client, delete, get, get_with, post, post_raw, Reply};
pub use raw_ws::RawWs;
pub use sse::{SseClient, SseEvent};
pub use topics::{read_topic, TopicRecord};
pub use ws::WsClient;

use std::future::Future;
use std::time::{Duration, Instant};

/// Polls `check` every 50 ms until it gives `Some`, and returns that; fails the test when
/// `within` passes first, saying `what` was awaited.
pub async fn eventually<T, F, Fut>(within: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(done) = check().await {
            return done;
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not happen within {within:?}"
        );
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }
}
