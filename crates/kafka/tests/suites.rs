//! The Bus suite of `integra-conformance`, on the Kafka-compatible broker that `make test` starts
//! (`INTEGRA_TEST_KAFKA_BROKERS` to use another). Each test has a topic prefix of its own.

#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use integra_kafka::{KafkaBus, KafkaConfig};
use integra_ports::Bus;

fn brokers() -> String {
    std::env::var("INTEGRA_TEST_KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into())
}

async fn isolated(prefix: String) -> Arc<dyn Bus> {
    let config = KafkaConfig {
        brokers: brokers(),
        topic_prefix: prefix,
        timeout: Duration::from_secs(10),
        linger: Duration::from_millis(5),
    };
    let bus = KafkaBus::new(&config).unwrap();
    bus.ping().await.unwrap_or_else(|e| {
        panic!(
            "a Kafka broker must run at {} (make test starts Tansu): {e}",
            brokers()
        )
    });
    Arc::new(bus)
}

integra_conformance::bus_suite!(isolated);
