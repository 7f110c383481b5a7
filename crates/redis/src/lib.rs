//! A [`Store`] over Redis, with fred.
//!
//! # Key layout
//! Under `store.key_prefix` (`P`), for each collection `C` (`message`, `alert`):
//!
//! | key | type | holds |
//! |---|---|---|
//! | `P C:{id}` | string, TTL | the document's JSON, its revision first: `{"_rev":3,"id":…}` |
//! | `P idx:C:{index}` | sorted set | ids scored by creation time (ms): one per filter combination |
//! | `P exp:C` | sorted set | ids scored by expiry time (ms): what to trim from the indexes |
//! | `P members:C` | hash | id → the indexes it is in |
//! | `P metrics:{nome}` | sorted set | `seq|json` samples scored by timestamp (ms): never collapse |
//! | `P metrics.kind` | hash | nome → the tipo its first sample pinned |
//! | `P metrics.series:{nome}` | set | its label sets, for the series cap |
//! | `P metrics.retention` | hash | nome → retention (ms), for trimming on read |
//! | `P ws:conn:{id}` | string, TTL | the instance holding a WebSocket connection |
//!
//! Every write is one Lua script, so a document and its indexes change atomically, and a list is
//! one script call (index range, then `MGET`) whatever the data size: no `SCAN`, no `KEYS`.
//! Expired documents are trimmed from their indexes by the scripts themselves, oldest expiry first.
//!
//! # Redis Cluster
//! The scripts touch a document, its indexes and the expiry set together, so these must share a
//! slot: give `store.key_prefix` a hash tag, such as `{integra}:`. Every key then lives in one slot
//! (one shard, replicated): Cluster brings failover, not sharding, for this layout.

use std::time::Duration;

use async_trait::async_trait;
use fred::prelude::*;
use fred::types::scripts::Script;
use fred::types::Value;
use integra_domain::{Metrica, Timestamp, TipoMetrica};
use integra_ports::{
    Collection, Document, Insert, Page, Replace, SampleQuery, SampleRejection, SeriesLimits, Store,
    StoreError, Versioned,
};

/// Connections to Redis. fred pipelines every command in flight on a connection, and Redis runs
/// one command at a time whatever their number: fewer connections means more commands per
/// system call on both sides. Two (rather than one) keep a long list reply from holding up every
/// write. Measured in POST /messages on Redis (BENCHMARKS.md): 1 and 2 beat 4.
const POOL_SIZE: usize = 2;

/// How to reach Redis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisConfig {
    /// `redis://host:port/db`.
    pub url: String,
    /// Put in front of every key.
    pub key_prefix: String,
    /// Documents expire this long after their last write; `None` keeps them.
    pub ttl: Option<Duration>,
    /// Every command fails after this long.
    pub command_timeout: Duration,
}

/// The Redis [`Store`].
pub struct RedisStore {
    pool: Pool,
    message_keys: CollectionKeys,
    alert_keys: CollectionKeys,
    prefix: String,
    ttl_ms: i64,
    scripts: Scripts,
}

/// The keys of one collection's documents and bookkeeping, made once (see the key layout above).
struct CollectionKeys {
    /// `P C:`: a document's key is this and its id.
    doc_prefix: String,
    /// `P idx:C:`: an index's key is this and its name.
    index_prefix: String,
    /// `P exp:C`.
    expiry: String,
    /// `P members:C`.
    members: String,
}

impl CollectionKeys {
    fn new(prefix: &str, collection: Collection) -> Self {
        let c = collection.key();
        Self {
            doc_prefix: format!("{prefix}{c}:"),
            index_prefix: format!("{prefix}idx:{c}:"),
            expiry: format!("{prefix}exp:{c}"),
            members: format!("{prefix}members:{c}"),
        }
    }
}

struct Scripts {
    insert: Script,
    replace: Script,
    list: Script,
    append_samples: Script,
    query_samples: Script,
}

impl Scripts {
    fn new() -> Self {
        Self {
            insert: Script::from_lua(concat!(
                include_str!("lua/lib.lua"),
                include_str!("lua/insert.lua")
            )),
            replace: Script::from_lua(concat!(
                include_str!("lua/lib.lua"),
                include_str!("lua/replace.lua")
            )),
            list: Script::from_lua(concat!(
                include_str!("lua/lib.lua"),
                include_str!("lua/list.lua")
            )),
            append_samples: Script::from_lua(include_str!("lua/append_samples.lua")),
            query_samples: Script::from_lua(include_str!("lua/query_samples.lua")),
        }
    }
}

