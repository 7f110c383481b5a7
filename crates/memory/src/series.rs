//! Embedded metric series: each series (a name and a label set) keeps its points compactly, as
//! (timestamp, arrival) → value; a query merges the series of a name in time order.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap};
use std::ops::Bound;

use async_trait::async_trait;
use integra_domain::{MetricQuery, Metrica, Timestamp, TipoMetrica};
use integra_ports::{SampleRejection, SeriesLimits, SeriesStore, StoreError};

use crate::{lock, MemoryEngine};

/// What one point costs, about: its key and value in a B-tree node, with the node's slack.
pub(crate) const POINT_BYTES: usize = 40;
/// What a series costs beside its points and its labels' text: its maps and bookkeeping.
const SERIES_BYTES: usize = 200;

/// A point's place in time: (timestamp ms, arrival sequence), so equal samples never collapse.
type At = (i64, u64);

/// Every metric name's series.
#[derive(Default)]
pub(crate) struct Series {
    names: HashMap<String, Name>,
    /// Each name a metric's exposition uses → the metric that uses it.
    exposed: HashMap<String, String>,
    /// The oldest point of every series, for eviction oldest first.
    heads: BTreeSet<(At, String, String)>,
    seq: u64,
    /// What all of this holds, about, in bytes.
    pub(crate) bytes: usize,
}

struct Name {
    tipo: TipoMetrica,
    retention_ms: i64,
    /// Series key → the series.
    series: HashMap<String, OneSeries>,
}

struct OneSeries {
    labels: BTreeMap<String, String>,
    points: BTreeMap<At, f64>,
}

impl OneSeries {
    fn head(&self) -> Option<At> {
        self.points.first_key_value().map(|(at, _)| *at)
    }
}

fn series_bytes(key: &str, labels: &BTreeMap<String, String>) -> usize {
    SERIES_BYTES
        + key.len()
        + labels
            .iter()
            .map(|(k, v)| k.len() + v.len() + 48)
            .sum::<usize>()
}

impl Series {
    /// Checks a whole batch before any of it is written.
    fn check(&self, samples: &[Metrica], limits: SeriesLimits) -> Result<(), SampleRejection> {
        // What the batch itself adds: names with their kind, series per name, exposed names.
        let mut kinds: HashMap<&str, TipoMetrica> = HashMap::new();
        let mut fresh_series: HashMap<&str, Vec<String>> = HashMap::new();
        let mut exposed: HashMap<String, &str> = HashMap::new();
        for (index, sample) in samples.iter().enumerate() {
            let name = self.names.get(&sample.nome);
            let pinned = name
                .map(|n| n.tipo)
                .or_else(|| kinds.get(sample.nome.as_str()).copied());
            if let Some(pinned) = pinned.filter(|p| *p != sample.tipo) {
                return Err(SampleRejection::TypeMismatch {
                    index,
                    nome: sample.nome.clone(),
                    pinned,
                });
            }
            if pinned.is_none() {
                let new_names = kinds
                    .keys()
                    .filter(|n| !self.names.contains_key(**n))
                    .count();
                if self.names.len() + new_names >= limits.max_names {
                    return Err(SampleRejection::TooManyNames {
                        index,
                        cap: limits.max_names,
                    });
                }
                for used in sample.tipo.exposed_names(&sample.nome) {
                    let owner = self.exposed.get(&used).map(String::as_str);
                    if let Some(with) = owner.or_else(|| exposed.get(&used).copied()) {
                        return Err(SampleRejection::Collision {
                            index,
                            nome: sample.nome.clone(),
                            with: with.to_owned(),
                        });
                    }
                    exposed.insert(used, &sample.nome);
                }
            }
            kinds.insert(&sample.nome, sample.tipo);
            let key = sample.series_key();
            let known = name.is_some_and(|n| n.series.contains_key(&key));
            let fresh = fresh_series.entry(&sample.nome).or_default();
            if !known && !fresh.contains(&key) {
                let existing = name.map_or(0, |n| n.series.len());
                if existing + fresh.len() >= limits.max_series_per_name {
                    return Err(SampleRejection::TooManySeries {
                        index,
                        nome: sample.nome.clone(),
                        cap: limits.max_series_per_name,
                    });
                }
                fresh.push(key);
            }
        }
        Ok(())
    }

