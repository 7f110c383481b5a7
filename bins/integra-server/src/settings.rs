//! Configuration: built-in defaults, `config/default.toml`, the file from `--config PATH` or
//! `INTEGRA_CONFIG`, then `INTEGRA__SECTION__KEY` environment variables (lists comma-separated).
//! Later layers win. Unknown keys and invalid values stop start-up with a message naming the key.

use std::collections::BTreeMap;
use std::net::ToSocketAddrs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use config::{Config, Environment, File, FileFormat};
use integra_http::HttpSettings;
use integra_kafka::{KafkaConfig, Sasl, Security};
pub use integra_kafka::{SaslMechanism, SecurityProtocol};
use integra_ports::{HistoryLimits, Secret};
pub use integra_redis::RedisMode;
use integra_redis::{ConnectError, RedisConfig};
use integra_services::{ChannelsConfig, HubConfig, MetricsConfig, PublishConfig, RulesConfig};
use serde::Deserialize;

/// The embedded default configuration, the same file that ships as `config/default.toml`.
pub const DEFAULT_TOML: &str = include_str!("../../../config/default.toml");

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// A file could not be read, or a key could not be read as its type.
    #[error("configuration: {0}")]
    Load(#[from] config::ConfigError),
    /// A key holds a value out of its range.
    #[error("configuration: invalid value for {key}: {reason}")]
    Invalid {
        /// The key, as `section.key`.
        key: &'static str,
        /// What is wrong.
        reason: String,
    },
}

/// Every setting of the server.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// `[server]`
    pub server: ServerSettings,
    /// `[store]`
    pub store: StoreSettings,
    /// `[bus]`
    pub bus: BusSettings,
    /// `[metrics]`
    pub metrics: MetricsSettings,
    /// `[ws]`
    pub ws: WsSettings,
    /// `[channels]`
    pub channels: ChannelsSettings,
    /// `[rules]`
    pub rules: RulesSettings,
    /// `[auth]`
    pub auth: AuthSettings,
    /// `[log]`
    pub log: LogSettings,
}

/// `[server]`
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    /// Address to listen on (`127.0.0.1:8080`).
    pub bind: String,
    /// Worker threads; 0 is one per core.
    pub workers: usize,
    /// Largest request body in bytes (1 MiB).
    pub body_limit_bytes: usize,
    /// A request whose head or body has not arrived by then gets 408 (10 s); also how long an
    /// idle kept-alive connection stays open.
    pub request_timeout_ms: u64,
}

/// Which Store backend runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreBackend {
    /// In process.
    Memory,
    /// Redis at `store.url`.
    Redis,
}

/// `[store]`
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSettings {
    /// `memory` or `redis`.
    pub backend: StoreBackend,
    /// `redis://` or `rediss://` (TLS), with `user:password@` for an ACL user; in cluster mode,
    /// seed nodes as comma-separated URLs. Never printed: it may hold a password.
    pub url: Secret,
    /// `standalone` or `cluster`.
    pub mode: RedisMode,
    /// PEM file of the CA that signed the Redis servers' certificates; empty: the system's roots.
    pub tls_ca_file: String,
    /// Put in front of every Redis key; no `{` or `}`.
    pub key_prefix: String,
    /// Records expire this long after their last write; 0 keeps them.
    pub ttl_secs: u64,
    /// The embedded store's budget (512 MiB): past it the oldest records leave first.
    pub memory_max_bytes: usize,
}

/// Which Bus backend runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BusBackend {
    /// In process.
    Memory,
    /// Kafka at `bus.brokers`.
    Kafka,
}

/// `[bus]`
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BusSettings {
    /// `memory` or `kafka`.
    pub backend: BusBackend,
    /// Kafka bootstrap servers, comma-separated.
    pub brokers: String,
    /// Put in front of every topic.
    pub topic_prefix: String,
    /// How long a publish may wait for the broker's acknowledgement.
    pub timeout_ms: u64,
    /// How long the producer waits to batch records.
    pub linger_ms: u64,
    /// `plaintext`, `ssl`, `sasl_plaintext` or `sasl_ssl`.
    pub security_protocol: SecurityProtocol,
    /// `PLAIN`, `SCRAM-SHA-256` or `SCRAM-SHA-512`, with a SASL protocol.
    pub sasl_mechanism: SaslMechanism,
    /// The SASL user, with a SASL protocol.
    pub sasl_username: String,
    /// The SASL password, with a SASL protocol. Never printed.
    pub sasl_password: Secret,
    /// PEM file of the CA that signed the brokers' certificates; empty: the system's roots.
    pub ssl_ca_file: String,
    /// PEM client certificate (mTLS); empty: none.
    pub ssl_cert_file: String,
    /// PEM private key of the client certificate; empty: none.
    pub ssl_key_file: String,
    /// Raw librdkafka properties for anything else, set on every Kafka client.
    pub librdkafka: BTreeMap<String, String>,
}

