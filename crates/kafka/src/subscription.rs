//! Fan-out subscriptions: each one assigns every partition of its topic, at its current end, to a
//! consumer of its own with no group coordination and no commits, so every instance receives
//! every record published after it subscribed. (A consumer-group subscription with
//! `auto.offset.reset=latest` received nothing produced after its assignment on Tansu 0.6;
//! explicit assignment behaves the same on Tansu and Apache Kafka.)
//!
//! A subscription ends, so that the subscriber subscribes again (which creates the topic and reads
//! its partitions anew), when its topic is no longer the one it assigned: the broker says the
//! topic is gone, its partitions changed, or a partition's end went back behind the position read
//! (a broker that came back empty: Apache Kafka answers the fetch with `OFFSET_OUT_OF_RANGE` and
//! `auto.offset.reset` restarts the partition, but Tansu 0.6 answers nothing and the partition
//! would stay silent until it grew back past the old position). Every [`CHECK_EVERY`] the
//! positions are compared with the partitions' ends. Transport errors are librdkafka's to retry,
//! and a subscription that stays broken otherwise is for the subscriber to notice (the hub does,
//! by its heartbeat).

use std::sync::Arc;
use std::time::Duration;

use futures_util::stream;
use integra_ports::{BusError, Inbound, Subscription};
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use crate::{blocking_failed, classify, reader_config, unknown_topic, KafkaConfig};

/// How often a subscription checks that its topic is still the one it assigned.
const CHECK_EVERY: Duration = Duration::from_secs(2);

/// A consumer destroyed on the blocking pool: closing it waits on librdkafka's threads.
struct Owned(Option<Arc<StreamConsumer>>);

impl Drop for Owned {
    fn drop(&mut self) {
        if let (Some(consumer), Ok(runtime)) =
            (self.0.take(), tokio::runtime::Handle::try_current())
        {
            drop(runtime.spawn_blocking(move || drop(consumer)));
        }
    }
}

impl Owned {
    /// The consumer; `None` only once dropped.
    fn consumer(&self) -> Option<&StreamConsumer> {
        self.0.as_deref()
    }
}

