//! Records: messages and alerts, each written with a revision so that every change is a
//! compare-and-set, and listed through filters.

use async_trait::async_trait;
use integra_domain::{
    AlertEvent, AlertFilter, Alerta, Encoded, Id, Mensagem, MessageFilter, Order, Paging, Regra,
    Silencio, Timestamp,
};
use serde::{Deserialize, Serialize};

use super::StoreError;

/// A kind of record the store keeps, and what a list of them filters on.
pub trait Record: Clone + Send + Sync + 'static {
    /// The filters of a list of these records.
    type Filter: Send + Sync + 'static;

    /// Its id, unique among the records of its kind.
    fn id(&self) -> &Id;
}

/// A message is kept with its JSON: the store writes that text, and the event about it, the bus
/// record and the answer are made of it, so each change of a message is serialized once.
impl Record for Encoded<Mensagem> {
    type Filter = MessageFilter;

    fn id(&self) -> &Id {
        &self.id
    }
}

impl Record for Silencio {
    /// Silences are few: they are listed whole and filtered by the service.
    type Filter = ();

    fn id(&self) -> &Id {
        &self.id
    }
}

impl Record for Regra {
    /// Rules are few: they are listed whole.
    type Filter = ();

    fn id(&self) -> &Id {
        &self.id
    }
}

/// An event an alert owes the bus: written with the change that caused it, cleared once the
/// broker acknowledged it, so that a bus failure never loses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwedEvent {
    /// Which event.
    pub event: AlertEvent,
    /// When a publisher took it up; `None` after a failed attempt, so that a retry may go at once.
    /// While recent, another request is publishing it.
    pub since: Option<Timestamp>,
}

/// An alert as stored: the alert, and the event it still owes, if any.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredAlert {
    /// The alert, with its JSON: the store writes that text, the event about it and the answer
    /// are made of it, so a change of an alert is serialized once.
    #[serde(flatten)]
    pub alerta: Encoded<Alerta>,
    /// The event not yet acknowledged by the bus. Declared last, so that it is serialized after
    /// the alert's fields: a store shows the alert alone by cutting it off (see
    /// `integra_documents::Indexed::public_json`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owed: Option<OwedEvent>,
}

impl Record for StoredAlert {
    type Filter = AlertFilter;

    fn id(&self) -> &Id {
        &self.alerta.id
    }
}

/// The version of a stored record: 1 when inserted, one more at each replace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Revision(pub u64);

impl Revision {
    /// The revision of a record just inserted.
    pub const FIRST: Self = Self(1);

    /// The revision after this one.
    #[must_use]
    pub const fn next(self) -> Self {
        Self(self.0 + 1)
    }
}

/// A record read back, with the revision a [`Records::replace`] must quote.
#[derive(Debug, Clone, PartialEq)]
pub struct Versioned<T> {
    /// Its revision.
    pub revision: Revision,
    /// The record.
    pub record: T,
}

/// The outcome of [`Records::insert`].
#[derive(Debug, Clone, PartialEq)]
pub enum Inserted<T> {
    /// The id was free; the record now holds it at [`Revision::FIRST`].
    Created,
    /// The id was taken; here is what holds it.
    Exists(Versioned<T>),
}

/// The outcome of [`Records::replace`].
#[derive(Debug, Clone, PartialEq)]
pub enum Replaced<T> {
    /// Written, at this new revision.
    Done(Revision),
    /// The stored revision was not the expected one, or the record is gone: nothing written.
    Stale(Option<Versioned<T>>),
}

/// The records of one kind.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait Records<T: Record>: Send + Sync {
    /// Writes `record` at [`Revision::FIRST`] if its id is free.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails; an id already taken is [`Inserted::Exists`].
    async fn insert(&self, record: &T) -> Result<Inserted<T>, StoreError>;

    /// Replaces the record if it is still at revision `expected`.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails; a changed record is [`Replaced::Stale`].
    async fn replace(&self, record: &T, expected: Revision) -> Result<Replaced<T>, StoreError>;

    /// Settles the record if it is still at revision `expected`: what it holds beyond what the
    /// API shows of it (an alert's owed event) is dropped, and nothing else changes (not its
    /// indexes, not its expiry). Cheaper than a [`Records::replace`]: nothing is encoded again.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails; a changed record is [`Replaced::Stale`].
    async fn settle(&self, id: &str, expected: Revision) -> Result<Replaced<T>, StoreError>;

    /// Removes a record; returns whether there was one.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn remove(&self, id: &str) -> Result<bool, StoreError>;

    /// Reads one record.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails; an absent record is `None`.
    async fn get(&self, id: &str) -> Result<Option<Versioned<T>>, StoreError>;

    /// Reads one page of the records that pass `filter`, by creation time in `order` (ties by
    /// id, in the same direction).
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn list(
        &self,
        filter: &T::Filter,
        paging: Paging,
        order: Order,
    ) -> Result<Vec<Versioned<T>>, StoreError>;

    /// The same page as [`Records::list`], as the JSON array the API answers: each record's
    /// public JSON as the store holds it, joined without being parsed, so that a page costs about
    /// what copying it costs.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn list_json(
        &self,
        filter: &T::Filter,
        paging: Paging,
        order: Order,
    ) -> Result<String, StoreError>;
}