/// `[metrics]`
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSettings {
    /// Samples older than this are trimmed.
    pub retention_secs: u64,
    /// Most metric names.
    pub max_names: usize,
    /// Most label sets per metric name.
    pub max_series_per_name: usize,
    /// Most samples kept per series; the oldest leave first.
    pub max_samples_per_series: usize,
}

/// `[ws]`
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WsSettings {
    /// A ping every this many seconds.
    pub ping_interval_secs: u64,
    /// No pong within this many seconds closes the connection.
    pub pong_timeout_secs: u64,
    /// Outbound queue per connection; full closes it with 1008.
    pub max_queue: usize,
    /// Most connections on this instance; past it an upgrade gets 503.
    pub max_connections: usize,
    /// Inbound frames over this close the connection with 1009.
    pub max_frame_bytes: usize,
}

/// `[channels]`
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelsSettings {
    /// Publications kept per channel, for recovery; the oldest leave first.
    pub history_size: usize,
    /// A channel's history is lost this long after its last publication (a new epoca begins).
    pub history_ttl_secs: u64,
    /// Most channels one connection subscribes to.
    pub max_per_connection: usize,
}

/// `[rules]`
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesSettings {
    /// Each instance evaluates every rule at least this often (ms), for the `por_segundos`
    /// windows; samples are evaluated as they arrive besides.
    pub interval_ms: u64,
    /// An opening or resolution decided by an instance that has not done it within this (ms) is
    /// taken over by another (a crash, a bus failure).
    pub lease_ms: u64,
}

impl RulesSettings {
    /// The rule service's configuration.
    pub fn config(&self) -> RulesConfig {
        RulesConfig {
            interval: Duration::from_millis(self.interval_ms),
            lease: Duration::from_millis(self.lease_ms),
        }
    }
}

/// Most publications a channel's history may be set to keep.
const MAX_HISTORY_SIZE: usize = 1_000_000;

/// `[auth]`
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    /// Accepted API keys; empty turns auth off.
    pub api_keys: Vec<String>,
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// For people.
    Pretty,
    /// One JSON object a line.
    Json,
}

/// `[log]`
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    /// A tracing filter: `info`, `debug`, `integra_services=debug,info`…
    pub level: String,
    /// `pretty` or `json`.
    pub format: LogFormat,
}

impl Settings {
    /// The built-in defaults alone (`config/default.toml` as compiled in): no file is read and no
    /// environment variable applies. Embedders and tests start from these and change fields.
    ///
    /// # Errors
    /// Never with the shipped defaults (a test loads them); a build whose defaults do not parse.
    pub fn defaults() -> Result<Self, SettingsError> {
        let settings: Self = Config::builder()
            .add_source(File::from_str(DEFAULT_TOML, FileFormat::Toml))
            .build()?
            .try_deserialize()?;
        settings.validate()?;
        Ok(settings)
    }

    /// Loads the layers; `explicit` is `--config PATH`.
    ///
    /// # Errors
    /// A file that cannot be read, an unknown key, a value of the wrong type or out of range.
    pub fn load(explicit: Option<PathBuf>) -> Result<Self, SettingsError> {
        let mut builder = Config::builder()
            .add_source(File::from_str(DEFAULT_TOML, FileFormat::Toml))
            .add_source(File::new("config/default.toml", FileFormat::Toml).required(false));
        if let Some(path) =
            explicit.or_else(|| std::env::var_os("INTEGRA_CONFIG").map(PathBuf::from))
        {
            builder = builder.add_source(File::from(path).required(true));
        }
        builder = builder.add_source(
            Environment::with_prefix("INTEGRA")
                .prefix_separator("__")
                .separator("__")
                .list_separator(",")
                .with_list_parse_key("auth.api_keys")
                .try_parsing(true),
        );
        let settings: Self = builder.build()?.try_deserialize()?;
        settings.validate()?;
        Ok(settings)
    }

