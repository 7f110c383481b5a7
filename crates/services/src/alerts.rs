//! AlertService: raise with deduplication, acknowledge, resolve, reopen, list; every change owes
//! one event.
//!
//! An event is written into the alert together with the change that causes it, and cleared once
//! the broker acknowledged it. So a bus failure never loses an event: the next request on that id
//! publishes what was missed, and deduplication never swallows it.
//!
//! The clearing is done behind the answer ([`Deferred`]): once the broker has the event, the
//! answer is true, and the write that clears it is bookkeeping. A request that meets an event
//! taken up moments ago (its own answer's, just before, on this instance or another) waits for it
//! to clear, for at most [`FRESH_CLAIM_WAIT`], before it answers 409 as it does while another
//! request publishes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use integra_domain::{
    AlertEvent, AlertFilter, Alerta, Encoded, NovoAlerta, Order, Paging, Timestamp,
};
use integra_ports::{
    Inserted, Outbound, OwedEvent, Records, Replaced, Revision, StoredAlert, Versioned,
};

use crate::ledger::Ledger;
use crate::{topics, Deferred, Events, Ports, PublishConfig, ServiceError, SilenceService};

/// How many times a change is retried when another writer changed the alert in between.
const CAS_ATTEMPTS: usize = 8;

/// How long after an event was taken up a request that finds it still owed waits for it to be
/// cleared. An answer comes once the broker has the event, and its clearing follows within
/// milliseconds; past this, the event is being published by a request still in flight (a slow
/// broker), and the answer is 409 at once, as it always was.
const FRESH_CLAIM_WAIT: Duration = Duration::from_millis(250);

/// The longest pause between two reads of an alert whose fresh event is awaited.
const FRESH_CLAIM_POLL: Duration = Duration::from_millis(8);

/// What `create` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertOutcome {
    /// A new alert, its `alerta.criado` published (also when a retry publishes the event a bus
    /// failure missed).
    Created,
    /// The same id is open: nothing published.
    Existing,
    /// The same id was resolved: reopened, `alerta.reaberto` published.
    Reopened,
}

/// An alert once no event is owed any more.
enum Settled {
    /// Nothing was owed: the alert as stored.
    Clean(Versioned<StoredAlert>),
    /// This call published the owed `event`.
    Delivered {
        event: AlertEvent,
        alert: Encoded<Alerta>,
    },
}

/// Stores alerts and publishes their events on `alerts`.
pub struct AlertService {
    ledger: Ledger<StoredAlert>,
    /// What marks an alert `silenciado` when it is opened; none: nothing does.
    silences: Option<Arc<SilenceService>>,
    /// Where the clearing of a published event goes, behind the answer.
    deferred: Arc<Deferred>,
}

impl AlertService {
    /// The service over these ports.
    pub fn new(
        ports: Ports<dyn Records<StoredAlert>>,
        events: Events,
        publish: PublishConfig,
    ) -> Self {
        Self {
            ledger: Ledger::new(ports, events, publish),
            silences: None,
            deferred: Arc::default(),
        }
    }

    /// The same service, clearing published events through `deferred`: behind the answer once
    /// [`Deferred::start`] has been called, before it until then.
    #[must_use]
    pub fn with_deferred(mut self, deferred: Arc<Deferred>) -> Self {
        self.deferred = deferred;
        self
    }

    /// The same service, marking the alerts it opens while a silence of `silences` matches them.
    #[must_use]
    pub fn with_silences(mut self, silences: Arc<SilenceService>) -> Self {
        self.silences = Some(silences);
        self
    }

    /// Whether a silence matches `alerta`, opened at `now`.
    fn silenced(&self, alerta: &Alerta, now: Timestamp) -> bool {
        self.silences
            .as_ref()
            .is_some_and(|s| s.silences(alerta, now))
    }

    /// Raises an alert. The same id while open is deduplicated; while resolved, it reopens. The
    /// alert comes with its JSON, written once for its event and the answer.
    ///
    /// # Errors
    /// [`ServiceError::Invalid`]; [`ServiceError::Conflict`] while another request publishes its
    /// event; a bus failure (the alert stays stored and a retry publishes the event); a store
    /// failure.
    pub async fn create(
        &self,
        input: NovoAlerta,
    ) -> Result<(AlertOutcome, Encoded<Alerta>), ServiceError> {
        self.open(Alerta::raise(input, Timestamp::now())?).await
    }

