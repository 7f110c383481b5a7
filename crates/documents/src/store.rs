//! [`DocumentStore`]: the typed [`Store`] made of a document engine.

use async_trait::async_trait;
use integra_domain::{Canal, Dados, MetricQuery, Metrica, Order, Paging, Publicacao, Timestamp};
use integra_ports::{
    ChannelStore, Historico, HistoryLimits, Inserted, PresenceStore, Records, Replaced, Revision,
    SampleRejection, SeriesLimits, SeriesStore, Store, StoreError, Versioned,
};

use crate::{Document, DocumentEngine, Indexed, Page};

/// The [`Store`] of an engine: records from its documents; metric series and presence from the
/// engine itself, which keeps those in structures of their own, and so channel histories.
pub struct DocumentStore<E> {
    engine: E,
}

impl<E> DocumentStore<E> {
    /// The store over `engine`.
    pub const fn new(engine: E) -> Self {
        Self { engine }
    }

    /// The engine underneath.
    pub const fn engine(&self) -> &E {
        &self.engine
    }
}

fn document<T: Indexed>(record: &T) -> Result<Document, StoreError> {
    Ok(Document {
        collection: T::COLLECTION,
        id: record.id().to_string(),
        body: record
            .to_json()
            .map_err(|e| StoreError::Unavailable(format!("cannot encode a record: {e}")))?,
        created_ms: record.created().millis(),
        indexes: record.indexes(),
    })
}

fn decode<T: Indexed>(stored: Versioned<String>) -> Result<Versioned<T>, StoreError> {
    let record = serde_json::from_str(&stored.record).map_err(|e| {
        StoreError::Unavailable(format!(
            "a stored {} is unreadable by this version: {e}",
            T::COLLECTION.name()
        ))
    })?;
    Ok(Versioned {
        revision: stored.revision,
        record,
    })
}

#[async_trait]
impl<E: DocumentEngine, T: Indexed> Records<T> for DocumentStore<E> {
    async fn insert(&self, record: &T) -> Result<Inserted<T>, StoreError> {
        Ok(match self.engine.insert(&document(record)?).await? {
            Inserted::Created => Inserted::Created,
            Inserted::Exists(stored) => Inserted::Exists(decode(stored)?),
        })
    }

    async fn replace(&self, record: &T, expected: Revision) -> Result<Replaced<T>, StoreError> {
        Ok(
            match self.engine.replace(&document(record)?, expected).await? {
                Replaced::Done(revision) => Replaced::Done(revision),
                Replaced::Stale(stored) => Replaced::Stale(stored.map(decode).transpose()?),
            },
        )
    }

    async fn settle(&self, id: &str, expected: Revision) -> Result<Replaced<T>, StoreError> {
        Ok(
            match self
                .engine
                .cut_tail(T::COLLECTION, id, expected, T::PRIVATE_TAIL)
                .await?
            {
                Replaced::Done(revision) => Replaced::Done(revision),
                Replaced::Stale(stored) => Replaced::Stale(stored.map(decode).transpose()?),
            },
        )
    }

    async fn remove(&self, id: &str) -> Result<bool, StoreError> {
        self.engine.remove(T::COLLECTION, id).await
    }

    async fn get(&self, id: &str) -> Result<Option<Versioned<T>>, StoreError> {
        self.engine
            .get(T::COLLECTION, id)
            .await?
            .map(decode)
            .transpose()
    }

    async fn list(
        &self,
        filter: &T::Filter,
        paging: Paging,
        order: Order,
    ) -> Result<Vec<Versioned<T>>, StoreError> {
        self.engine
            .list(&page_of::<T>(filter, paging, order))
            .await?
            .into_iter()
            .map(decode)
            .collect()
    }

    async fn list_json(
        &self,
        filter: &T::Filter,
        paging: Paging,
        order: Order,
    ) -> Result<String, StoreError> {
        let mut json = String::from("[");
        self.engine
            .list_bodies(&page_of::<T>(filter, paging, order), &mut |body| {
                if json.len() > 1 {
                    json.push(',');
                }
                json.push_str(&T::public_json(body));
            })
            .await?;
        json.push(']');
        Ok(json)
    }
}

/// The index ranges that answer `filter`, paged.
fn page_of<T: Indexed>(filter: &T::Filter, paging: Paging, order: Order) -> Page {
    let (facets, range) = T::wanted(filter);
    Page {
        collection: T::COLLECTION,
        indexes: T::indexes_for(&facets),
        range,
        paging,
        order,
    }
}

#[async_trait]
impl<E: DocumentEngine + SeriesStore> SeriesStore for DocumentStore<E> {
    async fn append_samples(
        &self,
        samples: &[Metrica],
        limits: SeriesLimits,
    ) -> Result<Result<(), SampleRejection>, StoreError> {
        self.engine.append_samples(samples, limits).await
    }

    async fn query_samples(&self, query: &MetricQuery) -> Result<Vec<Metrica>, StoreError> {
        self.engine.query_samples(query).await
    }
}

#[async_trait]
impl<E: DocumentEngine + PresenceStore> PresenceStore for DocumentStore<E> {
    async fn put_presence(
        &self,
        connection: &str,
        instance: &str,
        ttl_ms: u64,
    ) -> Result<(), StoreError> {
        self.engine.put_presence(connection, instance, ttl_ms).await
    }

    async fn presence(&self, connection: &str) -> Result<Option<String>, StoreError> {
        self.engine.presence(connection).await
    }

    async fn remove_presence(&self, connection: &str) -> Result<(), StoreError> {
        self.engine.remove_presence(connection).await
    }
}

#[async_trait]
impl<E: DocumentEngine + ChannelStore> ChannelStore for DocumentStore<E> {
    async fn publish(
        &self,
        canal: &Canal,
        dados: &[Dados],
        criado_em: Timestamp,
        new_epoca: &str,
        limits: HistoryLimits,
    ) -> Result<Vec<Publicacao>, StoreError> {
        self.engine
            .publish(canal, dados, criado_em, new_epoca, limits)
            .await
    }

    async fn history(
        &self,
        canal: &Canal,
        desde: u64,
        limit: usize,
        new_epoca: &str,
        limits: HistoryLimits,
    ) -> Result<Historico, StoreError> {
        self.engine
            .history(canal, desde, limit, new_epoca, limits)
            .await
    }

    async fn put_subscribers(
        &self,
        canal: &Canal,
        instance: &str,
        count: u64,
        ttl_ms: u64,
    ) -> Result<(), StoreError> {
        self.engine
            .put_subscribers(canal, instance, count, ttl_ms)
            .await
    }

    async fn subscribers(&self, canal: &Canal) -> Result<u64, StoreError> {
        self.engine.subscribers(canal).await
    }
}

#[async_trait]
impl<E: DocumentEngine + SeriesStore + PresenceStore + ChannelStore> Store for DocumentStore<E> {
    async fn ping(&self) -> Result<(), StoreError> {
        DocumentEngine::ping(&self.engine).await
    }
}
