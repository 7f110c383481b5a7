//! Presence: the store remembers which instance holds each connection, so that a personal message
//! sent through any instance reaches it. Entries expire unless refreshed, so those of an instance
//! that died go away by themselves.

use std::sync::Arc;

use super::Inner;
use crate::ServiceError;

impl Inner {
    fn presence_ttl_ms(&self) -> u64 {
        u64::try_from(self.config.presence_ttl.as_millis()).unwrap_or(u64::MAX)
    }

    /// Records that this instance holds `id`. If the store is down the connection still works
    /// here, and is registered at the next refresh.
    pub(super) async fn register_presence(&self, id: &str) {
        let stored = self
            .ports
            .store
            .put_presence(id, &self.instance, self.presence_ttl_ms())
            .await;
        if let Err(e) = stored {
            self.ports.metrics.store_error("put_presence");
            tracing::warn!(conexao_id = %id, error = %e, "could not register a connection's presence");
        }
    }

    /// Whether some instance holds `id`.
    pub(super) async fn present_anywhere(&self, id: &str) -> Result<bool, ServiceError> {
        let holder = self
            .ports
            .store
            .presence(id)
            .await
            .map_err(self.ports.store_failed("presence"))?;
        Ok(holder.is_some())
    }

    /// Unregisters a connection that ended, here and in the store.
    pub(super) fn forget(self: &Arc<Self>, id: &str) {
        let (removed, open) = self.registry.remove(id);
        if removed {
            self.ports
                .metrics
                .ws_connections(i64::try_from(open).unwrap_or(i64::MAX));
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let (inner, id) = (Arc::clone(self), id.to_owned());
            runtime.spawn(async move {
                if let Err(e) = inner.ports.store.remove_presence(&id).await {
                    inner.ports.metrics.store_error("remove_presence");
                    tracing::debug!(conexao_id = %id, error = %e, "presence not removed; it expires");
                }
            });
        }
    }

    /// Refreshes every local connection's presence and every local channel's subscriber count,
    /// three times per TTL.
    pub(super) async fn refresh_presence_forever(self: Arc<Self>) {
        let mut tick = tokio::time::interval(self.config.presence_ttl / 3);
        tick.tick().await;
        loop {
            tick.tick().await;
            self.refresh_counts().await;
            for id in self.registry.ids() {
                let stored = self
                    .ports
                    .store
                    .put_presence(&id, &self.instance, self.presence_ttl_ms())
                    .await;
                if let Err(e) = stored {
                    self.ports.metrics.store_error("put_presence");
                    tracing::warn!(error = %e, "presence refresh failed");
                    break;
                }
            }
        }
    }
}
