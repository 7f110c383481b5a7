//! Channels: publications numbered by the store, delivered to every subscriber on every instance
//! in offset order, once, and recovered from the store's history after a reconnect.
//!
//! The store gives each publication its offset; the fan-out topic carries it to every instance.
//! Each instance keeps, per channel it has subscribers of, the offset it delivered last (`head`):
//! what arrives at `head + 1` is delivered, what arrives twice is dropped, and what arrives early
//! waits for the ones before it, which are read from the store if they do not arrive within
//! [`GAP_WAIT`] (two instances publishing at once may have their records cross on the topic).
//!
//! A subscriber is registered with the offset it has been sent up to (`last_sent`): what it
//! missed, or what this instance delivered while its history was being read, it reads from the
//! store into its backlog, a page at a time, and everything newer comes live, after the backlog.
//! No lock is held across an await: the store is read first, the registration is one step.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use integra_domain::{
    publicacao_frame, recovered, Canal, Dados, Desde, Evento, Id, Posicao, Publicacao, Timestamp,
};
use integra_ports::{Historico, HistoryLimits};
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::fanout::{Record, RECORD_BYTES};
use super::registry::{Connection, Item, Outgoing};
use super::Inner;
use crate::ServiceError;

/// How long a publication that arrived early waits for the ones before it, before they are read
/// from the store.
const GAP_WAIT: Duration = Duration::from_millis(100);

/// Publications read from the store in one go, for a recovery or a gap.
const PAGE: usize = 500;

/// Most publications a channel holds while it waits for the ones before them: past it (the store
/// cannot be read, and they keep arriving), the wait is given up.
const MAX_EARLY: usize = 4 * PAGE;

/// Limits of the channels (`[channels]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelsConfig {
    /// What each channel's history keeps.
    pub history: HistoryLimits,
    /// Most channels one connection subscribes to.
    pub max_per_connection: usize,
}

impl Default for ChannelsConfig {
    fn default() -> Self {
        Self {
            history: HistoryLimits {
                size: 1000,
                ttl_ms: 3_600_000,
            },
            max_per_connection: 128,
        }
    }
}

/// A publication as the hub delivers it: where it sits, and its WebSocket frame, which holds its
/// JSON (so that each is written once, whatever the number of subscribers).
#[derive(Debug)]
pub struct Publication {
    /// Its channel.
    pub canal: Canal,
    /// Its offset.
    pub offset: u64,
    /// Its epoca.
    pub epoca: Arc<str>,
    frame: String,
}

/// How a `publicacao` frame begins (see [`publicacao_frame`]).
const FRAME_HEAD: usize = r#"{"evento":"publicacao","dados":"#.len();

impl Publication {
    fn new(canal: Canal, offset: u64, epoca: Arc<str>, json: &str) -> Self {
        Self {
            canal,
            offset,
            epoca,
            frame: publicacao_frame(json),
        }
    }

    fn of(p: &Publicacao) -> Self {
        Self::new(
            p.canal.clone(),
            p.offset,
            Arc::from(p.epoca.as_str()),
            &p.to_json(),
        )
    }

    /// Its `{"evento":"publicacao","dados":…}` frame.
    pub fn frame(&self) -> &str {
        &self.frame
    }

    /// The publication's JSON (`{"canal", "offset", "epoca", "criado_em", "dados"}`).
    pub fn json(&self) -> &str {
        &self.frame[FRAME_HEAD..self.frame.len() - 1]
    }
}

/// The place of a publication, read from the JSON the fan-out carries.
#[derive(Deserialize)]
struct Place<'a> {
    #[serde(borrow)]
    canal: &'a str,
    offset: u64,
    #[serde(borrow)]
    epoca: &'a str,
}

/// What a subscription still has to read from the store: the offsets after `after`, up to
/// `until`, which it is owed before what comes live.
#[derive(Debug)]
pub(super) struct Recovery {
    canal: Canal,
    subscription: u64,
    after: u64,
    until: u64,
}

/// One subscriber of a channel on this instance.
struct Live {
    tx: mpsc::Sender<Item>,
    subscription: u64,
    /// Offsets up to this one it has been sent, or has in its backlog.
    last_sent: u64,
}

/// A channel that has subscribers on this instance.
struct Local {
    epoca: Arc<str>,
    /// The last offset delivered here, in order.
    head: u64,
    /// Publications that arrived before the ones they follow.
    early: BTreeMap<u64, Arc<Publication>>,
    /// When the oldest gap appeared.
    gap_since: Option<Instant>,
    subscribers: HashMap<String, Live>,
}

