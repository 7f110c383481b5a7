//! A [`Bus`] over Kafka, with rdkafka (librdkafka).
//!
//! - **Publishing**: one shared idempotent producer (`acks=all`, `enable.idempotence=true`,
//!   `linger.ms` from `bus.linger_ms`, `message.timeout.ms` from `bus.timeout_ms`). A publish
//!   answers once the broker acknowledged the record, with its topic, partition and offset.
//! - **Errors** are classified here and no rdkafka type leaves the crate: a delivery timeout is
//!   [`BusError::Timeout`]; a record the broker will never take (too large, invalid topic) is
//!   [`BusError::Rejected`]; anything else (broker down, refused) is [`BusError::Unavailable`].
//! - **Subscriptions** are fan-out: each call assigns every partition of the topic, at its current
//!   end, to a consumer of its own with no group coordination and no commits, so every instance
//!   receives every record published after it subscribed. (A consumer-group subscription with
//!   `auto.offset.reset=latest` received nothing produced after its assignment on Tansu 0.6;
//!   explicit assignment behaves the same on Tansu and Apache Kafka.)
//! - librdkafka's blocking calls (metadata, watermarks, assignment) run on tokio's blocking pool,
//!   never on the async workers.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use futures_util::stream;
use integra_domain::CoordenadasKafka;
use integra_ports::{Bus, BusError, Inbound, Outbound, Subscription};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::{ClientContext, DefaultClientContext};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::util::Timeout;
use rdkafka::{Offset, TopicPartitionList};

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
}

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

    /// Replaced when unusable (see [`KafkaBus::replace_if_unusable`]); cloned out before use.
    producer: RwLock<FutureProducer<Logged>>,
    admin: AdminClient<DefaultClientContext>,
    /// Fan-out topics known to exist.
    created: Mutex<HashSet<String>>,
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

impl KafkaBus {
    /// Creates the producer. It connects lazily: an unreachable broker shows on the first publish
    /// and on [`Bus::ping`].
    ///
    /// # Errors
    /// An invalid configuration.
    pub fn new(config: &KafkaConfig) -> Result<Self, BusError> {
        let producer = Self::create_producer(config)?;
        let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
            .set("bootstrap.servers", &config.brokers)
            .create()
            .map_err(|e| BusError::Unavailable(format!("kafka admin: {e}")))?;
        Ok(Self {
            config: config.clone(),
            producer: RwLock::new(producer),
            admin,
            created: Mutex::new(HashSet::new()),
        })
    }

    fn create_producer(config: &KafkaConfig) -> Result<FutureProducer<Logged>, BusError> {
        ClientConfig::new()
            .set("bootstrap.servers", &config.brokers)
            .set("acks", "all")
            .set("enable.idempotence", "true")
            .set("linger.ms", millis(config.linger))
            .set("message.timeout.ms", millis(config.timeout))
            .set(
                "socket.timeout.ms",
                millis(config.timeout.max(Duration::from_secs(10))),
            )
            .set("reconnect.backoff.max.ms", "2000")
            .create_with_context(Logged)
            .map_err(|e| BusError::Unavailable(format!("kafka producer: {e}")))
    }

