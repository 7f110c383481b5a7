//! The embedded document engine.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Bound;

use async_trait::async_trait;
use integra_documents::{public_len, Collection, Document, DocumentEngine, Page};
use integra_domain::{Order, Timestamp};
use integra_ports::{Inserted, Replaced, Revision, StoreError, Versioned};

use crate::{lock, MemoryEngine};

/// What a document costs beside its body, id and index names: its entries in the maps and sets.
const DOC_BYTES: usize = 256;

/// Every collection's documents.
#[derive(Default)]
pub(crate) struct Collections {
    collections: HashMap<Collection, Docs>,
    /// What they hold, about, in bytes.
    pub(crate) bytes: usize,
}

impl Collections {
    /// The documents of `collection`, with those expired by `now` dropped.
    fn docs(&mut self, collection: Collection, now: i64, ttl_ms: Option<i64>) -> &mut Docs {
        let docs = self.collections.entry(collection).or_default();
        if let Some(ttl) = ttl_ms.filter(|_| !collection.is_lasting()) {
            self.bytes = self
                .bytes
                .saturating_sub(docs.expire(now.saturating_sub(ttl)));
        }
        docs
    }

    /// When the least recently written document that may be evicted was written, if there is
    /// one (a lasting collection's never are).
    pub(crate) fn oldest(&self) -> Option<i64> {
        self.collections
            .iter()
            .filter(|(collection, _)| !collection.is_lasting())
            .filter_map(|(_, docs)| docs.writes.first().map(|(at, _)| *at))
            .min()
    }

    /// Drops the least recently written document that may be evicted; returns whether there was
    /// one.
    pub(crate) fn evict_oldest(&mut self) -> bool {
        let oldest = self
            .collections
            .iter_mut()
            .filter(|(collection, _)| !collection.is_lasting())
            .filter_map(|(_, docs)| docs.writes.first().map(|(at, _)| *at).zip(Some(docs)))
            .min_by_key(|(at, _)| *at);
        let Some((_, docs)) = oldest else {
            return false;
        };
        self.bytes = self.bytes.saturating_sub(docs.remove_oldest());
        true
    }
}

#[derive(Default)]
struct Docs {
    /// A B-tree rather than a hash map: a hash map doubles its table in one step as it grows,
    /// and with hundreds of thousands of documents that step held the store's lock for hundreds
    /// of milliseconds (POST /messages p99 143 and 386 ms in the runs that crossed a doubling,
    /// 13 ms in one that did not). A B-tree grows a node at a time.
    docs: BTreeMap<String, Doc>,
    /// Index name → (created ms, id), iterated backwards for newest first.
    indexes: HashMap<String, BTreeSet<(i64, String)>>,
    /// (last write ms, id): expired documents leave in this order, and so do the evicted.
    writes: BTreeSet<(i64, String)>,
}

struct Doc {
    revision: Revision,
    body: String,
    created_ms: i64,
    indexes: Vec<String>,
    written_ms: i64,
}

impl Doc {
    fn bytes(&self, id: &str) -> usize {
        DOC_BYTES
            + self.body.len()
            + 2 * id.len()
            + self
                .indexes
                .iter()
                .map(|i| i.len() + id.len() + 48)
                .sum::<usize>()
    }
}

impl Doc {
    /// Changes its body (by `change`) and its revision in place; returns the bytes that adds.
    fn rewrite(&mut self, id: &str, revision: Revision, change: impl FnOnce(&mut String)) -> isize {
        let before = self.bytes(id);
        change(&mut self.body);
        self.revision = revision;
        growth(self.bytes(id), before)
    }
}

/// `after - before`, as the signed change of a byte count.
fn growth(after: usize, before: usize) -> isize {
    isize::try_from(after).unwrap_or(isize::MAX) - isize::try_from(before).unwrap_or(0)
}

impl Docs {
    /// Drops every document last written at or before `written_ms`, and its index entries;
    /// returns the bytes freed.
    fn expire(&mut self, written_ms: i64) -> usize {
        let mut freed = 0;
        while let Some((at, _)) = self.writes.first() {
            if *at > written_ms {
                break;
            }
            if let Some((_, id)) = self.writes.pop_first() {
                if let Some(doc) = self.docs.remove(&id) {
                    freed += doc.bytes(&id);
                    self.unindex(&id, &doc);
                }
            }
        }
        freed
    }

