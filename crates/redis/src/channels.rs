//! Channel histories over Redis: a stream per channel, its offsets given by the publish script
//! (`lua/channel_lib.lua` has the layout).

use async_trait::async_trait;
use fred::types::Value;
use integra_domain::{Canal, Dados, Posicao, Publicacao, Timestamp};
use integra_ports::{ChannelStore, Historico, HistoryLimits, StoreError};

use crate::reply::text;
use crate::RedisEngine;

fn int(value: i64) -> Value {
    Value::Integer(value)
}

fn count(n: u64) -> Value {
    int(i64::try_from(n).unwrap_or(i64::MAX))
}

fn unexpected(what: &str) -> StoreError {
    StoreError::Unavailable(format!("redis: unexpected reply to {what}"))
}

/// Data the store gave back: it holds only what a publish wrote, which was a [`Dados`].
fn data(value: Value) -> Result<Dados, StoreError> {
    text(value)
        .map(Dados::trusted)
        .ok_or_else(|| unexpected("a channel's history"))
}

impl RedisEngine {
    /// The meta hash and the stream of `canal`.
    fn history_keys(&self, canal: &Canal) -> Vec<String> {
        let [log, _, meta] = crate::keys::channel(&self.prefix, canal.as_str());
        vec![meta, log]
    }
}

#[async_trait]
impl ChannelStore for RedisEngine {
    async fn publish(
        &self,
        canal: &Canal,
        dados: &[Dados],
        criado_em: Timestamp,
        new_epoca: &str,
        limits: HistoryLimits,
    ) -> Result<Vec<Publicacao>, StoreError> {
        let mut args: Vec<Value> = Vec::with_capacity(4 + dados.len());
        args.extend([
            new_epoca.into(),
            int(criado_em.millis()),
            count(limits.size as u64),
            count(limits.ttl_ms),
        ]);
        args.extend(dados.iter().map(|d| Value::from(d.get())));
        let reply: Vec<Value> = self
            .eval(
                &self.scripts.channel_publish,
                self.history_keys(canal),
                args,
            )
            .await?;
        let mut parts = reply.into_iter();
        let (Some(epoca), Some(first)) = (
            parts.next().and_then(text),
            parts.next().and_then(|f| f.as_u64()),
        ) else {
            return Err(unexpected("a channel publish"));
        };
        Ok(dados
            .iter()
            .zip(first..)
            .map(|(d, offset)| Publicacao {
                canal: canal.clone(),
                offset,
                epoca: epoca.clone(),
                criado_em,
                dados: d.clone(),
            })
            .collect())
    }

    async fn history(
        &self,
        canal: &Canal,
        desde: u64,
        limit: usize,
        new_epoca: &str,
        limits: HistoryLimits,
    ) -> Result<Historico, StoreError> {
        let args: Vec<Value> = vec![
            new_epoca.into(),
            count(limits.ttl_ms),
            count(desde),
            count(limit as u64),
            count(limits.size as u64),
        ];
        let reply: Vec<Value> = self
            .eval(
                &self.scripts.channel_history,
                self.history_keys(canal),
                args,
            )
            .await?;
        let mut parts = reply.into_iter();
        let (Some(epoca), Some(latest), Some(first)) = (
            parts.next().and_then(text),
            parts.next().and_then(|v| v.as_u64()),
            parts.next().and_then(|v| v.as_u64()),
        ) else {
            return Err(unexpected("a channel's history"));
        };
        let mut publicacoes = Vec::with_capacity(parts.len() / 3);
        while let (Some(offset), Some(at), Some(d)) = (parts.next(), parts.next(), parts.next()) {
            let (Some(offset), Some(at)) = (offset.as_u64(), at.as_i64()) else {
                return Err(unexpected("a channel's history"));
            };
            publicacoes.push(Publicacao {
                canal: canal.clone(),
                offset,
                epoca: epoca.clone(),
                criado_em: Timestamp::from_millis(at),
                dados: data(d)?,
            });
        }
        Ok(Historico {
            posicao: Posicao {
                offset: latest,
                epoca,
            },
            first_kept: (first > 0).then_some(first),
            publicacoes,
        })
    }

    async fn put_subscribers(
        &self,
        canal: &Canal,
        instance: &str,
        subscribers: u64,
        ttl_ms: u64,
    ) -> Result<(), StoreError> {
        let [_, subs, _] = crate::keys::channel(&self.prefix, canal.as_str());
        let args: Vec<Value> = vec![
            "put".into(),
            int(Timestamp::now().millis()),
            instance.into(),
            count(if ttl_ms == 0 { 0 } else { subscribers }),
            count(ttl_ms.max(1)),
        ];
        let _: Value = self
            .eval(&self.scripts.channel_subscribers, vec![subs], args)
            .await?;
        Ok(())
    }

    async fn subscribers(&self, canal: &Canal) -> Result<u64, StoreError> {
        let [_, subs, _] = crate::keys::channel(&self.prefix, canal.as_str());
        let args: Vec<Value> = vec!["count".into(), int(Timestamp::now().millis())];
        let reply: Value = self
            .eval(&self.scripts.channel_subscribers, vec![subs], args)
            .await?;
        reply
            .as_u64()
            .ok_or_else(|| unexpected("a subscriber count"))
    }
}
