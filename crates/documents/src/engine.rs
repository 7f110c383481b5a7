//! The document engine: what the embedded and Redis stores implement once.

use async_trait::async_trait;
use integra_domain::{Order, Paging, TimeRange};
use integra_ports::{Inserted, Replaced, Revision, StoreError, Versioned};

/// A key space of documents: ids are unique within a collection, and each has its own indexes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Collection {
    name: &'static str,
    lasting: bool,
}

impl Collection {
    /// The collection named `name` (`a-z` and `_`, so that it fits any engine's keys), whose
    /// documents expire after their last write.
    pub const fn new(name: &'static str) -> Self {
        Self {
            name,
            lasting: false,
        }
    }

    /// A collection whose documents never expire and are never evicted: configuration (rules,
    /// silences) that the services bound in number and remove themselves.
    pub const fn lasting(name: &'static str) -> Self {
        Self {
            name,
            lasting: true,
        }
    }

    /// Its name.
    pub const fn name(self) -> &'static str {
        self.name
    }

    /// Whether its documents stay until removed.
    pub const fn is_lasting(self) -> bool {
        self.lasting
    }
}

/// A document to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// Its collection.
    pub collection: Collection,
    /// Its id, unique in the collection.
    pub id: String,
    /// Its content, opaque to the engine.
    pub body: String,
    /// Its creation time in ms: the order of every index.
    pub created_ms: i64,
    /// The indexes it belongs in; a write replaces the previous set atomically.
    pub indexes: Vec<String>,
}

/// One page of the union of some indexes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// The collection.
    pub collection: Collection,
    /// The indexes to read, merged in creation order (a document is in one of them at most).
    pub indexes: Vec<String>,
    /// Only documents created within this range (inclusive).
    pub range: TimeRange,
    /// Which documents of the range.
    pub paging: Paging,
    /// By creation time, ties by id in the same direction.
    pub order: Order,
}

/// Documents with revisions and indexes. Every operation is atomic; documents expire after their
/// last write (the engine's configuration) unless their collection is lasting, and an expired
/// document is gone from `get` and from every index.
#[async_trait]
pub trait DocumentEngine: Send + Sync {
    /// Writes `doc` at [`Revision::FIRST`] if its id is free in its collection.
    ///
    /// # Errors
    /// [`StoreError`] when the engine fails.
    async fn insert(&self, doc: &Document) -> Result<Inserted<String>, StoreError>;

    /// Replaces the document if it is still at revision `expected`.
    ///
    /// # Errors
    /// [`StoreError`] when the engine fails.
    async fn replace(
        &self,
        doc: &Document,
        expected: Revision,
    ) -> Result<Replaced<String>, StoreError>;

    /// Replaces the document if it is still at revision `expected` by its body up to the last
    /// occurrence of `tail`, closed with `}` (the body as it is when `tail` is `None` or absent
    /// from it), at the next revision. Its indexes and its expiry stay as they are.
    ///
    /// # Errors
    /// [`StoreError`] when the engine fails.
    async fn cut_tail(
        &self,
        collection: Collection,
        id: &str,
        expected: Revision,
        tail: Option<&'static str>,
    ) -> Result<Replaced<String>, StoreError>;

    /// Removes a document and its index entries; returns whether there was one.
    ///
    /// # Errors
    /// [`StoreError`] when the engine fails.
    async fn remove(&self, collection: Collection, id: &str) -> Result<bool, StoreError>;

    /// Reads one document.
    ///
    /// # Errors
    /// [`StoreError`] when the engine fails.
    async fn get(
        &self,
        collection: Collection,
        id: &str,
    ) -> Result<Option<Versioned<String>>, StoreError>;

    /// Reads one page of the union of the page's indexes, in creation order (ties by id, in the
    /// same direction): its cost grows with `skip + limit` times the number of indexes, not with
    /// the number of documents.
    ///
    /// # Errors
    /// [`StoreError`] when the engine fails.
    async fn list(&self, page: &Page) -> Result<Vec<Versioned<String>>, StoreError>;

    /// Lends `each` the bodies of the same page as [`DocumentEngine::list`], in its order,
    /// without their revisions: an engine that keeps revisions apart reads less, and one whose
    /// reply holds the bodies as text lends them where they are, with no copy of each.
    ///
    /// # Errors
    /// [`StoreError`] when the engine fails; `each` has then seen none of the page.
    async fn list_bodies(
        &self,
        page: &Page,
        each: &mut (dyn for<'b> FnMut(&'b str) + Send),
    ) -> Result<(), StoreError> {
        for doc in self.list(page).await? {
            each(&doc.record);
        }
        Ok(())
    }

    /// Checks that the engine answers.
    ///
    /// # Errors
    /// [`StoreError`] when it does not.
    async fn ping(&self) -> Result<(), StoreError>;
}
