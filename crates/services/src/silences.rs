//! SilenceService: create, list, get and end silences, and tell the alert service whether an
//! alert being opened is silenced.
//!
//! Opening an alert asks the silences in force from memory, never from the store: a copy of them,
//! read again every [`REFRESH`] by a background task and at once after a change made here. A
//! silence made on another instance therefore applies here within [`REFRESH`].

use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use integra_domain::{Alerta, NovoSilencio, Silencio, Timestamp};
use integra_ports::{Records, Replaced, Versioned};

use crate::catalog::Catalog;
use crate::{Ports, ServiceError};

/// Most silences kept, in force or ended.
pub const MAX_SILENCES: usize = 1000;

/// How long an ended silence is kept (it shows in `GET /silences?ativo=false`) before it is removed.
pub const KEPT_AFTER_END: Duration = Duration::from_secs(86_400);

/// How often every instance reads the silences again.
pub const REFRESH: Duration = Duration::from_millis(250);

/// How many times an end is retried when another writer changed the silence in between.
const CAS_ATTEMPTS: usize = 8;

/// Silences: kept in the store, consulted from memory.
pub struct SilenceService {
    silences: Catalog<Silencio>,
    /// Every silence, as last read.
    known: RwLock<Arc<Vec<Silencio>>>,
}

impl SilenceService {
    /// The service over these ports. Call [`SilenceService::spawn_refresher`] to follow
    /// silences made on other instances.
    pub fn new(ports: Ports<dyn Records<Silencio>>) -> Self {
        Self {
            silences: Catalog::new(ports, "silence", MAX_SILENCES),
            known: RwLock::new(Arc::new(Vec::new())),
        }
    }

    /// Whether a silence in force at `now` matches `alerta`.
    pub fn silences(&self, alerta: &Alerta, now: Timestamp) -> bool {
        self.known
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .any(|s| s.silences(alerta, now))
    }

    /// Makes a silence. The same id again with the same matchers and end answers the stored one
    /// (`false`: not made now).
    ///
    /// # Errors
    /// [`ServiceError::Invalid`]; [`ServiceError::Conflict`] for an id taken by another silence;
    /// [`ServiceError::Overloaded`] at [`MAX_SILENCES`]; a store failure.
    pub async fn create(&self, input: NovoSilencio) -> Result<(bool, Silencio), ServiceError> {
        let silence = Silencio::create(input, Timestamp::now())?;
        let held = self.silences.all().await?;
        let (made, silence) = self
            .silences
            .add(silence, held.len(), |stored, asked| {
                stored.matchers == asked.matchers && stored.fim == asked.fim
            })
            .await?;
        if made {
            let mut known: Vec<Silencio> = held.into_iter().map(|v| v.record).collect();
            known.push(silence.clone());
            self.remember(known).await?;
        }
        Ok((made, silence))
    }

    /// Reads one silence.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`], or a store failure.
    pub async fn get(&self, id: &str) -> Result<Silencio, ServiceError> {
        Ok(self.silences.get(id).await?.record)
    }

    /// The silences, newest first: those in force (`Some(true)`), those not (`Some(false)`: ended
    /// or not begun), or all.
    ///
    /// # Errors
    /// A store failure.
    pub async fn list(&self, ativo: Option<bool>) -> Result<Vec<Silencio>, ServiceError> {
        let now = Timestamp::now();
        let mut listed: Vec<Silencio> = self
            .silences
            .all()
            .await?
            .into_iter()
            .map(|v| v.record)
            .collect();
        listed.retain(|s| ativo.is_none_or(|a| s.active(now) == a));
        listed.reverse();
        Ok(listed)
    }

    /// Ends a silence now; it is kept, ended. Ending an ended one changes nothing.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`]; [`ServiceError::Conflict`] when it changes too often; a store
    /// failure.
    pub async fn end(&self, id: &str) -> Result<Silencio, ServiceError> {
        let mut current = self.silences.get(id).await?;
        for _ in 0..CAS_ATTEMPTS {
            let Versioned {
                revision,
                mut record,
            } = current;
            if !record.end(Timestamp::now()) {
                return Ok(record);
            }
            match self.silences.replace(&record, revision).await? {
                Replaced::Done(_) => {
                    self.refresh().await?;
                    return Ok(record);
                }
                Replaced::Stale(Some(v)) => current = v,
                Replaced::Stale(None) => {
                    return Err(ServiceError::NotFound(format!("silence {id}")))
                }
            }
        }
        Err(ServiceError::Conflict(format!(
            "silence {id} is changing too often; retry"
        )))
    }

    /// Reads the silences again: removes those ended more than a day ago (`KEPT_AFTER_END`) and keeps
    /// the rest in memory.
    ///
    /// # Errors
    /// A store failure; what was known stays known.
    pub async fn refresh(&self) -> Result<(), ServiceError> {
        let held = self.silences.all().await?;
        self.remember(held.into_iter().map(|v| v.record).collect())
            .await
    }

