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
    /// Its `bus.topic_prefix`.
    topic_prefix: String,
    stop: Option<oneshot::Sender<()>>,
    running: Option<actix_rt::task::JoinHandle<std::io::Result<()>>>,
}

/// Builds and runs the server with the built-in defaults on a free port and two workers, after
/// `configure` changed what the test needs. With `INTEGRA_TEST_LOGS` set, its logs are shown.
/// With `INTEGRA_TEST_ENGINES=secured`, the defaults are the secured engines instead of the
/// embedded ones (see [`on_secured_engines`]): `make test` runs the message, alert and metric
/// suites so.
pub async fn spawn_app(configure: impl FnOnce(&mut Settings)) -> TestApp {
    if let Ok(filter) = std::env::var("INTEGRA_TEST_LOGS") {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .try_init();
    }
    let mut settings = Settings::defaults().unwrap();
    settings.server.bind = "127.0.0.1:0".into();
    settings.server.workers = 2;
    if std::env::var("INTEGRA_TEST_ENGINES").is_ok_and(|e| e == "secured") {
        on_secured_engines(&mut settings, &unique_prefix());
    }
    configure(&mut settings);
    let app = Application::build(&settings)
        .await
        .unwrap_or_else(|e| panic!("the server did not start: {e}"));
    let base = format!("http://{}", app.address());
    let (stop, stopped) = oneshot::channel::<()>();
    let running = actix_rt::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    TestApp {
        base,
        topic_prefix: settings.bus.topic_prefix.clone(),
        stop: Some(stop),
        running: Some(running),
    }
}

/// The password of the ACL user on the TLS Redis and of the SASL user on the broker that
/// `scripts/services.sh` starts.
pub const TEST_PASSWORD: &str = "integra-test-password";

/// [`integra_testkit::tls_file`] as a setting's text.
pub fn tls_setting(name: &str) -> String {
    tls_file(name).to_string_lossy().into_owned()
}

/// Settings for the secured and distributed engines `scripts/services.sh` starts: the
/// three-master Redis Cluster, and Kafka with SASL (SCRAM-SHA-512) over TLS, the CA given by
/// file; keys and topics under `prefix`.
pub fn on_secured_engines(settings: &mut Settings, prefix: &str) {
    use integra_server::settings::{RedisMode, SaslMechanism, SecurityProtocol};
    settings.store.backend = StoreBackend::Redis;
    settings.store.mode = RedisMode::Cluster;
    settings.store.url = "redis://127.0.0.1:7001,redis://127.0.0.1:7002".into();
    settings.store.key_prefix = prefix.to_owned();
    settings.bus.backend = BusBackend::Kafka;
    settings.bus.brokers = "127.0.0.1:9095".into();
    settings.bus.topic_prefix = prefix.to_owned();
    settings.bus.security_protocol = SecurityProtocol::SaslSsl;
    settings.bus.sasl_mechanism = SaslMechanism::ScramSha512;
    settings.bus.sasl_username = "integra".into();
    settings.bus.sasl_password = TEST_PASSWORD.into();
    settings.bus.ssl_ca_file = tls_setting("ca.pem");
}

impl TestApp {
    /// Shuts the server down as SIGTERM does, and waits until it is done.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(running) = self.running.take() {
            running.await.unwrap().unwrap();
        }
    }

    /// The name the bus gives `topic` (after `bus.topic_prefix`).
    pub fn topic(&self, topic: &str) -> String {
        format!("{}{topic}", self.topic_prefix)
    }

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