    /// Checks every value against its range; a failure names its key.
    ///
    /// # Errors
    /// [`SettingsError::Invalid`] naming the key.
    pub fn validate(&self) -> Result<(), SettingsError> {
        if !self
            .server
            .bind
            .to_socket_addrs()
            .is_ok_and(|mut addrs| addrs.next().is_some())
        {
            return invalid(
                "server.bind",
                &format!("`{}` is not a host:port to listen on", self.server.bind),
            );
        }
        let positive: [(&'static str, u64); 20] = [
            ("rules.interval_ms", self.rules.interval_ms),
            ("rules.lease_ms", self.rules.lease_ms),
            ("channels.history_size", self.channels.history_size as u64),
            ("channels.history_ttl_secs", self.channels.history_ttl_secs),
            (
                "channels.max_per_connection",
                self.channels.max_per_connection as u64,
            ),
            (
                "server.body_limit_bytes",
                self.server.body_limit_bytes as u64,
            ),
            ("server.request_timeout_ms", self.server.request_timeout_ms),
            ("store.memory_max_bytes", self.store.memory_max_bytes as u64),
            ("metrics.max_names", self.metrics.max_names as u64),
            (
                "metrics.max_samples_per_series",
                self.metrics.max_samples_per_series as u64,
            ),
            ("bus.timeout_ms", self.bus.timeout_ms),
            ("metrics.retention_secs", self.metrics.retention_secs),
            (
                "metrics.max_series_per_name",
                self.metrics.max_series_per_name as u64,
            ),
            ("ws.ping_interval_secs", self.ws.ping_interval_secs),
            ("ws.pong_timeout_secs", self.ws.pong_timeout_secs),
            ("ws.max_queue", self.ws.max_queue as u64),
            ("ws.max_connections", self.ws.max_connections as u64),
            ("ws.max_frame_bytes", self.ws.max_frame_bytes as u64),
            ("bus.linger_ms", self.bus.linger_ms.saturating_add(1)),
            ("store.ttl_secs", self.store.ttl_secs.saturating_add(1)),
        ];
        if let Some((key, _)) = positive.iter().find(|(_, v)| *v == 0) {
            return invalid(key, "must be greater than 0");
        }
        if self.channels.history_size > MAX_HISTORY_SIZE {
            return invalid(
                "channels.history_size",
                &format!("must be at most {MAX_HISTORY_SIZE}"),
            );
        }
        if self.store.backend == StoreBackend::Redis {
            self.store.validate()?;
        }
        if self.bus.backend == BusBackend::Kafka {
            self.bus.validate()?;
        }
        if self.auth.api_keys.iter().any(|k| k.trim().is_empty()) {
            return invalid("auth.api_keys", "keys must not be empty");
        }
        if tracing_subscriber::EnvFilter::try_new(&self.log.level).is_err() {
            return invalid(
                "log.level",
                "must be a tracing filter such as `info` or `integra_http=debug,info`",
            );
        }
        Ok(())
    }
}

/// Each part of the settings, converted into the configuration of what it sets up.
impl Settings {
    /// The HTTP layer's settings.
    pub fn http(&self) -> HttpSettings {
        HttpSettings {
            body_limit_bytes: self.server.body_limit_bytes,
            request_timeout: Duration::from_millis(self.server.request_timeout_ms),
            api_keys: self.auth.api_keys.clone(),
            ws: integra_http::WsSettings {
                ping_interval: Duration::from_secs(self.ws.ping_interval_secs),
                pong_timeout: Duration::from_secs(self.ws.pong_timeout_secs),
                max_frame_bytes: self.ws.max_frame_bytes,
            },
        }
    }

    /// The WebSocket hub's limits; its fan-out publishes are bounded as every publish is.
    pub fn hub(&self) -> HubConfig {
        HubConfig {
            max_queue: self.ws.max_queue,
            max_connections: self.ws.max_connections,
            publish_timeout: self.bus.publish().timeout,
            channels: ChannelsConfig {
                history: HistoryLimits {
                    size: self.channels.history_size,
                    ttl_ms: self.channels.history_ttl_secs.saturating_mul(1000),
                },
                max_per_connection: self.channels.max_per_connection,
            },
            ..HubConfig::default()
        }
    }
}

impl StoreSettings {
    /// How long records live after their last write; `None` keeps them.
    pub fn ttl(&self) -> Option<Duration> {
        (self.ttl_secs > 0).then(|| Duration::from_secs(self.ttl_secs))
    }

