//! The fan-out through the bus: every broadcast, personal message and event is one record on the
//! fan-out topic, and every instance delivers what it receives there to its own connections.
//! Each instance also sends itself a heartbeat, to know its subscription works.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use integra_domain::Timestamp;
use integra_ports::{Inbound, Outbound};
use serde::{Deserialize, Serialize};

use super::Inner;
use crate::{topics, ServiceError};

/// A record on the fan-out topic. Its field names are internal, not part of the contract.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub(super) enum Record {
    /// For every connection.
    All { text: String },
    /// For every connection, several texts in order (events, batched).
    Many { texts: Vec<String> },
    /// For one connection.
    One { to: String, text: String },
    /// An instance checking its own subscription.
    Heartbeat { instance: String },
}

impl Record {
    pub(super) fn all(text: &str) -> Self {
        Self::All {
            text: text.to_owned(),
        }
    }

    pub(super) fn one(to: &str, text: &str) -> Self {
        Self::One {
            to: to.to_owned(),
            text: text.to_owned(),
        }
    }
}

impl Inner {
    /// Publishes a record on the fan-out topic.
    pub(super) async fn fan_out(&self, record: &Record) -> Result<(), ServiceError> {
        // Serializing strings into JSON cannot fail.
        let payload = serde_json::to_vec(record).unwrap_or_default();
        let outbound = Outbound {
            topic: topics::WS_FANOUT.to_owned(),
            key: self.instance.clone(),
            payload,
            headers: vec![("content-type".to_owned(), "application/json".to_owned())],
        };
        self.ports
            .publish(&outbound, self.config.publish_timeout)
            .await
            .map(|_| ())
            .map_err(|cause| ServiceError::publish(None, cause))
    }

    /// Delivers what arrives on the fan-out topic, subscribing again whenever the stream breaks.
    pub(super) async fn subscribe_forever(self: Arc<Self>) {
        loop {
            match self.ports.bus.subscribe(topics::WS_FANOUT).await {
                Ok(mut records) => {
                    tracing::debug!(instance = %self.instance, "fan-out subscription started");
                    self.send_heartbeat().await;
                    while let Some(record) = records.next().await {
                        self.receive(&record);
                    }
                    tracing::warn!("fan-out subscription ended; subscribing again");
                }
                Err(e) => tracing::warn!(error = %e, "fan-out subscription failed; retrying"),
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    fn receive(&self, record: &Inbound) {
        match serde_json::from_slice::<Record>(&record.payload) {
            Ok(Record::All { text }) => self.deliver(None, &Arc::from(text)),
            Ok(Record::Many { texts }) => texts
                .into_iter()
                .for_each(|t| self.deliver(None, &Arc::from(t))),
            Ok(Record::One { to, text }) => self.deliver(Some(&to), &Arc::from(text)),
            Ok(Record::Heartbeat { instance }) if instance == self.instance => {
                self.last_heartbeat_ms
                    .store(Timestamp::now().millis(), Ordering::Relaxed);
            }
            Ok(Record::Heartbeat { .. }) => {}
            Err(e) => tracing::warn!(error = %e, "unreadable fan-out record skipped"),
        }
    }

    /// Queues `text` for one connection or all; those whose queue is full are closed.
    fn deliver(&self, to: Option<&str>, text: &Arc<str>) {
        let overflowed = self.registry.deliver(to, text);
        if overflowed.is_empty() {
            return;
        }
        for id in &overflowed {
            tracing::info!(conexao_id = %id, "closed a connection whose queue is full");
        }
        self.ports
            .metrics
            .ws_connections(i64::try_from(self.registry.len()).unwrap_or(i64::MAX));
    }

    async fn send_heartbeat(&self) {
        let heartbeat = Record::Heartbeat {
            instance: self.instance.clone(),
        };
        if let Err(e) = self.fan_out(&heartbeat).await {
            tracing::debug!(error = %e, "heartbeat not published");
        }
    }

    pub(super) async fn heartbeat_forever(self: Arc<Self>) {
        let mut tick = tokio::time::interval(self.config.heartbeat_every);
        loop {
            tick.tick().await;
            self.send_heartbeat().await;
        }
    }
}
