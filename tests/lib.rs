//! The end-to-end suite's helpers: [`spawn_app`] builds the real server in process (the same
//! [`Application`] `main` runs) on a free port, and the clients of `integra-testkit` talk to it
//! over HTTP and WebSocket.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::missing_panics_doc)]

use std::time::Duration;

pub use integra_server::settings::{BusBackend, StoreBackend};
pub use integra_server::{Application, Settings};
pub use integra_testkit::*;
use tokio::sync::oneshot;

/// A server running in this process, stopped (gracefully) when dropped.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    stop: Option<oneshot::Sender<()>>,
}

/// Builds and runs the server with the built-in defaults on a free port and two workers, after
/// `configure` changed what the test needs. With `INTEGRA_TEST_LOGS` set, its logs are shown.
pub async fn spawn_app(configure: impl FnOnce(&mut Settings)) -> TestApp {
    if let Ok(filter) = std::env::var("INTEGRA_TEST_LOGS") {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .try_init();
    }
    let mut settings = Settings::defaults().unwrap();
    settings.server.bind = "127.0.0.1:0".into();
    settings.server.workers = 2;
    configure(&mut settings);
    let app = Application::build(&settings)
        .await
        .unwrap_or_else(|e| panic!("the server did not start: {e}"));
    let base = format!("http://{}", app.address());
    let (stop, stopped) = oneshot::channel::<()>();
    actix_rt::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    TestApp {
        base,
        stop: Some(stop),
    }
}

impl TestApp {
    /// The URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The WebSocket URL of `path`.
    pub fn ws_url(&self, path: &str) -> String {
        format!("ws{}{path}", self.base.trim_start_matches("http"))
    }

    /// Polls `path` until `ok(status)`.
    pub async fn wait_until(&self, ok: impl Fn(u16) -> bool, path: &str, within: Duration) {
        let url = self.url(path);
        eventually(within, &format!("{path} answering as expected"), || async {
            let res = client().get(&url).send().await.ok()?;
            ok(res.status().as_u16()).then_some(())
        })
        .await;
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