/// Classifies fred's errors at the boundary: no fred type leaves this crate.
fn classify(e: &Error) -> StoreError {
    match e.kind() {
        ErrorKind::Timeout => StoreError::Timeout,
        _ => StoreError::Unavailable(format!("redis: {e}")),
    }
}

impl RedisStore {
    /// Connects a pool that reconnects with backoff (100 ms doubling to 2 s, forever).
    ///
    /// # Errors
    /// A bad URL, or Redis unreachable at start-up.
    pub async fn connect(config: RedisConfig) -> Result<Self, StoreError> {
        let fred_config = Config::from_url(&config.url)
            .map_err(|e| StoreError::Unavailable(format!("bad redis url: {e}")))?;
        let pool = Builder::from_config(fred_config)
            .with_connection_config(|c| {
                c.connection_timeout = config.command_timeout;
                c.internal_command_timeout = config.command_timeout;
                c.max_command_attempts = 2;
            })
            .with_performance_config(|p| p.default_command_timeout = config.command_timeout)
            .set_policy(ReconnectPolicy::new_exponential(0, 100, 2000, 2))
            .build_pool(POOL_SIZE)
            .map_err(|e| classify(&e))?;
        pool.init().await.map_err(|e| classify(&e))?;
        let ttl_ms = config
            .ttl
            .map_or(0, |t| i64::try_from(t.as_millis()).unwrap_or(i64::MAX));
        Ok(Self {
            pool,
            message_keys: CollectionKeys::new(&config.key_prefix, Collection::Messages),
            alert_keys: CollectionKeys::new(&config.key_prefix, Collection::Alerts),
            prefix: config.key_prefix,
            ttl_ms,
            scripts: Scripts::new(),
        })
    }

    /// Classifies a command's failure: a timeout while the connection is down means Redis is
    /// unavailable (503), not slow (504).
    fn fail(&self, e: &Error) -> StoreError {
        match classify(e) {
            StoreError::Timeout if !self.pool.is_connected() => {
                StoreError::Unavailable(format!("redis: connection lost ({e})"))
            }
            other => other,
        }
    }

    /// A client that is connected, or `Unavailable` at once: while Redis is down, requests answer
    /// 503 without waiting for the command timeout.
    fn client(&self) -> Result<&Client, StoreError> {
        let client = self.pool.next_connected();
        if client.is_connected() {
            Ok(client)
        } else {
            Err(StoreError::Unavailable(
                "redis: not connected (reconnecting)".into(),
            ))
        }
    }

    fn keys(&self, collection: Collection) -> &CollectionKeys {
        match collection {
            Collection::Messages => &self.message_keys,
            Collection::Alerts => &self.alert_keys,
        }
    }

    fn doc_key(&self, collection: Collection, id: &str) -> String {
        format!("{}{id}", self.keys(collection).doc_prefix)
    }

    /// The keys and arguments of a write (see `write` in `lua/lib.lua`).
    fn write_call(&self, doc: &Document, rev: u64) -> (Vec<String>, Vec<Value>) {
        let k = self.keys(doc.collection);
        let mut keys = Vec::with_capacity(3 + doc.indexes.len());
        keys.extend([
            format!("{}{}", k.doc_prefix, doc.id),
            k.expiry.clone(),
            k.members.clone(),
        ]);
        keys.extend(
            doc.indexes
                .iter()
                .map(|name| format!("{}{name}", k.index_prefix)),
        );
        let args = vec![
            doc.id.as_str().into(),
            with_rev(&doc.body, rev).into(),
            doc.created_ms.into(),
            self.ttl_ms.into(),
            Timestamp::now().millis().into(),
            doc.indexes.join("\n").into(),
            k.index_prefix.as_str().into(),
        ];
        (keys, args)
    }
}

/// The stored form: the revision spliced in as the first member of the JSON object.
fn with_rev(body: &str, rev: u64) -> String {
    match body.strip_prefix('{').map(str::trim_start) {
        Some(rest) if rest.starts_with('}') => format!("{{\"_rev\":{rev}}}"),
        Some(rest) => format!("{{\"_rev\":{rev},{rest}"),
        None => body.to_owned(),
    }
}

