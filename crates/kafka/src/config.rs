//! How to reach Kafka: the brokers, the security of the connection, and librdkafka properties
//! passed through. Every client of the bus (producer, admin, readers) is configured here.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use integra_ports::Secret;
use rdkafka::config::ClientConfig;

/// How to reach Kafka.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaConfig {
    /// Bootstrap servers, comma-separated.
    pub brokers: String,
    /// Put in front of every topic.
    pub topic_prefix: String,
    /// How long a publish may wait for the acknowledgement (`bus.timeout_ms`).
    pub timeout: Duration,
    /// How long the producer waits to batch records (`bus.linger_ms`).
    pub linger: Duration,
    /// TLS and SASL.
    pub security: Security,
    /// Raw librdkafka properties for anything else, set on every client after Integra's own
    /// (`[bus.librdkafka]`).
    pub librdkafka: BTreeMap<String, String>,
}

impl KafkaConfig {
    /// Kafka at `brokers` with the bus's defaults: plaintext, no topic prefix, 5 s timeout,
    /// 5 ms linger, nothing passed through.
    pub fn new(brokers: impl Into<String>) -> Self {
        Self {
            brokers: brokers.into(),
            topic_prefix: String::new(),
            timeout: Duration::from_secs(5),
            linger: Duration::from_millis(5),
            security: Security::default(),
            librdkafka: BTreeMap::new(),
        }
    }

    /// A client's configuration: the brokers and the security settings, then what `own` sets
    /// for this kind of client, then the passed-through properties, last so that they win.
    pub(crate) fn client(&self, own: impl FnOnce(&mut ClientConfig)) -> ClientConfig {
        let mut client = ClientConfig::new();
        client.set("bootstrap.servers", &self.brokers);
        self.security.apply(&mut client);
        own(&mut client);
        for (key, value) in &self.librdkafka {
            client.set(key, value);
        }
        client
    }
}

/// `bus.security_protocol`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecurityProtocol {
    /// No TLS, no authentication.
    #[default]
    Plaintext,
    /// TLS.
    Ssl,
    /// SASL without TLS: the credentials cross the network in the clear with PLAIN.
    SaslPlaintext,
    /// SASL over TLS: what managed Kafka services speak.
    SaslSsl,
}

impl SecurityProtocol {
    /// librdkafka's name for it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Plaintext => "plaintext",
            Self::Ssl => "ssl",
            Self::SaslPlaintext => "sasl_plaintext",
            Self::SaslSsl => "sasl_ssl",
        }
    }

    /// Whether it authenticates with SASL.
    pub const fn uses_sasl(self) -> bool {
        matches!(self, Self::SaslPlaintext | Self::SaslSsl)
    }

    /// Whether it runs over TLS.
    pub const fn uses_tls(self) -> bool {
        matches!(self, Self::Ssl | Self::SaslSsl)
    }
}

/// `bus.sasl_mechanism`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
pub enum SaslMechanism {
    /// The password itself, sent to the broker (use it over TLS).
    #[serde(rename = "PLAIN")]
    Plain,
    /// A salted challenge: the password never crosses the network.
    #[serde(rename = "SCRAM-SHA-256")]
    ScramSha256,
    /// As SCRAM-SHA-256, with SHA-512.
    #[serde(rename = "SCRAM-SHA-512")]
    ScramSha512,
}

impl SaslMechanism {
    /// Its name, as Kafka and librdkafka write it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Plain => "PLAIN",
            Self::ScramSha256 => "SCRAM-SHA-256",
            Self::ScramSha512 => "SCRAM-SHA-512",
        }
    }
}

/// SASL credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sasl {
    /// How the password is proven.
    pub mechanism: SaslMechanism,
    /// The user.
    pub username: String,
    /// Its password; never printed.
    pub password: Secret,
}

/// TLS and SASL settings of every connection to the brokers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Security {
    /// `bus.security_protocol`.
    pub protocol: SecurityProtocol,
    /// The credentials, with a SASL protocol.
    pub sasl: Option<Sasl>,
    /// PEM file of the certificate authority that signed the brokers' certificates; without it,
    /// the system's roots.
    pub ssl_ca_file: Option<PathBuf>,
    /// PEM client certificate, for brokers that authenticate clients by certificate (mTLS).
    pub ssl_cert_file: Option<PathBuf>,
    /// PEM private key of the client certificate.
    pub ssl_key_file: Option<PathBuf>,
}

impl Security {
    fn apply(&self, client: &mut ClientConfig) {
        client.set("security.protocol", self.protocol.as_str());
        if let Some(sasl) = &self.sasl {
            client
                .set("sasl.mechanism", sasl.mechanism.as_str())
                .set("sasl.username", &sasl.username)
                .set("sasl.password", sasl.password.expose());
        }
        let files = [
            ("ssl.ca.location", &self.ssl_ca_file),
            ("ssl.certificate.location", &self.ssl_cert_file),
            ("ssl.key.location", &self.ssl_key_file),
        ];
        for (key, file) in files {
            if let Some(path) = file {
                client.set(key, path.to_string_lossy());
            }
        }
    }
}

/// What librdkafka said, with any quoted value taken out: a property's value may be a secret.
pub(crate) fn without_values(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find("Invalid value \"") {
        out.push_str(&rest[..at]);
        out.push_str("Invalid value");
        let after = &rest[at + "Invalid value \"".len()..];
        rest = after.find('"').map_or("", |end| &after[end + 1..]);
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quoted_value_is_taken_out_of_librdkafkas_message() {
        assert_eq!(
            without_values(
                "Invalid value \"hunter2\" for configuration property \"sasl.oauthbearer.config\""
            ),
            "Invalid value for configuration property \"sasl.oauthbearer.config\""
        );
        assert_eq!(without_values("No such property"), "No such property");
    }

    #[test]
    fn sasl_credentials_reach_the_client_and_never_print() {
        let mut config = KafkaConfig::new("b:9092");
        config.security = Security {
            protocol: SecurityProtocol::SaslSsl,
            sasl: Some(Sasl {
                mechanism: SaslMechanism::ScramSha512,
                username: "ana".into(),
                password: Secret::new("hunter2"),
            }),
            ssl_ca_file: Some("/etc/ca.pem".into()),
            ..Security::default()
        };
        let client = config.client(|_| {});
        assert_eq!(client.get("security.protocol"), Some("sasl_ssl"));
        assert_eq!(client.get("sasl.mechanism"), Some("SCRAM-SHA-512"));
        assert_eq!(client.get("sasl.password"), Some("hunter2"));
        assert_eq!(client.get("ssl.ca.location"), Some("/etc/ca.pem"));
        assert!(!format!("{config:?}").contains("hunter2"));
    }
}
