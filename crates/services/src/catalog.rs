//! [`Catalog`]: the few lasting records a service lists whole and caps in number (silences,
//! rules), with every store call counted and logged through the ports.

use integra_domain::{Order, Paging};
use integra_ports::{Inserted, Record, Records, Replaced, Revision, Versioned};

use crate::{Ports, ServiceError};

/// The records of one kind, all of them read at once, at most `max`.
pub(crate) struct Catalog<T: Record<Filter = ()>> {
    pub(crate) ports: Ports<dyn Records<T>>,
    /// What a record is called in errors (`silence`, `rule`).
    kind: &'static str,
    max: usize,
}

impl<T: Record<Filter = ()>> Catalog<T> {
    /// At most `max` records (no more than a page: [`Paging::MAX_LIMIT`]).
    pub(crate) fn new(ports: Ports<dyn Records<T>>, kind: &'static str, max: usize) -> Self {
        Self {
            ports,
            kind,
            max: max.min(Paging::MAX_LIMIT),
        }
    }

    /// Every record, oldest first.
    pub(crate) async fn all(&self) -> Result<Vec<Versioned<T>>, ServiceError> {
        self.ports
            .store
            .list(&(), Paging::new(0, self.max)?, Order::OldestFirst)
            .await
            .map_err(self.ports.store_failed("list"))
    }

    /// One record.
    pub(crate) async fn get(&self, id: &str) -> Result<Versioned<T>, ServiceError> {
        self.ports
            .store
            .get(id)
            .await
            .map_err(self.ports.store_failed("get"))?
            .ok_or_else(|| ServiceError::NotFound(format!("{} {id}", self.kind)))
    }

    /// Adds `record` beside the `held` records there are (as just read): `true` when it was
    /// added; the stored one, `false`, when its id holds a record `same` accepts.
    ///
    /// # Errors
    /// [`ServiceError::Overloaded`] at the cap; [`ServiceError::Conflict`] when the id holds a
    /// record `same` refuses; a store failure.
    pub(crate) async fn add(
        &self,
        record: T,
        held: usize,
        same: impl FnOnce(&T, &T) -> bool,
    ) -> Result<(bool, T), ServiceError> {
        if held >= self.max {
            return Err(ServiceError::Overloaded(format!(
                "{} {}s are kept already; remove some first",
                self.max, self.kind
            )));
        }
        let inserted = self
            .ports
            .store
            .insert(&record)
            .await
            .map_err(self.ports.store_failed("insert"))?;
        match inserted {
            Inserted::Created => Ok((true, record)),
            Inserted::Exists(stored) if same(&stored.record, &record) => Ok((false, stored.record)),
            Inserted::Exists(_) => Err(ServiceError::Conflict(format!(
                "{} {} exists with another definition",
                self.kind,
                record.id()
            ))),
        }
    }

    /// Replaces a record if it is still at `expected`.
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

    /// Removes a record.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`] when there was none; a store failure.
    pub(crate) async fn remove(&self, id: &str) -> Result<(), ServiceError> {
        let removed = self
            .ports
            .store
            .remove(id)
            .await
            .map_err(self.ports.store_failed("remove"))?;
        if removed {
            Ok(())
        } else {
            Err(ServiceError::NotFound(format!("{} {id}", self.kind)))
        }
    }
}
