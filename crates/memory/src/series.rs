//! Embedded metric series. Each series (a name and a label set) keeps its labels once and its
//! points as 16-byte (timestamp, value) pairs in time order, in a deque: samples mostly arrive in
//! order, so a write is a push at the back, a trim a pop at the front, and a range two binary
//! searches. A query merges the series of a name in time order, at a cost that grows with its
//! limit, not with the points held.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, VecDeque};

use async_trait::async_trait;
use integra_domain::{MetricQuery, Metrica, Timestamp, TipoMetrica};
use integra_ports::{SampleRejection, SeriesLimits, SeriesStore, StoreError};

use crate::{lock, MemoryEngine};

/// One sample of a series.
#[derive(Debug, Clone, Copy)]
struct Point {
    ms: i64,
    value: f64,
}

/// What a point's slot costs: the deque's capacity is counted, slack included.
const POINT_BYTES: usize = std::mem::size_of::<Point>();
/// What a series costs beside its points and its labels' text: its maps and bookkeeping.
const SERIES_BYTES: usize = 256;

/// Every metric name's series.
#[derive(Default)]
pub(crate) struct Series {
    names: HashMap<String, Name>,
    /// Each name a metric's exposition uses → the metric that uses it.
    exposed: HashMap<String, String>,
    /// The oldest point of every series (its timestamp, name and series key), for eviction
    /// oldest first.
    heads: BTreeSet<(i64, String, String)>,
    /// What all of this holds, in bytes: every deque's capacity, and about what each series'
    /// labels and maps take.
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
    /// In time order; equal timestamps in arrival order.
    points: VecDeque<Point>,
}

impl OneSeries {
    fn head(&self) -> Option<i64> {
        self.points.front().map(|p| p.ms)
    }

    fn bytes(&self) -> usize {
        self.points.capacity() * POINT_BYTES
    }

    /// Adds a point after any of the same timestamp. The deque grows by half its length at a
    /// time (not double), and never past `max` points: a full series wastes little.
    fn insert(&mut self, point: Point, max: usize) {
        let len = self.points.len();
        if len == self.points.capacity() {
            // At the cap the point in hand still needs its slot: the oldest leaves after it.
            let room = max.saturating_sub(len).max(1);
            self.points.reserve_exact((len / 2).max(4).min(room));
        }
        if self.points.back().is_none_or(|last| last.ms <= point.ms) {
            self.points.push_back(point);
        } else {
            let at = self.points.partition_point(|p| p.ms <= point.ms);
            self.points.insert(at, point);
        }
    }

    /// The positions of the points from `from` to `to` (ms, inclusive).
    fn range(&self, from: i64, to: Option<i64>) -> std::ops::Range<usize> {
        let start = self.points.partition_point(|p| p.ms < from);
        let end = to.map_or(self.points.len(), |to| {
            self.points.partition_point(|p| p.ms <= to)
        });
        start..end.max(start)
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
            let mut added = 0;
            let series = name.series.entry(key.clone()).or_insert_with(|| {
                added += series_bytes(&key, &sample.labels);
                OneSeries {
                    labels: sample.labels.clone(),
                    points: VecDeque::new(),
                }
            });
            let (head_before, bytes_before) = (series.head(), series.bytes());
            let point = Point {
                ms: sample.timestamp.millis(),
                value: sample.valor,
            };
            series.insert(point, limits.max_samples_per_series);
            while series.points.len() > limits.max_samples_per_series
                || series.points.front().is_some_and(|p| p.ms < horizon)
            {
                series.points.pop_front();
            }
            let (head_after, bytes_after) = (series.head(), series.bytes());
            self.bytes = (self.bytes + added + bytes_after).saturating_sub(bytes_before);
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
        self.heads.first().map(|(ms, _, _)| *ms)
    }

    /// Drops the oldest point of all; returns whether there was one. A series whose last point
    /// leaves goes too, with its labels, so the budget bounds series as well as points (its name
    /// keeps its kind).
    pub(crate) fn evict_oldest(&mut self) -> bool {
        let Some((_, nome, key)) = self.heads.pop_first() else {
            return false;
        };
        let Some(name) = self.names.get_mut(&nome) else {
            return true;
        };
        let Some(series) = name.series.get_mut(&key) else {
            return true;
        };
        let before = series.bytes();
        series.points.pop_front();
        // Popping frees no memory; giving half a deque back does.
        if series.points.len() < series.points.capacity() / 2 {
            series
                .points
                .shrink_to(series.points.len() + series.points.len() / 4);
        }
        self.bytes = (self.bytes + series.bytes()).saturating_sub(before);
        match series.head() {
            Some(head) => {
                self.heads.insert((head, nome, key));
            }
            None => {
                if let Some(gone) = name.series.remove(&key) {
                    self.bytes = self
                        .bytes
                        .saturating_sub(series_bytes(&key, &gone.labels) + gone.bytes());
                }
            }
        }
        true
    }

    fn query(&self, query: &MetricQuery, now: i64) -> Vec<Metrica> {
        let names: Vec<(&String, &Name)> = match &query.nome {
            Some(nome) => self.names.get_key_value(nome).into_iter().collect(),
            None => self.names.iter().collect(),
        };
        // One run per matching series: its points within the range and the retention.
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
            let to = query.periodo.end().map(Timestamp::millis);
            for series in name.series.values() {
                let range = series.range(from, to);
                if !range.is_empty() {
                    runs.push((nome.as_str(), name.tipo, series, range));
                }
            }
        }
        // A k-way merge in (timestamp, run) order.
        let mut heap: BinaryHeap<Reverse<(i64, usize, usize)>> = runs
            .iter()
            .enumerate()
            .map(|(run, (_, _, series, range))| {
                Reverse((series.points[range.start].ms, run, range.start))
            })
            .collect();
        let mut found = Vec::new();
        while let Some(Reverse((ms, run, at))) = heap.pop() {
            let (nome, tipo, series, range) = &runs[run];
            found.push(Metrica {
                nome: (*nome).to_owned(),
                valor: series.points[at].value,
                tipo: *tipo,
                labels: series.labels.clone(),
                timestamp: Timestamp::from_millis(ms),
            });
            if found.len() == query.limit() {
                break;
            }
            if at + 1 < range.end {
                heap.push(Reverse((series.points[at + 1].ms, run, at + 1)));
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
