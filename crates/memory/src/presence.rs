//! Embedded connection presence.

use std::collections::HashMap;

use async_trait::async_trait;
use integra_domain::Timestamp;
use integra_ports::{PresenceStore, StoreError};

use crate::{lock, MemoryEngine};

/// Connection → (instance, expiry ms).
#[derive(Default)]
pub(crate) struct Presence {
    connections: HashMap<String, (String, i64)>,
    writes: u64,
}

#[async_trait]
impl PresenceStore for MemoryEngine {
    async fn put_presence(
        &self,
        connection: &str,
        instance: &str,
        ttl_ms: u64,
    ) -> Result<(), StoreError> {
        let now = Timestamp::now().millis();
        let mut presence = lock(&self.presence);
        presence.writes += 1;
        // Connections that ended without being removed expire; sweep them now and then.
        if presence.writes.is_multiple_of(1024) {
            presence
                .connections
                .retain(|_, (_, expires)| *expires > now);
        }
        let expires = now.saturating_add(i64::try_from(ttl_ms).unwrap_or(i64::MAX));
        presence
            .connections
            .insert(connection.to_owned(), (instance.to_owned(), expires));
        Ok(())
    }

    async fn presence(&self, connection: &str) -> Result<Option<String>, StoreError> {
        let now = Timestamp::now().millis();
        Ok(lock(&self.presence)
            .connections
            .get(connection)
            .filter(|(_, expires)| *expires > now)
            .map(|(instance, _)| instance.clone()))
    }

    async fn remove_presence(&self, connection: &str) -> Result<(), StoreError> {
        lock(&self.presence).connections.remove(connection);
        Ok(())
    }
}
