//! A [`Store`](integra_ports::Store) over Redis, with fred: the [`RedisEngine`] implements the
//! document engine, the metric series and the presence; [`RedisStore`] is the typed store over it.
//!
//! # Key layout
//! Under `store.key_prefix` (`P`), for each collection `C` (`message`, `alert`):
//!
//! | key | type | holds |
//! |---|---|---|
//! | `P C:{id}` | string, TTL | the record's JSON, exactly as the store wrote it |
//! | `P idx:C:{index}` | sorted set | ids scored by creation time (ms): one per filter combination |
//! | `P exp:C` | sorted set | ids scored by expiry time (ms): what to trim from the indexes |
//! | `P meta:C` | hash | id → its revision, then the indexes it is in |
//! | `P metrics:{nome}` | sorted set | `seq|json` samples scored by timestamp (ms): never collapse |
//! | `P metrics.kind` | hash | nome → the tipo its first sample pinned |
//! | `P metrics.series:{nome}` | set | its label sets, for the series cap |
//! | `P metrics.retention` | hash | nome → retention (ms), for trimming on read |
//! | `P ws:conn:{id}` | string, TTL | the instance holding a WebSocket connection |
//!
//! Every write is one Lua script, so a document, its revision and its indexes change atomically,
//! and a list is one script call (index range, then `MGET`) whatever the data size: no `SCAN`, no
//! `KEYS`. Expired documents are trimmed from their indexes by the scripts themselves, oldest
//! expiry first.
//!
//! # Redis Cluster
//! The scripts touch a document, its indexes and the expiry set together, so these must share a
//! slot: give `store.key_prefix` a hash tag, such as `{integra}:`. Every key then lives in one slot
//! (one shard, replicated): Cluster brings failover, not sharding, for this layout.

mod client;
mod config;
mod documents;
mod keys;
mod presence;
mod reply;
mod series;

use integra_documents::DocumentStore;

pub use client::RedisEngine;
pub use config::RedisConfig;

/// The Redis [`Store`](integra_ports::Store): the typed store over a [`RedisEngine`].
pub type RedisStore = DocumentStore<RedisEngine>;
