//! Embedded channel history: per channel, its epoca, its latest offset and its last publications,
//! lost `ttl` after the last publication; subscriber counts per instance, which expire unless
//! written again. Histories count in the engine's memory budget: past it, the channel written
//! least recently leaves first.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::atomic::Ordering;

use async_trait::async_trait;
use integra_domain::{Canal, Dados, Posicao, Publicacao, Timestamp};
use integra_ports::{ChannelStore, Historico, HistoryLimits, StoreError};

use crate::{lock, MemoryEngine};

/// What a kept publication costs beyond its data (about).
const KEPT_OVERHEAD: usize = 48;

/// Every channel's history, and the subscriber counts.
#[derive(Default)]
pub(crate) struct Channels {
    histories: HashMap<Canal, History>,
    /// (last write, channel): which history leaves first when the budget is passed.
    by_write: BTreeSet<(i64, Canal)>,
    /// Channel → instance → (subscribers, expiry ms).
    subscribers: HashMap<Canal, HashMap<String, (u64, i64)>>,
    pub(crate) bytes: usize,
    writes: u64,
}

struct History {
    epoca: String,
    offset: u64,
    kept: VecDeque<Kept>,
    last_write: i64,
    expires: i64,
    bytes: usize,
}

struct Kept {
    offset: u64,
    criado_em: Timestamp,
    dados: Dados,
}

impl Kept {
    fn size(&self) -> usize {
        self.dados.get().len() + KEPT_OVERHEAD
    }
}

fn ttl_ms(limits: HistoryLimits) -> i64 {
    i64::try_from(limits.ttl_ms).unwrap_or(i64::MAX)
}

impl Channels {
    /// The history of `canal`, begun now with `new_epoca` if it has none (or it expired).
    fn history(
        &mut self,
        canal: &Canal,
        new_epoca: &str,
        now: i64,
        limits: HistoryLimits,
    ) -> &mut History {
        let expired = self.histories.get(canal).is_some_and(|h| h.expires <= now);
        if expired {
            self.remove(canal);
        }
        if !self.histories.contains_key(canal) {
            self.histories.insert(
                canal.clone(),
                History {
                    epoca: new_epoca.to_owned(),
                    offset: 0,
                    kept: VecDeque::new(),
                    last_write: now,
                    expires: now.saturating_add(ttl_ms(limits)),
                    bytes: canal.as_str().len() + new_epoca.len() + KEPT_OVERHEAD,
                },
            );
            self.bytes += canal.as_str().len() + new_epoca.len() + KEPT_OVERHEAD;
            self.by_write.insert((now, canal.clone()));
        }
        self.histories
            .get_mut(canal)
            .unwrap_or_else(|| unreachable!("inserted above"))
    }

    fn remove(&mut self, canal: &Canal) {
        if let Some(h) = self.histories.remove(canal) {
            self.by_write.remove(&(h.last_write, canal.clone()));
            self.bytes -= h.bytes;
        }
    }

    /// Drops expired histories and counts, now and then.
    fn sweep(&mut self, now: i64) {
        self.writes += 1;
        if !self.writes.is_multiple_of(1024) {
            return;
        }
        let expired: Vec<Canal> = self
            .histories
            .iter()
            .filter(|(_, h)| h.expires <= now)
            .map(|(c, _)| c.clone())
            .collect();
        for canal in &expired {
            self.remove(canal);
        }
        self.subscribers.retain(|_, by_instance| {
            by_instance.retain(|_, (_, expires)| *expires > now);
            !by_instance.is_empty()
        });
    }

    /// When the history written least recently was last written.
    pub(crate) fn oldest(&self) -> Option<i64> {
        self.by_write.first().map(|(at, _)| *at)
    }

    /// Drops the history written least recently.
    pub(crate) fn evict_oldest(&mut self) -> bool {
        match self.by_write.first().cloned() {
            Some((_, canal)) => {
                self.remove(&canal);
                true
            }
            None => false,
        }
    }
}