    /// Keeps `silences` in memory, less those ended more than a day ago, which leave the store.
    ///
    /// # Errors
    /// A store failure removing one; the others are kept all the same.
    async fn remember(&self, mut silences: Vec<Silencio>) -> Result<(), ServiceError> {
        let now = Timestamp::now();
        let kept_ms = i64::try_from(KEPT_AFTER_END.as_millis()).unwrap_or(i64::MAX);
        let (gone, kept): (Vec<_>, Vec<_>) = silences
            .drain(..)
            .partition(|s| s.fim.millis().saturating_add(kept_ms) <= now.millis());
        *self.known.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(kept);
        for silence in gone {
            match self.silences.remove(silence.id.as_str()).await {
                Ok(()) | Err(ServiceError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Refreshes every 250 ms (`REFRESH`) until the handle is aborted.
    pub fn spawn_refresher(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let service = Arc::clone(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(REFRESH);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = service.refresh().await {
                    tracing::debug!(error = %e, "silences not refreshed; the last ones read stay");
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use integra_domain::NovoAlerta;
    use integra_ports::{MockBus, MockRecords, StoreError};

    use super::*;
    use crate::test_support::{memory, mocked};

    fn silence(json: serde_json::Value) -> NovoSilencio {
        serde_json::from_value(json).unwrap()
    }

    fn alert(origem: &str) -> Alerta {
        let input: NovoAlerta = serde_json::from_value(
            serde_json::json!({"titulo": "t", "severidade": "alta", "origem": origem}),
        )
        .unwrap();
        Alerta::raise(input, Timestamp::now()).unwrap()
    }

    #[tokio::test]
    async fn a_silence_made_on_one_instance_applies_on_another_once_it_reads_them_again() {
        let ports = memory();
        let (here, there) = (
            SilenceService::new(ports.silences()),
            SilenceService::new(ports.silences()),
        );
        here.create(silence(serde_json::json!({
            "id": "s1", "matchers": {"origem": "billing"}, "fim": "2999-01-01T00:00:00Z"
        })))
        .await
        .unwrap();
        let now = Timestamp::now();
        assert!(here.silences(&alert("billing"), now));
        assert!(!here.silences(&alert("vendas"), now));
        assert!(!there.silences(&alert("billing"), now), "not read yet");
        there.refresh().await.unwrap();
        assert!(there.silences(&alert("billing"), now));
        // Ended there, and read again here: no longer in force.
        there.end("s1").await.unwrap();
        here.refresh().await.unwrap();
        assert!(!here.silences(&alert("billing"), Timestamp::now()));
        assert_eq!(here.list(Some(false)).await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_silence_ended_more_than_a_day_ago_is_removed() {
        let ports = memory();
        let service = SilenceService::new(ports.silences());
        let long_ago: Silencio = serde_json::from_value(serde_json::json!({
            "id": "velho", "matchers": {"origem": "b"}, "inicio": "2020-01-01T00:00:00Z",
            "fim": "2020-01-02T00:00:00Z", "comentario": null, "criado_por": null,
            "criado_em": "2020-01-01T00:00:00Z", "atualizado_em": "2020-01-01T00:00:00Z"
        }))
        .unwrap();
        ports.store.insert(&long_ago).await.unwrap();
        service
            .create(silence(
                serde_json::json!({"id": "novo", "matchers": {"origem": "b"}, "fim": "2999-01-01T00:00:00Z"}),
            ))
            .await
            .unwrap();
        let ids: Vec<String> = service
            .list(None)
            .await
            .unwrap()
            .into_iter()
            .map(|s| s.id.to_string())
            .collect();
        assert_eq!(ids, ["novo"]);
        assert!(matches!(
            service.get("velho").await,
            Err(ServiceError::NotFound(_))
        ));
    }

    #[tokio::test]
    async fn a_store_failure_is_the_callers_to_retry_and_keeps_what_was_known() {
        let mut store = MockRecords::<Silencio>::new();
        store
            .expect_list()
            .returning(|_, _, _| Err(StoreError::Unavailable("down".into())));
        let store: Arc<dyn Records<Silencio>> = Arc::new(store);
        let service = SilenceService::new(mocked(store, MockBus::new()));
        let made = service
            .create(silence(
                serde_json::json!({"matchers": {"origem": "b"}, "fim": "2999-01-01T00:00:00Z"}),
            ))
            .await;
        assert!(matches!(made, Err(ServiceError::StoreUnavailable(_))));
        assert!(service.refresh().await.is_err());
        assert!(!service.silences(&alert("b"), Timestamp::now()));
    }
}
