//! The in-process Store.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::ops::Bound;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use integra_domain::{Metrica, Timestamp, TipoMetrica};
use integra_ports::{
    Collection, Document, Insert, Page, Replace, SampleQuery, SampleRejection, SeriesLimits, Store,
    StoreError, Versioned,
};

/// An in-process [`Store`]. Documents expire `ttl` after their last write (`None`: never).
pub struct MemoryStore {
    ttl_ms: Option<i64>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    collections: HashMap<Collection, Docs>,
    series: HashMap<String, Series>,
    presence: HashMap<String, (String, i64)>,
    sample_seq: u64,
    presence_writes: u64,
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
    /// (expiry ms, id), so that expired documents leave their indexes in expiry order.
    expiry: BTreeSet<(i64, String)>,
}

struct Doc {
    rev: u64,
    body: String,
    created_ms: i64,
    indexes: Vec<String>,
    expires_ms: Option<i64>,
}

struct Series {
    tipo: TipoMetrica,
    label_sets: HashSet<String>,
    /// (timestamp ms, arrival sequence) → sample: equal samples never collapse.
    samples: BTreeMap<(i64, u64), Metrica>,
    retention_ms: i64,
}

impl MemoryStore {
    /// A store whose documents expire `ttl` after their last write; `None` keeps them.
    pub fn new(ttl: Option<Duration>) -> Self {
        let ttl_ms = ttl
            .filter(|t| !t.is_zero())
            .map(|t| i64::try_from(t.as_millis()).unwrap_or(i64::MAX));
        Self {
            ttl_ms,
            state: Mutex::new(State::default()),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut State, i64) -> T) -> T {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut state, Timestamp::now().millis())
    }
}

