//! What a list or a query asks for: filters, a time range, a page, an order. Each is checked when
//! it is made, so a store or a service never receives one out of range.

use crate::{Severidade, StatusMensagem, TimeRange, TipoMensagem, TipoMetrica, ValidationError};

/// A page of a list: how many to pass over, how many to return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    skip: usize,
    limit: usize,
}

impl Paging {
    /// The largest page.
    pub const MAX_LIMIT: usize = 1000;
    /// The page size when none is asked for.
    pub const DEFAULT_LIMIT: usize = 100;

    /// A page of `limit` items after the first `skip`.
    ///
    /// # Errors
    /// `limit` is 0 or over [`Paging::MAX_LIMIT`] (the error names `limit`).
    pub fn new(skip: usize, limit: usize) -> Result<Self, ValidationError> {
        if limit == 0 || limit > Self::MAX_LIMIT {
            return Err(ValidationError::new(
                "limit",
                format!("must be between 1 and {}", Self::MAX_LIMIT),
            ));
        }
        Ok(Self { skip, limit })
    }

    /// How many to pass over.
    pub const fn skip(self) -> usize {
        self.skip
    }

    /// How many to return at most.
    pub const fn limit(self) -> usize {
        self.limit
    }
}

impl Default for Paging {
    /// The first [`Paging::DEFAULT_LIMIT`] items.
    fn default() -> Self {
        Self {
            skip: 0,
            limit: Self::DEFAULT_LIMIT,
        }
    }
}

/// Which end of a list comes first, by creation time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    /// Newest first, ties by id descending: what every list of the contract answers.
    #[default]
    NewestFirst,
    /// Oldest first, ties by id ascending: how the service walks its own backlog.
    OldestFirst,
}

/// The filters of a message list; each absent one lets every value through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MessageFilter {
    /// Only this kind.
    pub tipo: Option<TipoMensagem>,
    /// Only this status.
    pub status: Option<StatusMensagem>,
}

/// The filters of an alert list; each absent one lets every value through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AlertFilter {
    /// Only this severity.
    pub severidade: Option<Severidade>,
    /// Only resolved (true) or open (false) alerts.
    pub resolvido: Option<bool>,
    /// Only acknowledged (true) or unacknowledged (false) alerts.
    pub reconhecido: Option<bool>,
    /// Only alerts created within this range.
    pub criado_em: TimeRange,
}

/// A query of metric samples, answered in ascending timestamp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricQuery {
    /// One name, or every name.
    pub nome: Option<String>,
    /// Only names of this kind.
    pub tipo: Option<TipoMetrica>,
    /// Only samples within this range.
    pub periodo: TimeRange,
    limit: usize,
}

impl MetricQuery {
    /// The most samples one query returns.
    pub const MAX_LIMIT: usize = 10_000;
    /// How many samples a query returns when it does not say.
    pub const DEFAULT_LIMIT: usize = 1000;

    /// A query of at most `limit` samples.
    ///
    /// # Errors
    /// `nome` is not a metric name, or `limit` is 0 or over [`MetricQuery::MAX_LIMIT`] (the
    /// error names the field).
    pub fn new(
        nome: Option<String>,
        tipo: Option<TipoMetrica>,
        periodo: TimeRange,
        limit: usize,
    ) -> Result<Self, ValidationError> {
        if limit == 0 || limit > Self::MAX_LIMIT {
            return Err(ValidationError::new(
                "limit",
                format!("must be between 1 and {}", Self::MAX_LIMIT),
            ));
        }
        if nome
            .as_deref()
            .is_some_and(|n| !crate::metrica::is_metric_name(n))
        {
            return Err(ValidationError::new(
                "nome",
                "must match [a-zA-Z_:][a-zA-Z0-9_:]* and have at most 200 characters",
            ));
        }
        Ok(Self {
            nome,
            tipo,
            periodo,
            limit,
        })
    }

    /// Every sample of every name, up to `limit`.
    ///
    /// # Errors
    /// As [`MetricQuery::new`].
    pub fn everything(limit: usize) -> Result<Self, ValidationError> {
        Self::new(None, None, TimeRange::ALL, limit)
    }

    /// The most samples to return.
    pub const fn limit(&self) -> usize {
        self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_and_queries_refuse_sizes_out_of_range_naming_limit() {
        assert_eq!(Paging::new(0, 0).unwrap_err().field, "limit");
        assert!(Paging::new(5, Paging::MAX_LIMIT).is_ok());
        assert!(Paging::new(0, Paging::MAX_LIMIT + 1).is_err());
        assert_eq!(Paging::default().limit(), Paging::DEFAULT_LIMIT);
        assert_eq!(MetricQuery::everything(0).unwrap_err().field, "limit");
        assert!(MetricQuery::everything(MetricQuery::MAX_LIMIT).is_ok());
        assert!(MetricQuery::everything(MetricQuery::MAX_LIMIT + 1).is_err());
        let bad_name = MetricQuery::new(Some("a-b".into()), None, TimeRange::ALL, 1);
        assert_eq!(bad_name.unwrap_err().field, "nome");
    }
}
