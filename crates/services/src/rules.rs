//! RuleService: rules over metric series that open and resolve alerts, and notify each opening
//! and resolution through the message path.
//!
//! Rules live in the store, with the state of their series (see `integra_domain::Regra`).
//! Ingest hands the samples of watched metrics to [`RuleService::observe`], which only queues
//! them: the request pays a copy of each watched sample, nothing more. An evaluator task per
//! instance takes the queue in rounds, at once after samples arrive (rounds at most every
//! [`MIN_GAP`]) and every `rules.interval_ms` for the `por_segundos` windows. A round reads every
//! rule (one store list), applies this instance's samples, decides what is due, and writes each
//! rule that changed with a compare-and-set; the instance whose write lands carries out what it
//! decided (open through [`AlertService::open`], resolve, notify through
//! [`MessageService::send`]) and then clears it. Alert ids are fixed by the rule and the series,
//! and message ids by the alert, the event and the opening: an action carried out twice (a
//! crash between doing and clearing, a lease taken over) changes nothing the second time.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use integra_domain::{
    notification_id, series_hash, Acao, Alerta, MetricQuery, Metrica, NovaMensagem, NovaRegra,
    Order, Paging, Regra, TimeRange, Timestamp, Transicao,
};
use integra_ports::{Inserted, Records, Replaced, SeriesStore, Versioned};

use crate::{AlertService, MessageService, Ports, ServiceError};

/// Most rules kept.
pub const MAX_RULES: usize = 1000;

/// Shortest pause between two rounds.
pub const MIN_GAP: Duration = Duration::from_millis(50);

/// Most samples waiting for a round; past it, new ones are not evaluated (and counted in a
/// warning): a round that cannot keep up must not grow memory.
pub const MAX_QUEUED: usize = 100_000;

/// How many times a rule's write is retried when another evaluator wrote it in between.
const CAS_ATTEMPTS: usize = 8;

/// How the evaluator runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RulesConfig {
    /// A round at least this often, for the `por_segundos` windows (`rules.interval_ms`).
    pub interval: Duration,
    /// How long an action decided by one evaluator is left to it before another (or its own
    /// next round, after a failure) takes it over.
    pub lease: Duration,
}

impl Default for RulesConfig {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(1),
            lease: Duration::from_secs(10),
        }
    }
}

/// Rules: kept in the store, evaluated by every instance over the samples it receives.
pub struct RuleService {
    ports: Ports<dyn Records<Regra>>,
    series: Arc<dyn SeriesStore>,
    alerts: Arc<AlertService>,
    messages: Arc<MessageService>,
    config: RulesConfig,
    /// The metrics some rule watches, as of the last round.
    watched: RwLock<Arc<HashSet<String>>>,
    /// Samples of watched metrics waiting for the next round.
    queued: Mutex<Vec<Metrica>>,
    wake: tokio::sync::Notify,
}

impl RuleService {
    /// The service over these ports; [`RuleService::spawn_evaluator`] starts its rounds.
    pub fn new(
        ports: Ports<dyn Records<Regra>>,
        series: Arc<dyn SeriesStore>,
        alerts: Arc<AlertService>,
        messages: Arc<MessageService>,
        config: RulesConfig,
    ) -> Self {
        Self {
            ports,
            series,
            alerts,
            messages,
            config,
            watched: RwLock::new(Arc::new(HashSet::new())),
            queued: Mutex::new(Vec::new()),
            wake: tokio::sync::Notify::new(),
        }
    }