/// This instance's channels with subscribers. The lock is held for one step, never across an
/// await.
#[derive(Default)]
pub(super) struct Locals(Mutex<HashMap<Canal, Local>>);

impl Locals {
    fn lock(&self) -> MutexGuard<'_, HashMap<Canal, Local>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }
}

impl Local {
    /// Delivers `p` to each subscriber not sent it yet; collects those whose queue is full.
    fn deliver(&mut self, p: &Arc<Publication>, overflowed: &mut Vec<String>) {
        for (id, live) in &mut self.subscribers {
            if p.offset <= live.last_sent {
                continue;
            }
            live.last_sent = p.offset;
            let item = Item::Publication(Arc::clone(p), live.subscription);
            if let Err(mpsc::error::TrySendError::Full(_)) = live.tx.try_send(item) {
                overflowed.push(id.clone());
            }
        }
        self.head = p.offset;
    }

    /// Starts over in the history `epoca`, delivered up to `head`: so does every subscriber.
    fn restart(&mut self, epoca: Arc<str>, head: u64) {
        self.epoca = epoca;
        self.head = head;
        self.early.clear();
        self.gap_since = None;
        for live in self.subscribers.values_mut() {
            live.last_sent = head;
        }
    }

    /// Takes `p` in: delivered in order, kept until the ones before it arrive, or dropped as seen.
    fn take(&mut self, p: Arc<Publication>, overflowed: &mut Vec<String>) {
        if *p.epoca != *self.epoca {
            // The history was lost and began anew: so does this channel, at `p`.
            self.restart(Arc::clone(&p.epoca), p.offset.saturating_sub(1));
        }
        if p.offset <= self.head {
            return;
        }
        if p.offset > self.head + 1 {
            self.early.insert(p.offset, p);
            self.gap_since.get_or_insert_with(Instant::now);
            if self.early.len() > MAX_EARLY {
                self.skip_gap(overflowed);
            }
            return;
        }
        self.deliver(&p, overflowed);
        while let Some(next) = self.early.remove(&(self.head + 1)) {
            self.deliver(&next, overflowed);
        }
        self.early.retain(|&offset, _| offset > self.head);
        if self.early.is_empty() {
            self.gap_since = None;
        } else {
            self.gap_since = Some(Instant::now());
        }
    }

    /// Gives up on the publications before the first early one: the store no longer has them.
    fn skip_gap(&mut self, overflowed: &mut Vec<String>) {
        if let Some((&first, _)) = self.early.first_key_value() {
            self.head = first - 1;
            if let Some(p) = self.early.remove(&first) {
                self.take(p, overflowed);
            }
        }
    }
}

impl Inner {
    fn new_epoca() -> String {
        Id::generate().to_string()
    }

    fn limits(&self) -> HistoryLimits {
        self.config.channels.history
    }

    /// Reads `canal`'s history after `after`.
    pub(super) async fn read_history(
        &self,
        canal: &Canal,
        after: u64,
        limit: usize,
    ) -> Result<Historico, ServiceError> {
        self.history
            .history(canal, after, limit, &Self::new_epoca(), self.limits())
            .await
            .map_err(self.ports.store_failed("channel_history"))
    }

    /// Numbers `dados` on `canal` in the store, delivers them here, and fans them out to the
    /// other instances.
    pub(super) async fn publish(
        &self,
        canal: &Canal,
        dados: &[Dados],
    ) -> Result<Vec<Publicacao>, ServiceError> {
        let published = self
            .history
            .publish(
                canal,
                dados,
                Timestamp::now(),
                &Self::new_epoca(),
                self.limits(),
            )
            .await
            .map_err(self.ports.store_failed("channel_publish"))?;
        self.announce(&published).await?;
        Ok(published)
    }

    /// Delivers publications the store numbered to this instance's subscribers, and fans them
    /// out to the others, in records of at most [`RECORD_BYTES`] (one publication at least).
    pub(super) async fn announce(&self, published: &[Publicacao]) -> Result<(), ServiceError> {
        let mut items: Vec<String> = Vec::new();
        let mut size = 0;
        for p in published {
            let json = p.to_json();
            // Its frame is made only for an instance that has subscribers of its channel.
            self.take_publication(&p.canal, || {
                let epoca = Arc::from(p.epoca.as_str());
                Publication::new(p.canal.clone(), p.offset, epoca, &json)
            });
            if !items.is_empty() && size + json.len() > RECORD_BYTES {
                let full = std::mem::take(&mut items);
                self.fan_out(&Record::Publications { items: full }).await?;
                size = 0;
            }
            size += json.len();
            items.push(json);
        }
        self.fan_out(&Record::Publications { items }).await
    }

