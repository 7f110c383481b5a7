//! The Bus suite of `integra-conformance` on the Kafka-compatible brokers that `make test`
//! starts (`scripts/services.sh`): plaintext (`INTEGRA_TEST_KAFKA_BROKERS` to use another), TLS,
//! and SASL (SCRAM) over TLS; refused credentials and certificates; and the faults only Kafka has,
//! on brokers of their own. Each test has a topic prefix of its own.

#![allow(clippy::unwrap_used, missing_docs)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use integra_kafka::{
    verify_access, AccessError, KafkaBus, KafkaConfig, Sasl, SaslMechanism, Security,
    SecurityProtocol,
};
use integra_ports::{Bus, Outbound};
use integra_testkit::{eventually, tls_file, Daemon};

fn brokers() -> String {
    std::env::var("INTEGRA_TEST_KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into())
}

fn config(brokers: String, prefix: &str, timeout: Duration) -> KafkaConfig {
    KafkaConfig {
        topic_prefix: prefix.to_owned(),
        timeout,
        ..KafkaConfig::new(brokers)
    }
}

/// A file of the test CA's that `scripts/services.sh` made (it signed stunnel's certificate).
fn ca(name: &str) -> Option<PathBuf> {
    Some(tls_file(name))
}

/// TLS on 127.0.0.1:9093 (`scripts/services.sh kafka-tls`).
fn tls(prefix: &str) -> KafkaConfig {
    KafkaConfig {
        security: Security {
            protocol: SecurityProtocol::Ssl,
            ssl_ca_file: ca("ca.pem"),
            ..Security::default()
        },
        ..config("127.0.0.1:9093".into(), prefix, Duration::from_secs(10))
    }
}

/// SASL over TLS on 127.0.0.1:9095, as the user `scripts/services.sh kafka-sasl` made.
fn sasl_ssl(prefix: &str, mechanism: SaslMechanism, password: &str) -> KafkaConfig {
    KafkaConfig {
        security: Security {
            protocol: SecurityProtocol::SaslSsl,
            sasl: Some(Sasl {
                mechanism,
                username: "integra".into(),
                password: password.into(),
            }),
            ssl_ca_file: ca("ca.pem"),
            ..Security::default()
        },
        ..config("127.0.0.1:9095".into(), prefix, Duration::from_secs(10))
    }
}

async fn connected(config: KafkaConfig) -> Arc<dyn Bus> {
    let bus = KafkaBus::new(&config).unwrap();
    bus.ping().await.unwrap_or_else(|e| {
        panic!(
            "a Kafka broker must run at {} (make test starts it): {e}",
            config.brokers
        )
    });
    Arc::new(bus)
}

async fn isolated(prefix: String) -> Arc<dyn Bus> {
    connected(config(brokers(), &prefix, Duration::from_secs(10))).await
}

integra_conformance::bus_suite!(isolated);

mod over_tls {
    use super::*;

    async fn isolated(prefix: String) -> Arc<dyn Bus> {
        connected(tls(&prefix)).await
    }

    integra_conformance::bus_suite!(isolated);
}

mod over_sasl_ssl {
    use super::*;

    async fn isolated(prefix: String) -> Arc<dyn Bus> {
        connected(sasl_ssl(
            &prefix,
            SaslMechanism::ScramSha512,
            "integra-test-password",
        ))
        .await
    }

    integra_conformance::bus_suite!(isolated);
}

#[tokio::test(flavor = "multi_thread")]
async fn scram_sha_256_is_accepted_and_a_record_goes_through() {
    let config = sasl_ssl(
        "sha256",
        SaslMechanism::ScramSha256,
        "integra-test-password",
    );
    verify_access(&config, Duration::from_secs(10))
        .await
        .unwrap();
    let bus = connected(config).await;
    let stored = bus
        .publish(&record(1), Duration::from_secs(10))
        .await
        .unwrap();
    assert!(stored.offset >= 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_password_is_refused_at_once_and_never_shown() {
    let config = sasl_ssl("refused", SaslMechanism::ScramSha512, "not-the-password");
    let started = std::time::Instant::now();
    let e = verify_access(&config, Duration::from_secs(10))
        .await
        .unwrap_err();
    assert!(matches!(e, AccessError::Refused(_)), "{e:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let shown = format!("{e} {e:?} {config:?}");
    assert!(!shown.contains("not-the-password"), "{shown}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broker_certificate_from_an_unknown_ca_is_refused() {
    let config = KafkaConfig {
        security: Security {
            ssl_ca_file: ca("other-ca.pem"),
            ..tls("unknown-ca").security
        },
        ..tls("unknown-ca")
    };
    let e = verify_access(&config, Duration::from_secs(10))
        .await
        .unwrap_err();
    assert!(matches!(e, AccessError::Tls(_)), "{e:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_librdkafka_property_is_refused_by_name() {
    let mut config = tls("bad-property");
    config
        .librdkafka
        .insert("no.such.property".into(), "1".into());
    let e = verify_access(&config, Duration::from_secs(2))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, AccessError::Config(why) if why.contains("no.such.property")),
        "{e:?}"
    );
}

fn record(n: usize) -> Outbound {
    Outbound {
        topic: "integra.ws".into(),
        key: format!("k{n}"),
        payload: format!("{n}").into_bytes(),
        headers: vec![],
    }
}

/// A broker that came back empty has partitions that end before the positions a subscription
/// had read (Tansu answers such a fetch with nothing, where Apache Kafka says out of range). The
/// subscription ends, so that its subscriber subscribes again, instead of staying silent.
#[tokio::test(flavor = "multi_thread")]
async fn a_subscription_to_a_broker_that_came_back_empty_ends() {
    let mut broker = Daemon::tansu().await;
    let bus = KafkaBus::new(&config(broker.address(), "ws", Duration::from_secs(2))).unwrap();
    let mut records = bus.subscribe("integra.ws").await.unwrap();
    for n in 0..30 {
        bus.publish(&record(n), Duration::from_secs(2))
            .await
            .unwrap();
    }
    for _ in 0..30 {
        tokio::time::timeout(Duration::from_secs(10), records.next())
            .await
            .expect("a record published did not arrive")
            .expect("the subscription ended while the broker was up");
    }

    broker.kill();
    broker.start().await;
    eventually(
        Duration::from_secs(15),
        "a publish on the new broker",
        || {
            let bus = &bus;
            async move { bus.publish(&record(0), Duration::from_secs(2)).await.ok() }
        },
    )
    .await;
    let ended = tokio::time::timeout(Duration::from_secs(15), async {
        while records.next().await.is_some() {}
    })
    .await;
    assert!(
        ended.is_ok(),
        "the subscription still reads the broker's old partitions"
    );
}
