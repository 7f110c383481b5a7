//! The fan-out through the bus: every broadcast, personal message and event is one record on the
//! fan-out topic, and every instance delivers what it receives there to its own connections.
//! Each instance also sends itself a heartbeat, to know its subscription works.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use integra_domain::Timestamp;
use integra_ports::{Inbound, Outbound, Subscription};
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::registry::Audience;
use super::Inner;
use crate::{topics, ServiceError};

/// A record on the fan-out topic. Its field names are internal, not part of the contract.
/// Read by [`RecordVisitor`]: serde's derive for an internally tagged enum buffers the whole
/// record before reading it, which cost every instance 7% of its CPU on a stream of events.
#[derive(Debug, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub(super) enum Record {
    /// For every connection.
    All { text: String },
    /// For every connection, several texts in order (written by earlier versions; read still).
    Many { texts: Vec<String> },
    /// For every connection, several events in order, batched: each a JSON text, carried in the
    /// record as JSON (not as a string), so that it is neither escaped nor unescaped on the way.
    #[serde(skip)]
    Events { events: Vec<String> },
    /// Publications on channels, each its JSON ([`integra_domain::Publicacao`]), carried as JSON.
    #[serde(skip)]
    Publications { items: Vec<String> },
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

/// Most bytes of events or publications in one fan-out record: well under the 1 MiB a broker
/// takes by default.
pub(super) const RECORD_BYTES: usize = 512 * 1024;

/// How a record of events begins, as [`Record::to_payload`] writes it.
const EVENTS_HEAD: &[u8] = br#"{"kind":"events""#;

/// How a record of publications begins, as [`Record::to_payload`] writes it.
const PUBLICATIONS_HEAD: &[u8] = br#"{"kind":"publications""#;

impl<'de> Deserialize<'de> for Record {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(RecordVisitor)
    }
}

/// Reads a [`Record`]'s fields in one pass, in any order, then makes the record its `kind` names.
struct RecordVisitor;

impl<'de> Visitor<'de> for RecordVisitor {
    type Value = Record;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a fan-out record")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Record, A::Error> {
        let (mut kind, mut text, mut texts, mut events, mut items, mut to, mut instance, mut sent) =
            (None::<String>, None, None, None, None, None, None, None);
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match key.as_ref() {
                "kind" => kind = Some(map.next_value()?),
                "text" => text = Some(map.next_value()?),
                "texts" => texts = Some(map.next_value()?),
                "events" => events = Some(raw_texts(map.next_value()?)),
                "items" => items = Some(raw_texts(map.next_value()?)),
                "to" => to = Some(map.next_value()?),
                "instance" => instance = Some(map.next_value()?),
                "sent" => sent = Some(map.next_value()?),
                _ => {
                    map.next_value::<de::IgnoredAny>()?;
                }
            }
        }
        let missing = |field: &'static str| de::Error::missing_field(field);
        match kind.as_deref() {
            Some("all") => Ok(Record::All {
                text: text.ok_or_else(|| missing("text"))?,
            }),
            Some("many") => Ok(Record::Many {
                texts: texts.ok_or_else(|| missing("texts"))?,
            }),
            Some("events") => Ok(Record::Events {
                events: events.ok_or_else(|| missing("events"))?,
            }),
            Some("publications") => Ok(Record::Publications {
                items: items.ok_or_else(|| missing("items"))?,
            }),
            Some("one") => Ok(Record::One {
                to: to.ok_or_else(|| missing("to"))?,
                text: text.ok_or_else(|| missing("text"))?,
            }),
            Some("heartbeat") => Ok(Record::Heartbeat {
                instance: instance.ok_or_else(|| missing("instance"))?,
                sent: sent.unwrap_or_default(),
            }),
            Some(other) => Err(de::Error::unknown_variant(
                other,
                &["all", "many", "events", "publications", "one", "heartbeat"],
            )),
            None => Err(missing("kind")),
        }
    }
}

/// JSON values as their texts.
fn raw_texts(raw: Vec<Box<RawValue>>) -> Vec<String> {
    raw.into_iter()
        .map(|e| String::from(Box::<str>::from(e)))
        .collect()
}