    /// Makes a rule. The same id again with the same definition answers the stored one
    /// (`false`: not made now).
    ///
    /// # Errors
    /// [`ServiceError::Invalid`]; [`ServiceError::Conflict`] for an id another rule holds;
    /// [`ServiceError::Overloaded`] at [`MAX_RULES`]; a store failure.
    pub async fn create(&self, input: NovaRegra) -> Result<(bool, Regra), ServiceError> {
        let rule = Regra::create(input, Timestamp::now())?;
        let rules = self.all().await?;
        if rules.len() >= MAX_RULES {
            return Err(ServiceError::Overloaded(format!(
                "{MAX_RULES} rules exist already; delete some first"
            )));
        }
        let inserted = self
            .ports
            .store
            .insert(&rule)
            .await
            .map_err(self.ports.store_failed("insert"))?;
        match inserted {
            Inserted::Created => {
                let mut names: HashSet<String> =
                    rules.into_iter().map(|v| v.record.metrica).collect();
                names.insert(rule.metrica.clone());
                self.set_watched(names);
                Ok((true, rule))
            }
            Inserted::Exists(Versioned { record, .. }) if record.same_definition(&rule) => {
                Ok((false, record))
            }
            Inserted::Exists(_) => Err(ServiceError::Conflict(format!(
                "rule {} exists with another definition",
                rule.id
            ))),
        }
    }

    /// Reads one rule, with the state of its series.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`], or a store failure.
    pub async fn get(&self, id: &str) -> Result<Regra, ServiceError> {
        self.ports
            .store
            .get(id)
            .await
            .map_err(self.ports.store_failed("get"))?
            .map(|v| v.record)
            .ok_or_else(|| ServiceError::NotFound(format!("rule {id}")))
    }

    /// Every rule, newest first.
    ///
    /// # Errors
    /// A store failure.
    pub async fn list(&self) -> Result<Vec<Regra>, ServiceError> {
        let mut rules: Vec<Regra> = self.all().await?.into_iter().map(|v| v.record).collect();
        rules.reverse();
        Ok(rules)
    }

    /// Deletes a rule. The alerts it opened stay as they are.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`], or a store failure.
    pub async fn delete(&self, id: &str) -> Result<(), ServiceError> {
        let removed = self
            .ports
            .store
            .remove(id)
            .await
            .map_err(self.ports.store_failed("remove"))?;
        if removed {
            Ok(())
        } else {
            Err(ServiceError::NotFound(format!("rule {id}")))
        }
    }

    /// Queues the samples of watched metrics for the next round (samples just stored).
    pub fn observe(&self, samples: &[Metrica]) {
        let watched = Arc::clone(&self.watched.read().unwrap_or_else(PoisonError::into_inner));
        if watched.is_empty() {
            return;
        }
        let (mut queued, mut dropped) = (false, 0_usize);
        {
            let mut queue = self.queued.lock().unwrap_or_else(PoisonError::into_inner);
            for sample in samples.iter().filter(|s| watched.contains(&s.nome)) {
                if queue.len() >= MAX_QUEUED {
                    dropped += 1;
                } else {
                    queue.push(sample.clone());
                    queued = true;
                }
            }
        }
        if dropped > 0 {
            tracing::warn!(
                dropped,
                "rule evaluation is behind: samples left out of the rules"
            );
        }
        if queued {
            self.wake.notify_one();
        }
    }