    fn producer(&self) -> FutureProducer<Logged> {
        self.producer
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// An idempotent producer is unusable once librdkafka declares it fatally failed, or once the
    /// brokers fence its producer id (seen on Tansu after an epoch bump that follows request
    /// timeouts); the remedy for both is a new producer, with a new id. Records the old one held
    /// have already been answered as failed.
    fn replace_if_unusable(&self, error: Option<&KafkaError>) {
        let fenced = error.and_then(KafkaError::rdkafka_error_code)
            == Some(RDKafkaErrorCode::ProducerFenced);
        let fatal = self.producer().client().fatal_error();
        if fatal.is_none() && !fenced {
            return;
        }
        match Self::create_producer(&self.config) {
            Ok(fresh) => {
                tracing::warn!(?fatal, fenced, "kafka producer unusable; replaced");
                let old = std::mem::replace(
                    &mut *self
                        .producer
                        .write()
                        .unwrap_or_else(PoisonError::into_inner),
                    fresh,
                );
                // Destroying a producer waits on librdkafka's threads: not on an async worker.
                drop(tokio::task::spawn_blocking(move || drop(old)));
            }
            Err(e) => tracing::warn!(error = %e, "kafka producer could not be replaced"),
        }
    }

    /// Whether a broker answers a metadata request now (librdkafka's `AllBrokersDown` events are
    /// not reliable enough to decide: they also fire with "0/2 brokers are down").
    async fn reachable(&self) -> bool {
        let producer = self.producer();
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

    /// Creates a fan-out topic (one partition keeps every instance's view in one order) unless it
    /// exists.
    async fn ensure_topic(&self, topic: &str) -> Result<(), BusError> {
        if self
            .created
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(topic)
        {
            return Ok(());
        }
        let options =
            AdminOptions::new().operation_timeout(Some(Timeout::After(self.config.timeout)));
        let results = self
            .admin
            .create_topics(
                &[NewTopic::new(topic, 1, TopicReplication::Fixed(1))],
                &options,
            )
            .await
            .map_err(|e| classify(&e))?;
        for result in results {
            match result {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((name, code)) => {
                    return Err(BusError::Unavailable(format!(
                        "cannot create topic {name}: {code}"
                    )))
                }
            }
        }
        self.created
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(topic.to_owned());
        Ok(())
    }
}

#[async_trait]
impl Bus for KafkaBus {
    async fn publish(&self, record: &Outbound) -> Result<CoordenadasKafka, BusError> {
        let topic = self.topic(&record.topic);
        let headers = record
            .headers
            .iter()
            .fold(OwnedHeaders::new(), |h, (key, value)| {
                h.insert(Header {
                    key: key.as_str(),
                    value: Some(value.as_bytes()),
                })
            });
        let future_record = FutureRecord::to(&topic)
            .key(record.key.as_bytes())
            .payload(&record.payload)
            .headers(headers);
        // librdkafka scans for expired records about once a second, so its own timeout report can
        // come late: this deadline keeps the answer within the configured timeout.
        let deadline = self.config.timeout + Duration::from_millis(250);
        let producer = self.producer();
        let sent = tokio::time::timeout(
            deadline,
            producer.send(future_record, Timeout::After(self.config.timeout)),
        )
        .await;
        let error = match sent {
            Ok(Ok(d)) => {
                return Ok(CoordenadasKafka {
                    topico: topic,
                    particao: d.partition,
                    offset: d.offset,
                });
            }
            Ok(Err((e, _))) => {
                self.replace_if_unusable(Some(&e));
                classify(&e)
            }
            Err(_) => {
                self.replace_if_unusable(None);
                BusError::Timeout(format!(
                    "no acknowledgement within {} ms",
                    self.config.timeout.as_millis()
                ))
            }
        };
        // A record that timed out while no broker could be reached was never going to be taken:
        // the bus could not be reached (502), it was not merely slow (504).
        let reachable = matches!(error, BusError::Rejected(_)) || self.reachable().await;
        match error {
            BusError::Timeout(why) if !reachable => Err(BusError::Unavailable(format!(
                "no broker can be reached ({why})"
            ))),
            other => Err(other),
        }
    }

    async fn subscribe(&self, topic: &str) -> Result<Subscription, BusError> {
        let topic = self.topic(topic);
        self.ensure_topic(&topic).await?;
        let consumer: StreamConsumer = ClientConfig::new()
            .set("bootstrap.servers", &self.config.brokers)
            .set(
                "group.id",
                format!("integra-fanout-{}", integra_domain::Id::generate()),
            )
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("enable.partition.eof", "false")
            .set("fetch.wait.max.ms", "50")
            .create()
            .map_err(|e| BusError::Unavailable(format!("kafka consumer: {e}")))?;
        let consumer = Arc::new(consumer);
        let timeout = self.config.timeout;
        // Start exactly at each partition's current end, resolved now: a record published after
        // this call returns has a greater offset, so it is received.
        let assigned = Arc::clone(&consumer);
        tokio::task::spawn_blocking(move || -> Result<(), BusError> {
            let metadata = assigned
                .fetch_metadata(Some(&topic), timeout)
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
                let (_, high) = assigned
                    .fetch_watermarks(&topic, partition, timeout)
                    .map_err(|e| classify(&e))?;
                assignment
                    .add_partition_offset(&topic, partition, Offset::Offset(high))
                    .map_err(|e| classify(&e))?;
            }
            assigned.assign(&assignment).map_err(|e| classify(&e))
        })
        .await
        .map_err(blocking_failed)??;
        Ok(Box::pin(stream::unfold(consumer, |consumer| async move {
            loop {
                let inbound = match consumer.recv().await {
                    Ok(m) => Inbound {
                        key: m.key().map(|k| String::from_utf8_lossy(k).into_owned()),
                        payload: m.payload().unwrap_or_default().to_vec(),
                    },
                    // librdkafka retries transport errors itself; a subscription that stays
                    // broken shows as stalled in /readyz.
                    Err(e) => {
                        tracing::warn!(error = %e, "kafka subscription error");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        continue;
                    }
                };
                return Some((inbound, consumer));
            }
        })))
    }

    async fn ping(&self) -> Result<(), BusError> {
        let producer = self.producer();
        let timeout = self.config.timeout.min(Duration::from_secs(2));
        let reachable = tokio::task::spawn_blocking(move || {
            producer
                .client()
                .fetch_metadata(None, timeout)
                .map(|_| ())
                .map_err(|e| classify(&e))
        })
        .await
        .map_err(blocking_failed)?;
        reachable
    }
}
