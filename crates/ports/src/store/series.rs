//! Metric series: samples appended in batches, queried by name, kind and time.

use async_trait::async_trait;
use integra_domain::{MetricQuery, Metrica, TipoMetrica, ValidationError};

use super::StoreError;

/// The limits a batch of samples must respect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeriesLimits {
    /// Most metric names.
    pub max_names: usize,
    /// Most label sets per metric name.
    pub max_series_per_name: usize,
    /// Most samples kept per series; past it the oldest (by timestamp) are dropped.
    pub max_samples_per_series: usize,
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
    /// The sample would add a name past the cap of names.
    #[error("sample {index}: the store already holds {cap} metric names")]
    TooManyNames {
        /// Index of the sample in the batch.
        index: usize,
        /// The cap.
        cap: usize,
    },
    /// The name's exposition would use a name another metric's exposition uses.
    #[error("sample {index}: metric `{nome}` would collide with metric `{with}`")]
    Collision {
        /// Index of the sample in the batch.
        index: usize,
        /// The metric's name.
        nome: String,
        /// The metric it collides with.
        with: String,
    },
}

impl SampleRejection {
    /// The index of the refused sample in its batch.
    pub const fn index(&self) -> usize {
        match self {
            Self::TypeMismatch { index, .. }
            | Self::TooManySeries { index, .. }
            | Self::TooManyNames { index, .. }
            | Self::Collision { index, .. } => *index,
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
            Self::TooManyNames { cap, .. } => ValidationError::new(
                "nome",
                format!("the store already holds its maximum of {cap} metric names"),
            ),
            Self::Collision { nome, with, .. } => ValidationError::new(
                "nome",
                format!("the exposition of `{nome}` would collide with that of metric `{with}`"),
            ),
        }
    }
}

/// The metric series: the samples of each name, by time.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait SeriesStore: Send + Sync {
    /// Appends a batch of samples to their series, all or none: each name keeps the kind of its
    /// first sample, its exposition collides with no other name's, and the limits hold (names,
    /// series per name). Equal samples never collapse into one; samples past the retention, and
    /// the oldest past `limits.max_samples_per_series` in a series, are dropped.
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
