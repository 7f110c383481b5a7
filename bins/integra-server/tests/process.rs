//! The server as a process: what only a process shows. SIGTERM, and configuration layered from
//! files and the environment. Everything else is tested in process (`tests/e2e`).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::Duration;

use integra_testkit::{eventually, get, get_with, WsClient};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A running `integra-server`, killed when dropped.
struct ServerProcess {
    /// `http://127.0.0.1:PORT`
    base: String,
    child: Child,
    /// Every line it logged.
    logs: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl ServerProcess {
    /// Starts the binary on a port of its own choosing (it listens on port 0 and logs the
    /// address), with these environment variables over the defaults.
    fn start(env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_integra-server"))
            .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
            .env("INTEGRA__SERVER__BIND", "127.0.0.1:0")
            .env("INTEGRA__SERVER__WORKERS", "2")
            .env("INTEGRA__LOG__LEVEL", "warn,integra_server=info")
            .env("INTEGRA__LOG__FORMAT", "json")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("cannot start integra-server");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let logs = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let address = loop {
            let line = lines
                .next()
                .expect("the server exited before it listened")
                .unwrap();
            let log: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
            logs.lock().unwrap().push(line);
            if let Some(address) = log["fields"]["address"].as_str() {
                break address.to_owned();
            }
        };
        // Keep reading its logs, so that it never blocks on a full pipe.
        let kept = std::sync::Arc::clone(&logs);
        std::thread::spawn(move || lines.for_each(|l| kept.lock().unwrap().extend(l.ok())));
        Self {
            logs,
            base: format!("http://{address}"),
            child,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn terminate(&self) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success());
    }

    async fn exit_status(&mut self, within: Duration) -> ExitStatus {
        let child = &mut self.child;
        eventually(within, "the server's exit", || {
            let status = child.try_wait().unwrap();
            async move { status }
        })
        .await
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the binary to its end with `env` and `args`.
fn run(env: &[(&str, &str)], args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_integra-server"))
        .envs(env.iter().copied())
        .args(args)
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

#[actix_rt::test]
async fn sigterm_finishes_requests_in_flight_closes_websockets_and_exits_0() {
    let mut s = ServerProcess::start(&[]);
    let mut ws = WsClient::connect(&format!("ws{}/ws", s.base.trim_start_matches("http"))).await;
    // A request whose body is still arriving when SIGTERM comes, written by hand on a socket.
    let addr = s.base.trim_start_matches("http://").to_owned();
    let in_flight = actix_rt::spawn(async move {
        let body = r#"{"id":"late","tipo":"sms","destinatario":"d","conteudo":"c"}"#;
        let mut socket = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let head = format!("POST /messages HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
        socket.write_all(head.as_bytes()).await.unwrap();
        socket.write_all(&body.as_bytes()[..20]).await.unwrap();
        actix_rt::time::sleep(Duration::from_millis(1500)).await;
        socket.write_all(&body.as_bytes()[20..]).await.unwrap();
        let mut answer = String::new();
        socket.read_to_string(&mut answer).await.unwrap();
        answer
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse::<u16>().ok())
            .unwrap_or(0)
    });
    actix_rt::time::sleep(Duration::from_millis(500)).await;
    s.terminate();
    assert_eq!(ws.close_code(Duration::from_secs(5)).await, Some(1001));
    assert_eq!(
        in_flight.await.unwrap(),
        201,
        "the request in flight was not finished"
    );
    let status = s.exit_status(Duration::from_secs(35)).await;
    assert!(status.success(), "exit status {status:?}");
}

#[actix_rt::test]
async fn configuration_comes_from_a_file_and_the_environment_and_bad_values_name_their_key() {
    // An invalid value stops start-up, naming the key.
    let out = run(&[("INTEGRA__STORE__BACKEND", "postgres")], &[]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("store.backend"), "{stderr}");
    let out = run(&[("INTEGRA__WS__MAX_QUEUE", "0")], &[]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("ws.max_queue"));
    let out = run(&[], &["--config", "/no/such/file.toml"]);
    assert!(!out.status.success());

    // A file given with INTEGRA_CONFIG, then an environment variable over it.
    let dir = std::env::temp_dir().join(format!("integra-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("test.toml");
    std::fs::write(&file, "[auth]\napi_keys = [\"from-file\"]\n").unwrap();
    let from_file = [("INTEGRA_CONFIG", file.to_str().unwrap())];
    let s = ServerProcess::start(&from_file);
    get(&s.url("/messages")).await.assert_problem(401);
    let ok = get_with(
        &s.url("/messages"),
        &[("authorization", "Bearer from-file")],
    )
    .await;
    assert_eq!(ok.status, 200);
    drop(s);
    let s = ServerProcess::start(&[from_file[0], ("INTEGRA__AUTH__API_KEYS", "from-env")]);
    assert_eq!(
        get_with(&s.url("/messages"), &[("authorization", "Bearer from-env")])
            .await
            .status,
        200
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// The secured engines `scripts/services.sh` starts, as environment variables.
fn secured_engines(password: &str) -> Vec<(&'static str, String)> {
    let ca = integra_testkit::tls_file("ca.pem")
        .to_string_lossy()
        .into_owned();
    vec![
        ("INTEGRA__STORE__BACKEND", "redis".into()),
        ("INTEGRA__STORE__MODE", "cluster".into()),
        (
            "INTEGRA__STORE__URL",
            "redis://127.0.0.1:7001,redis://127.0.0.1:7002".into(),
        ),
        (
            "INTEGRA__STORE__KEY_PREFIX",
            format!("proc{}:", std::process::id()),
        ),
        ("INTEGRA__BUS__BACKEND", "kafka".into()),
        ("INTEGRA__BUS__BROKERS", "127.0.0.1:9095".into()),
        ("INTEGRA__BUS__SECURITY_PROTOCOL", "sasl_ssl".into()),
        ("INTEGRA__BUS__SASL_MECHANISM", "SCRAM-SHA-256".into()),
        ("INTEGRA__BUS__SASL_USERNAME", "integra".into()),
        ("INTEGRA__BUS__SASL_PASSWORD", password.into()),
        ("INTEGRA__BUS__SSL_CA_FILE", ca),
        ("INTEGRA__LOG__LEVEL", "debug".into()),
    ]
}

#[actix_rt::test]
async fn passwords_never_reach_the_logs_or_the_start_up_errors() {
    let password = "integra-test-password";
    let env = secured_engines(password);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let s = ServerProcess::start(&env);
    assert_eq!(get(&s.url("/readyz")).await.status, 200);
    let sent = integra_testkit::post(
        &s.url("/messages"),
        &serde_json::json!({"tipo": "sms", "destinatario": "d", "conteudo": "c"}),
    )
    .await;
    assert_eq!(sent.status, 201, "{}", sent.text);
    s.terminate();
    let logs = s.logs.lock().unwrap().join("\n");
    assert!(logs.contains("listening"), "the logs were read: {logs}");
    assert!(!logs.contains(password), "{logs}");
    drop(s);

    // Refused at start-up, at debug level: the error names the setting, not the password.
    let wrong = secured_engines("not-the-password");
    let wrong: Vec<(&str, &str)> = wrong.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out = run(&wrong, &[]);
    assert!(!out.status.success());
    let everything = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(everything.contains("bus.sasl_password"), "{everything}");
    assert!(!everything.contains("not-the-password"), "{everything}");
}
