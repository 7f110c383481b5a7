//! AlertService: raise with deduplication, resolve, reopen, list; every change owes one event.
//!
//! An event is written into the alert together with the change that causes it, and cleared once
//! the broker acknowledged it. So a bus failure never loses an event: the next request on that id
//! publishes what was missed, and deduplication never swallows it.

use std::time::Duration;

use integra_domain::{Alerta, Evento, NovoAlerta, Severidade, Timestamp};
use integra_ports::{Collection, Insert, Outbound, Page, Replace, Versioned};

use crate::records::{alert_doc, alert_index, decode, PendingEvent, StoredAlert};
use crate::{topics, Events, Paging, Ports, ServiceError};

const CRIADO: &str = "alerta.criado";
const RESOLVIDO: &str = "alerta.resolvido";
const REABERTO: &str = "alerta.reaberto";

/// How many times a change is retried when another writer changed the alert in between.
const CAS_ATTEMPTS: usize = 8;

/// What `create` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertOutcome {
    /// A new alert, its `alerta.criado` published (also when a retry publishes the event a bus
    /// failure missed): 201.
    Created,
    /// The same id is open: nothing published: 200.
    Existing,
    /// The same id was resolved: reopened, `alerta.reaberto` published: 200.
    Reopened,
}

/// The filters of an alert list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AlertFilter {
    /// Only this severity.
    pub severidade: Option<Severidade>,
    /// Only resolved (true) or open (false) alerts.
    pub resolvido: Option<bool>,
    /// Only alerts created at or after this instant.
    pub start_time: Option<Timestamp>,
    /// Only alerts created at or before this instant.
    pub end_time: Option<Timestamp>,
}

/// An alert once no event is owed any more.
enum Settled {
    /// Nothing was owed: the alert as stored, at `rev`.
    Clean { rev: u64, alert: StoredAlert },
    /// This call published the owed event `evento`.
    Delivered { evento: String, alert: Alerta },
}

/// Stores alerts and publishes their events on `alerts`.
pub struct AlertService {
    ports: Ports,
    events: Events,
    publish_timeout: Duration,
    /// How long a publisher owns a pending event before another request may take it up.
    lease_ms: i64,
}

impl AlertService {
    /// The service over these ports; `publish_timeout` is `bus.timeout_ms`.
    pub fn new(ports: Ports, events: Events, publish_timeout: Duration) -> Self {
        let lease_ms = i64::try_from(publish_timeout.as_millis())
            .unwrap_or(i64::MAX / 2)
            .saturating_add(2000);
        Self {
            ports,
            events,
            publish_timeout,
            lease_ms,
        }
    }

    /// Raises an alert. The same id while open is deduplicated; while resolved, it reopens.
    ///
    /// # Errors
    /// [`ServiceError::Invalid`], [`ServiceError::Conflict`] while another request publishes its
    /// event, [`ServiceError::Publish`] (the alert stays stored and a retry publishes the event),
    /// [`ServiceError::Store`].
    pub async fn create(&self, input: NovoAlerta) -> Result<(AlertOutcome, Alerta), ServiceError> {
        let now = Timestamp::now();
        let alerta = Alerta::raise(input, now)?;
        let stored = StoredAlert {
            alerta,
            pending: Some(PendingEvent::taken(CRIADO)),
        };
        let doc = alert_doc(&stored)?;
        let mut current = match self.ports.insert(&doc).await? {
            Insert::Created => return Ok((AlertOutcome::Created, self.deliver(stored, 1).await?)),
            Insert::Exists(v) => v,
        };
        for _ in 0..CAS_ATTEMPTS {
            let (rev, mut alert) = match self.settle(current).await? {
                Settled::Clean { rev, alert } => (rev, alert),
                // This request just published the event a failure missed: answer as its first
                // request would have been answered.
                Settled::Delivered { evento, alert } if evento != RESOLVIDO => {
                    let outcome = if evento == CRIADO {
                        AlertOutcome::Created
                    } else {
                        AlertOutcome::Reopened
                    };
                    return Ok((outcome, alert));
                }
                // A missed resolution, now published: the alert is resolved, so this reopens it.
                Settled::Delivered { alert, .. } => {
                    current = self.fetch(alert.id.as_str()).await?;
                    continue;
                }
            };
            if !alert.alerta.reopen(Timestamp::now()) {
                return Ok((AlertOutcome::Existing, alert.alerta));
            }
            alert.pending = Some(PendingEvent::taken(REABERTO));
            match self.ports.replace(&alert_doc(&alert)?, rev).await? {
                Replace::Done(rev) => {
                    return Ok((AlertOutcome::Reopened, self.deliver(alert, rev).await?))
                }
                Replace::Stale(Some(v)) => current = v,
                Replace::Stale(None) => {
                    return Err(ServiceError::Conflict(format!(
                        "alert {} changed meanwhile",
                        alert.alerta.id
                    )))
                }
            }
        }
        Err(ServiceError::Conflict(
            "alert is changing too often; retry".into(),
        ))
    }

