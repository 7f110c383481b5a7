//! The fan-out through the bus: every broadcast, personal message and event is one record on the
//! fan-out topic, and every instance delivers what it receives there to its own connections.
//! Each instance also sends itself a heartbeat, to know its subscription works.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use integra_domain::Timestamp;
use integra_ports::{Inbound, Outbound, Subscription};
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
    Heartbeat {
        instance: String,
        /// When it was sent (epoch ms).
        #[serde(default)]
        sent: i64,
    },
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
            .map_err(|cause| {
                self.liveness.publish_failed();
                ServiceError::publish(None, cause)
            })
    }

    /// Delivers what arrives on the fan-out topic, subscribing again whenever the subscription
    /// ends or stalls.
    pub(super) async fn subscribe_forever(self: Arc<Self>) {
        loop {
            match self.ports.bus.subscribe(topics::WS_FANOUT).await {
                Ok(records) => {
                    tracing::debug!(instance = %self.instance, "fan-out subscription started");
                    self.send_heartbeat().await;
                    self.receive_until_stalled(records).await;
                }
                Err(e) => tracing::warn!(error = %e, "fan-out subscription failed; retrying"),
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// Delivers `records` until they end or stall (see [`super::liveness`]): a subscription the
    /// broker no longer feeds (its broker lost its state, its topic was recreated) is replaced.
    async fn receive_until_stalled(&self, mut records: Subscription) {
        self.liveness.subscribed();
        let mut check = tokio::time::interval(self.config.heartbeat_every);
        loop {
            tokio::select! {
                record = records.next() => match record {
                    Some(record) => self.receive(&record),
                    None => {
                        tracing::warn!("fan-out subscription ended; subscribing again");
                        return;
                    }
                },
                _ = check.tick() => if self.liveness.stalled() {
                    tracing::warn!(
                        stall_after = ?self.config.stall_after,
                        "fan-out subscription brought nothing; subscribing again"
                    );
                    return;
                }
            }
        }
    }

    fn receive(&self, record: &Inbound) {
        self.liveness.received();
        match serde_json::from_slice::<Record>(&record.payload) {
            Ok(Record::All { text }) => self.deliver(None, &Arc::from(text)),
            Ok(Record::Many { texts }) => texts
                .into_iter()
                .for_each(|t| self.deliver(None, &Arc::from(t))),
            Ok(Record::One { to, text }) => self.deliver(Some(&to), &Arc::from(text)),
            Ok(Record::Heartbeat { instance, sent }) if instance == self.instance => {
                self.liveness.heartbeat_back(sent);
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
            sent: Timestamp::now().millis(),
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