    /// Drops the least recently written document; returns the bytes freed.
    fn remove_oldest(&mut self) -> usize {
        match self.writes.pop_first() {
            Some((_, id)) => self.remove(&id),
            None => 0,
        }
    }

    /// Drops a document and its index entries; returns the bytes freed (0: there was none).
    fn remove(&mut self, id: &str) -> usize {
        match self.docs.remove(id) {
            Some(doc) => {
                self.unindex(id, &doc);
                doc.bytes(id)
            }
            None => 0,
        }
    }

    fn unindex(&mut self, id: &str, doc: &Doc) {
        for name in &doc.indexes {
            if let Some(index) = self.indexes.get_mut(name) {
                index.remove(&(doc.created_ms, id.to_owned()));
                if index.is_empty() {
                    self.indexes.remove(name);
                }
            }
        }
        self.writes.remove(&(doc.written_ms, id.to_owned()));
    }

    /// Writes `doc` at `revision`; returns the bytes it adds (less what an older version held).
    fn write(&mut self, doc: &Document, revision: Revision, now: i64) -> isize {
        if let Some(old) = self.docs.get_mut(&doc.id) {
            // A change that keeps the record in its indexes is a change in place: its indexes
            // and its entry stay as they are.
            if old.created_ms == doc.created_ms && old.indexes == doc.indexes {
                let added = old.rewrite(&doc.id, revision, |body| body.clone_from(&doc.body));
                let written = std::mem::replace(&mut old.written_ms, now);
                if written != now {
                    self.writes.remove(&(written, doc.id.clone()));
                    self.writes.insert((now, doc.id.clone()));
                }
                return added;
            }
        }
        let mut freed = 0;
        if let Some(old) = self.docs.remove(&doc.id) {
            freed = old.bytes(&doc.id);
            self.unindex(&doc.id, &old);
        }
        self.put(doc, revision, now, freed)
    }

    /// Writes a document that is not stored (its id looked up once, by the caller); returns the
    /// bytes it adds.
    fn write_new(&mut self, doc: &Document, now: i64) -> isize {
        self.put(doc, Revision::FIRST, now, 0)
    }

    /// Stores `doc`, which is in no index, at `revision`; returns the bytes it adds less the
    /// `freed` bytes of a version it replaces.
    fn put(&mut self, doc: &Document, revision: Revision, now: i64, freed: usize) -> isize {
        let stored = self.index(doc, revision, now);
        let added = growth(stored.bytes(&doc.id), freed);
        self.docs.insert(doc.id.clone(), stored);
        added
    }

    /// Enters `doc` in its indexes and the write order; returns it as stored, for the caller
    /// to put in `docs`.
    fn index(&mut self, doc: &Document, revision: Revision, now: i64) -> Doc {
        for name in &doc.indexes {
            let entry = (doc.created_ms, doc.id.clone());
            // Looked up before it is entered: an index's name is copied only when it is new.
            match self.indexes.get_mut(name) {
                Some(index) => {
                    index.insert(entry);
                }
                None => {
                    self.indexes.insert(name.clone(), BTreeSet::from([entry]));
                }
            }
        }
        self.writes.insert((now, doc.id.clone()));
        Doc {
            revision,
            body: doc.body.clone(),
            created_ms: doc.created_ms,
            indexes: doc.indexes.clone(),
            written_ms: now,
        }
    }

    fn versioned(&self, id: &str) -> Option<Versioned<String>> {
        self.docs.get(id).map(|d| Versioned {
            revision: d.revision,
            record: d.body.clone(),
        })
    }
}

