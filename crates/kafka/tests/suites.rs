//! The Bus suite of `integra-conformance`, on the Kafka-compatible broker that `make test` starts
//! (`INTEGRA_TEST_KAFKA_BROKERS` to use another), and the faults only Kafka has, on brokers of
//! their own. Each test has a topic prefix of its own.

#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use integra_kafka::{KafkaBus, KafkaConfig};
use integra_ports::{Bus, Outbound};
use integra_testkit::{eventually, Daemon};

fn brokers() -> String {
    std::env::var("INTEGRA_TEST_KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into())
}

fn config(brokers: String, prefix: &str, timeout: Duration) -> KafkaConfig {
    KafkaConfig {
        brokers,
        topic_prefix: prefix.to_owned(),
        timeout,
        linger: Duration::from_millis(5),
    }
}

async fn isolated(prefix: String) -> Arc<dyn Bus> {
    let bus = KafkaBus::new(&config(brokers(), &prefix, Duration::from_secs(10))).unwrap();
    bus.ping().await.unwrap_or_else(|e| {
        panic!(
            "a Kafka broker must run at {} (make test starts Tansu): {e}",
            brokers()
        )
    });
    Arc::new(bus)
}

integra_conformance::bus_suite!(isolated);

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
