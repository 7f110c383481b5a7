//! Embedded metric series.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Bound;

use async_trait::async_trait;
use integra_domain::{MetricQuery, Metrica, Timestamp, TipoMetrica};
use integra_ports::{SampleRejection, SeriesLimits, SeriesStore, StoreError};

use crate::{lock, MemoryEngine};

/// Every metric name's series.
#[derive(Default)]
pub(crate) struct Series {
    names: HashMap<String, Name>,
    /// Arrival order, so that equal samples never collapse.
    seq: u64,
}

struct Name {
    tipo: TipoMetrica,
    label_sets: HashSet<String>,
    /// (timestamp ms, arrival sequence) → sample.
    samples: BTreeMap<(i64, u64), Metrica>,
    retention_ms: i64,
}

impl Series {
    /// Checks a whole batch before any of it is written.
    fn check(&self, samples: &[Metrica], limits: SeriesLimits) -> Result<(), SampleRejection> {
        let mut kinds: HashMap<&str, TipoMetrica> = HashMap::new();
        let mut new_sets: HashMap<&str, HashSet<String>> = HashMap::new();
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
            kinds.insert(&sample.nome, sample.tipo);
            let key = sample.series_key();
            let known = name.is_some_and(|n| n.label_sets.contains(&key));
            let fresh = new_sets.entry(&sample.nome).or_default();
            if !known && !fresh.contains(&key) {
                let existing = name.map_or(0, |n| n.label_sets.len());
                if existing + fresh.len() >= limits.max_series_per_name {
                    return Err(SampleRejection::TooManySeries {
                        index,
                        nome: sample.nome.clone(),
                        cap: limits.max_series_per_name,
                    });
                }
                fresh.insert(key);
            }
        }
        Ok(())
    }

    fn append(&mut self, samples: &[Metrica], limits: SeriesLimits, now: i64) {
        let horizon = now.saturating_sub(limits.retention_ms);
        for sample in samples {
            self.seq += 1;
            let name = self
                .names
                .entry(sample.nome.clone())
                .or_insert_with(|| Name {
                    tipo: sample.tipo,
                    label_sets: HashSet::new(),
                    samples: BTreeMap::new(),
                    retention_ms: limits.retention_ms,
                });
            name.retention_ms = limits.retention_ms;
            name.label_sets.insert(sample.series_key());
            name.samples
                .insert((sample.timestamp.millis(), self.seq), sample.clone());
            name.samples = name.samples.split_off(&(horizon, 0));
        }
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
        let mut series = lock(&self.series);
        if let Err(rejection) = series.check(samples, limits) {
            return Ok(Err(rejection));
        }
        series.append(samples, limits, now);
        Ok(Ok(()))
    }

    async fn query_samples(&self, query: &MetricQuery) -> Result<Vec<Metrica>, StoreError> {
        let now = Timestamp::now().millis();
        let series = lock(&self.series);
        let names: Vec<&Name> = match &query.nome {
            Some(nome) => series.names.get(nome).into_iter().collect(),
            None => series.names.values().collect(),
        };
        let mut found: Vec<(&(i64, u64), &Metrica)> = Vec::new();
        for name in names {
            if query.tipo.is_some_and(|t| t != name.tipo) {
                continue;
            }
            let horizon = now.saturating_sub(name.retention_ms);
            let from = query
                .periodo
                .start()
                .map_or(horizon, |t| t.millis().max(horizon));
            let to = query.periodo.end().map_or(Bound::Unbounded, |t| {
                Bound::Included((t.millis(), u64::MAX))
            });
            found.extend(
                name.samples
                    .range((Bound::Included((from, 0)), to))
                    .take(query.limit()),
            );
        }
        found.sort_unstable_by_key(|(key, _)| **key);
        Ok(found
            .into_iter()
            .take(query.limit())
            .map(|(_, m)| m.clone())
            .collect())
    }
}