impl MemoryEngine {
    /// Runs `f` on the documents of `collection` (expired ones dropped) at `now`; `f` returns
    /// what it gives back and the bytes its change added.
    fn with_docs<T>(
        &self,
        collection: Collection,
        f: impl FnOnce(&mut Docs, i64) -> (T, isize),
    ) -> T {
        let now = Timestamp::now().millis();
        let (value, added) = {
            let mut collections = lock(&self.documents);
            let (value, added) = f(collections.docs(collection, now, self.ttl_ms), now);
            collections.bytes = collections.bytes.saturating_add_signed(added);
            self.document_bytes
                .store(collections.bytes, std::sync::atomic::Ordering::Relaxed);
            (value, added)
        };
        if added > 0 {
            self.enforce_budget();
        }
        value
    }
}

#[async_trait]
impl DocumentEngine for MemoryEngine {
    async fn insert(&self, doc: &Document) -> Result<Inserted<String>, StoreError> {
        Ok(self.with_docs(doc.collection, |docs, now| {
            if let Some(existing) = docs.versioned(&doc.id) {
                return (Inserted::Exists(existing), 0);
            }
            let added = docs.write_new(doc, now);
            (Inserted::Created, added)
        }))
    }

    async fn replace(
        &self,
        doc: &Document,
        expected: Revision,
    ) -> Result<Replaced<String>, StoreError> {
        Ok(
            self.with_docs(doc.collection, |docs, now| match docs.versioned(&doc.id) {
                Some(current) if current.revision == expected => {
                    let added = docs.write(doc, expected.next(), now);
                    (Replaced::Done(expected.next()), added)
                }
                current => (Replaced::Stale(current), 0),
            }),
        )
    }

    async fn cut_tail(
        &self,
        collection: Collection,
        id: &str,
        expected: Revision,
        tail: Option<&'static str>,
    ) -> Result<Replaced<String>, StoreError> {
        Ok(
            self.with_docs(collection, |docs, _| match docs.docs.get_mut(id) {
                Some(doc) if doc.revision == expected => {
                    let added = doc.rewrite(id, expected.next(), |body| {
                        if let Some(len) = public_len(body, tail) {
                            body.truncate(len);
                            body.push('}');
                        }
                    });
                    (Replaced::Done(expected.next()), added)
                }
                _ => (Replaced::Stale(docs.versioned(id)), 0),
            }),
        )
    }

    async fn remove(&self, collection: Collection, id: &str) -> Result<bool, StoreError> {
        Ok(self.with_docs(collection, |docs, _| {
            let freed = docs.remove(id);
            (freed > 0, -isize::try_from(freed).unwrap_or(0))
        }))
    }

    async fn get(
        &self,
        collection: Collection,
        id: &str,
    ) -> Result<Option<Versioned<String>>, StoreError> {
        Ok(self.with_docs(collection, |docs, _| (docs.versioned(id), 0)))
    }

    async fn list(&self, page: &Page) -> Result<Vec<Versioned<String>>, StoreError> {
        Ok(self.with_docs(page.collection, |docs, _| {
            let lower = page.range.start().map_or(Bound::Unbounded, |t| {
                Bound::Included((t.millis(), String::new()))
            });
            let upper = match page.range.end().map(Timestamp::millis) {
                Some(ms) if ms < i64::MAX => Bound::Excluded((ms + 1, String::new())),
                _ => Bound::Unbounded,
            };
            let (skip, limit) = (page.paging.skip(), page.paging.limit());
            let wanted = skip.saturating_add(limit);
            // Each index's first `skip + limit` in the page's order, then merged: a document is in
            // one of the indexes at most.
            let mut ids: Vec<&(i64, String)> = Vec::new();
            for name in &page.indexes {
                let Some(index) = docs.indexes.get(name) else {
                    continue;
                };
                let range = index.range((lower.clone(), upper.clone()));
                match page.order {
                    Order::OldestFirst => ids.extend(range.take(wanted)),
                    Order::NewestFirst => ids.extend(range.rev().take(wanted)),
                }
            }
            if page.indexes.len() > 1 {
                match page.order {
                    Order::OldestFirst => ids.sort_unstable(),
                    Order::NewestFirst => ids.sort_unstable_by(|a, b| b.cmp(a)),
                }
            }
            let listed = ids
                .into_iter()
                .skip(skip)
                .take(limit)
                .filter_map(|(_, id)| docs.versioned(id))
                .collect();
            (listed, 0)
        }))
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }
}