impl History {
    fn publicacao(&self, canal: &Canal, kept: &Kept) -> Publicacao {
        Publicacao {
            canal: canal.clone(),
            offset: kept.offset,
            epoca: self.epoca.clone(),
            criado_em: kept.criado_em,
            dados: kept.dados.clone(),
        }
    }

    fn posicao(&self) -> Posicao {
        Posicao {
            offset: self.offset,
            epoca: self.epoca.clone(),
        }
    }
}

#[async_trait]
impl ChannelStore for MemoryEngine {
    async fn publish(
        &self,
        canal: &Canal,
        dados: &[Dados],
        criado_em: Timestamp,
        new_epoca: &str,
        limits: HistoryLimits,
    ) -> Result<Vec<Publicacao>, StoreError> {
        let now = Timestamp::now().millis();
        {
            let mut channels = lock(&self.channels);
            channels.sweep(now);
            let history = channels.history(canal, new_epoca, now, limits);
            let mut published = Vec::with_capacity(dados.len());
            let mut grown: isize = 0;
            for d in dados {
                history.offset += 1;
                let kept = Kept {
                    offset: history.offset,
                    criado_em,
                    dados: d.clone(),
                };
                published.push(history.publicacao(canal, &kept));
                grown += kept.size().cast_signed();
                history.kept.push_back(kept);
                while history.kept.len() > limits.size {
                    if let Some(gone) = history.kept.pop_front() {
                        grown -= gone.size().cast_signed();
                    }
                }
            }
            let last_write = std::mem::replace(&mut history.last_write, now);
            history.expires = now.saturating_add(ttl_ms(limits));
            history.bytes = history.bytes.saturating_add_signed(grown);
            channels.bytes = channels.bytes.saturating_add_signed(grown);
            channels.by_write.remove(&(last_write, canal.clone()));
            channels.by_write.insert((now, canal.clone()));
            self.channel_bytes.store(channels.bytes, Ordering::Relaxed);
            drop(channels);
            self.enforce_budget();
            Ok(published)
        }
    }

    async fn history(
        &self,
        canal: &Canal,
        desde: u64,
        limit: usize,
        new_epoca: &str,
        limits: HistoryLimits,
    ) -> Result<Historico, StoreError> {
        let now = Timestamp::now().millis();
        let mut channels = lock(&self.channels);
        channels.sweep(now);
        let history = channels.history(canal, new_epoca, now, limits);
        // Offsets are consecutive: the one after `desde` sits at a known place.
        let first = history.kept.front().map(|k| k.offset);
        let skip = first.map_or(0, |f| {
            usize::try_from(desde.saturating_add(1).saturating_sub(f)).unwrap_or(usize::MAX)
        });
        let publicacoes = history
            .kept
            .iter()
            .skip(skip)
            .take(limit)
            .map(|k| history.publicacao(canal, k))
            .collect();
        let found = Historico {
            posicao: history.posicao(),
            first_kept: first,
            publicacoes,
        };
        self.channel_bytes.store(channels.bytes, Ordering::Relaxed);
        Ok(found)
    }

    async fn put_subscribers(
        &self,
        canal: &Canal,
        instance: &str,
        count: u64,
        ttl_ms: u64,
    ) -> Result<(), StoreError> {
        let now = Timestamp::now().millis();
        let mut channels = lock(&self.channels);
        channels.sweep(now);
        let by_instance = channels.subscribers.entry(canal.clone()).or_default();
        if count == 0 || ttl_ms == 0 {
            by_instance.remove(instance);
        } else {
            let expires = now.saturating_add(i64::try_from(ttl_ms).unwrap_or(i64::MAX));
            by_instance.insert(instance.to_owned(), (count, expires));
        }
        if by_instance.is_empty() {
            channels.subscribers.remove(canal);
        }
        Ok(())
    }

    async fn subscribers(&self, canal: &Canal) -> Result<u64, StoreError> {
        let now = Timestamp::now().millis();
        Ok(lock(&self.channels)
            .subscribers
            .get(canal)
            .map_or(0, |by_instance| {
                by_instance
                    .values()
                    .filter(|(_, expires)| *expires > now)
                    .map(|(count, _)| count)
                    .sum()
            }))
    }
}