/// Reads the stored form back: the revision, and the document without it.
fn split_rev(stored: &str) -> Result<Versioned, StoreError> {
    let corrupt = || StoreError::Unavailable("redis: a stored document has no revision".into());
    let rest = stored.strip_prefix("{\"_rev\":").ok_or_else(corrupt)?;
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let rev = rest[..digits].parse().map_err(|_| corrupt())?;
    let body = match &rest[digits..] {
        "}" => "{}".to_owned(),
        tail => format!("{{{}", tail.strip_prefix(',').ok_or_else(corrupt)?),
    };
    Ok(Versioned { rev, body })
}

fn text(value: Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.to_string()),
        Value::Bytes(b) => String::from_utf8(b.to_vec()).ok(),
        _ => None,
    }
}

#[async_trait]
impl Store for RedisStore {
    async fn insert(&self, doc: &Document) -> Result<Insert, StoreError> {
        let (keys, mut args) = self.write_call(doc, 1);
        args.push(self.keys(doc.collection).doc_prefix.as_str().into());
        let reply: Value = self
            .scripts
            .insert
            .evalsha_with_reload(self.client()?, keys, args)
            .await
            .map_err(|e| self.fail(&e))?;
        match text(reply) {
            None => Ok(Insert::Created),
            Some(stored) => Ok(Insert::Exists(split_rev(&stored)?)),
        }
    }

    async fn replace(&self, doc: &Document, expected: u64) -> Result<Replace, StoreError> {
        let (keys, mut args) = self.write_call(doc, expected + 1);
        args.push(i64::try_from(expected).unwrap_or(i64::MAX).into());
        let reply: Value = self
            .scripts
            .replace
            .evalsha_with_reload(self.client()?, keys, args)
            .await
            .map_err(|e| self.fail(&e))?;
        match reply {
            Value::Integer(1) => Ok(Replace::Done(expected + 1)),
            Value::Integer(_) | Value::Null => Ok(Replace::Stale(None)),
            other => match text(other) {
                Some(stored) => Ok(Replace::Stale(Some(split_rev(&stored)?))),
                None => Err(StoreError::Unavailable(
                    "redis: unexpected reply to replace".into(),
                )),
            },
        }
    }

    async fn get(&self, collection: Collection, id: &str) -> Result<Option<Versioned>, StoreError> {
        let stored: Option<String> = self
            .client()?
            .get(self.doc_key(collection, id))
            .await
            .map_err(|e| self.fail(&e))?;
        stored.as_deref().map(split_rev).transpose()
    }

    async fn list(&self, page: &Page) -> Result<Vec<Versioned>, StoreError> {
        let bound =
            |ms: Option<i64>, open: &str| ms.map_or_else(|| open.to_owned(), |v| v.to_string());
        let k = self.keys(page.collection);
        let keys = vec![
            format!("{}{}", k.index_prefix, page.index),
            k.expiry.clone(),
            k.members.clone(),
        ];
        let args: Vec<Value> = vec![
            bound(page.from_ms, "-inf").into(),
            bound(page.to_ms, "+inf").into(),
            i64::try_from(page.skip).unwrap_or(i64::MAX).into(),
            i64::try_from(page.limit).unwrap_or(i64::MAX).into(),
            if page.ascending { "1" } else { "0" }.into(),
            Timestamp::now().millis().into(),
            k.doc_prefix.as_str().into(),
            k.index_prefix.as_str().into(),
        ];
        let reply: Vec<Value> = self
            .scripts
            .list
            .evalsha_with_reload(self.client()?, keys, args)
            .await
            .map_err(|e| self.fail(&e))?;
        reply
            .into_iter()
            .filter_map(text)
            .map(|s| split_rev(&s))
            .collect()
    }

