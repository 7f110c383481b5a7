//! Every key the store uses, made here and nowhere else (the layout is in the crate's docs and in
//! the scripts' headers). Each key carries the hash tag of what one operation touches together, so
//! that on Redis Cluster an operation's keys share a slot.

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
            doc_prefix: format!("{p}{{{c}}}:"),
            index_prefix: format!("{p}{{{c}}}.idx:"),
            expiry: format!("{p}{{{c}}}.exp"),
            meta: format!("{p}{{{c}}}.meta"),
        });
        self.keys
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(collection)
            .or_insert(made)
            .clone()
    }
}

/// The keys of the metric series: a store-wide registry of names, and each name's own keys.
pub(crate) struct SeriesKeys {
    /// `P{metrics}.kind`: nome → the tipo its first sample pinned.
    pub(crate) kinds: String,
    /// `P{metrics}.exposed`: a name an exposition uses → the metric that uses it.
    pub(crate) exposed: String,
    prefix: String,
}

/// The keys of one metric name, in the slot of the hash tag `{metrics:N}`.
pub(crate) struct NameKeys {
    /// `P{metrics:N}`: the base of its series' points keys (`.p:n`, made by the scripts).
    pub(crate) base: String,
    /// `P{metrics:N}.sids`: its series.
    pub(crate) series: String,
    /// `P{metrics:N}.meta`: its kind, retention and sequence.
    pub(crate) meta: String,
}

impl SeriesKeys {
    pub(crate) fn new(prefix: &str) -> Self {
        Self {
            kinds: format!("{prefix}{{metrics}}.kind"),
            exposed: format!("{prefix}{{metrics}}.exposed"),
            prefix: prefix.to_owned(),
        }
    }

    /// The keys of the name `nome` (which has no `{` or `}`: see `Metrica`'s name rule).
    pub(crate) fn name(&self, nome: &str) -> NameKeys {
        // Concatenated rather than formatted: every name of every batch makes these.
        let base = [self.prefix.as_str(), "{metrics:", nome, "}"].concat();
        NameKeys {
            series: [base.as_str(), ".sids"].concat(),
            meta: [base.as_str(), ".meta"].concat(),
            base,
        }
    }
}

/// `P ws:conn:{id}`: the instance holding a WebSocket connection (one key per operation).
pub(crate) fn presence(prefix: &str, connection: &str) -> String {
    format!("{prefix}ws:conn:{connection}")
}

/// The keys of channel `canal` (which has no `{` or `}`: see `Canal`), in the slot of the hash tag
/// `{ch:canal}`: its meta hash, its stream, its subscriber counts.
pub(crate) fn channel(prefix: &str, canal: &str) -> [String; 3] {
    let base = format!("{prefix}{{ch:{canal}}}");
    [format!("{base}.log"), format!("{base}.subs"), base]
}
