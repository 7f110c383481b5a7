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

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use integra_domain::{
    notification_id, series_hash, series_number, Acao, Alerta, Condicao, Encoded, MetricQuery,
    Metrica, NovaMensagem, NovaRegra, Observacao, Regra, TimeRange, Timestamp, Transicao,
};
use integra_ports::{Records, Replaced, SeriesStore, Versioned};

use crate::catalog::Catalog;
use crate::{AlertService, MessageService, Ports, ServiceError};

/// Most rules kept.
pub const MAX_RULES: usize = 1000;

/// Shortest pause between two rounds.
pub const MIN_GAP: Duration = Duration::from_millis(100);

/// Most series waiting for a round (one entry per rule and series, however many samples it
/// had); past it, the samples of new series are not evaluated (and counted in a warning): a
/// round that cannot keep up must not grow memory.
pub const MAX_QUEUED: usize = 100_000;

/// Most actions (openings, resolutions with their notifications) one round carries out at once.
const IN_FLIGHT: usize = 16;

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

/// What ingest needs to know of a rule to queue a sample for it.
struct Watcher {
    rule: Arc<str>,
    labels: BTreeMap<String, String>,
    condicao: Condicao,
    limite: f64,
}

/// What the samples of one series queued for one rule since the last round add up to, in their
/// order of arrival: the latest, the last that did not meet the condition, and the first that did
/// after it (where the run that meets it began). Applied in that order, they leave the rule as
/// every sample would have: the queue holds one entry per rule and series, however many samples
/// arrive between two rounds.
struct Queued {
    /// The series' labels, from the first sample that met the condition (only such a sample
    /// starts to track a series).
    labels: Option<BTreeMap<String, String>>,
    last_break: Option<(f64, Timestamp)>,
    run_start: Option<(f64, Timestamp)>,
    latest: (f64, Timestamp),
}

impl Queued {
    fn new(valor: f64, timestamp: Timestamp) -> Self {
        Self {
            labels: None,
            last_break: None,
            run_start: None,
            latest: (valor, timestamp),
        }
    }

    /// Adds a sample that came after those already added; an older one changes nothing.
    fn add(&mut self, sample: &Metrica, meets: bool) {
        if sample.timestamp < self.latest.1 {
            return;
        }
        let at = (sample.valor, sample.timestamp);
        if meets {
            if self.run_start.is_none() {
                self.run_start = Some(at);
            }
            if self.labels.is_none() {
                self.labels = Some(sample.labels.clone());
            }
        } else {
            self.last_break = Some(at);
            self.run_start = None;
        }
        self.latest = at;
    }

    /// The samples that stand for all of them, in order.
    fn observations<'a>(&'a self, serie: &'a str) -> impl Iterator<Item = Observacao<'a>> {
        let observation = move |(valor, timestamp): (f64, Timestamp)| Observacao {
            serie,
            labels: self.labels.as_ref(),
            valor,
            timestamp,
        };
        [self.last_break, self.run_start, Some(self.latest)]
            .into_iter()
            .flatten()
            .map(observation)
    }
}

/// The samples waiting for the next round: by rule id, then by series.
#[derive(Default)]
struct Queue {
    by_rule: Fast<Arc<str>, BySeries>,
    len: usize,
}

/// Queued samples by series.
type BySeries = Fast<u64, Queued>;

/// A map on the ingest path, hashed with FNV-1a rather than SipHash: its keys are rule ids,
/// the metric names rules watch and series hashes, a few made through the API, never a flood of
/// client-chosen keys (a lookup with any name costs one hash).
type Fast<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<FastHasher>>;

/// FNV-1a, 64 bits; a `u64` key (a series hash already) is taken as it is.
struct FastHasher(u64);

impl Default for FastHasher {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl std::hash::Hasher for FastHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Rules: kept in the store, evaluated by every instance over the samples it receives.
pub struct RuleService {
    rules: Catalog<Regra>,
    series: Arc<dyn SeriesStore>,
    alerts: Arc<AlertService>,
    messages: Arc<MessageService>,
    config: RulesConfig,
    /// The rules by the metric they watch, as of the last round.
    watched: RwLock<Arc<Fast<String, Vec<Watcher>>>>,
    queue: Mutex<Queue>,
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
            rules: Catalog::new(ports, "rule", MAX_RULES),
            series,
            alerts,
            messages,
            config,
            watched: RwLock::new(Arc::new(Fast::default())),
            queue: Mutex::new(Queue::default()),
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
        let held = self.rules.all().await?;
        let (made, rule) = self
            .rules
            .add(rule, held.len(), Regra::same_definition)
            .await?;
        if made {
            self.set_watched(held.iter().map(|v| &v.record).chain([&rule]));
        }
        Ok((made, rule))
    }

