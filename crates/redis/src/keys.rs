//! The keys of the document collections (the layout is in `lua/lib.lua` and the crate's docs).

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use integra_documents::Collection;

/// The keys of one collection's documents and bookkeeping.
pub(crate) struct CollectionKeys {
    /// `P C:`: a document's key is this and its id.
    pub(crate) doc_prefix: String,
    /// `P idx:C:`: an index's key is this and its name.
    pub(crate) index_prefix: String,
    /// `P exp:C`.
    pub(crate) expiry: String,
    /// `P meta:C`.
    pub(crate) meta: String,
}

/// Each collection's keys, made once, on its first use.
pub(crate) struct Collections {
    prefix: String,
    keys: RwLock<HashMap<Collection, Arc<CollectionKeys>>>,
}

impl Collections {
    pub(crate) fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
            keys: RwLock::default(),
        }
    }

    pub(crate) fn keys(&self, collection: Collection) -> Arc<CollectionKeys> {
        if let Some(keys) = self
            .keys
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&collection)
        {
            return Arc::clone(keys);
        }
        let (p, c) = (&self.prefix, collection.name());
        let made = Arc::new(CollectionKeys {
            doc_prefix: format!("{p}{c}:"),
            index_prefix: format!("{p}idx:{c}:"),
            expiry: format!("{p}exp:{c}"),
            meta: format!("{p}meta:{c}"),
        });
        self.keys
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(collection)
            .or_insert(made)
            .clone()
    }
}
