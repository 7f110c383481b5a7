//! The start-up check: whether the brokers take this client's TLS and credentials. A broker that
//! cannot be reached is not a reason to refuse to start (the bus reconnects, and `/readyz` tells);
//! a refused password or an unknown certificate authority is, and says which setting is wrong.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use rdkafka::client::ClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, DeliveryResult, Producer, ProducerContext};

use crate::config::without_values;
use crate::KafkaConfig;

/// Why the brokers could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccessError {
    /// librdkafka refused the configuration (an unknown property, a file it cannot read).
    #[error("librdkafka refused the configuration: {0}")]
    Config(String),
    /// The brokers refused the SASL credentials.
    #[error("the broker refused the credentials: {0}")]
    Refused(String),
    /// The TLS handshake failed: an unknown certificate authority, a name that does not match,
    /// or a broker that does not speak TLS.
    #[error("TLS with the broker failed: {0}")]
    Tls(String),
    /// No broker answered in time.
    #[error("no broker answered: {0}")]
    Unreachable(String),
}

/// Keeps the first authentication or TLS failure librdkafka reports, and whether every broker
/// was found down.
#[derive(Default)]
struct Watch {
    failure: Mutex<Option<AccessError>>,
    all_down: AtomicBool,
}

impl ClientContext for Watch {
    fn error(&self, error: KafkaError, reason: &str) {
        let failure = match error.rdkafka_error_code() {
            Some(RDKafkaErrorCode::Authentication) => AccessError::Refused(reason.to_owned()),
            Some(RDKafkaErrorCode::SSL) => AccessError::Tls(reason.to_owned()),
            Some(RDKafkaErrorCode::AllBrokersDown) => {
                self.all_down.store(true, Ordering::Relaxed);
                return;
            }
            _ => return,
        };
        self.failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_or_insert(failure);
    }
}

/// It sends nothing: it only asks for metadata.
impl ProducerContext for Watch {
    type DeliveryOpaque = ();

    fn delivery(&self, _: &DeliveryResult<'_>, _: Self::DeliveryOpaque) {}
}

/// Asks the brokers for metadata with the bus's configuration, for at most `within`.
///
/// # Errors
/// [`AccessError`]: the configuration, the credentials or TLS refused, or no broker answered.
pub async fn verify_access(config: &KafkaConfig, within: Duration) -> Result<(), AccessError> {
    let producer: BaseProducer<Watch> = config
        .client(|_| {})
        .create_with_context(Watch::default())
        .map_err(|e| AccessError::Config(without_values(&e.to_string())))?;
    tokio::task::spawn_blocking(move || {
        let mut deadline = Instant::now() + within;
        loop {
            // Short attempts, so that a refusal ends the wait at once.
            let attempt = deadline
                .saturating_duration_since(Instant::now())
                .min(Duration::from_millis(250));
            let answer = producer.client().fetch_metadata(None, attempt);
            // librdkafka hands its error events to the context only when the client is polled.
            producer.poll(Duration::ZERO);
            if let Some(failure) = producer
                .context()
                .failure
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take()
            {
                return Err(failure);
            }
            match answer {
                Ok(_) => return Ok(()),
                Err(e) if Instant::now() >= deadline => {
                    return Err(AccessError::Unreachable(e.to_string()))
                }
                // Every broker refused the connection: one more attempt, for a refusal of the
                // credentials or the certificate to arrive, then no need to wait longer.
                Err(_) if producer.context().all_down.swap(false, Ordering::Relaxed) => {
                    deadline = deadline.min(Instant::now() + Duration::from_millis(250));
                }
                Err(_) => {}
            }
        }
    })
    .await
    .map_err(|e| AccessError::Unreachable(format!("the check's task failed: {e}")))?
}