    async fn append_samples(
        &self,
        samples: &[Metrica],
        limits: SeriesLimits,
    ) -> Result<Result<(), SampleRejection>, StoreError> {
        let mut args: Vec<Value> = vec![
            self.prefix.as_str().into(),
            Timestamp::now().millis().into(),
            limits.retention_ms.into(),
            i64::try_from(limits.max_series_per_name)
                .unwrap_or(i64::MAX)
                .into(),
            i64::try_from(samples.len()).unwrap_or(i64::MAX).into(),
        ];
        for s in samples {
            let json =
                serde_json::to_string(s).map_err(|e| StoreError::Unavailable(e.to_string()))?;
            args.extend([
                s.nome.as_str().into(),
                s.tipo.as_str().into(),
                s.series_key().into(),
                s.timestamp.millis().into(),
                json.into(),
            ]);
        }
        let reply: Vec<Value> = self
            .scripts
            .append_samples
            .evalsha_with_reload(self.client()?, Vec::<String>::new(), args)
            .await
            .map_err(|e| self.fail(&e))?;
        let mut parts = reply.into_iter();
        let tag = parts.next().and_then(text).unwrap_or_default();
        let index = parts
            .next()
            .and_then(|v| v.as_i64())
            .and_then(|i| usize::try_from(i).ok())
            .unwrap_or(0);
        let nome = samples
            .get(index)
            .map(|s| s.nome.clone())
            .unwrap_or_default();
        Ok(match tag.as_str() {
            "ok" => Ok(()),
            "type" => {
                let pinned = parts
                    .next()
                    .and_then(text)
                    .and_then(|t| TipoMetrica::parse(&t))
                    .unwrap_or_default();
                Err(SampleRejection::TypeMismatch {
                    index,
                    nome,
                    pinned,
                })
            }
            _ => Err(SampleRejection::TooManySeries {
                index,
                nome,
                cap: limits.max_series_per_name,
            }),
        })
    }

    async fn query_samples(&self, query: &SampleQuery) -> Result<Vec<Metrica>, StoreError> {
        let args: Vec<Value> = vec![
            self.prefix.as_str().into(),
            query.nome.clone().unwrap_or_default().into(),
            query.tipo.map_or("", TipoMetrica::as_str).into(),
            query
                .from
                .map_or_else(|| "-inf".to_owned(), |t| t.millis().to_string())
                .into(),
            query
                .to
                .map_or_else(|| "+inf".to_owned(), |t| t.millis().to_string())
                .into(),
            i64::try_from(query.limit).unwrap_or(i64::MAX).into(),
            Timestamp::now().millis().into(),
        ];
        let reply: Vec<Value> = self
            .scripts
            .query_samples
            .evalsha_with_reload(self.client()?, Vec::<String>::new(), args)
            .await
            .map_err(|e| self.fail(&e))?;
        let mut samples: Vec<(i64, u64, Metrica)> = reply
            .into_iter()
            .filter_map(text)
            .filter_map(|member| {
                let (seq, json) = member.split_once('|')?;
                let sample: Metrica = serde_json::from_str(json).ok()?;
                Some((sample.timestamp.millis(), seq.parse().ok()?, sample))
            })
            .collect();
        samples.sort_unstable_by_key(|(ts, seq, _)| (*ts, *seq));
        Ok(samples
            .into_iter()
            .take(query.limit)
            .map(|(_, _, s)| s)
            .collect())
    }

    async fn put_presence(
        &self,
        conn: &str,
        instance: &str,
        ttl_ms: u64,
    ) -> Result<(), StoreError> {
        let key = format!("{}ws:conn:{conn}", self.prefix);
        let ttl = i64::try_from(ttl_ms).unwrap_or(i64::MAX);
        self.client()?
            .set::<(), _, _>(key, instance, Some(Expiration::PX(ttl)), None, false)
            .await
            .map_err(|e| self.fail(&e))
    }

    async fn presence(&self, conn: &str) -> Result<Option<String>, StoreError> {
        self.client()?
            .get(format!("{}ws:conn:{conn}", self.prefix))
            .await
            .map_err(|e| self.fail(&e))
    }

