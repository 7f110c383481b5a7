//! The shared idempotent producer, replaced when it can no longer deliver.
//!
//! librdkafka reconnects by itself, but an idempotent producer carries state the brokers must
//! agree with (its producer id, epoch and sequence numbers). When they do not, it either fails
//! fatally (an unknown producer id, a fenced epoch), or every record it sends times out while the
//! brokers answer everything else. Both are cured only by a new producer, with a new id. The
//! producer is replaced:
//! - at once, after a fatal error, an error about the producer's own identity, or a publish that
//!   got no answer within `bus.timeout_ms`. librdkafka's own delivery timeout is set later than
//!   the bus's, so it never expires a record itself: expiring one makes it bump its epoch (KIP-360),
//!   which a broker that lost or never kept producer state cannot follow (Tansu 0.6 with SQLite
//!   storage stops serving altogether). A replaced producer also cannot deliver a record late,
//!   after its publish was answered as failed;
//! - after [`STUCK_AFTER`] failed publishes in a row while a broker answers metadata requests, at
//!   most once per `bus.timeout_ms`, for anything else (such as a broker that came back empty).
//!
//! The replaced producer is destroyed on the blocking pool: what it still holds fails at once
//! (librdkafka purges it).

use std::sync::{Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use integra_ports::BusError;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, Producer};

use crate::config::without_values;
use crate::{millis, KafkaConfig, Logged};

/// Failed publishes in a row, while a broker answers, after which the producer is replaced.
pub(crate) const STUCK_AFTER: u32 = 3;

/// How much later than `bus.timeout_ms` librdkafka would expire a record by itself.
const LIBRDKAFKA_GRACE: Duration = Duration::from_secs(5);

/// One producer in the sequence of producers; `generation` tells them apart.
#[derive(Clone)]
pub(crate) struct Lease {
    pub(crate) producer: FutureProducer<Logged>,
    generation: u64,
}

struct Health {
    /// Publishes of the current producer that failed since its last success.
    failed_in_row: u32,
    replaced_at: Instant,
}

/// The shared producer and what decides to replace it.
pub(crate) struct Healing {
    config: KafkaConfig,
    current: RwLock<Lease>,
    health: Mutex<Health>,
}

/// What a failed publish tells about the producer that made it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// It is unusable: replace it now.
    Unusable,
    /// It may be fine (a broker is down, a record was refused).
    Unsure,
}

impl Verdict {
    /// `error` is `None` when the publish got no answer in time.
    pub(crate) fn of(lease: &Lease, error: Option<&KafkaError>) -> Self {
        let Some(error) = error else {
            return Self::Unusable;
        };
        let own_identity = matches!(
            error.rdkafka_error_code(),
            Some(
                RDKafkaErrorCode::MessageTimedOut
                    | RDKafkaErrorCode::Fatal
                    | RDKafkaErrorCode::ProducerFenced
                    | RDKafkaErrorCode::UnknownProducerId
                    | RDKafkaErrorCode::InvalidProducerEpoch
                    | RDKafkaErrorCode::InvalidProducerIdMapping
                    | RDKafkaErrorCode::OutOfOrderSequenceNumber
            )
        );
        if own_identity || lease.producer.client().fatal_error().is_some() {
            Self::Unusable
        } else {
            Self::Unsure
        }
    }
}

impl Healing {
    pub(crate) fn new(config: &KafkaConfig) -> Result<Self, BusError> {
        Ok(Self {
            config: config.clone(),
            current: RwLock::new(Lease {
                producer: create(config)?,
                generation: 0,
            }),
            health: Mutex::new(Health {
                failed_in_row: 0,
                replaced_at: Instant::now(),
            }),
        })
    }

    /// The current producer.
    pub(crate) fn lease(&self) -> Lease {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// A publish by `lease` was acknowledged.
    pub(crate) fn succeeded(&self, lease: &Lease) {
        if lease.generation == self.generation() {
            self.health().failed_in_row = 0;
        }
    }

    /// A publish by `lease` failed; `reachable` is whether a broker answers now. Replaces the
    /// producer if it should be, and returns whether it was.
    pub(crate) fn failed(&self, lease: &Lease, verdict: Verdict, reachable: bool) -> bool {
        let mut health = self.health();
        if lease.generation != self.generation() {
            // Already replaced since this publish started.
            return false;
        }
        health.failed_in_row += 1;
        let stuck = reachable
            && health.failed_in_row >= STUCK_AFTER
            && health.replaced_at.elapsed() >= self.config.timeout;
        if verdict != Verdict::Unusable && !stuck {
            return false;
        }
        let fresh = match create(&self.config) {
            Ok(fresh) => fresh,
            Err(e) => {
                tracing::warn!(error = %e, "kafka producer could not be replaced");
                return false;
            }
        };
        let old = {
            let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
            let generation = current.generation + 1;
            std::mem::replace(
                &mut *current,
                Lease {
                    producer: fresh,
                    generation,
                },
            )
        };
        tracing::warn!(
            ?verdict,
            failed_in_row = health.failed_in_row,
            fatal = ?old.producer.client().fatal_error(),
            generation = old.generation + 1,
            "kafka producer replaced"
        );
        health.failed_in_row = 0;
        health.replaced_at = Instant::now();
        drop(health);
        retire(old.producer);
        true
    }

    fn generation(&self) -> u64 {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .generation
    }

    fn health(&self) -> std::sync::MutexGuard<'_, Health> {
        self.health.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Destroys a replaced producer on the blocking pool: it waits on librdkafka's threads.
fn retire(old: FutureProducer<Logged>) {
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => drop(runtime.spawn_blocking(move || drop(old))),
        Err(_) => drop(old),
    }
}

fn create(config: &KafkaConfig) -> Result<FutureProducer<Logged>, BusError> {
    config
        .client(|client| {
            client
                .set("acks", "all")
                .set("enable.idempotence", "true")
                .set("linger.ms", millis(config.linger))
                // Later than the bus's own deadline: see the module's documentation.
                .set(
                    "message.timeout.ms",
                    millis(config.timeout + LIBRDKAFKA_GRACE),
                )
                .set(
                    "socket.timeout.ms",
                    millis(config.timeout.max(Duration::from_secs(10))),
                )
                .set("reconnect.backoff.max.ms", "2000")
                // Topics are the bus's to create (see `topics`).
                .set("allow.auto.create.topics", "false");
        })
        .create_with_context(Logged)
        .map_err(|e| {
            BusError::Unavailable(format!(
                "kafka producer: {}",
                without_values(&e.to_string())
            ))
        })
}