    /// Takes in a publication from the fan-out topic.
    pub(super) fn receive_publication(&self, json: &str) {
        let Ok(place) = serde_json::from_str::<Place<'_>>(json) else {
            tracing::warn!("unreadable publication skipped");
            return;
        };
        let Ok(canal) = Canal::parse(place.canal) else {
            return;
        };
        self.take_publication(&canal.clone(), || {
            Publication::new(canal, place.offset, Arc::from(place.epoca), json)
        });
    }

    /// Takes in the publication `make` makes, when `canal` has subscribers here (else it is not
    /// made).
    fn take_publication(&self, canal: &Canal, make: impl FnOnce() -> Publication) {
        let mut overflowed = Vec::new();
        {
            let mut locals = self.locals.lock();
            let Some(local) = locals.get_mut(canal) else {
                return;
            };
            local.take(Arc::new(make()), &mut overflowed);
        }
        self.close_overflowed(&overflowed);
    }

    fn close_overflowed(&self, overflowed: &[String]) {
        if overflowed.is_empty() {
            return;
        }
        for id in overflowed {
            tracing::info!(conexao_id = %id, "closed a connection whose queue is full");
        }
        self.registry.close_overflowed(overflowed);
        self.ports
            .metrics
            .ws_connections(i64::try_from(self.registry.len()).unwrap_or(i64::MAX));
    }

    /// Registers a subscriber of `canal`, which the store showed at `posicao`; returns the offset
    /// it is owed up to before what comes live.
    fn join(&self, canal: &Canal, connection: &str, live: Live, posicao: &Posicao) -> u64 {
        let until = {
            let mut locals = self.locals.lock();
            let local = locals.entry(canal.clone()).or_insert_with(|| Local {
                epoca: Arc::from(posicao.epoca.as_str()),
                head: posicao.offset,
                early: BTreeMap::new(),
                gap_since: None,
                subscribers: HashMap::new(),
            });
            if *local.epoca != *posicao.epoca {
                // The store's history is newer than what this instance delivered last.
                local.restart(Arc::from(posicao.epoca.as_str()), posicao.offset);
            }
            let until = local.head.max(posicao.offset);
            local.subscribers.insert(
                connection.to_owned(),
                Live {
                    last_sent: until,
                    ..live
                },
            );
            until
        };
        self.count_changed(canal);
        until
    }

    /// Unregisters a subscriber of `canal`.
    pub(super) fn leave(&self, canal: &Canal, connection: &str) {
        {
            let mut locals = self.locals.lock();
            let Some(local) = locals.get_mut(canal) else {
                return;
            };
            local.subscribers.remove(connection);
            if local.subscribers.is_empty() {
                locals.remove(canal);
            }
        }
        self.count_changed(canal);
    }

    /// Tells the store, soon, how many subscribers of `canal` this instance holds: one task
    /// writes the counts in turn, each as it is when written, so the last write is never older
    /// than the last change. Should its queue be full, the next refresh writes it.
    fn count_changed(&self, canal: &Canal) {
        let _ = self.counts.try_send(canal.clone());
    }

    /// Writes the counts of the channels whose subscribers changed, one at a time.
    pub(super) async fn write_counts(self: Arc<Self>, mut changed: mpsc::Receiver<Canal>) {
        while let Some(canal) = changed.recv().await {
            let count = self
                .locals
                .lock()
                .get(&canal)
                .map_or(0, |local| local.subscribers.len());
            self.store_count(&canal, count).await;
        }
    }

    async fn store_count(&self, canal: &Canal, count: usize) {
        let ttl = u64::try_from(self.config.presence_ttl.as_millis()).unwrap_or(u64::MAX);
        let stored = self
            .history
            .put_subscribers(canal, &self.instance, count as u64, ttl)
            .await;
        if let Err(e) = stored {
            self.ports.metrics.store_error("put_subscribers");
            tracing::debug!(canal = %canal, error = %e, "subscriber count not stored; it is at the next refresh");
        }
    }

    /// Writes every local channel's subscriber count again, so that they outlive their TTL.
    pub(super) async fn refresh_counts(&self) {
        let counts: Vec<(Canal, usize)> = self
            .locals
            .lock()
            .iter()
            .map(|(canal, local)| (canal.clone(), local.subscribers.len()))
            .collect();
        for (canal, count) in counts {
            self.store_count(&canal, count).await;
        }
    }

    /// Reads from the store the publications that gaps wait for, every [`GAP_WAIT`].
    pub(super) async fn fill_gaps_forever(self: Arc<Self>) {
        let mut tick = tokio::time::interval(GAP_WAIT / 2);
        loop {
            tick.tick().await;
            let now = Instant::now();
            let gaps: Vec<(Canal, u64, u64)> = self
                .locals
                .lock()
                .iter()
                .filter(|(_, l)| l.gap_since.is_some_and(|at| now - at >= GAP_WAIT))
                .filter_map(|(canal, l)| {
                    let first = *l.early.first_key_value()?.0;
                    Some((canal.clone(), l.head, first))
                })
                .collect();
            for (canal, head, first) in gaps {
                let wanted = usize::try_from(first - head - 1).unwrap_or(PAGE).min(PAGE);
                match self.read_history(&canal, head, wanted).await {
                    Ok(found) => {
                        let mut overflowed = Vec::new();
                        {
                            let mut locals = self.locals.lock();
                            let Some(local) = locals.get_mut(&canal) else {
                                continue;
                            };
                            for p in &found.publicacoes {
                                local.take(Arc::new(Publication::of(p)), &mut overflowed);
                            }
                            if local.head == head {
                                // The store no longer has them.
                                local.skip_gap(&mut overflowed);
                            }
                        }
                        self.close_overflowed(&overflowed);
                    }
                    Err(e) => tracing::warn!(canal = %canal, error = %e, "a gap could not be read"),
                }
            }
        }
    }
}

