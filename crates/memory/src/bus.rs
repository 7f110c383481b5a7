//! The in-process Bus.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use integra_domain::{CoordenadasKafka, TimeRange, Timestamp};
use integra_ports::{Bus, BusError, Inbound, Outbound, Subscription};
use tokio::sync::broadcast;

/// Records a subscriber may fall behind by before it skips the oldest.
const SUBSCRIBER_BUFFER: usize = 65_536;

/// The latest records of each topic that [`Bus::find`] can find: their key, offset and time.
const FINDABLE: usize = 16_384;

/// An in-process [`Bus`]: one partition per topic with increasing offsets; every subscriber gets
/// every record published after it subscribed. Records over `max_record_bytes` are rejected, as a
/// broker would.
pub struct MemoryBus {
    prefix: String,
    max_record_bytes: usize,
    topics: Mutex<HashMap<String, Topic>>,
}

struct Topic {
    next_offset: i64,
    subscribers: broadcast::Sender<Inbound>,
    /// The latest [`FINDABLE`] records: when they were stored, their key, their offset.
    recent: VecDeque<(Timestamp, String, i64)>,
}

impl MemoryBus {
    /// A bus that puts `prefix` in front of every topic and takes records up to `max_record_bytes`.
    pub fn new(prefix: impl Into<String>, max_record_bytes: usize) -> Self {
        Self {
            prefix: prefix.into(),
            max_record_bytes,
            topics: Mutex::new(HashMap::new()),
        }
    }

    /// Runs `f` on `topic` (named without the prefix, which is the same for all), made on first
    /// use: a publish looks its topic up without writing its name.
    fn with_topic<T>(&self, topic: &str, f: impl FnOnce(&mut Topic) -> T) -> T {
        let mut topics = self.topics.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(entry) = topics.get_mut(topic) {
            return f(entry);
        }
        f(topics.entry(topic.to_owned()).or_insert_with(|| Topic {
            next_offset: 0,
            subscribers: broadcast::channel(SUBSCRIBER_BUFFER).0,
            recent: VecDeque::new(),
        }))
    }

    /// `topic` as the broker names it: after the prefix.
    fn prefixed(&self, topic: &str) -> String {
        [self.prefix.as_str(), topic].concat()
    }
}

impl Default for MemoryBus {
    /// No prefix, records up to 1 MiB (Kafka's default `message.max.bytes`).
    fn default() -> Self {
        Self::new("", 1024 * 1024)
    }
}

#[async_trait]
impl Bus for MemoryBus {
    async fn publish(
        &self,
        record: &Outbound,
        _within: Duration,
    ) -> Result<CoordenadasKafka, BusError> {
        let size = record.payload.len() + record.key.len();
        if size > self.max_record_bytes {
            return Err(BusError::Rejected(format!(
                "record of {size} bytes is over the limit of {} bytes",
                self.max_record_bytes
            )));
        }
        let offset = self.with_topic(&record.topic, |topic| {
            let offset = topic.next_offset;
            topic.next_offset += 1;
            if topic.recent.len() == FINDABLE {
                topic.recent.pop_front();
            }
            topic
                .recent
                .push_back((Timestamp::now(), record.key.clone(), offset));
            // No subscriber is not an error: the record is still "stored" at its offset.
            let _ = topic.subscribers.send(Inbound {
                key: Some(record.key.clone()),
                payload: record.payload.clone(),
            });
            offset
        });
        Ok(CoordenadasKafka {
            topico: self.prefixed(&record.topic),
            particao: 0,
            offset,
        })
    }

    async fn find(
        &self,
        topic: &str,
        key: &str,
        sent: TimeRange,
    ) -> Result<Option<CoordenadasKafka>, BusError> {
        let offset = self.with_topic(topic, |t| {
            t.recent
                .iter()
                .find(|(at, k, _)| k == key && sent.contains(*at))
                .map(|(_, _, offset)| *offset)
        });
        Ok(offset.map(|offset| CoordenadasKafka {
            topico: self.prefixed(topic),
            particao: 0,
            offset,
        }))
    }

    async fn subscribe(&self, topic: &str) -> Result<Subscription, BusError> {
        let rx = self.with_topic(topic, |t| t.subscribers.subscribe());
        Ok(Box::pin(futures_util::stream::unfold(
            rx,
            |mut rx| async move {
                loop {
                    match rx.recv().await {
                        Ok(record) => return Some((record, rx)),
                        // Fell more than SUBSCRIBER_BUFFER records behind: like a consumer whose offsets
                        // were deleted, it goes on from the oldest record still held.
                        Err(broadcast::error::RecvError::Lagged(skipped)) => {
                            tracing::warn!(skipped, "slow subscriber skipped records");
                        }
                        Err(broadcast::error::RecvError::Closed) => return None,
                    }
                }
            },
        )))
    }

    async fn ping(&self) -> Result<(), BusError> {
        Ok(())
    }
}