/// Subscribes to `topic` (already prefixed and created).
pub(crate) async fn fan_out(config: &KafkaConfig, topic: String) -> Result<Subscription, BusError> {
    let consumer: StreamConsumer = reader_config(config, "fanout")
        .set("enable.partition.eof", "false")
        .set("fetch.wait.max.ms", "50")
        // An offset past the end means the topic was recreated (a broker that came back empty):
        // everything in the new one is new.
        .set("auto.offset.reset", "earliest")
        .set("reconnect.backoff.max.ms", "2000")
        .create()
        .map_err(|e| BusError::Unavailable(format!("kafka consumer: {e}")))?;
    let consumer = Arc::new(consumer);
    let timeout = config.timeout;
    // Start exactly at each partition's current end, resolved now: a record published after
    // this call returns has a greater offset, so it is received.
    let assigned = Arc::clone(&consumer);
    tokio::task::spawn_blocking(move || assign_at_end(&assigned, &topic, timeout))
        .await
        .map_err(blocking_failed)??;
    let mut check =
        tokio::time::interval_at(tokio::time::Instant::now() + CHECK_EVERY, CHECK_EVERY);
    check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    Ok(Box::pin(stream::unfold(
        Receiving {
            owned: Owned(Some(consumer)),
            check,
            checking: None,
            timeout,
        },
        |mut state| async move {
            loop {
                let consumer = state.owned.consumer()?;
                let idle = state.checking.is_none();
                let checked = async {
                    match state.checking.as_mut() {
                        Some(running) => running.await.unwrap_or(None),
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    received = consumer.recv() => match received {
                        Ok(m) => {
                            let inbound = Inbound {
                                key: m.key().map(|k| String::from_utf8_lossy(k).into_owned()),
                                payload: m.payload().unwrap_or_default().to_vec(),
                            };
                            drop(m);
                            return Some((inbound, state));
                        }
                        Err(e) if unknown_topic(&e) => {
                            tracing::warn!(error = %e, "kafka subscription lost its topic; it ends");
                            return None;
                        }
                        Err(e) => {
                            tracing::debug!(error = %e, "kafka subscription error");
                            tokio::time::sleep(Duration::from_millis(200)).await;
                        }
                    },
                    changed = checked => {
                        state.checking = None;
                        if let Some(why) = changed {
                            tracing::warn!(%why, "kafka subscription no longer matches its topic; it ends");
                            return None;
                        }
                    }
                    _ = state.check.tick(), if idle => {
                        let consumer = Arc::clone(state.owned.0.as_ref()?);
                        let timeout = state.timeout;
                        state.checking = Some(tokio::task::spawn_blocking(move || {
                            topic_changed(&consumer, timeout)
                        }));
                    }
                }
            }
        },
    )))
}

/// A subscription between two records.
struct Receiving {
    owned: Owned,
    /// When to check the topic next.
    check: tokio::time::Interval,
    /// The check running on the blocking pool, if any.
    checking: Option<tokio::task::JoinHandle<Option<String>>>,
    timeout: Duration,
}

/// Why the topic assigned to `consumer` is no longer the one it reads, if it is not: gone, other
/// partitions, or an end behind the position read. `None` also when the broker cannot tell now
/// (unreachable): librdkafka retries that. Blocking.
fn topic_changed(consumer: &StreamConsumer, timeout: Duration) -> Option<String> {
    let assignment = consumer.assignment().ok()?;
    let elements = assignment.elements();
    let topic = elements.first()?.topic().to_owned();
    let metadata = match consumer.fetch_metadata(Some(&topic), timeout) {
        Ok(metadata) => metadata,
        Err(e) if unknown_topic(&e) => return Some(format!("topic {topic} is gone")),
        Err(_) => return None,
    };
    let described = metadata.topics().first()?;
    if described.error().is_some() {
        return Some(format!("topic {topic} is gone"));
    }
    let mut now: Vec<i32> = described.partitions().iter().map(|p| p.id()).collect();
    let mut read: Vec<i32> = elements.iter().map(|e| e.partition()).collect();
    now.sort_unstable();
    read.sort_unstable();
    if now != read {
        return Some(format!(
            "topic {topic} has partitions {now:?}, not {read:?}"
        ));
    }
    let positions = consumer.position().ok()?;
    for element in positions.elements() {
        let Offset::Offset(position) = element.offset() else {
            continue;
        };
        match consumer.fetch_watermarks(&topic, element.partition(), timeout) {
            Ok((_, high)) if high < position => {
                return Some(format!(
                    "partition {} ends at {high}, behind the position {position} read",
                    element.partition()
                ));
            }
            Err(e) if unknown_topic(&e) => return Some(format!("topic {topic} is gone")),
            _ => {}
        }
    }
    None
}

fn assign_at_end(
    consumer: &StreamConsumer,
    topic: &str,
    timeout: Duration,
) -> Result<(), BusError> {
    let metadata = consumer
        .fetch_metadata(Some(topic), timeout)
        .map_err(|e| classify(&e))?;
    let partitions: Vec<i32> = metadata
        .topics()
        .iter()
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect();
    if partitions.is_empty() {
        return Err(BusError::Unavailable(format!(
            "topic {topic} has no partitions"
        )));
    }
    let mut assignment = TopicPartitionList::new();
    for partition in partitions {
        let (_, high) = consumer
            .fetch_watermarks(topic, partition, timeout)
            .map_err(|e| classify(&e))?;
        assignment
            .add_partition_offset(topic, partition, Offset::Offset(high))
            .map_err(|e| classify(&e))?;
    }
    consumer.assign(&assignment).map_err(|e| classify(&e))
}