    async fn remove_presence(&self, conn: &str) -> Result<(), StoreError> {
        self.client()?
            .del::<(), _>(format!("{}ws:conn:{conn}", self.prefix))
            .await
            .map_err(|e| self.fail(&e))
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.client()?
            .ping::<()>(None)
            .await
            .map_err(|e| self.fail(&e))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_revision_is_spliced_in_and_read_back() {
        let stored = with_rev(r#"{"id":"a","v":1}"#, 7);
        assert_eq!(stored, r#"{"_rev":7,"id":"a","v":1}"#);
        assert_eq!(
            split_rev(&stored).unwrap(),
            Versioned {
                rev: 7,
                body: r#"{"id":"a","v":1}"#.into()
            }
        );
        assert_eq!(
            split_rev(&with_rev("{}", 2)).unwrap(),
            Versioned {
                rev: 2,
                body: "{}".into()
            }
        );
        assert!(split_rev(r#"{"id":"a"}"#).is_err());
    }

    /// The Redis the tests use: `INTEGRA_TEST_REDIS_URL`, else the local one `make test` starts.
    pub(crate) fn url() -> String {
        std::env::var("INTEGRA_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
    }

    /// A store with a key prefix of its own, so tests never see each other's keys.
    pub(crate) async fn isolated(ttl: Option<Duration>) -> Arc<dyn Store> {
        let prefix = format!("test:{}:", integra_domain::Id::generate());
        let config = RedisConfig {
            url: url(),
            key_prefix: prefix,
            ttl,
            command_timeout: Duration::from_secs(2),
        };
        let store = RedisStore::connect(config).await.unwrap_or_else(|e| {
            panic!(
                "Redis must run at {} for these tests (make test starts it): {e}",
                url()
            )
        });
        Arc::new(store)
    }

    integra_services::store_conformance!(isolated);

    /// A bus that counts publishes per key and takes a few ms to acknowledge.
    #[derive(Default)]
    struct CountingBus(std::sync::Mutex<std::collections::HashMap<String, usize>>);

    #[async_trait]
    impl integra_ports::Bus for CountingBus {
        async fn publish(
            &self,
            r: &integra_ports::Outbound,
        ) -> Result<integra_ports::Delivery, integra_ports::BusError> {
            tokio::time::sleep(Duration::from_millis(5)).await;
            *self.0.lock().unwrap().entry(r.key.clone()).or_default() += 1;
            Ok(integra_ports::Delivery {
                topic: r.topic.clone(),
                partition: 0,
                offset: 0,
            })
        }
        async fn subscribe(
            &self,
            _: &str,
        ) -> Result<integra_ports::Subscription, integra_ports::BusError> {
            Err(integra_ports::BusError::Unavailable("not used".into()))
        }
        async fn ping(&self) -> Result<(), integra_ports::BusError> {
            Ok(())
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_services_sharing_one_redis_publish_each_id_once() {
        use integra_services::{Events, MessageConfig, MessageService, Ports, Sent, ServiceError};
        let prefix = format!("test:{}:", integra_domain::Id::generate());
        let bus = Arc::new(CountingBus::default());
        let (events, _keep) = Events::channel(100_000);
        let mut services = Vec::new();
        for _ in 0..2 {
            let config = RedisConfig {
                url: url(),
                key_prefix: prefix.clone(),
                ttl: None,
                command_timeout: Duration::from_secs(2),
            };
            let store = Arc::new(RedisStore::connect(config).await.unwrap());
            let ports = Ports::new(store, bus.clone(), Arc::new(integra_ports::NoopMetrics));
            services.push(Arc::new(MessageService::new(
                ports,
                events.clone(),
                MessageConfig::default(),
            )));
        }
        let mut sends = Vec::new();
        for id in 0..40 {
            for attempt in 0..6 {
                let service = Arc::clone(&services[attempt % 2]);
                sends.push(tokio::spawn(async move {
                    let input = serde_json::from_value(serde_json::json!({
                        "id": format!("race-{id}"), "tipo": "sms", "destinatario": "d", "conteudo": "c"
                    }))
                    .unwrap();
                    service.send(input).await
                }));
            }
        }
        let mut created = 0;
        for send in sends {
            match send.await.unwrap() {
                Ok(Sent::Created(_)) => created += 1,
                Ok(Sent::Replayed(_)) | Err(ServiceError::Conflict(_)) => {}
                Err(e) => panic!("unexpected {e}"),
            }
        }
        let counts = bus.0.lock().unwrap();
        assert_eq!(counts.len(), 40);
        assert!(
            counts.values().all(|n| *n == 1),
            "an id was published more than once: {counts:?}"
        );
        assert_eq!(created, 40);
    }
}
