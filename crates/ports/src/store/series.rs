//! Metric series: samples appended in batches, queried by name, kind and time.

use async_trait::async_trait;
use integra_domain::{MetricQuery, Metrica, TipoMetrica, ValidationError};

use super::StoreError;

/// The limits a batch of samples must respect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeriesLimits {
    /// Most label sets per metric name.
    pub max_series_per_name: usize,
    /// Samples older than this are trimmed (ms).
    pub retention_ms: i64,
}

/// Why a batch of samples was refused whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SampleRejection {
    /// The name already holds samples of another kind.
    #[error("sample {index}: metric `{nome}` is a {pinned}")]
    TypeMismatch {
        /// Index of the sample in the batch.
        index: usize,
        /// The metric's name.
        nome: String,
        /// The kind its first sample set.
        pinned: TipoMetrica,
    },
    /// The sample would open a series past the cap of its name.
    #[error("sample {index}: metric `{nome}` already has {cap} series")]
    TooManySeries {
        /// Index of the sample in the batch.
        index: usize,
        /// The metric's name.
        nome: String,
        /// The cap.
        cap: usize,
    },
}

impl SampleRejection {
    /// The index of the refused sample in its batch.
    pub const fn index(&self) -> usize {
        match self {
            Self::TypeMismatch { index, .. } | Self::TooManySeries { index, .. } => *index,
        }
    }

    /// The rule the refused sample broke, on its own field (not yet located in the batch).
    pub fn rule_broken(&self) -> ValidationError {
        match self {
            Self::TypeMismatch { nome, pinned, .. } => {
                ValidationError::new("tipo", format!("metric `{nome}` is a {pinned}"))
            }
            Self::TooManySeries { nome, cap, .. } => ValidationError::new(
                "labels",
                format!("metric `{nome}` already has {cap} series"),
            ),
        }
    }
}

/// The metric series: the samples of each name, by time.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait SeriesStore: Send + Sync {
    /// Appends a batch of samples to their series, all or none: each name keeps the kind of its
    /// first sample and at most `limits.max_series_per_name` label sets. Equal samples never
    /// collapse into one; samples past the retention are trimmed.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails; a refused batch is `Ok(Err(rejection))`.
    async fn append_samples(
        &self,
        samples: &[Metrica],
        limits: SeriesLimits,
    ) -> Result<Result<(), SampleRejection>, StoreError>;

    /// Reads samples in ascending timestamp (ties in arrival order).
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn query_samples(&self, query: &MetricQuery) -> Result<Vec<Metrica>, StoreError>;
}
