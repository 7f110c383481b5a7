//! The Bus suite. Each function's name is what it shows.

#![allow(missing_docs)]

use std::time::Duration;

use futures_util::StreamExt;
use integra_domain::Id;
use integra_ports::{BusError, Inbound, Outbound, Subscription};

use crate::BusFactory;

fn prefix() -> String {
    format!("t{}.", Id::generate().as_str().replace('-', ""))
}

fn record(topic: &str, key: &str, payload: &str) -> Outbound {
    Outbound {
        topic: topic.to_owned(),
        key: key.to_owned(),
        payload: payload.as_bytes().to_vec(),
        headers: vec![("content-type".into(), "application/json".into())],
    }
}

async fn next(sub: &mut Subscription) -> Inbound {
    tokio::time::timeout(Duration::from_secs(20), sub.next())
        .await
        .expect("no record within 20 s")
        .expect("subscription ended")
}

pub async fn a_publish_is_acknowledged_with_increasing_offsets(factory: &impl BusFactory) {
    let prefix = prefix();
    let bus = factory(prefix.clone()).await;
    let a = bus
        .publish(&record("messages.email", "k", "{}"))
        .await
        .unwrap();
    let b = bus
        .publish(&record("messages.email", "k", "{}"))
        .await
        .unwrap();
    assert_eq!(a.topico, format!("{prefix}messages.email"));
    assert_eq!(a.particao, b.particao, "one key, one partition");
    assert!(b.offset > a.offset);
}

pub async fn a_subscriber_receives_what_is_published_after_it_subscribed(
    factory: &impl BusFactory,
) {
    let bus = factory(prefix()).await;
    bus.publish(&record("fan", "before", "0")).await.unwrap();
    let mut sub = bus.subscribe("fan").await.unwrap();
    for i in 1..=3 {
        bus.publish(&record("fan", "k", &i.to_string()))
            .await
            .unwrap();
    }
    for i in 1..=3 {
        let got = next(&mut sub).await;
        assert_eq!(
            (got.key.as_deref(), got.payload),
            (Some("k"), i.to_string().into_bytes())
        );
    }
}

pub async fn every_subscriber_receives_every_record(factory: &impl BusFactory) {
    let bus = factory(prefix()).await;
    let mut a = bus.subscribe("fan").await.unwrap();
    let mut b = bus.subscribe("fan").await.unwrap();
    bus.publish(&record("fan", "k", "hello")).await.unwrap();
    assert_eq!(next(&mut a).await.payload, b"hello");
    assert_eq!(next(&mut b).await.payload, b"hello");
}

pub async fn records_over_the_size_limit_are_rejected(factory: &impl BusFactory) {
    let bus = factory(prefix()).await;
    let huge = "x".repeat(2 * 1024 * 1024);
    match bus.publish(&record("big", "k", &huge)).await {
        Err(BusError::Rejected(_)) => {}
        other => panic!("a 2 MiB record was not rejected: {other:?}"),
    }
}

pub async fn the_broker_answers_pings(factory: &impl BusFactory) {
    factory(prefix()).await.ping().await.unwrap();
}