impl Connection {
    /// Subscribes to `canal`; with `desde`, what was published after it comes first, from the
    /// store (see [`Outgoing::Subscribed`]). Subscribing again to a channel starts over.
    ///
    /// # Errors
    /// [`ServiceError::Invalid`] past `channels.max_per_connection`; a store failure.
    pub async fn subscribe(
        &mut self,
        canal: Canal,
        desde: Option<Desde>,
    ) -> Result<(), ServiceError> {
        let max = self.hub.config.channels.max_per_connection;
        if !self.channels.contains_key(&canal) && self.channels.len() >= max {
            return Err(ServiceError::invalid(
                "canal",
                format!("a connection subscribes to at most {max} channels"),
            ));
        }
        let after = desde.as_ref().map_or(u64::MAX, |d| d.offset);
        let mut found = self.hub.read_history(&canal, after, PAGE).await?;
        let other_history = desde
            .as_ref()
            .and_then(|d| d.epoca.as_ref())
            .is_some_and(|e| *e != found.posicao.epoca);
        if other_history {
            // What it received belongs to a history that is gone: what is kept now is all new.
            found = self.hub.read_history(&canal, 0, PAGE).await?;
        }
        let recuperado = desde
            .as_ref()
            .is_none_or(|d| recovered(d, &found.posicao, found.first_kept));
        if self.channels.contains_key(&canal) {
            self.hub.leave(&canal, self.id());
        }
        self.subscriptions += 1;
        let subscription = self.subscriptions;
        self.channels.insert(canal.clone(), subscription);
        self.drop_pending(&canal);
        let live = Live {
            tx: self.tx.clone(),
            subscription,
            last_sent: 0,
        };
        let until = self.hub.join(&canal, self.id(), live, &found.posicao);
        let last = found
            .publicacoes
            .last()
            .map_or(found.posicao.offset, |p| p.offset);
        self.backlog.push_back(Outgoing::Subscribed {
            canal: canal.clone(),
            posicao: found.posicao,
            recuperado,
        });
        self.backlog.extend(
            found
                .publicacoes
                .iter()
                .filter(|p| p.offset <= until)
                .map(|p| Outgoing::Publication(Arc::new(Publication::of(p)))),
        );
        if last < until {
            self.recovering.push_back(Recovery {
                canal,
                subscription,
                after: last,
                until,
            });
        }
        Ok(())
    }

    /// Ends the subscription to `canal`; returns whether there was one.
    pub fn unsubscribe(&mut self, canal: &Canal) -> bool {
        if self.channels.remove(canal).is_none() {
            return false;
        }
        self.drop_pending(canal);
        self.hub.leave(canal, self.id());
        true
    }

