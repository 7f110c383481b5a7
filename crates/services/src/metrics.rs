//! MetricsService: validate samples, store them in their series, feed the Prometheus registry.

use std::collections::HashMap;
use std::time::Duration;

use std::sync::Arc;

use integra_domain::{MetricQuery, Metrica, NovaMetrica, Timestamp, TipoMetrica, ValidationError};
use integra_ports::{SeriesLimits, SeriesStore};

use crate::{Ports, RuleService, ServiceError};

/// Most samples in one request.
pub const MAX_BATCH: usize = 1000;

/// Limits of the metric series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricsConfig {
    /// Samples older than this are trimmed (`metrics.retention_secs`).
    pub retention: Duration,
    /// Most metric names (`metrics.max_names`).
    pub max_names: usize,
    /// Most label sets per name (`metrics.max_series_per_name`).
    pub max_series_per_name: usize,
    /// Most samples kept per series, the oldest dropped first
    /// (`metrics.max_samples_per_series`).
    pub max_samples_per_series: usize,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            retention: Duration::from_secs(86_400),
            max_names: 10_000,
            max_series_per_name: 1000,
            max_samples_per_series: 10_000,
        }
    }
}

/// A batch refused whole: which sample, and the rule it broke on its own field.
struct Refused {
    index: usize,
    rule: ValidationError,
}

/// Records and queries metric samples, and keeps the service's own measurements.
pub struct MetricsService {
    ports: Ports<dyn SeriesStore>,
    limits: SeriesLimits,
    /// Where stored samples go to be evaluated; none: no rules.
    rules: Option<Arc<RuleService>>,
}

impl MetricsService {
    /// The service over these ports.
    pub fn new(ports: Ports<dyn SeriesStore>, config: MetricsConfig) -> Self {
        let limits = SeriesLimits {
            max_names: config.max_names,
            max_series_per_name: config.max_series_per_name,
            max_samples_per_series: config.max_samples_per_series,
            retention_ms: i64::try_from(config.retention.as_millis()).unwrap_or(i64::MAX),
        };
        Self {
            ports,
            limits,
            rules: None,
        }
    }

    /// The same service, handing every stored sample to `rules`.
    #[must_use]
    pub fn with_rules(mut self, rules: Arc<RuleService>) -> Self {
        self.rules = Some(rules);
        self
    }

    /// Records one sample.
    ///
    /// # Errors
    /// [`ServiceError::Invalid`] naming the field, or a store failure.
    pub async fn record(&self, input: NovaMetrica) -> Result<Metrica, ServiceError> {
        let sample = Metrica::record(input, Timestamp::now())?;
        match self.store(std::slice::from_ref(&sample)).await? {
            Ok(()) => Ok(sample),
            // A single object has no index to name.
            Err(refused) => Err(refused.rule.into()),
        }
    }

    /// Records a batch of samples, all or none: one invalid item is an error naming its index.
    ///
    /// # Errors
    /// [`ServiceError::Invalid`] naming `[index].field`, or a store failure.
    pub async fn record_batch(
        &self,
        inputs: Vec<NovaMetrica>,
    ) -> Result<Vec<Metrica>, ServiceError> {
        if inputs.is_empty() || inputs.len() > MAX_BATCH {
            return Err(ServiceError::invalid(
                "",
                format!("send 1 to {MAX_BATCH} samples, not {}", inputs.len()),
            ));
        }
        let now = Timestamp::now();
        let samples = inputs
            .into_iter()
            .enumerate()
            .map(|(i, input)| Metrica::record(input, now).map_err(|e| e.at_index(i)))
            .collect::<Result<Vec<_>, _>>()?;
        match self.store(&samples).await? {
            Ok(()) => Ok(samples),
            Err(refused) => Err(refused.rule.at_index(refused.index).into()),
        }
    }

    /// Appends valid samples to their series, then to the registry; a batch the series refuse is
    /// stored nowhere.
    async fn store(&self, samples: &[Metrica]) -> Result<Result<(), Refused>, ServiceError> {
        if let Some(refused) = self.overflowing_counter(samples) {
            return Ok(Err(refused));
        }
        let appended = self
            .ports
            .store
            .append_samples(samples, self.limits)
            .await
            .map_err(self.ports.store_failed("append_samples"))?;
        if let Err(rejection) = appended {
            return Ok(Err(Refused {
                index: rejection.index(),
                rule: rejection.rule_broken(),
            }));
        }
        for sample in samples {
            self.ports.metrics.record(sample);
        }
        if let Some(rules) = &self.rules {
            rules.observe(samples);
        }
        Ok(Ok(()))
    }

    /// The first sample that would take its counter past the largest finite value, counting what
    /// the batch adds before it.
    fn overflowing_counter(&self, samples: &[Metrica]) -> Option<Refused> {
        let mut added: HashMap<(&str, String), f64> = HashMap::new();
        for (index, sample) in samples.iter().enumerate() {
            if sample.tipo != TipoMetrica::Counter {
                continue;
            }
            let sum = added
                .entry((sample.nome.as_str(), sample.series_key()))
                .or_insert_with(|| self.ports.metrics.counter_total(sample));
            *sum += sample.valor;
            if !sum.is_finite() {
                let rule = ValidationError::new(
                    "valor",
                    format!(
                        "counter `{}` would pass the largest finite value",
                        sample.nome
                    ),
                );
                return Some(Refused { index, rule });
            }
        }
        None
    }

    /// Reads samples in ascending timestamp; the range is inclusive.
    ///
    /// # Errors
    /// A store failure.
    pub async fn query(&self, query: &MetricQuery) -> Result<Vec<Metrica>, ServiceError> {
        self.ports
            .store
            .query_samples(query)
            .await
            .map_err(self.ports.store_failed("query_samples"))
    }

    /// The OpenMetrics exposition of every series and of the service's own metrics.
    pub fn exposition(&self) -> String {
        self.ports.metrics.render()
    }

    /// Counts one request served on `route` (a route pattern, not a path) with `status`.
    pub fn observe_request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        self.ports
            .metrics
            .http_request(method, route, status, seconds);
    }
}

#[cfg(test)]
#[path = "metrics_tests.rs"]
mod tests;