    /// Reads one rule, with the state of its series.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`], or a store failure.
    pub async fn get(&self, id: &str) -> Result<Regra, ServiceError> {
        Ok(self.rules.get(id).await?.record)
    }

    /// Every rule, newest first.
    ///
    /// # Errors
    /// A store failure.
    pub async fn list(&self) -> Result<Vec<Regra>, ServiceError> {
        let mut rules: Vec<Regra> = self
            .rules
            .all()
            .await?
            .into_iter()
            .map(|v| v.record)
            .collect();
        rules.reverse();
        Ok(rules)
    }

    /// Deletes a rule. The alerts it opened stay as they are.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`], or a store failure.
    pub async fn delete(&self, id: &str) -> Result<(), ServiceError> {
        self.rules.remove(id).await
    }

    /// Queues the samples just stored for the rules that watch their series, for the next round.
    /// The request pays for a hash of each watched sample's series and a few comparisons; the
    /// queue holds one entry per rule and series.
    pub fn observe(&self, samples: &[Metrica]) {
        let watched = Arc::clone(&self.watched.read().unwrap_or_else(PoisonError::into_inner));
        if watched.is_empty() {
            return;
        }
        let (mut queued, mut dropped) = (false, 0_usize);
        {
            let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
            let Queue { by_rule, len } = &mut *queue;
            for sample in samples {
                let Some(watchers) = watched.get(&sample.nome) else {
                    continue;
                };
                let mut serie = None;
                for w in watchers {
                    let watches = w
                        .labels
                        .iter()
                        .all(|(k, v)| sample.labels.get(k).is_some_and(|have| have == v));
                    if !watches {
                        continue;
                    }
                    let serie =
                        *serie.get_or_insert_with(|| series_number(&sample.nome, &sample.labels));
                    let of_rule = match by_rule.get_mut(&*w.rule) {
                        Some(of_rule) => of_rule,
                        None => by_rule.entry(Arc::clone(&w.rule)).or_default(),
                    };
                    let meets = w.condicao.holds(sample.valor, w.limite);
                    if let Some(entry) = of_rule.get_mut(&serie) {
                        entry.add(sample, meets);
                    } else if *len >= MAX_QUEUED {
                        dropped += 1;
                    } else {
                        let mut entry = Queued::new(sample.valor, sample.timestamp);
                        entry.add(sample, meets);
                        of_rule.insert(serie, entry);
                        *len += 1;
                    }
                    queued = true;
                }
            }
        }
        if dropped > 0 {
            tracing::warn!(
                dropped,
                "rule evaluation is behind: samples of new series left out of the rules"
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
        let mut queued =
            std::mem::take(&mut *self.queue.lock().unwrap_or_else(PoisonError::into_inner)).by_rule;
        let rules = match self.rules.all().await {
            Ok(rules) => rules,
            Err(e) => {
                self.requeue(queued);
                return Err(e);
            }
        };
        self.set_watched(rules.iter().map(|v| &v.record));
        let now = Timestamp::now();
        let mut first_failure = None;
        for rule in rules {
            let (id, mine) = queued
                .remove_entry(rule.record.id.as_str())
                .unwrap_or_else(|| (Arc::from(rule.record.id.as_str()), BySeries::default()));
            if let Err(e) = self.evaluate_rule(rule, &mine, now).await {
                tracing::warn!(error = %e, "a rule was not evaluated; its samples wait for the next round");
                self.requeue([(id, mine)].into_iter().collect());
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
        samples: &BySeries,
        now: Timestamp,
    ) -> Result<(), ServiceError> {
        let series: Vec<(String, &Queued)> = samples
            .iter()
            .map(|(serie, queued)| (format!("{serie:016x}"), queued))
            .collect();
        for _ in 0..CAS_ATTEMPTS {
            let Versioned {
                revision,
                record: mut rule,
            } = current;
            let mut changed = rule.observe_all(
                series
                    .iter()
                    .flat_map(|(serie, queued)| queued.observations(serie)),
            );
            changed |= self.confirm_due(&mut rule, now).await?;
            let mut decided = rule.advance(now);
            decided.extend(rule.take_over(now, self.lease_ms()));
            if !changed && decided.is_empty() {
                return Ok(());
            }
            match self.rules.replace(&rule, revision).await? {
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

    /// Before pending series fire, checks them against every sample the store holds of them
    /// since they began to meet the condition (one read per rule, of the oldest start on): a
    /// sample another instance received may have broken the run. With `por_segundos` 0 there is
    /// no wait to check, and nothing is read. Returns whether the rule changed.
    async fn confirm_due(&self, rule: &mut Regra, now: Timestamp) -> Result<bool, ServiceError> {
        if rule.por_segundos == 0 {
            return Ok(false);
        }
        let due = rule.due(now);
        let Some(oldest) = due
            .iter()
            .filter_map(|serie| rule.series.get(serie).and_then(|s| s.desde))
            .min()
        else {
            return Ok(false);
        };
        let query = MetricQuery::new(
            Some(rule.metrica.clone()),
            None,
            TimeRange::new(Some(oldest), Some(now))?,
            MetricQuery::MAX_LIMIT,
        )?;
        let stored = self
            .series
            .query_samples(&query)
            .await
            .map_err(self.rules.ports.store_failed("query_samples"))?;
        let mut by_series: HashMap<String, Vec<Metrica>> = HashMap::new();
        for sample in stored {
            by_series
                .entry(series_hash(&sample.nome, &sample.labels))
                .or_default()
                .push(sample);
        }
        let mut changed = false;
        for serie in due {
            if let Some(samples) = by_series.get(&serie) {
                changed |= rule.confirm(&serie, samples);
            }
        }
        Ok(changed)
    }

    /// Carries out what a round decided for `rule` (as written at its revision), then clears
    /// what was done. What failed stays owed and is taken over after the lease: a failure here
    /// is logged, not returned.
    async fn carry_out(&self, mut current: Versioned<Regra>, decided: Vec<Transicao>) {
        use futures_util::StreamExt as _;
        let rule = &current.record;
        // Different series' alerts are independent: [`IN_FLIGHT`] at a time, so that a rule
        // that fires on a thousand series at once opens them in a few round trips' time.
        let done: Vec<Transicao> = futures_util::stream::iter(decided)
            .map(|transition| async move {
                let outcome = match transition.acao {
                    Acao::Abrir => self.open(rule, &transition.serie).await,
                    Acao::Resolver => self.resolve(rule, &transition.serie).await,
                };
                match outcome {
                    Ok(()) => Some(transition),
                    Err(e) => {
                        tracing::warn!(rule = %rule.id, serie = %transition.serie, error = %e,
                            "a rule's action failed; it is retried after its lease");
                        None
                    }
                }
            })
            .buffer_unordered(IN_FLIGHT)
            .filter_map(std::future::ready)
            .collect()
            .await;
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
            match self.rules.replace(&rule, current.revision).await {
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
    async fn notify(
        &self,
        rule: &Regra,
        alert: &Encoded<Alerta>,
        evento: &str,
    ) -> Result<(), ServiceError> {
        if rule.notificar.is_empty() {
            return Ok(());
        }
        let conteudo = alert.json().to_owned();
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

    /// Puts samples back for the next round, within [`MAX_QUEUED`]; where newer ones arrived
    /// meanwhile, those stand.
    fn requeue(&self, samples: Fast<Arc<str>, BySeries>) {
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        let Queue { by_rule, len } = &mut *queue;
        for (rule, kept) in samples {
            let of_rule = by_rule.entry(rule).or_default();
            for (serie, entry) in kept {
                if *len >= MAX_QUEUED {
                    return;
                }
                if let std::collections::hash_map::Entry::Vacant(vacant) = of_rule.entry(serie) {
                    vacant.insert(entry);
                    *len += 1;
                }
            }
        }
    }

    /// What ingest needs of `rules`, by the metric each watches.
    fn set_watched<'a>(&self, rules: impl IntoIterator<Item = &'a Regra>) {
        let mut watched: Fast<String, Vec<Watcher>> = Fast::default();
        for rule in rules {
            watched
                .entry(rule.metrica.clone())
                .or_default()
                .push(Watcher {
                    rule: Arc::from(rule.id.as_str()),
                    labels: rule.labels.clone(),
                    condicao: rule.condicao,
                    limite: rule.limite,
                });
        }
        *self.watched.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(watched);
    }
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
