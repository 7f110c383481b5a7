//! Connection presence over Redis: `P ws:conn:{id}`, a string with a TTL.

use async_trait::async_trait;
use fred::prelude::*;
use integra_ports::{PresenceStore, StoreError};

use crate::RedisEngine;

impl RedisEngine {
    fn presence_key(&self, connection: &str) -> String {
        crate::keys::presence(&self.prefix, connection)
    }
}

#[async_trait]
impl PresenceStore for RedisEngine {
    async fn put_presence(
        &self,
        connection: &str,
        instance: &str,
        ttl_ms: u64,
    ) -> Result<(), StoreError> {
        let ttl = i64::try_from(ttl_ms).unwrap_or(i64::MAX);
        self.client()?
            .set::<(), _, _>(
                self.presence_key(connection),
                instance,
                Some(Expiration::PX(ttl)),
                None,
                false,
            )
            .await
            .map_err(|e| self.fail(&e))
    }

    async fn presence(&self, connection: &str) -> Result<Option<String>, StoreError> {
        self.client()?
            .get(self.presence_key(connection))
            .await
            .map_err(|e| self.fail(&e))
    }

    async fn remove_presence(&self, connection: &str) -> Result<(), StoreError> {
        self.client()?
            .del::<(), _>(self.presence_key(connection))
            .await
            .map_err(|e| self.fail(&e))
    }
}