/// `head`, then `,"<field>":[` and the JSON texts joined, then `]}`.
fn json_list(head: &[u8], field: &str, texts: &[String]) -> Vec<u8> {
    let size = texts.iter().map(|e| e.len() + 1).sum::<usize>();
    let mut payload = Vec::with_capacity(32 + size);
    payload.extend_from_slice(head);
    payload.extend_from_slice(b",\"");
    payload.extend_from_slice(field.as_bytes());
    payload.extend_from_slice(b"\":[");
    for (i, text) in texts.iter().enumerate() {
        if i > 0 {
            payload.push(b',');
        }
        payload.extend_from_slice(text.as_bytes());
    }
    payload.extend_from_slice(b"]}");
    payload
}

impl Record {
    /// The record as the fan-out topic carries it.
    pub(super) fn to_payload(&self) -> Vec<u8> {
        match self {
            Self::Events { events } => json_list(EVENTS_HEAD, "events", events),
            Self::Publications { items } => json_list(PUBLICATIONS_HEAD, "items", items),
            // Serializing strings into JSON cannot fail.
            _ => serde_json::to_vec(self).unwrap_or_default(),
        }
    }

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
        let payload = record.to_payload();
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
        // Events for no one: an instance with no connection skips reading them (it still reads
        // everything else, its heartbeats among them).
        if self.registry.len() == 0 && record.payload.starts_with(EVENTS_HEAD) {
            return;
        }
        // Publications for no subscriber: the same.
        if record.payload.starts_with(PUBLICATIONS_HEAD) && self.locals.is_empty() {
            return;
        }
        match serde_json::from_slice::<Record>(&record.payload) {
            Ok(Record::All { text }) => self.deliver(Audience::Broadcast, &Arc::from(text)),
            Ok(Record::Many { texts: events } | Record::Events { events }) => events
                .into_iter()
                .for_each(|t| self.deliver(Audience::Events, &Arc::from(t))),
            Ok(Record::Publications { items }) => {
                items.iter().for_each(|json| self.receive_publication(json))
            }
            Ok(Record::One { to, text }) => self.deliver(Audience::One(&to), &Arc::from(text)),
            Ok(Record::Heartbeat { instance, sent }) if instance == self.instance => {
                self.liveness.heartbeat_back(sent);
            }
            Ok(Record::Heartbeat { .. }) => {}
            Err(e) => tracing::warn!(error = %e, "unreadable fan-out record skipped"),
        }
    }

    /// Queues `text` for its audience; those whose queue is full are closed.
    fn deliver(&self, to: Audience<'_>, text: &Arc<str>) {
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn read(json: &str) -> Result<Record, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn every_record_reads_back_as_written_and_its_fields_may_come_in_any_order() {
        let records = [
            Record::all("a \"quoted\" text"),
            Record::Many {
                texts: vec!["1".into(), "{\"x\":2}".into()],
            },
            Record::Events {
                events: vec![
                    r#"{"evento":"alerta.criado","dados":{"t":"a \"b\""}}"#.into(),
                    "2".into(),
                ],
            },
            Record::Publications {
                items: vec![r#"{"canal":"c","offset":1,"dados":{"a":"\"x"}}"#.into()],
            },
            Record::one("c1", "só para ti"),
            Record::Heartbeat {
                instance: "i1".into(),
                sent: 42,
            },
        ];
        for record in records {
            let json = String::from_utf8(record.to_payload()).unwrap();
            assert_eq!(format!("{:?}", read(&json).unwrap()), format!("{record:?}"));
        }
        let reordered = read(r#"{"text":"t","extra":[1],"to":"c2","kind":"one"}"#).unwrap();
        assert_eq!(
            format!("{reordered:?}"),
            format!("{:?}", Record::one("c2", "t"))
        );
        let old_heartbeat = read(r#"{"kind":"heartbeat","instance":"i"}"#).unwrap();
        assert!(matches!(old_heartbeat, Record::Heartbeat { sent: 0, .. }));
    }

    #[test]
    fn a_record_of_an_unknown_kind_or_without_its_fields_is_refused() {
        assert!(read(r#"{"kind":"other","text":"t"}"#).is_err());
        assert!(read(r#"{"kind":"one","text":"t"}"#).is_err());
        assert!(read(r#"{"text":"t"}"#).is_err());
        assert!(read(r#"["all","t"]"#).is_err());
    }
}
