//! A [`Bus`] over Kafka, with rdkafka (librdkafka).
//!
//! - **Publishing**: one shared idempotent producer (`acks=all`, `enable.idempotence=true`,
//!   `linger.ms` from `bus.linger_ms`). A publish answers once the broker acknowledged the
//!   record, with its topic, partition and offset, or fails after `bus.timeout_ms`. The
//!   producer is replaced when it can no longer deliver (`producer.rs`); topics are created on
//!   first use (`topics.rs`).
//! - **Errors** are classified here and no rdkafka type leaves the crate: a delivery timeout is
//!   [`BusError::Timeout`]; a record the broker will never take (too large, invalid topic) is
//!   [`BusError::Rejected`]; anything else (broker down, refused) is [`BusError::Unavailable`].
//! - **Subscriptions** are fan-out (`subscription.rs`): every instance receives every record
//!   published after it subscribed.
//! - **Finding** a record by key and time (`find.rs`) tells whether a publish that got no answer
//!   was stored after all.
//! - librdkafka's blocking calls (metadata, watermarks, assignment, destruction) run on tokio's
//!   blocking pool, never on the async workers.

mod access;
mod config;
mod find;
mod producer;
mod subscription;
mod topics;

use std::time::{Duration, Instant};

use async_trait::async_trait;
use integra_domain::{CoordenadasKafka, TimeRange};
use integra_ports::{Bus, BusError, Outbound, Subscription};
use rdkafka::client::ClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureRecord, Producer};
use rdkafka::util::Timeout;

pub use access::{verify_access, AccessError};
pub use config::{KafkaConfig, Sasl, SaslMechanism, Security, SecurityProtocol};
use producer::{Healing, Verdict};
use topics::{Partitions, Topics};

/// Sends librdkafka's error events to the log.
#[derive(Clone, Default)]
struct Logged;

impl ClientContext for Logged {
    fn error(&self, error: KafkaError, reason: &str) {
        tracing::warn!(error = %error, reason, "kafka client error");
    }
}

/// The Kafka [`Bus`].
pub struct KafkaBus {
    config: KafkaConfig,
    producer: Healing,
    topics: Topics,
    finder: std::sync::Arc<find::Finder>,
}

fn millis(d: Duration) -> String {
    d.as_millis().max(1).to_string()
}

fn classify(e: &KafkaError) -> BusError {
    match e.rdkafka_error_code() {
        Some(
            RDKafkaErrorCode::MessageTimedOut
            | RDKafkaErrorCode::RequestTimedOut
            | RDKafkaErrorCode::OperationTimedOut,
        ) => BusError::Timeout(e.to_string()),
        Some(
            RDKafkaErrorCode::MessageSizeTooLarge
            | RDKafkaErrorCode::InvalidMessageSize
            | RDKafkaErrorCode::MessageBatchTooLarge
            | RDKafkaErrorCode::InvalidTopic,
        ) => BusError::Rejected(e.to_string()),
        _ => BusError::Unavailable(e.to_string()),
    }
}

fn blocking_failed(e: tokio::task::JoinError) -> BusError {
    BusError::Unavailable(format!("kafka client task failed: {e}"))
}

/// A consumer's configuration for reading by hand: a group of its own (`integra-{purpose}-{id}`)
/// that never commits, and no topic created by asking for it.
fn reader_config(config: &KafkaConfig, purpose: &str) -> rdkafka::config::ClientConfig {
    config.client(|reader| {
        reader
            .set(
                "group.id",
                format!("integra-{purpose}-{}", integra_domain::Id::generate()),
            )
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("allow.auto.create.topics", "false");
    })
}

/// Whether the broker said the topic does not exist.
fn unknown_topic(e: &KafkaError) -> bool {
    matches!(
        e.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::UnknownTopicOrPartition
                | RDKafkaErrorCode::UnknownTopic
                | RDKafkaErrorCode::UnknownPartition
        )
    )
}

/// A request that timed out while no broker could be reached was never going to be served: the
/// bus could not be reached (502), it was not merely slow (504).
fn explain(error: BusError, reachable: bool) -> BusError {
    match error {
        BusError::Timeout(why) if !reachable => {
            BusError::Unavailable(format!("no broker can be reached ({why})"))
        }
        other => other,
    }
}

