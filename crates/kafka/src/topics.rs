//! Topics are created by the bus on first use, never by the broker (the clients ask it not to,
//! with `allow.auto.create.topics=false`): a managed Kafka often disables
//! `auto.create.topics.enable`, a durable Tansu never creates topics by itself, a broker restarted
//! empty has forgotten them, and one that creates them creates them with its own partition count,
//! where the fan-out topic needs exactly one.

use std::collections::HashSet;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use integra_ports::BusError;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::util::Timeout;

use crate::config::without_values;
use crate::{classify, KafkaConfig};

/// How many partitions a created topic gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Partitions {
    /// The broker's `num.partitions`, with its `default.replication.factor` (KIP-464).
    BrokerDefault,
    /// Exactly one: every reader sees every record in one order.
    One,
}

/// What [`Topics::ensure`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ensured {
    /// The topic exists.
    Exists,
    /// The broker refused to create it (the client may not create topics, or a policy forbids
    /// it): it may exist anyway. Not asked again until [`Topics::forget`].
    Refused(String),
}

/// Creates topics, and remembers which ones it already created (or found existing).
pub(crate) struct Topics {
    admin: AdminClient<DefaultClientContext>,
    known: Mutex<HashSet<String>>,
}

impl Topics {
    pub(crate) fn new(config: &KafkaConfig) -> Result<Self, BusError> {
        let admin = config.client(|_| {}).create().map_err(|e| {
            BusError::Unavailable(format!("kafka admin: {}", without_values(&e.to_string())))
        })?;
        Ok(Self {
            admin,
            known: Mutex::new(HashSet::new()),
        })
    }

    fn is_known(&self, topic: &str) -> bool {
        self.known
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(topic)
    }

    /// Makes sure `topic` exists, creating it unless this bus created or found it before. Waits
    /// at most `within`.
    ///
    /// # Errors
    /// No broker answered within `within`.
    pub(crate) async fn ensure(
        &self,
        topic: &str,
        partitions: Partitions,
        within: Duration,
    ) -> Result<Ensured, BusError> {
        if self.is_known(topic) {
            return Ok(Ensured::Exists);
        }
        let new_topic = match partitions {
            Partitions::BrokerDefault => NewTopic::new(topic, -1, TopicReplication::Fixed(-1)),
            Partitions::One => NewTopic::new(topic, 1, TopicReplication::Fixed(-1)),
        };
        let options = AdminOptions::new()
            .request_timeout(Some(Timeout::After(within)))
            .operation_timeout(Some(Timeout::After(within)));
        let created =
            tokio::time::timeout(within, self.admin.create_topics(&[new_topic], &options))
                .await
                .map_err(|_| {
                    BusError::Timeout(format!(
                        "topic {topic} not created within {} ms",
                        within.as_millis()
                    ))
                })?
                .map_err(|e| classify(&e))?;
        let ensured = match created.into_iter().next() {
            Some(Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists))) | None => Ensured::Exists,
            Some(Err((_, code))) => {
                tracing::warn!(topic, %code, "the broker refused to create a topic; using it anyway");
                Ensured::Refused(code.to_string())
            }
        };
        self.known
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(topic.to_owned());
        Ok(ensured)
    }

    /// Forgets that `topic` exists: the broker said it does not, or a record for it got no
    /// answer (it was deleted, or the broker came back empty), so the next use makes sure again.
    pub(crate) fn forget(&self, topic: &str) {
        let forgotten = self
            .known
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(topic);
        if forgotten {
            tracing::info!(topic, "topic checked again on next use");
        }
    }
}
