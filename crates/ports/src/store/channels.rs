//! Channel history: each channel's publications, numbered atomically, kept within bounds, and the
//! count of its subscribers on every instance.

use async_trait::async_trait;
use integra_domain::{Canal, Dados, Posicao, Publicacao, Timestamp};

use super::StoreError;

/// How much history a channel keeps (`channels.history_size`, `channels.history_ttl_secs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryLimits {
    /// Publications kept per channel; the oldest leave first.
    pub size: usize,
    /// A channel's history is lost this long after its last publication (and its epoca with it).
    pub ttl_ms: u64,
}

/// A page of a channel's history.
#[derive(Debug, Clone, PartialEq)]
pub struct Historico {
    /// Where the channel stands now.
    pub posicao: Posicao,
    /// The offset of the oldest publication kept; `None` when none is.
    pub first_kept: Option<u64>,
    /// The publications asked for, in ascending offset.
    pub publicacoes: Vec<Publicacao>,
}

/// The history of every channel.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ChannelStore: Send + Sync {
    /// Appends `dados` to `canal`'s history, in order, at the next offsets, all at once: two
    /// callers never get the same offset. A channel with no history begins one, with the epoca
    /// `new_epoca`. Returns the publications as kept.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn publish(
        &self,
        canal: &Canal,
        dados: &[Dados],
        criado_em: Timestamp,
        new_epoca: &str,
        limits: HistoryLimits,
    ) -> Result<Vec<Publicacao>, StoreError>;

    /// The publications of `canal` after offset `desde`, ascending, at most `limit`, with where
    /// the channel stands. A channel with no history begins one, empty, with the epoca
    /// `new_epoca`, so that a subscriber before the first publication already has its epoca.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn history(
        &self,
        canal: &Canal,
        desde: u64,
        limit: usize,
        new_epoca: &str,
        limits: HistoryLimits,
    ) -> Result<Historico, StoreError>;

    /// Records that `instance` holds `count` subscribers of `canal`, for `ttl_ms` unless written
    /// again (0 forgets it).
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn put_subscribers(
        &self,
        canal: &Canal,
        instance: &str,
        count: u64,
        ttl_ms: u64,
    ) -> Result<(), StoreError>;

    /// The subscribers of `canal` on every live instance.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn subscribers(&self, canal: &Canal) -> Result<u64, StoreError>;
}