impl Docs {
    /// Drops every expired document and its index entries.
    fn expire(&mut self, now: i64) {
        while let Some((at, _)) = self.expiry.first() {
            if *at > now {
                break;
            }
            if let Some((_, id)) = self.expiry.pop_first() {
                if let Some(doc) = self.docs.remove(&id) {
                    self.unindex(&id, &doc);
                }
            }
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
        if let Some(at) = doc.expires_ms {
            self.expiry.remove(&(at, id.to_owned()));
        }
    }

    fn write(&mut self, doc: &Document, rev: u64, expires_ms: Option<i64>) {
        if let Some(old) = self.docs.remove(&doc.id) {
            self.unindex(&doc.id, &old);
        }
        for name in &doc.indexes {
            self.indexes
                .entry(name.clone())
                .or_default()
                .insert((doc.created_ms, doc.id.clone()));
        }
        if let Some(at) = expires_ms {
            self.expiry.insert((at, doc.id.clone()));
        }
        let stored = Doc {
            rev,
            body: doc.body.clone(),
            created_ms: doc.created_ms,
            indexes: doc.indexes.clone(),
            expires_ms,
        };
        self.docs.insert(doc.id.clone(), stored);
    }

    fn versioned(&self, id: &str) -> Option<Versioned> {
        self.docs.get(id).map(|d| Versioned {
            rev: d.rev,
            body: d.body.clone(),
        })
    }
}

impl State {
    fn docs(&mut self, collection: Collection, now: i64) -> &mut Docs {
        let docs = self.collections.entry(collection).or_default();
        docs.expire(now);
        docs
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn insert(&self, doc: &Document) -> Result<Insert, StoreError> {
        let expires = self.ttl_ms;
        Ok(self.with(|state, now| {
            let docs = state.docs(doc.collection, now);
            if let Some(existing) = docs.versioned(&doc.id) {
                return Insert::Exists(existing);
            }
            docs.write(doc, 1, expires.map(|t| now.saturating_add(t)));
            Insert::Created
        }))
    }

    async fn replace(&self, doc: &Document, expected: u64) -> Result<Replace, StoreError> {
        let expires = self.ttl_ms;
        Ok(self.with(|state, now| {
            let docs = state.docs(doc.collection, now);
            match docs.versioned(&doc.id) {
                Some(current) if current.rev == expected => {
                    docs.write(doc, expected + 1, expires.map(|t| now.saturating_add(t)));
                    Replace::Done(expected + 1)
                }
                current => Replace::Stale(current),
            }
        }))
    }

    async fn get(&self, collection: Collection, id: &str) -> Result<Option<Versioned>, StoreError> {
        Ok(self.with(|state, now| state.docs(collection, now).versioned(id)))
    }

    async fn list(&self, page: &Page) -> Result<Vec<Versioned>, StoreError> {
        Ok(self.with(|state, now| {
            let docs = state.docs(page.collection, now);
            let Some(index) = docs.indexes.get(&page.index) else {
                return Vec::new();
            };
            let lower = page
                .from_ms
                .map_or(Bound::Unbounded, |ms| Bound::Included((ms, String::new())));
            let upper = match page.to_ms {
                Some(ms) if ms < i64::MAX => Bound::Excluded((ms + 1, String::new())),
                _ => Bound::Unbounded,
            };
            let range = index.range((lower, upper));
            let ids: Vec<&(i64, String)> = if page.ascending {
                range.skip(page.skip).take(page.limit).collect()
            } else {
                range.rev().skip(page.skip).take(page.limit).collect()
            };
            ids.into_iter()
                .filter_map(|(_, id)| docs.versioned(id))
                .collect()
        }))
    }

    async fn append_samples(
        &self,
        samples: &[Metrica],
        limits: SeriesLimits,
    ) -> Result<Result<(), SampleRejection>, StoreError> {
        Ok(self.with(|state, now| {
            // Check the whole batch before writing any of it.
            let mut kinds: HashMap<&str, TipoMetrica> = HashMap::new();
            let mut new_sets: HashMap<&str, HashSet<String>> = HashMap::new();
            for (index, sample) in samples.iter().enumerate() {
                let series = state.series.get(&sample.nome);
                let pinned = series
                    .map(|s| s.tipo)
                    .or_else(|| kinds.get(sample.nome.as_str()).copied());
                if let Some(pinned) = pinned.filter(|p| *p != sample.tipo) {
                    return Err(SampleRejection::TypeMismatch {
                        index,
                        nome: sample.nome.clone(),
                        pinned,
                    });
                }
                kinds.insert(&sample.nome, sample.tipo);
                let key = sample.series_key();
                let known = series.is_some_and(|s| s.label_sets.contains(&key));
                let fresh = new_sets.entry(&sample.nome).or_default();
                if !known && !fresh.contains(&key) {
                    let existing = series.map_or(0, |s| s.label_sets.len());
                    if existing + fresh.len() >= limits.max_series_per_name {
                        let cap = limits.max_series_per_name;
                        return Err(SampleRejection::TooManySeries {
                            index,
                            nome: sample.nome.clone(),
                            cap,
                        });
                    }
                    fresh.insert(key);
                }
            }
            let horizon = now.saturating_sub(limits.retention_ms);
            for sample in samples {
                state.sample_seq += 1;
                let seq = state.sample_seq;
                let series = state
                    .series
                    .entry(sample.nome.clone())
                    .or_insert_with(|| Series {
                        tipo: sample.tipo,
                        label_sets: HashSet::new(),
                        samples: BTreeMap::new(),
                        retention_ms: limits.retention_ms,
                    });
                series.retention_ms = limits.retention_ms;
                series.label_sets.insert(sample.series_key());
                series
                    .samples
                    .insert((sample.timestamp.millis(), seq), sample.clone());
                series.samples = series.samples.split_off(&(horizon, 0));
            }
            Ok(())
        }))
    }

    async fn query_samples(&self, query: &SampleQuery) -> Result<Vec<Metrica>, StoreError> {
        Ok(self.with(|state, now| {
            let mut found: Vec<(&(i64, u64), &Metrica)> = Vec::new();
            let names: Vec<&String> = match &query.nome {
                Some(nome) => state
                    .series
                    .get_key_value(nome)
                    .map(|(k, _)| k)
                    .into_iter()
                    .collect(),
                None => state.series.keys().collect(),
            };
            for name in names {
                let Some(series) = state.series.get(name) else {
                    continue;
                };
                if query.tipo.is_some_and(|t| t != series.tipo) {
                    continue;
                }
                let horizon = now.saturating_sub(series.retention_ms);
                let from = query.from.map_or(horizon, |t| t.millis().max(horizon));
                let to = query.to.map_or(Bound::Unbounded, |t| {
                    Bound::Included((t.millis(), u64::MAX))
                });
                found.extend(
                    series
                        .samples
                        .range((Bound::Included((from, 0)), to))
                        .take(query.limit),
                );
            }
            found.sort_unstable_by_key(|(key, _)| **key);
            found
                .into_iter()
                .take(query.limit)
                .map(|(_, m)| m.clone())
                .collect()
        }))
    }

    async fn put_presence(
        &self,
        conn: &str,
        instance: &str,
        ttl_ms: u64,
    ) -> Result<(), StoreError> {
        self.with(|state, now| {
            state.presence_writes += 1;
            if state.presence_writes % 1024 == 0 {
                state.presence.retain(|_, (_, expires)| *expires > now);
            }
            let expires = now.saturating_add(i64::try_from(ttl_ms).unwrap_or(i64::MAX));
            state
                .presence
                .insert(conn.to_owned(), (instance.to_owned(), expires));
        });
        Ok(())
    }

    async fn presence(&self, conn: &str) -> Result<Option<String>, StoreError> {
        Ok(self.with(|state, now| {
            state
                .presence
                .get(conn)
                .filter(|(_, expires)| *expires > now)
                .map(|(instance, _)| instance.clone())
        }))
    }

    async fn remove_presence(&self, conn: &str) -> Result<(), StoreError> {
        self.with(|state, _| state.presence.remove(conn));
        Ok(())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::MemoryStore;

    integra_services::store_conformance!(|ttl| async move {
        Arc::new(MemoryStore::new(ttl)) as Arc<dyn integra_ports::Store>
    });
}
