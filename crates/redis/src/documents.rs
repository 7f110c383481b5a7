//! The document engine over Redis (`lua/lib.lua` has the layout of its keys).

use async_trait::async_trait;
use fred::types::Value;
use integra_documents::{Collection, Document, DocumentEngine, Page};
use integra_domain::{Order, Timestamp};
use integra_ports::{Inserted, Replaced, Revision, StoreError, Versioned};
use tokio::sync::oneshot;

use crate::jobs::{InsertJob, SettleJob};
use crate::keys::CollectionKeys;
use crate::reply::{replaced, revision_value, text, text_of, versioned};
use crate::RedisEngine;

impl RedisEngine {
    /// How long after its last write a document of `collection` expires (ms); 0 keeps it.
    fn ttl_of(&self, collection: Collection) -> i64 {
        if collection.is_lasting() {
            0
        } else {
            self.ttl_ms
        }
    }

    /// The keys of one document's reads and in-place changes: the document, its meta hash.
    fn document_and_meta(&self, collection: Collection, id: &str) -> Vec<String> {
        let keys = self.collections.keys(collection);
        vec![format!("{}{id}", keys.doc_prefix), keys.meta.clone()]
    }

    /// The keys and arguments of a write (see `write` in `lua/lib.lua`).
    fn write_call(
        &self,
        keys: &CollectionKeys,
        doc: &Document,
        revision: Revision,
    ) -> (Vec<String>, Vec<Value>) {
        let mut names = Vec::with_capacity(3 + doc.indexes.len());
        names.extend([
            format!("{}{}", keys.doc_prefix, doc.id),
            keys.expiry.clone(),
            keys.meta.clone(),
        ]);
        names.extend(
            doc.indexes
                .iter()
                .map(|name| format!("{}{name}", keys.index_prefix)),
        );
        let args = vec![
            doc.id.as_str().into(),
            doc.body.as_str().into(),
            doc.created_ms.into(),
            self.ttl_of(doc.collection).into(),
            Timestamp::now().millis().into(),
            doc.indexes.join("\n").into(),
            keys.index_prefix.as_str().into(),
            revision_value(revision),
        ];
        (names, args)
    }
}

impl RedisEngine {
    /// Runs `lua/list.lua` on one page of the union of its indexes: each document's body and meta
    /// entry, or its body alone.
    async fn read_page(&self, page: &Page, bodies_alone: bool) -> Result<Vec<Value>, StoreError> {
        let bound = |t: Option<Timestamp>, open: &str| {
            t.map_or_else(|| open.to_owned(), |t| t.millis().to_string())
        };
        let keys = self.collections.keys(page.collection);
        let mut names = Vec::with_capacity(2 + page.indexes.len());
        names.extend([keys.expiry.clone(), keys.meta.clone()]);
        names.extend(
            page.indexes
                .iter()
                .map(|index| format!("{}{index}", keys.index_prefix)),
        );
        let count = |n: usize| Value::from(i64::try_from(n).unwrap_or(i64::MAX));
        let args: Vec<Value> = vec![
            bound(page.range.start(), "-inf").into(),
            bound(page.range.end(), "+inf").into(),
            count(page.paging.skip()),
            count(page.paging.limit()),
            match page.order {
                Order::OldestFirst => "1",
                Order::NewestFirst => "0",
            }
            .into(),
            Timestamp::now().millis().into(),
            keys.doc_prefix.as_str().into(),
            keys.index_prefix.as_str().into(),
            if bodies_alone { "1" } else { "0" }.into(),
        ];
        self.eval(&self.scripts.list, names, args).await
    }
}

#[async_trait]
impl DocumentEngine for RedisEngine {
    async fn insert(&self, doc: &Document) -> Result<Inserted<String>, StoreError> {
        let keys = self.collections.keys(doc.collection);
        let (answer, answered) = oneshot::channel();
        self.inserts.submit(InsertJob {
            ttl_ms: self.ttl_of(doc.collection),
            doc_key: format!("{}{}", keys.doc_prefix, doc.id),
            index_keys: doc
                .indexes
                .iter()
                .map(|name| format!("{}{name}", keys.index_prefix))
                .collect(),
            id: doc.id.clone(),
            body: doc.body.clone(),
            created_ms: doc.created_ms,
            names: doc.indexes.join("\n"),
            keys,
            answer,
        })?;
        self.answer(answered).await
    }

    async fn replace(
        &self,
        doc: &Document,
        expected: Revision,
    ) -> Result<Replaced<String>, StoreError> {
        let keys = self.collections.keys(doc.collection);
        let (names, mut args) = self.write_call(&keys, doc, expected.next());
        args.push(revision_value(expected));
        let reply: Value = self.eval(&self.scripts.replace, names, args).await?;
        replaced(reply, expected, "replace")
    }

    async fn cut_tail(
        &self,
        collection: Collection,
        id: &str,
        expected: Revision,
        tail: Option<&'static str>,
    ) -> Result<Replaced<String>, StoreError> {
        let keys = self.collections.keys(collection);
        let (answer, answered) = oneshot::channel();
        self.settles.submit(SettleJob {
            doc_key: format!("{}{id}", keys.doc_prefix),
            keys,
            id: id.to_owned(),
            expected,
            tail: tail.unwrap_or_default(),
            answer,
        })?;
        self.answer(answered).await
    }

    async fn remove(&self, collection: Collection, id: &str) -> Result<bool, StoreError> {
        let keys = self.collections.keys(collection);
        let names = vec![
            format!("{}{id}", keys.doc_prefix),
            keys.expiry.clone(),
            keys.meta.clone(),
        ];
        let args: Vec<Value> = vec![id.into(), keys.index_prefix.as_str().into()];
        let reply: Value = self.eval(&self.scripts.remove, names, args).await?;
        Ok(matches!(reply, Value::Integer(1)))
    }

    async fn get(
        &self,
        collection: Collection,
        id: &str,
    ) -> Result<Option<Versioned<String>>, StoreError> {
        let names = self.document_and_meta(collection, id);
        let reply: Value = self.eval(&self.scripts.get, names, vec![id.into()]).await?;
        match reply {
            Value::Null => Ok(None),
            Value::Array(stored) => versioned(stored).map(Some),
            _ => Err(StoreError::Unavailable(
                "redis: unexpected reply to get".into(),
            )),
        }
    }

    async fn list(&self, page: &Page) -> Result<Vec<Versioned<String>>, StoreError> {
        let reply = self.read_page(page, false).await?;
        let mut listed = Vec::with_capacity(reply.len() / 2);
        let mut pairs = reply.into_iter();
        while let (Some(body), Some(meta)) = (pairs.next(), pairs.next()) {
            // A document that expired since the last trim has no body: it is gone.
            let (Some(body), Some(meta)) = (text(body), text(meta)) else {
                continue;
            };
            let rev = meta.split('\n').next().and_then(|r| r.parse().ok());
            let Some(rev) = rev else {
                return Err(StoreError::Unavailable(
                    "redis: a document has no revision".into(),
                ));
            };
            listed.push(Versioned {
                revision: Revision(rev),
                record: body,
            });
        }
        Ok(listed)
    }

    async fn list_bodies(
        &self,
        page: &Page,
        each: &mut (dyn for<'b> FnMut(&'b str) + Send),
    ) -> Result<(), StoreError> {
        // A document that expired since the last trim has no body: it is gone.
        self.read_page(page, true)
            .await?
            .iter()
            .filter_map(text_of)
            .for_each(each);
        Ok(())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.check_connection().await
    }
}