    /// Opens `alerta` as [`AlertService::create`] does: a rule's alert, made by the rule.
    ///
    /// # Errors
    /// As [`AlertService::create`].
    pub async fn open(
        &self,
        mut alerta: Alerta,
    ) -> Result<(AlertOutcome, Encoded<Alerta>), ServiceError> {
        alerta.silenciado = self.silenced(&alerta, alerta.criado_em);
        let stored = owing(Encoded::new(alerta), AlertEvent::Criado);
        let mut current = match self.ledger.insert(&stored).await? {
            Inserted::Created => {
                return Ok((
                    AlertOutcome::Created,
                    self.deliver(stored, Revision::FIRST).await?,
                ))
            }
            Inserted::Exists(v) => v,
        };
        for _ in 0..CAS_ATTEMPTS {
            let Versioned { revision, record } = match self.settle(current).await? {
                Settled::Clean(v) => v,
                // This request just published the event a failure missed: answer as its first
                // request would have been answered.
                Settled::Delivered {
                    event: AlertEvent::Criado,
                    alert,
                } => return Ok((AlertOutcome::Created, alert)),
                Settled::Delivered {
                    event: AlertEvent::Reaberto,
                    alert,
                } => return Ok((AlertOutcome::Reopened, alert)),
                // A missed resolution (the alert is resolved: this reopens it) or acknowledgement,
                // now published: read it again and go on.
                Settled::Delivered {
                    event: AlertEvent::Resolvido | AlertEvent::Reconhecido,
                    alert,
                } => {
                    current = self.fetch(alert.id.as_str()).await?;
                    continue;
                }
            };
            let now = Timestamp::now();
            let (alerta, reopened) = record.alerta.change(|alerta| {
                if !alerta.reopen(now) {
                    return Ok::<_, ServiceError>(false);
                }
                alerta.silenciado = self.silenced(alerta, now);
                Ok(true)
            })?;
            if !reopened {
                return Ok((AlertOutcome::Existing, alerta));
            }
            let reopened = owing(alerta, AlertEvent::Reaberto);
            match self.ledger.replace(&reopened, revision).await? {
                Replaced::Done(revision) => {
                    return Ok((
                        AlertOutcome::Reopened,
                        self.deliver(reopened, revision).await?,
                    ))
                }
                Replaced::Stale(Some(v)) => current = v,
                Replaced::Stale(None) => {
                    return Err(ServiceError::Conflict(format!(
                        "alert {} changed meanwhile",
                        reopened.alerta.id
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
    /// [`ServiceError::NotFound`], [`ServiceError::Conflict`], a bus or a store failure.
    pub async fn resolve(&self, id: &str) -> Result<Encoded<Alerta>, ServiceError> {
        self.change(id, AlertEvent::Resolvido, |alerta| {
            Ok(alerta.resolve(Timestamp::now()))
        })
        .await
    }

    /// Acknowledges an open alert, by `por` when given; `alerta.reconhecido` is published the
    /// first time only, and a second acknowledgement keeps the first.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`]; [`ServiceError::Conflict`] for a resolved alert or while
    /// another request publishes its event; a bus or a store failure.
    pub async fn acknowledge(
        &self,
        id: &str,
        por: Option<String>,
    ) -> Result<Encoded<Alerta>, ServiceError> {
        self.change(id, AlertEvent::Reconhecido, |alerta| {
            alerta
                .acknowledge(por.clone(), Timestamp::now())
                .map_err(|resolved| ServiceError::Conflict(resolved.to_string()))
        })
        .await
    }

    /// Changes a stored alert with `apply` (true: changed; false: already so, nothing to do),
    /// owing `event` for the change: compare-and-set, retried when another writer came first. An
    /// event a failure missed is published first; when it is `event` itself, the change was made
    /// then, and is answered as made.
    async fn change(
        &self,
        id: &str,
        event: AlertEvent,
        apply: impl Fn(&mut Alerta) -> Result<bool, ServiceError>,
    ) -> Result<Encoded<Alerta>, ServiceError> {
        let mut current = self.fetch(id).await?;
        for _ in 0..CAS_ATTEMPTS {
            let Versioned { revision, record } = match self.settle(current).await? {
                Settled::Clean(v) => v,
                Settled::Delivered {
                    event: missed,
                    alert,
                } if missed == event => return Ok(alert),
                // Another missed event, now published: read the alert again and go on.
                Settled::Delivered { .. } => {
                    current = self.fetch(id).await?;
                    continue;
                }
            };
            let (alerta, changed) = record.alerta.change(&apply)?;
            if !changed {
                return Ok(alerta);
            }
            let changed = owing(alerta, event);
            match self.ledger.replace(&changed, revision).await? {
                Replaced::Done(revision) => return self.deliver(changed, revision).await,
                Replaced::Stale(Some(v)) => current = v,
                Replaced::Stale(None) => return Err(ServiceError::NotFound(format!("alert {id}"))),
            }
        }
        Err(ServiceError::Conflict(format!(
            "alert {id} is changing too often; retry"
        )))
    }

    /// Publishes the event a stored alert still owes, if its publisher is gone. An event taken up
    /// less than [`FRESH_CLAIM_WAIT`] ago is awaited: it is most likely published already, its
    /// clearing on the way.
    async fn settle(&self, mut stored: Versioned<StoredAlert>) -> Result<Settled, ServiceError> {
        // Bounded by this clock too: another instance's, which dated the event, may be ahead.
        let (waited, mut pause) = (Instant::now(), Duration::from_millis(1));
        let owed = loop {
            let Some(owed) = stored.record.owed else {
                return Ok(Settled::Clean(stored));
            };
            let now = Timestamp::now();
            let Some(since) = owed
                .since
                .filter(|&since| self.ledger.publish.holds(since, now))
            else {
                break owed;
            };
            if !PublishConfig::within(since, now, FRESH_CLAIM_WAIT)
                || waited.elapsed() >= FRESH_CLAIM_WAIT
            {
                return Err(ServiceError::Conflict(format!(
                    "an event of alert {} is being published",
                    stored.record.alerta.id
                )));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(FRESH_CLAIM_POLL);
            stored = self.fetch(stored.record.alerta.id.as_str()).await?;
        };
        let taken = owing(stored.record.alerta, owed.event);
        match self.ledger.replace(&taken, stored.revision).await? {
            Replaced::Done(revision) => Ok(Settled::Delivered {
                event: owed.event,
                alert: self.deliver(taken, revision).await?,
            }),
            Replaced::Stale(_) => Err(ServiceError::Conflict(format!(
                "alert {} changed meanwhile",
                taken.alerta.id
            ))),
        }
    }

    /// Publishes the owed event of `alert` (stored at `revision`) and clears it; on failure marks
    /// it free for the next request to take up. The alert is serialized once, here: its event is
    /// made of that text, and so is the answer.
    async fn deliver(
        &self,
        alert: StoredAlert,
        revision: Revision,
    ) -> Result<Encoded<Alerta>, ServiceError> {
        let StoredAlert { alerta, owed } = alert;
        let Some(owed) = owed else {
            return Ok(alerta);
        };
        let json = owed.event.json_about(&alerta);
        let mut headers = vec![
            ("content-type".to_owned(), "application/json".to_owned()),
            ("evento".to_owned(), owed.event.name().to_owned()),
            ("id".to_owned(), alerta.id.to_string()),
        ];
        if alerta.silenciado {
            headers.push(("silenciado".to_owned(), "true".to_owned()));
        }
        let record = Outbound {
            topic: topics::ALERTS.to_owned(),
            key: alerta.id.to_string(),
            payload: json.clone().into_bytes(),
            headers,
        };
        match self.ledger.publish(&record).await {
            Ok(_) => {
                self.ledger
                    .events
                    .emit_json(&owed.event.about(&alerta), json);
                // Clearing the event is bookkeeping, done behind the answer: if it fails, the
                // next request publishes the event once more, which is better than losing it.
                let id = alerta.id.clone();
                let cleared = self.ledger.settle(alerta.id.clone(), revision);
                self.deferred
                    .run(async move {
                        match cleared.await {
                            Ok(Replaced::Done(_)) => {}
                            Ok(Replaced::Stale(_)) => {
                                tracing::warn!(%id, "alert changed before its event was cleared");
                            }
                            Err(_) => tracing::warn!(%id, "could not clear a published event"),
                        }
                    })
                    .await;
                Ok(alerta)
            }
            Err(cause) => {
                let released = StoredAlert {
                    alerta,
                    owed: Some(OwedEvent {
                        event: owed.event,
                        since: None,
                    }),
                };
                if self.ledger.replace(&released, revision).await.is_err() {
                    tracing::warn!(id = %released.alerta.id, "could not release a failed event; it is retried after its lease");
                }
                Err(ServiceError::publish(
                    Some(released.alerta.id.clone()),
                    cause,
                ))
            }
        }
    }

    async fn fetch(&self, id: &str) -> Result<Versioned<StoredAlert>, ServiceError> {
        self.ledger
            .get(id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("alert {id}")))
    }

    /// Reads one alert, with its JSON.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`], or a store failure.
    pub async fn get(&self, id: &str) -> Result<Encoded<Alerta>, ServiceError> {
        Ok(self.fetch(id).await?.record.alerta)
    }

    /// Lists alerts, newest first; the time range applies to `criado_em`.
    ///
    /// # Errors
    /// A store failure.
    pub async fn list(
        &self,
        filter: AlertFilter,
        paging: Paging,
    ) -> Result<Vec<Alerta>, ServiceError> {
        let listed = self
            .ledger
            .list(&filter, paging, Order::NewestFirst)
            .await?;
        Ok(listed
            .into_iter()
            .map(|v| v.record.alerta.into_inner())
            .collect())
    }

    /// The same page as [`AlertService::list`], as the JSON array the API answers, made of the
    /// stored JSON without parsing it.
    ///
    /// # Errors
    /// A store failure.
    pub async fn list_json(
        &self,
        filter: AlertFilter,
        paging: Paging,
    ) -> Result<String, ServiceError> {
        self.ledger
            .list_json(&filter, paging, Order::NewestFirst)
            .await
    }
}

/// `alerta`, owing `event`, taken up now by the caller.
fn owing(alerta: Encoded<Alerta>, event: AlertEvent) -> StoredAlert {
    StoredAlert {
        alerta,
        owed: Some(OwedEvent {
            event,
            since: Some(Timestamp::now()),
        }),
    }
}

#[cfg(test)]
#[path = "alerts_tests.rs"]
mod tests;
