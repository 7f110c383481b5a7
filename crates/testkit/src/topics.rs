//! Reading a topic from its beginning, as a downstream consumer would, to check what a test or
//! the soak published.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

/// One record of a topic.
#[derive(Debug, Clone)]
pub struct TopicRecord {
    /// Its key, as text.
    pub key: String,
    /// Its value.
    pub payload: Vec<u8>,
    /// Its partition and offset.
    pub partition: i32,
    /// See `partition`.
    pub offset: i64,
}

/// Every record of `topic`, from the beginning of each partition to its current end. Blocking:
/// call it from a blocking thread. An unknown topic reads as empty.
///
/// # Panics
/// When the broker cannot be reached, or the topic is not read to its end within `within`.
pub fn read_topic(brokers: &str, topic: &str, within: Duration) -> Vec<TopicRecord> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", format!("integra-check-{}", std::process::id()))
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .create()
        .expect("a consumer");
    let metadata = consumer
        .fetch_metadata(Some(topic), within)
        .expect("the broker answers metadata requests");
    let mut assignment = TopicPartitionList::new();
    let mut ends = Vec::new();
    for partition in metadata.topics().iter().flat_map(|t| t.partitions()) {
        let (low, high) = consumer
            .fetch_watermarks(topic, partition.id(), within)
            .expect("watermarks");
        if high > low {
            assignment
                .add_partition_offset(topic, partition.id(), Offset::Offset(low))
                .expect("an assignment");
            ends.push((partition.id(), high));
        }
    }
    if ends.is_empty() {
        return Vec::new();
    }
    consumer.assign(&assignment).expect("assigned");
    let deadline = Instant::now() + within;
    let mut records = Vec::new();
    // Partitions not read to their end yet: partition → the offset after its last record.
    let mut unread: HashMap<i32, i64> = ends.into_iter().collect();
    while !unread.is_empty() {
        assert!(
            Instant::now() < deadline,
            "{topic} not read to its end within {within:?}"
        );
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => {
                if unread
                    .get(&m.partition())
                    .is_some_and(|end| m.offset() + 1 >= *end)
                {
                    unread.remove(&m.partition());
                }
                records.push(TopicRecord {
                    key: String::from_utf8_lossy(m.key().unwrap_or_default()).into_owned(),
                    payload: m.payload().unwrap_or_default().to_vec(),
                    partition: m.partition(),
                    offset: m.offset(),
                });
            }
            Some(Err(e)) => panic!("reading {topic}: {e}"),
            None => {}
        }
    }
    records
}