    /// The Redis store's configuration.
    pub fn redis(&self) -> RedisConfig {
        RedisConfig {
            url: self.url.clone(),
            mode: self.mode,
            tls_ca_file: file(&self.tls_ca_file),
            key_prefix: self.key_prefix.clone(),
            ttl: self.ttl(),
            command_timeout: Duration::from_secs(2),
        }
    }

    fn validate(&self) -> Result<(), SettingsError> {
        // The same checks the store makes before it connects; the reasons never quote the URL.
        self.redis()
            .check()
            .or_else(|e| invalid(self.key_of(&e), &e.to_string()))
    }

    /// The setting to fix for `error`.
    pub(crate) fn key_of(&self, error: &ConnectError) -> &'static str {
        match error {
            ConnectError::KeyPrefix => "store.key_prefix",
            ConnectError::CaFile { .. } => "store.tls_ca_file",
            ConnectError::Tls(_) if !self.tls_ca_file.is_empty() => "store.tls_ca_file",
            ConnectError::Url(_)
            | ConnectError::Refused(_)
            | ConnectError::Tls(_)
            | ConnectError::Store(_) => "store.url",
        }
    }
}

/// A file setting: empty is none.
fn file(path: &str) -> Option<PathBuf> {
    (!path.is_empty()).then(|| PathBuf::from(path))
}

fn invalid(key: &'static str, reason: &str) -> Result<(), SettingsError> {
    Err(SettingsError::Invalid {
        key,
        reason: reason.to_owned(),
    })
}

/// A file the server must read at start-up.
fn readable(key: &'static str, path: &str) -> Result<(), SettingsError> {
    match std::fs::File::open(Path::new(path)) {
        Ok(_) => Ok(()),
        Err(e) => invalid(key, &format!("cannot read `{path}`: {e}")),
    }
}

/// librdkafka properties that have a setting of their own.
const OWN_SETTINGS: [(&str, &str); 9] = [
    ("bootstrap.servers", "bus.brokers"),
    ("security.protocol", "bus.security_protocol"),
    ("sasl.mechanism", "bus.sasl_mechanism"),
    ("sasl.mechanisms", "bus.sasl_mechanism"),
    ("sasl.username", "bus.sasl_username"),
    ("sasl.password", "bus.sasl_password"),
    ("ssl.ca.location", "bus.ssl_ca_file"),
    ("ssl.certificate.location", "bus.ssl_cert_file"),
    ("ssl.key.location", "bus.ssl_key_file"),
];

impl BusSettings {
    /// How every publish is bounded.
    pub fn publish(&self) -> PublishConfig {
        PublishConfig::with_timeout(Duration::from_millis(self.timeout_ms))
    }

    /// The Kafka bus's configuration.
    pub fn kafka(&self) -> KafkaConfig {
        KafkaConfig {
            brokers: self.brokers.clone(),
            topic_prefix: self.topic_prefix.clone(),
            timeout: Duration::from_millis(self.timeout_ms),
            linger: Duration::from_millis(self.linger_ms),
            security: Security {
                protocol: self.security_protocol,
                sasl: self.security_protocol.uses_sasl().then(|| Sasl {
                    mechanism: self.sasl_mechanism,
                    username: self.sasl_username.clone(),
                    password: self.sasl_password.clone(),
                }),
                ssl_ca_file: file(&self.ssl_ca_file),
                ssl_cert_file: file(&self.ssl_cert_file),
                ssl_key_file: file(&self.ssl_key_file),
            },
            librdkafka: self.librdkafka.clone(),
        }
    }

    fn validate(&self) -> Result<(), SettingsError> {
        if self.brokers.trim().is_empty() {
            return invalid("bus.brokers", "must name at least one broker");
        }
        let protocol = self.security_protocol;
        if protocol.uses_sasl() {
            if self.sasl_username.is_empty() {
                return invalid(
                    "bus.sasl_username",
                    "must be set with a SASL security_protocol",
                );
            }
            if self.sasl_password.is_empty() {
                return invalid(
                    "bus.sasl_password",
                    "must be set with a SASL security_protocol",
                );
            }
        } else if !self.sasl_username.is_empty() || !self.sasl_password.is_empty() {
            let key = if self.sasl_username.is_empty() {
                "bus.sasl_password"
            } else {
                "bus.sasl_username"
            };
            return invalid(
                key,
                "is set, but bus.security_protocol is not sasl_plaintext or sasl_ssl",
            );
        }
        let files = [
            ("bus.ssl_ca_file", &self.ssl_ca_file),
            ("bus.ssl_cert_file", &self.ssl_cert_file),
            ("bus.ssl_key_file", &self.ssl_key_file),
        ];
        for (key, path) in files {
            if path.is_empty() {
                continue;
            }
            if !protocol.uses_tls() {
                return invalid(
                    key,
                    "is set, but bus.security_protocol is not ssl or sasl_ssl",
                );
            }
            readable(key, path)?;
        }
        if self.ssl_cert_file.is_empty() != self.ssl_key_file.is_empty() {
            return invalid("bus.ssl_key_file", "and bus.ssl_cert_file go together");
        }
        if let Some((property, key)) = OWN_SETTINGS
            .iter()
            .find(|(property, _)| self.librdkafka.contains_key(*property))
        {
            return invalid(
                "bus.librdkafka",
                &format!("`{property}` has a setting of its own: {key}"),
            );
        }
        Ok(())
    }
}