    /// Resolves an alert; `alerta.resolvido` is published the first time only.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`], [`ServiceError::Conflict`], [`ServiceError::Publish`],
    /// [`ServiceError::Store`].
    pub async fn resolve(&self, id: &str) -> Result<Alerta, ServiceError> {
        let mut current = self.fetch(id).await?;
        for _ in 0..CAS_ATTEMPTS {
            let (rev, mut alert) = match self.settle(current).await? {
                Settled::Clean { rev, alert } => (rev, alert),
                Settled::Delivered { evento, alert } if evento == RESOLVIDO => return Ok(alert),
                // A missed creation or reopening, now published: the alert is open; resolve it.
                Settled::Delivered { .. } => {
                    current = self.fetch(id).await?;
                    continue;
                }
            };
            if !alert.alerta.resolve(Timestamp::now()) {
                return Ok(alert.alerta);
            }
            alert.pending = Some(PendingEvent::taken(RESOLVIDO));
            match self.ports.replace(&alert_doc(&alert)?, rev).await? {
                Replace::Done(rev) => return self.deliver(alert, rev).await,
                Replace::Stale(Some(v)) => current = v,
                Replace::Stale(None) => return Err(ServiceError::NotFound(format!("alert {id}"))),
            }
        }
        Err(ServiceError::Conflict(format!(
            "alert {id} is changing too often; retry"
        )))
    }

    /// Publishes the event a stored alert still owes, if its publisher is gone.
    async fn settle(&self, stored: Versioned) -> Result<Settled, ServiceError> {
        let alert: StoredAlert = decode(&stored.body)?;
        let Some(pending) = &alert.pending else {
            return Ok(Settled::Clean {
                rev: stored.rev,
                alert,
            });
        };
        let now = Timestamp::now();
        if pending
            .since
            .is_some_and(|since| since.plus_millis(self.lease_ms) > now)
        {
            return Err(ServiceError::Conflict(format!(
                "an event of alert {} is being published",
                alert.alerta.id
            )));
        }
        let mut taken = alert.clone();
        taken.pending = Some(PendingEvent::taken(&pending.evento));
        match self.ports.replace(&alert_doc(&taken)?, stored.rev).await? {
            Replace::Done(rev) => {
                let evento = pending.evento.clone();
                Ok(Settled::Delivered {
                    evento,
                    alert: self.deliver(taken, rev).await?,
                })
            }
            Replace::Stale(_) => Err(ServiceError::Conflict(format!(
                "alert {} changed meanwhile",
                alert.alerta.id
            ))),
        }
    }

    /// Publishes the pending event of `alert` (stored at `rev`) and clears it; on failure marks it
    /// free for the next request to take up.
    async fn deliver(&self, mut alert: StoredAlert, rev: u64) -> Result<Alerta, ServiceError> {
        let Some(pending) = alert.pending.take() else {
            return Ok(alert.alerta);
        };
        let evento = match pending.evento.as_str() {
            RESOLVIDO => Evento::AlertaResolvido(&alert.alerta),
            REABERTO => Evento::AlertaReaberto(&alert.alerta),
            _ => Evento::AlertaCriado(&alert.alerta),
        };
        let record = Outbound {
            topic: topics::ALERTS.to_owned(),
            key: alert.alerta.id.to_string(),
            payload: evento.to_json().into_bytes(),
            headers: vec![
                ("content-type".to_owned(), "application/json".to_owned()),
                ("evento".to_owned(), evento.name().to_owned()),
                ("id".to_owned(), alert.alerta.id.to_string()),
            ],
        };
        match self.ports.publish(&record, self.publish_timeout).await {
            Ok(_) => {
                self.events.emit(evento);
                // Clearing the event is bookkeeping: if it fails, the next request publishes the
                // event once more, which is better than losing it.
                match self.ports.replace(&alert_doc(&alert)?, rev).await {
                    Ok(Replace::Done(_)) => {}
                    Ok(Replace::Stale(_)) => {
                        tracing::warn!(id = %alert.alerta.id, "alert changed before its event was cleared")
                    }
                    Err(_) => {
                        tracing::warn!(id = %alert.alerta.id, "could not clear a published event")
                    }
                }
                Ok(alert.alerta)
            }
            Err(source) => {
                alert.pending = Some(PendingEvent {
                    evento: pending.evento,
                    since: None,
                });
                if self.ports.replace(&alert_doc(&alert)?, rev).await.is_err() {
                    tracing::warn!(id = %alert.alerta.id, "could not release a failed event; it is retried after its lease");
                }
                Err(ServiceError::Publish {
                    id: Some(alert.alerta.id.to_string()),
                    source,
                })
            }
        }
    }

    async fn fetch(&self, id: &str) -> Result<Versioned, ServiceError> {
        self.ports
            .get(Collection::Alerts, id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("alert {id}")))
    }

    /// Reads one alert.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`], or [`ServiceError::Store`].
    pub async fn get(&self, id: &str) -> Result<Alerta, ServiceError> {
        let stored: StoredAlert = decode(&self.fetch(id).await?.body)?;
        Ok(stored.alerta)
    }

    /// Lists alerts, newest first; the time range applies to `criado_em`.
    ///
    /// # Errors
    /// [`ServiceError::Store`].
    pub async fn list(
        &self,
        filter: AlertFilter,
        paging: Paging,
    ) -> Result<Vec<Alerta>, ServiceError> {
        let page = Page {
            collection: Collection::Alerts,
            index: alert_index(filter.severidade, filter.resolvido),
            from_ms: filter.start_time.map(Timestamp::millis),
            to_ms: filter.end_time.map(Timestamp::millis),
            skip: paging.skip,
            limit: paging.limit,
            ascending: false,
        };
        let docs = self.ports.list(&page).await?;
        docs.iter()
            .map(|v| decode::<StoredAlert>(&v.body).map(|s| s.alerta))
            .collect()
    }
}

#[cfg(test)]
#[path = "alerts_tests.rs"]
mod tests;
