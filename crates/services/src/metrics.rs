//! MetricsService: validate samples, store them in their series, feed the Prometheus registry.

use std::time::Duration;

use integra_domain::{Metrica, NovaMetrica, Timestamp, ValidationError};
use integra_ports::{SampleQuery, SampleRejection, SeriesLimits};

use crate::{Ports, ServiceError};

/// Most samples in one request.
pub const MAX_BATCH: usize = 1000;
/// Most samples one query returns.
pub const MAX_QUERY_LIMIT: usize = 10_000;

/// Limits of the metric series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricsConfig {
    /// Samples older than this are trimmed (`metrics.retention_secs`).
    pub retention: Duration,
    /// Most label sets per name (`metrics.max_series_per_name`).
    pub max_series_per_name: usize,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            retention: Duration::from_secs(86_400),
            max_series_per_name: 1000,
        }
    }
}

/// Records and queries metric samples.
pub struct MetricsService {
    ports: Ports,
    config: MetricsConfig,
}

impl MetricsService {
    /// The service over these ports.
    pub fn new(ports: Ports, config: MetricsConfig) -> Self {
        Self { ports, config }
    }

    /// Records one sample.
    ///
    /// # Errors
    /// [`ServiceError::Invalid`] naming the field, or [`ServiceError::Store`].
    pub async fn record(&self, input: NovaMetrica) -> Result<Metrica, ServiceError> {
        let sample = Metrica::record(input, Timestamp::now())?;
        let mut stored = self.store(vec![sample]).await.map_err(|e| match e {
            // A single object has no index to name.
            ServiceError::Invalid(v) => ServiceError::Invalid(ValidationError {
                field: v.field.trim_start_matches("[0].").to_owned(),
                reason: v.reason,
            }),
            other => other,
        })?;
        stored
            .pop()
            .ok_or_else(|| ServiceError::Corrupt("the store returned no sample".into()))
    }

    /// Records a batch of samples, all or none: one invalid item is an error naming its index.
    ///
    /// # Errors
    /// [`ServiceError::Invalid`] naming `[index].field`, or [`ServiceError::Store`].
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
        self.store(samples).await
    }

    async fn store(&self, samples: Vec<Metrica>) -> Result<Vec<Metrica>, ServiceError> {
        let limits = SeriesLimits {
            max_series_per_name: self.config.max_series_per_name,
            retention_ms: i64::try_from(self.config.retention.as_millis()).unwrap_or(i64::MAX),
        };
        let outcome = self
            .ports
            .store
            .append_samples(&samples, limits)
            .await
            .map_err(self.ports.store_failed("append_samples"))?;
        if let Err(rejection) = outcome {
            let (index, field) = match &rejection {
                SampleRejection::TypeMismatch { index, .. } => (*index, "tipo"),
                SampleRejection::TooManySeries { index, .. } => (*index, "labels"),
            };
            let reason = rejection.to_string();
            let reason = reason.split_once(": ").map_or(reason.as_str(), |(_, r)| r);
            return Err(ServiceError::Invalid(
                ValidationError::new(field, reason).at_index(index),
            ));
        }
        for sample in &samples {
            self.ports.metrics.record(sample);
        }
        Ok(samples)
    }

    /// Reads samples in ascending timestamp; the range is inclusive.
    ///
    /// # Errors
    /// [`ServiceError::Invalid`] for a limit over 10 000 or a range that ends before it starts;
    /// [`ServiceError::Store`].
    pub async fn query(&self, query: SampleQuery) -> Result<Vec<Metrica>, ServiceError> {
        if query.limit == 0 || query.limit > MAX_QUERY_LIMIT {
            return Err(ServiceError::invalid(
                "limit",
                format!("must be between 1 and {MAX_QUERY_LIMIT}"),
            ));
        }
        if let (Some(from), Some(to)) = (query.from, query.to) {
            if to < from {
                return Err(ServiceError::invalid(
                    "end_time",
                    "must not be before start_time",
                ));
            }
        }
        Ok(self
            .ports
            .store
            .query_samples(&query)
            .await
            .map_err(self.ports.store_failed("query_samples"))?)
    }

    /// The OpenMetrics exposition of every series and of the service's own metrics.
    pub fn exposition(&self) -> String {
        self.ports.metrics.render()
    }
}

#[cfg(test)]
#[path = "metrics_tests.rs"]
mod tests;