impl MetricsSettings {
    /// The metrics service's limits.
    pub fn limits(&self) -> MetricsConfig {
        MetricsConfig {
            retention: Duration::from_secs(self.retention_secs),
            max_names: self.max_names,
            max_series_per_name: self.max_series_per_name,
            max_samples_per_series: self.max_samples_per_series,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> tempfile_path::TempToml {
        tempfile_path::TempToml::new(text)
    }

    /// A TOML file in the temp directory, removed on drop.
    mod tempfile_path {
        pub struct TempToml(pub std::path::PathBuf);
        impl TempToml {
            pub fn new(text: &str) -> Self {
                static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
                let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let path =
                    std::env::temp_dir().join(format!("integra-{}-{n}.toml", std::process::id()));
                std::fs::write(&path, text).unwrap();
                Self(path)
            }
        }
        impl Drop for TempToml {
            fn drop(&mut self) {
                let _ = std::fs::remove_file(&self.0);
            }
        }
    }

    #[test]
    fn the_built_in_defaults_are_the_default_file() {
        assert_eq!(Settings::defaults().unwrap(), Settings::load(None).unwrap());
    }

    #[test]
    fn the_default_file_loads_with_the_contracts_defaults() {
        let s = Settings::load(None).unwrap();
        assert_eq!(s.server.bind, "127.0.0.1:8080");
        assert_eq!(
            (s.store.backend, s.bus.backend),
            (StoreBackend::Memory, BusBackend::Memory)
        );
        assert_eq!(
            (s.store.ttl_secs, s.bus.timeout_ms, s.bus.linger_ms),
            (3600, 5000, 5)
        );
        assert_eq!(
            (s.metrics.retention_secs, s.metrics.max_series_per_name),
            (86_400, 1000)
        );
        assert_eq!(
            (s.metrics.max_names, s.metrics.max_samples_per_series),
            (10_000, 10_000)
        );
        assert_eq!(
            (s.server.request_timeout_ms, s.store.memory_max_bytes),
            (10_000, 512 * 1024 * 1024)
        );
        assert_eq!(
            (
                s.ws.ping_interval_secs,
                s.ws.pong_timeout_secs,
                s.ws.max_queue
            ),
            (20, 10, 1024)
        );
        assert_eq!(
            (
                s.ws.max_connections,
                s.ws.max_frame_bytes,
                s.server.body_limit_bytes
            ),
            (10_000, 65_536, 1_048_576)
        );
        assert!(s.auth.api_keys.is_empty());
        assert_eq!(
            (s.log.level.as_str(), s.log.format),
            ("info", LogFormat::Pretty)
        );
    }

    #[test]
    fn the_production_file_loads_with_redis_and_kafka() {
        let path = PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../config/production.toml"
        ));
        let s = Settings::load(Some(path)).unwrap();
        assert_eq!(
            (s.store.backend, s.bus.backend),
            (StoreBackend::Redis, BusBackend::Kafka)
        );
        assert_eq!(s.server.bind, "0.0.0.0:8080");
        assert_eq!(s.log.format, LogFormat::Json);
    }

    #[test]
    fn an_unknown_backend_names_its_key() {
        let f = file("[store]\nbackend = \"postgres\"\n");
        let e = Settings::load(Some(f.0.clone())).unwrap_err().to_string();
        assert!(e.contains("store.backend") && e.contains("postgres"), "{e}");
    }

    #[test]
    fn an_unknown_key_is_refused() {
        let f = file("[server]\nport = 8080\n");
        let e = Settings::load(Some(f.0.clone())).unwrap_err().to_string();
        assert!(e.contains("port"), "{e}");
    }