    /// Runs rounds until the handle is aborted: when samples arrive, and every interval.
    pub fn spawn_evaluator(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let service = Arc::clone(self);
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = service.wake.notified() => {}
                    () = tokio::time::sleep(service.config.interval) => {}
                }
                if let Err(e) = service.evaluate().await {
                    tracing::warn!(error = %e, "a round of rule evaluation failed; the next retries");
                }
                tokio::time::sleep(MIN_GAP).await;
            }
        })
    }

    /// One round: every rule, with the samples queued since the last round, at the time now.
    ///
    /// # Errors
    /// A store failure reading the rules (the samples wait for the next round), or the first
    /// failure evaluating one (the others are evaluated all the same).
    pub async fn evaluate(&self) -> Result<(), ServiceError> {
        let mut samples =
            std::mem::take(&mut *self.queued.lock().unwrap_or_else(PoisonError::into_inner));
        let rules = match self.all().await {
            Ok(rules) => rules,
            Err(e) => {
                self.requeue(samples);
                return Err(e);
            }
        };
        self.set_watched(rules.iter().map(|v| v.record.metrica.clone()).collect());
        samples.sort_by_key(|s| s.timestamp);
        let mut by_metric: HashMap<&str, Vec<&Metrica>> = HashMap::new();
        for sample in &samples {
            by_metric.entry(&sample.nome).or_default().push(sample);
        }
        let now = Timestamp::now();
        let mut first_failure = None;
        for rule in rules {
            let mine: Vec<&Metrica> = by_metric
                .get(rule.record.metrica.as_str())
                .map(|of_metric| {
                    of_metric
                        .iter()
                        .copied()
                        .filter(|s| rule.record.watches(s))
                        .collect()
                })
                .unwrap_or_default();
            if let Err(e) = self.evaluate_rule(rule, &mine, now).await {
                tracing::warn!(error = %e, "a rule was not evaluated; its samples wait for the next round");
                self.requeue(mine.into_iter().cloned().collect());
                first_failure.get_or_insert(e);
            }
        }
        first_failure.map_or(Ok(()), Err)
    }

    /// Applies `samples` to one rule and decides what is due at `now`; writes it when it changed,
    /// and carries out what was decided when the write landed.
    async fn evaluate_rule(
        &self,
        mut current: Versioned<Regra>,
        samples: &[&Metrica],
        now: Timestamp,
    ) -> Result<(), ServiceError> {
        for _ in 0..CAS_ATTEMPTS {
            let Versioned {
                revision,
                record: mut rule,
            } = current;
            let mut changed = false;
            for sample in samples {
                changed |= rule.observe(sample);
            }
            for serie in rule.due(now) {
                let stored = self.stored_samples(&rule, &serie, now).await?;
                changed |= rule.confirm(&serie, &stored);
            }
            let mut decided = rule.advance(now);
            decided.extend(rule.take_over(now, self.lease_ms()));
            if !changed && decided.is_empty() {
                return Ok(());
            }
            let replaced = self
                .ports
                .store
                .replace(&rule, revision)
                .await
                .map_err(self.ports.store_failed("replace"))?;
            match replaced {
                Replaced::Done(revision) => {
                    if !decided.is_empty() {
                        let written = Versioned {
                            revision,
                            record: rule,
                        };
                        self.carry_out(written, decided).await;
                    }
                    return Ok(());
                }
                Replaced::Stale(Some(fresh)) => current = fresh,
                // Deleted meanwhile.
                Replaced::Stale(None) => return Ok(()),
            }
        }
        Err(ServiceError::Conflict(
            "a rule is changing too often; its samples wait for the next round".into(),
        ))
    }

    /// The samples the store holds of `serie` since it began to meet the condition.
    async fn stored_samples(
        &self,
        rule: &Regra,
        serie: &str,
        now: Timestamp,
    ) -> Result<Vec<Metrica>, ServiceError> {
        let Some(desde) = rule.series.get(serie).and_then(|s| s.desde) else {
            return Ok(Vec::new());
        };
        let query = MetricQuery::new(
            Some(rule.metrica.clone()),
            None,
            TimeRange::new(Some(desde), Some(now))?,
            MetricQuery::MAX_LIMIT,
        )?;
        let mut samples = self
            .series
            .query_samples(&query)
            .await
            .map_err(self.ports.store_failed("query_samples"))?;
        samples.retain(|s| series_hash(&s.nome, &s.labels) == serie);
        Ok(samples)
    }

    /// Carries out what a round decided for `rule` (as written at its revision), then clears
    /// what was done. What failed stays owed and is taken over after the lease: a failure here
    /// is logged, not returned.
    async fn carry_out(&self, mut current: Versioned<Regra>, decided: Vec<Transicao>) {
        let mut done = Vec::with_capacity(decided.len());
        for transition in decided {
            let outcome = match transition.acao {
                Acao::Abrir => self.open(&current.record, &transition.serie).await,
                Acao::Resolver => self.resolve(&current.record, &transition.serie).await,
            };
            match outcome {
                Ok(()) => done.push(transition),
                Err(e) => {
                    tracing::warn!(rule = %current.record.id, serie = %transition.serie, error = %e,
                        "a rule's action failed; it is retried after its lease");
                }
            }
        }
        for _ in 0..CAS_ATTEMPTS {
            let now = Timestamp::now();
            let mut rule = current.record;
            let mut changed = false;
            for t in &done {
                changed |= rule.settle(&t.serie, t.acao, now);
            }
            if !changed {
                break;
            }
            let replaced = self
                .ports
                .store
                .replace(&rule, current.revision)
                .await
                .map_err(self.ports.store_failed("replace"));
            match replaced {
                Ok(Replaced::Done(_) | Replaced::Stale(None)) => break,
                Ok(Replaced::Stale(Some(fresh))) => current = fresh,
                // Done, not cleared: taken over after the lease, and done again to no effect.
                Err(_) => break,
            }
        }
    }

    /// Opens the alert of `serie`, and notifies it unless it is silenced.
    async fn open(&self, rule: &Regra, serie: &str) -> Result<(), ServiceError> {
        let alerta = rule.alert(serie, Timestamp::now())?;
        let (_, alert) = self.alerts.open(alerta).await?;
        if alert.silenciado {
            return Ok(());
        }
        let evento = if alert.aberturas <= 1 {
            "criado"
        } else {
            "reaberto"
        };
        self.notify(rule, &alert, evento).await
    }

    /// Resolves the alert of `serie`, and notifies it unless it was opened silenced. An alert
    /// that is gone (expired) has nothing left to resolve.
    async fn resolve(&self, rule: &Regra, serie: &str) -> Result<(), ServiceError> {
        let Some(id) = rule.series.get(serie).map(|s| s.alerta.clone()) else {
            return Ok(());
        };
        match self.alerts.resolve(id.as_str()).await {
            Ok(alert) if alert.silenciado => Ok(()),
            Ok(alert) => self.notify(rule, &alert, "resolvido").await,
            Err(ServiceError::NotFound(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Sends one message per `notificar` entry, with the alert as its JSON content, through the
    /// message path: its id makes a second send of the same notification a replay.
    async fn notify(&self, rule: &Regra, alert: &Alerta, evento: &str) -> Result<(), ServiceError> {
        if rule.notificar.is_empty() {
            return Ok(());
        }
        let conteudo = serde_json::to_string(alert).map_err(|e| {
            ServiceError::invalid("conteudo", format!("the alert cannot be written: {e}"))
        })?;
        let metadados: BTreeMap<String, String> = [
            ("alerta".to_owned(), alert.id.to_string()),
            ("evento".to_owned(), evento.to_owned()),
            ("regra".to_owned(), rule.id.to_string()),
        ]
        .into();
        for (entry, target) in rule.notificar.iter().enumerate() {
            let message = NovaMensagem {
                id: Some(notification_id(&alert.id, evento, alert.aberturas, entry)),
                tipo: target.tipo,
                destinatario: target.destinatario.clone(),
                conteudo: conteudo.clone(),
                metadados: Some(metadados.clone()),
            };
            self.messages.send(message).await?;
        }
        Ok(())
    }

    fn lease_ms(&self) -> i64 {
        i64::try_from(self.config.lease.as_millis()).unwrap_or(i64::MAX)
    }

    fn requeue(&self, samples: Vec<Metrica>) {
        let mut queue = self.queued.lock().unwrap_or_else(PoisonError::into_inner);
        let room = MAX_QUEUED.saturating_sub(queue.len());
        queue.extend(samples.into_iter().take(room));
    }

    fn set_watched(&self, names: HashSet<String>) {
        *self.watched.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(names);
    }

    /// Every rule, oldest first.
    async fn all(&self) -> Result<Vec<Versioned<Regra>>, ServiceError> {
        self.ports
            .store
            .list(&(), Paging::new(0, MAX_RULES)?, Order::OldestFirst)
            .await
            .map_err(self.ports.store_failed("list"))
    }
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
