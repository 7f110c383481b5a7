//! A [`Store`](integra_ports::Store) over Redis, with fred: the [`RedisEngine`] implements the
//! document engine, the metric series and the presence; [`RedisStore`] is the typed store over it.
//!
//! # Key layout
//! Under `store.key_prefix` (`P`). `{…}` is a hash tag: Redis Cluster places a key by the part
//! between its first `{` and `}`, so the keys one operation touches together share a tag, and
//! therefore a slot. For each document collection `C` (`message`, `alert`):
//!
//! | key | type | holds |
//! |---|---|---|
//! | `P{C}:<id>` | string, TTL | the record's JSON, exactly as the store wrote it |
//! | `P{C}.idx:<index>` | sorted set | ids scored by creation time (ms): `all`, and one per combination of every facet |
//! | `P{C}.exp` | sorted set | ids scored by expiry time (ms): what to trim from the indexes |
//! | `P{C}.meta` | hash | id → its revision, then the indexes it is in |
//!
//! For the metric series, a registry of names, then each name `N` under a tag of its own:
//!
//! | key | type | holds |
//! |---|---|---|
//! | `P{metrics}.kind` | hash | nome → the tipo its first sample pinned (every name) |
//! | `P{metrics}.exposed` | hash | a name an exposition uses → the metric that uses it |
//! | `P{metrics:N}.sids` | hash | its label sets (kept only here) → series number; the series cap |
//! | `P{metrics:N}.log` | string, TTL | its newest samples (series, timestamp, value), not yet folded |
//! | `P{metrics:N}.p:<n>` | string, TTL | series `n`'s points, 16 bytes each, in time order |
//! | `P{metrics:N}.meta` | hash | its kind, retention and points cap (for reads to skip the excess) |
//!
//! And `P ws:conn:<id>` (string, TTL): the instance holding a WebSocket connection.
//!
//! Each channel `C` has a tag of its own (`lua/channel_lib.lua` has the details):
//!
//! | key | type | holds |
//! |---|---|---|
//! | `P{ch:C}` | hash, TTL | its epoca and latest offset |
//! | `P{ch:C}.log` | stream, TTL | its last `history_size` publications, entry id `<offset>-0` |
//! | `P{ch:C}.subs` | hash, TTL | instance → its subscribers and their expiry |
//!
//! Every write is one Lua script, so a document, its revision and its indexes change atomically,
//! and a list is one script call (index range, then `MGET`) whatever the data size: no `SCAN`, no
//! `KEYS`. Expired documents are trimmed from their indexes by the scripts themselves, oldest
//! expiry first. Every script gets in `KEYS` each key the client can name before the call; the
//! keys a script finds inside (the documents an index lists) are made from the same prefixes,
//! with the same tag.
//!
//! # Redis Cluster (`store.mode = "cluster"`)
//! A collection is one slot: a write moves a document between indexes atomically, and a page is
//! one index range, which must see every document of the collection. Messages and alerts are
//! therefore two slots, each on the shard that owns it (replicated and failed over by the
//! cluster). Metric samples, the bulk of the data and of the writes, spread over the cluster by
//! name: each name is a slot of its own, and only a name's first sample touches the registry's
//! slot. Connection presence spreads by connection. A query over every name asks each name's
//! shard. A batch of samples of several names, one script call on one Redis, is a check and a
//! write per name on a cluster (see `series.rs`).

mod batch;
mod channels;
mod client;
mod config;
mod documents;
mod failure;
mod jobs;
mod keys;
mod presence;
mod reply;
mod seen;
mod series;

use integra_documents::DocumentStore;

pub use client::RedisEngine;
pub use config::{ConnectError, RedisConfig, RedisMode};

/// The Redis [`Store`](integra_ports::Store): the typed store over a [`RedisEngine`].
pub type RedisStore = DocumentStore<RedisEngine>;