    #[test]
    fn out_of_range_values_name_their_key() {
        let f = file("[ws]\nmax_queue = 0\n");
        let e = Settings::load(Some(f.0.clone())).unwrap_err().to_string();
        assert!(e.contains("ws.max_queue"), "{e}");
        let f = file("[server]\nbind = \"nowhere\"\n");
        let e = Settings::load(Some(f.0.clone())).unwrap_err().to_string();
        assert!(e.contains("server.bind"), "{e}");
    }

    #[test]
    fn secured_engines_load_from_a_file_with_librdkafka_properties_passed_through() {
        let f = file(concat!(
            "[store]\nbackend = \"redis\"\nmode = \"cluster\"\n",
            "url = \"redis://a:7001,redis://b:7002\"\n",
            "[bus]\nbackend = \"kafka\"\nsecurity_protocol = \"sasl_ssl\"\n",
            "sasl_mechanism = \"SCRAM-SHA-512\"\nsasl_username = \"ana\"\n",
            "sasl_password = \"hunter2\"\n",
            "[bus.librdkafka]\n\"socket.keepalive.enable\" = \"true\"\n\"queue.buffering.max.kbytes\" = 2048\n",
        ));
        let s = Settings::load(Some(f.0.clone())).unwrap();
        assert_eq!(s.store.mode, RedisMode::Cluster);
        let kafka = s.bus.kafka();
        assert_eq!(kafka.security.protocol, SecurityProtocol::SaslSsl);
        let sasl = kafka.security.sasl.as_ref().unwrap();
        assert_eq!(
            (
                sasl.mechanism,
                sasl.username.as_str(),
                sasl.password.expose()
            ),
            (SaslMechanism::ScramSha512, "ana", "hunter2")
        );
        assert_eq!(
            kafka
                .librdkafka
                .get("socket.keepalive.enable")
                .map(String::as_str),
            Some("true")
        );
        assert_eq!(
            kafka
                .librdkafka
                .get("queue.buffering.max.kbytes")
                .map(String::as_str),
            Some("2048")
        );
        assert!(!format!("{s:?}").contains("hunter2"));
    }

    #[test]
    fn secured_settings_that_cannot_work_name_their_key_and_never_the_password() {
        let cases = [
            ("[bus]\nbackend = \"kafka\"\nsecurity_protocol = \"sasl_ssl\"\nsasl_password = \"hunter2\"\n", "bus.sasl_username"),
            ("[bus]\nbackend = \"kafka\"\nsecurity_protocol = \"sasl_ssl\"\nsasl_username = \"ana\"\n", "bus.sasl_password"),
            ("[bus]\nbackend = \"kafka\"\nsasl_username = \"ana\"\nsasl_password = \"hunter2\"\n", "bus.sasl_username"),
            ("[bus]\nbackend = \"kafka\"\nsecurity_protocol = \"ssl\"\nssl_ca_file = \"/no/such/ca.pem\"\n", "bus.ssl_ca_file"),
            ("[bus]\nbackend = \"kafka\"\nssl_ca_file = \"/etc/hostname\"\n", "bus.ssl_ca_file"),
            ("[bus]\nbackend = \"kafka\"\nsecurity_protocol = \"ssl\"\nssl_cert_file = \"/etc/hostname\"\n", "bus.ssl_key_file"),
            ("[bus]\nbackend = \"kafka\"\nsecurity_protocol = \"sasl_ssl\"\nsasl_mechanism = \"GSSAPI\"\n", "bus.sasl_mechanism"),
            ("[bus]\nbackend = \"kafka\"\n[bus.librdkafka]\n\"sasl.password\" = \"hunter2\"\n", "bus.librdkafka"),
            ("[store]\nbackend = \"redis\"\nurl = \"http://ana:hunter2@x\"\n", "store.url"),
            ("[store]\nbackend = \"redis\"\nurl = \"redis://:hunter2@a,redis://b\"\n", "store.url"),
            ("[store]\nbackend = \"redis\"\nmode = \"sharded\"\n", "store.mode"),
            ("[store]\nbackend = \"redis\"\nkey_prefix = \"{integra}:\"\n", "store.key_prefix"),
            ("[store]\nbackend = \"redis\"\ntls_ca_file = \"/etc/hostname\"\n", "store.tls_ca_file"),
        ];
        for (text, key) in cases {
            let f = file(text);
            let e = Settings::load(Some(f.0.clone())).unwrap_err().to_string();
            assert!(e.contains(key), "{key}: {e}");
            assert!(!e.contains("hunter2"), "{key}: {e}");
        }
    }
}
