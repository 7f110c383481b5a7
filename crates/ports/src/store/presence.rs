//! Connection presence: which instance holds each WebSocket connection, so that a personal
//! message reaches it from any instance.

use async_trait::async_trait;

use super::StoreError;

/// Where each WebSocket connection lives.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait PresenceStore: Send + Sync {
    /// Records that connection `connection` lives on `instance`, for `ttl_ms`.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn put_presence(
        &self,
        connection: &str,
        instance: &str,
        ttl_ms: u64,
    ) -> Result<(), StoreError>;

    /// The instance that holds `connection`, if any.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn presence(&self, connection: &str) -> Result<Option<String>, StoreError>;

    /// Forgets `connection`.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn remove_presence(&self, connection: &str) -> Result<(), StoreError>;
}