    /// Drops what an earlier subscription to `canal` left to send: its recovered publications and
    /// its recovery still to read.
    fn drop_pending(&mut self, canal: &Canal) {
        self.backlog
            .retain(|o| !matches!(o, Outgoing::Publication(p) if p.canal == *canal));
        self.recovering.retain(|r| r.canal != *canal);
    }

    /// Reads the next page of the first recovery into the backlog.
    pub(super) async fn recover_page(&mut self) {
        let Some(mut recovery) = self.recovering.pop_front() else {
            return;
        };
        if self.channels.get(&recovery.canal) != Some(&recovery.subscription) {
            return;
        }
        let wanted = usize::try_from(recovery.until - recovery.after)
            .unwrap_or(PAGE)
            .min(PAGE);
        match self
            .hub
            .read_history(&recovery.canal, recovery.after, wanted)
            .await
        {
            Ok(found) => {
                let page: Vec<_> = found
                    .publicacoes
                    .iter()
                    .filter(|p| p.offset <= recovery.until)
                    .collect();
                let Some(last) = page.last().map(|p| p.offset) else {
                    return;
                };
                self.backlog.extend(
                    page.into_iter()
                        .map(|p| Outgoing::Publication(Arc::new(Publication::of(p)))),
                );
                recovery.after = last;
                if last < recovery.until {
                    self.recovering.push_front(recovery);
                }
            }
            Err(e) => {
                let detail = format!("the history of {} could not be read: {e}", recovery.canal);
                let frame = Evento::Erro {
                    status: 503,
                    detail: &detail,
                }
                .to_json();
                self.backlog.push_back(Outgoing::Text(Arc::from(frame)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn publication(offset: u64, epoca: &str) -> Arc<Publication> {
        Arc::new(Publication::new(
            Canal::parse("c").unwrap(),
            offset,
            Arc::from(epoca),
            &format!(r#"{{"offset":{offset}}}"#),
        ))
    }

    /// A channel with one subscriber sent up to `head`, and what that subscriber receives.
    fn local(head: u64) -> (Local, mpsc::Receiver<Item>) {
        let (tx, rx) = mpsc::channel(10_000);
        let mut subscribers = HashMap::new();
        subscribers.insert(
            "s".to_owned(),
            Live {
                tx,
                subscription: 1,
                last_sent: head,
            },
        );
        let local = Local {
            epoca: Arc::from("e1"),
            head,
            early: BTreeMap::new(),
            gap_since: None,
            subscribers,
        };
        (local, rx)
    }

    fn received(rx: &mut mpsc::Receiver<Item>) -> Vec<(u64, String)> {
        std::iter::from_fn(|| match rx.try_recv().ok()? {
            Item::Publication(p, _) => Some((p.offset, p.epoca.to_string())),
            Item::Text(_) => None,
        })
        .collect()
    }

    #[test]
    fn publications_out_of_order_are_delivered_in_order_and_once() {
        let (mut c, mut rx) = local(10);
        let mut overflowed = Vec::new();
        for offset in [13, 12, 9, 10, 11, 12, 14] {
            c.take(publication(offset, "e1"), &mut overflowed);
        }
        let offsets: Vec<u64> = received(&mut rx).into_iter().map(|(o, _)| o).collect();
        assert_eq!(offsets, [11, 12, 13, 14]);
        assert!(c.early.is_empty() && c.gap_since.is_none());
        assert!(overflowed.is_empty());
    }

    #[test]
    fn a_new_history_starts_over_at_its_first_publication() {
        let (mut c, mut rx) = local(500);
        let mut overflowed = Vec::new();
        c.take(publication(1, "e2"), &mut overflowed);
        c.take(publication(2, "e2"), &mut overflowed);
        assert_eq!(
            received(&mut rx),
            [(1, "e2".to_owned()), (2, "e2".to_owned())]
        );
    }

    #[test]
    fn a_gap_that_never_fills_is_given_up_before_it_holds_too_much() {
        let (mut c, mut rx) = local(0);
        let mut overflowed = Vec::new();
        // Offset 1 never comes: the rest waits, up to MAX_EARLY of them.
        for offset in 2..=(MAX_EARLY as u64 + 2) {
            c.take(publication(offset, "e1"), &mut overflowed);
        }
        let got = received(&mut rx);
        assert_eq!(got.len(), MAX_EARLY + 1);
        assert_eq!(got[0].0, 2);
        assert!(c.early.is_empty());
    }
}
