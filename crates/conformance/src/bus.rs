//! The Bus suite. Each function's name is what it shows.

#![allow(missing_docs)]

use std::time::Duration;

use futures_util::StreamExt;
use integra_domain::{Id, TimeRange, Timestamp};
use integra_ports::{BusError, Inbound, Outbound, Subscription};

use crate::BusFactory;

/// How long a publish of the suites may take.
const WITHIN: Duration = Duration::from_secs(10);

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
        .publish(&record("messages.email", "k", "{}"), WITHIN)
        .await
        .unwrap();
    let b = bus
        .publish(&record("messages.email", "k", "{}"), WITHIN)
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
    bus.publish(&record("fan", "before", "0"), WITHIN)
        .await
        .unwrap();
    let mut sub = bus.subscribe("fan").await.unwrap();
    for i in 1..=3 {
        bus.publish(&record("fan", "k", &i.to_string()), WITHIN)
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
    bus.publish(&record("fan", "k", "hello"), WITHIN)
        .await
        .unwrap();
    assert_eq!(next(&mut a).await.payload, b"hello");
    assert_eq!(next(&mut b).await.payload, b"hello");
}

pub async fn records_over_the_size_limit_are_rejected(factory: &impl BusFactory) {
    let bus = factory(prefix()).await;
    let huge = "x".repeat(2 * 1024 * 1024);
    match bus.publish(&record("big", "k", &huge), WITHIN).await {
        Err(BusError::Rejected(_)) => {}
        other => panic!("a 2 MiB record was not rejected: {other:?}"),
    }
}

pub async fn the_broker_answers_pings(factory: &impl BusFactory) {
    factory(prefix()).await.ping().await.unwrap();
}

pub async fn a_stored_record_is_found_by_its_key_and_time(factory: &impl BusFactory) {
    let bus = factory(prefix()).await;
    let before = Timestamp::now();
    for key in ["a", "b", "c"] {
        bus.publish(&record("messages.sms", "noise", "{}"), WITHIN)
            .await
            .unwrap();
        bus.publish(&record("messages.sms", key, "{}"), WITHIN)
            .await
            .unwrap();
    }
    let stored = bus
        .publish(&record("messages.sms", "wanted", "{}"), WITHIN)
        .await
        .unwrap();
    let after = Timestamp::now();
    let sent = TimeRange::new(Some(before), Some(after)).unwrap();
    assert_eq!(
        bus.find("messages.sms", "wanted", sent).await.unwrap(),
        Some(stored)
    );
    assert_eq!(
        bus.find("messages.sms", "absent", sent).await.unwrap(),
        None
    );
    assert_eq!(
        bus.find("messages.email", "wanted", sent).await.unwrap(),
        None,
        "another topic"
    );
}

pub async fn a_record_sent_outside_the_range_is_not_found(factory: &impl BusFactory) {
    let bus = factory(prefix()).await;
    bus.publish(&record("messages.push", "k", "{}"), WITHIN)
        .await
        .unwrap();
    let later = Timestamp::now().plus_millis(60_000);
    let sent = TimeRange::new(Some(later), Some(later.plus_millis(1_000))).unwrap();
    assert_eq!(bus.find("messages.push", "k", sent).await.unwrap(), None);
}
