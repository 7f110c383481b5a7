//! What a service that keeps records and publishes their changes holds: the records, the bus,
//! the events, the publish bounds. Store calls go through it, so that every failure is counted
//! and logged in one place.

use std::future::Future;
use std::time::Duration;

use integra_domain::{CoordenadasKafka, Id, Order, Paging, TimeRange};
use integra_ports::{BusError, Inserted, Outbound, Record, Records, Replaced, Revision, Versioned};

use crate::{Events, Ports, PublishConfig, ServiceError};

/// The records of `T` a service keeps, and how it tells about their changes.
pub(crate) struct Ledger<T: Record> {
    ports: Ports<dyn Records<T>>,
    /// Where changes are announced to WebSocket clients.
    pub(crate) events: Events,
    /// How publishes are bounded.
    pub(crate) publish: PublishConfig,
}

impl<T: Record> Ledger<T> {
    pub(crate) fn new(
        ports: Ports<dyn Records<T>>,
        events: Events,
        publish: PublishConfig,
    ) -> Self {
        Self {
            ports,
            events,
            publish,
        }
    }

    pub(crate) async fn insert(&self, record: &T) -> Result<Inserted<T>, ServiceError> {
        self.ports
            .store
            .insert(record)
            .await
            .map_err(self.ports.store_failed("insert"))
    }

    pub(crate) async fn replace(
        &self,
        record: &T,
        expected: Revision,
    ) -> Result<Replaced<T>, ServiceError> {
        self.ports
            .store
            .replace(record, expected)
            .await
            .map_err(self.ports.store_failed("replace"))
    }

    /// Settles record `id` if still at `expected`. The call owns what it uses, so that it can
    /// be done behind the answer (see `deferred`).
    pub(crate) fn settle(
        &self,
        id: Id,
        expected: Revision,
    ) -> impl Future<Output = Result<Replaced<T>, ServiceError>> + Send + 'static {
        let ports = self.ports.clone();
        async move {
            ports
                .store
                .settle(id.as_str(), expected)
                .await
                .map_err(ports.store_failed("settle"))
        }
    }

    pub(crate) async fn get(&self, id: &str) -> Result<Option<Versioned<T>>, ServiceError> {
        self.ports
            .store
            .get(id)
            .await
            .map_err(self.ports.store_failed("get"))
    }

    pub(crate) async fn list(
        &self,
        filter: &T::Filter,
        paging: Paging,
        order: Order,
    ) -> Result<Vec<Versioned<T>>, ServiceError> {
        self.ports
            .store
            .list(filter, paging, order)
            .await
            .map_err(self.ports.store_failed("list"))
    }

    pub(crate) async fn list_json(
        &self,
        filter: &T::Filter,
        paging: Paging,
        order: Order,
    ) -> Result<String, ServiceError> {
        self.ports
            .store
            .list_json(filter, paging, order)
            .await
            .map_err(self.ports.store_failed("list"))
    }

    /// Publishes `record` within the publish timeout.
    pub(crate) async fn publish(&self, record: &Outbound) -> Result<CoordenadasKafka, BusError> {
        self.ports.publish(record, self.publish.timeout).await
    }

    /// Publishes `record` within `within`.
    pub(crate) async fn publish_within(
        &self,
        record: &Outbound,
        within: Duration,
    ) -> Result<CoordenadasKafka, BusError> {
        self.ports.publish(record, within).await
    }

    /// Finds `record` among those the bus stored while `sent`, within the publish timeout.
    pub(crate) async fn find(
        &self,
        record: &Outbound,
        sent: TimeRange,
    ) -> Result<Option<CoordenadasKafka>, BusError> {
        self.ports.find(record, sent, self.publish.timeout).await
    }
}
