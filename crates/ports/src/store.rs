//! The Store port: documents with revisions and indexes, metric series, connection presence.

use async_trait::async_trait;
use integra_domain::{Metrica, Timestamp, TipoMetrica};

/// A failure of the store itself. What a store answers about the data (absent, already there,
/// changed since read) is not an error: it is in [`Insert`] and [`Replace`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The store could not be reached or refused the command; retrying later may work.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The store did not answer in time.
    #[error("store timed out")]
    Timeout,
}

/// The kinds of document, each with its own key space and indexes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Collection {
    /// Messages, under `message:{id}`.
    Messages,
    /// Alerts, under `alert:{id}`.
    Alerts,
}

impl Collection {
    /// The key prefix of the collection's documents: `message` or `alert`.
    pub const fn key(self) -> &'static str {
        match self {
            Self::Messages => "message",
            Self::Alerts => "alert",
        }
    }
}

/// A document to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// Its collection.
    pub collection: Collection,
    /// Its id, unique in the collection.
    pub id: String,
    /// Its JSON text: an object.
    pub body: String,
    /// Its creation time in ms: the score under which every index orders it.
    pub created_ms: i64,
    /// The indexes it belongs to; a write replaces the previous set atomically.
    pub indexes: Vec<String>,
}

/// A document read back, with the revision a [`Store::replace`] must quote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned {
    /// 1 on insert, one more on each replace.
    pub rev: u64,
    /// Its JSON text.
    pub body: String,
}

/// The outcome of [`Store::insert`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Insert {
    /// The id was free; the document now holds it at revision 1.
    Created,
    /// The id was taken; here is what holds it.
    Exists(Versioned),
}

/// The outcome of [`Store::replace`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replace {
    /// Written, at this new revision.
    Done(u64),
    /// The stored revision was not the expected one (or the document is gone): nothing written.
    Stale(Option<Versioned>),
}

/// One page of an index, newest first (ties by id descending).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// The collection.
    pub collection: Collection,
    /// The index to read.
    pub index: String,
    /// Only documents created at or after this instant (ms).
    pub from_ms: Option<i64>,
    /// Only documents created at or before this instant (ms).
    pub to_ms: Option<i64>,
    /// How many to pass over.
    pub skip: usize,
    /// How many to return at most.
    pub limit: usize,
    /// Oldest first instead of newest first.
    pub ascending: bool,
}

/// The limits a batch of samples must respect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeriesLimits {
    /// Most label sets per metric name.
    pub max_series_per_name: usize,
    /// Samples older than this are trimmed (ms).
    pub retention_ms: i64,
}

/// Why a batch of samples was refused whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SampleRejection {
    /// The name already holds samples of another kind.
    #[error("[{index}].tipo: metric `{nome}` is a {pinned}")]
    TypeMismatch {
        /// Index of the sample in the batch.
        index: usize,
        /// The metric's name.
        nome: String,
        /// The kind its first sample set.
        pinned: TipoMetrica,
    },
    /// The sample would open a series past the cap of its name.
    #[error("[{index}].labels: metric `{nome}` already has {cap} series")]
    TooManySeries {
        /// Index of the sample in the batch.
        index: usize,
        /// The metric's name.
        nome: String,
        /// The cap.
        cap: usize,
    },
}

/// A query of stored samples, answered in ascending timestamp.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SampleQuery {
    /// One name, or every name.
    pub nome: Option<String>,
    /// Only names of this kind.
    pub tipo: Option<TipoMetrica>,
    /// Inclusive lower bound.
    pub from: Option<Timestamp>,
    /// Inclusive upper bound.
    pub to: Option<Timestamp>,
    /// Most samples to return.
    pub limit: usize,
}

/// Where Integra keeps its state. Every operation is atomic, and none scans the key space: lists
/// read indexes, so their cost grows with `skip + limit`, not with the number of documents.
///
/// Documents expire `ttl` after their last write (the adapter's configuration); an expired document
/// is gone from [`Store::get`] and from every index.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait Store: Send + Sync {
    /// Writes `doc` at revision 1 if its id is free in its collection.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails; an id already taken is [`Insert::Exists`].
    async fn insert(&self, doc: &Document) -> Result<Insert, StoreError>;

    /// Replaces the document if it is still at revision `expected`.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails; a changed document is [`Replace::Stale`].
    async fn replace(&self, doc: &Document, expected: u64) -> Result<Replace, StoreError>;

    /// Reads one document.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails; an absent document is `None`.
    async fn get(&self, collection: Collection, id: &str) -> Result<Option<Versioned>, StoreError>;

    /// Reads one page of an index.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn list(&self, page: &Page) -> Result<Vec<Versioned>, StoreError>;

    /// Appends a batch of samples to their series `metrics:{nome}`, all or none: each name keeps the
    /// kind of its first sample and at most `limits.max_series_per_name` label sets. Samples past
    /// the retention are trimmed.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails; a refused batch is `Ok(Err(rejection))`.
    async fn append_samples(
        &self,
        samples: &[Metrica],
        limits: SeriesLimits,
    ) -> Result<Result<(), SampleRejection>, StoreError>;

    /// Reads samples in ascending timestamp.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn query_samples(&self, query: &SampleQuery) -> Result<Vec<Metrica>, StoreError>;

    /// Records that WebSocket connection `conn` lives on `instance`, for `ttl_ms`.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn put_presence(&self, conn: &str, instance: &str, ttl_ms: u64)
        -> Result<(), StoreError>;

    /// The instance that holds connection `conn`, if any.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn presence(&self, conn: &str) -> Result<Option<String>, StoreError>;

    /// Forgets connection `conn`.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn remove_presence(&self, conn: &str) -> Result<(), StoreError>;

    /// Checks that the store answers.
    ///
    /// # Errors
    /// [`StoreError`] when it does not.
    async fn ping(&self) -> Result<(), StoreError>;
}