    fn append(&mut self, samples: &[Metrica], limits: SeriesLimits, now: i64) {
        let horizon = now.saturating_sub(limits.retention_ms);
        for sample in samples {
            self.seq += 1;
            let at = (sample.timestamp.millis(), self.seq);
            if !self.names.contains_key(&sample.nome) {
                for used in sample.tipo.exposed_names(&sample.nome) {
                    self.exposed.insert(used, sample.nome.clone());
                }
                let name = Name {
                    tipo: sample.tipo,
                    retention_ms: limits.retention_ms,
                    series: HashMap::new(),
                };
                self.names.insert(sample.nome.clone(), name);
            }
            let key = sample.series_key();
            let Some(name) = self.names.get_mut(&sample.nome) else {
                continue;
            };
            name.retention_ms = limits.retention_ms;
            let mut added = POINT_BYTES;
            let series = name.series.entry(key.clone()).or_insert_with(|| {
                added += series_bytes(&key, &sample.labels);
                OneSeries {
                    labels: sample.labels.clone(),
                    points: BTreeMap::new(),
                }
            });
            let head_before = series.head();
            series.points.insert(at, sample.valor);
            let mut dropped = 0;
            while series.points.len() > limits.max_samples_per_series {
                series.points.pop_first();
                dropped += 1;
            }
            let kept = series.points.split_off(&(horizon, 0));
            dropped += series.points.len();
            series.points = kept;
            let head_after = series.head();
            self.bytes = (self.bytes + added).saturating_sub(dropped * POINT_BYTES);
            if head_after != head_before {
                if let Some(old) = head_before {
                    self.heads.remove(&(old, sample.nome.clone(), key.clone()));
                }
                if let Some(new) = head_after {
                    self.heads.insert((new, sample.nome.clone(), key));
                }
            }
        }
    }

    /// When the oldest point was measured, if there is one.
    pub(crate) fn oldest(&self) -> Option<i64> {
        self.heads.first().map(|((ms, _), _, _)| *ms)
    }

    /// Drops the oldest point of all; returns whether there was one.
    pub(crate) fn evict_oldest(&mut self) -> bool {
        let Some((_, nome, key)) = self.heads.pop_first() else {
            return false;
        };
        let Some(series) = self
            .names
            .get_mut(&nome)
            .and_then(|n| n.series.get_mut(&key))
        else {
            return true;
        };
        if series.points.pop_first().is_some() {
            self.bytes = self.bytes.saturating_sub(POINT_BYTES);
        }
        if let Some(head) = series.head() {
            self.heads.insert((head, nome, key));
        }
        true
    }

    fn query(&self, query: &MetricQuery, now: i64) -> Vec<Metrica> {
        let names: Vec<(&String, &Name)> = match &query.nome {
            Some(nome) => self.names.get_key_value(nome).into_iter().collect(),
            None => self.names.iter().collect(),
        };
        // A k-way merge of every matching series' range, in (timestamp, arrival) order: the cost
        // grows with the limit and the number of series, not with the points they hold.
        let mut runs = Vec::new();
        for (nome, name) in names {
            if query.tipo.is_some_and(|t| t != name.tipo) {
                continue;
            }
            let horizon = now.saturating_sub(name.retention_ms);
            let from = query
                .periodo
                .start()
                .map_or(horizon, |t| t.millis().max(horizon));
            let end = query.periodo.end().map(Timestamp::millis);
            // A range that ends before the retention's horizon holds nothing (and a B-tree range
            // must not end before it starts).
            if end.is_some_and(|end| end < from) {
                continue;
            }
            let to = end.map_or(Bound::Unbounded, |ms| Bound::Included((ms, u64::MAX)));
            for series in name.series.values() {
                let range = series.points.range((Bound::Included((from, 0)), to));
                runs.push((nome.as_str(), name.tipo, series, range));
            }
        }
        let mut heap = BinaryHeap::new();
        for (run, (_, _, _, range)) in runs.iter_mut().enumerate() {
            if let Some((at, value)) = range.next() {
                heap.push(Reverse((*at, run, value.to_bits())));
            }
        }
        let mut found = Vec::new();
        while let Some(Reverse(((ms, _), run, bits))) = heap.pop() {
            let (nome, tipo, series, range) = &mut runs[run];
            found.push(Metrica {
                nome: (*nome).to_owned(),
                valor: f64::from_bits(bits),
                tipo: *tipo,
                labels: series.labels.clone(),
                timestamp: Timestamp::from_millis(ms),
            });
            if found.len() == query.limit() {
                break;
            }
            if let Some((at, value)) = range.next() {
                heap.push(Reverse((*at, run, value.to_bits())));
            }
        }
        found
    }
}

#[async_trait]
impl SeriesStore for MemoryEngine {
    async fn append_samples(
        &self,
        samples: &[Metrica],
        limits: SeriesLimits,
    ) -> Result<Result<(), SampleRejection>, StoreError> {
        let now = Timestamp::now().millis();
        {
            let mut series = lock(&self.series);
            if let Err(rejection) = series.check(samples, limits) {
                return Ok(Err(rejection));
            }
            series.append(samples, limits, now);
            self.series_bytes
                .store(series.bytes, std::sync::atomic::Ordering::Relaxed);
        }
        self.enforce_budget();
        Ok(Ok(()))
    }

    async fn query_samples(&self, query: &MetricQuery) -> Result<Vec<Metrica>, StoreError> {
        Ok(lock(&self.series).query(query, Timestamp::now().millis()))
    }
}