impl KafkaBus {
    /// Creates the producer. It connects lazily: an unreachable broker shows on the first publish
    /// and on [`Bus::ping`].
    ///
    /// # Errors
    /// An invalid configuration.
    pub fn new(config: &KafkaConfig) -> Result<Self, BusError> {
        Ok(Self {
            config: config.clone(),
            producer: Healing::new(config)?,
            topics: Topics::new(config)?,
            finder: find::Finder::new(config),
        })
    }

    /// Whether a broker answers a metadata request now (librdkafka's `AllBrokersDown` events are
    /// not reliable enough to decide: they also fire with "0/2 brokers are down").
    async fn reachable(&self) -> bool {
        let producer = self.producer.lease().producer;
        tokio::task::spawn_blocking(move || {
            producer
                .client()
                .fetch_metadata(None, Duration::from_millis(500))
                .is_ok()
        })
        .await
        .unwrap_or(false)
    }

    fn topic(&self, topic: &str) -> String {
        format!("{}{topic}", self.config.topic_prefix)
    }

    /// Sends `record` to `topic` with the current producer, answering by `deadline`.
    async fn send(
        &self,
        topic: &str,
        record: &Outbound,
        deadline: Instant,
    ) -> Result<CoordenadasKafka, BusError> {
        let headers = record
            .headers
            .iter()
            .fold(OwnedHeaders::new(), |h, (key, value)| {
                h.insert(Header {
                    key: key.as_str(),
                    value: Some(value.as_bytes()),
                })
            });
        let future_record = FutureRecord::to(topic)
            .key(record.key.as_bytes())
            .payload(&record.payload)
            .headers(headers);
        let lease = self.producer.lease();
        let sent = tokio::time::timeout_at(
            deadline.into(),
            lease
                .producer
                .send(future_record, Timeout::After(self.config.timeout)),
        )
        .await;
        let (cause, error) = match sent {
            Ok(Ok(d)) => {
                self.producer.succeeded(&lease);
                return Ok(CoordenadasKafka {
                    topico: topic.to_owned(),
                    particao: d.partition,
                    offset: d.offset,
                });
            }
            Ok(Err((e, _))) => (Some(e.clone()), classify(&e)),
            Err(_) => (
                None,
                BusError::Timeout(format!(
                    "no acknowledgement within {} ms",
                    self.config.timeout.as_millis()
                )),
            ),
        };
        if matches!(error, BusError::Rejected(_)) {
            return Err(error);
        }
        let reachable = self.reachable().await;
        // The broker may have lost the topic (or come back empty): without automatic creation a
        // record for it waits until it times out. The next publish makes sure it exists.
        if reachable && cause.as_ref().is_none_or(unknown_topic) {
            self.topics.forget(topic);
        }
        self.producer
            .failed(&lease, Verdict::of(&lease, cause.as_ref()), reachable);
        Err(explain(error, reachable))
    }
}

#[async_trait]
impl Bus for KafkaBus {
    async fn publish(
        &self,
        record: &Outbound,
        within: Duration,
    ) -> Result<CoordenadasKafka, BusError> {
        // The bus keeps its own deadline: librdkafka never expires a record itself (see
        // `producer`), and a producer whose publish missed it is replaced.
        let deadline = Instant::now() + within.min(self.config.timeout);
        let topic = self.topic(&record.topic);
        if let Err(e) = self
            .topics
            .ensure(
                &topic,
                Partitions::BrokerDefault,
                deadline.saturating_duration_since(Instant::now()),
            )
            .await
        {
            return Err(explain(e, self.reachable().await));
        }
        self.send(&topic, record, deadline).await
    }

    async fn find(
        &self,
        topic: &str,
        key: &str,
        sent: TimeRange,
    ) -> Result<Option<CoordenadasKafka>, BusError> {
        self.finder
            .find(self.topic(topic), key.to_owned(), sent)
            .await
    }

    async fn subscribe(&self, topic: &str) -> Result<Subscription, BusError> {
        let topic = self.topic(topic);
        self.topics
            .ensure(&topic, Partitions::One, self.config.timeout)
            .await?;
        subscription::fan_out(&self.config, topic).await
    }

    async fn ping(&self) -> Result<(), BusError> {
        let producer = self.producer.lease().producer;
        let timeout = self.config.timeout.min(Duration::from_secs(2));
        tokio::task::spawn_blocking(move || {
            producer
                .client()
                .fetch_metadata(None, timeout)
                .map(|_| ())
                .map_err(|e| classify(&e))
        })
        .await
        .map_err(blocking_failed)?
    }
}
