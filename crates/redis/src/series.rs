//! Metric series over Redis (`lua/append_samples.lua` has the layout of their keys).

use async_trait::async_trait;
use fred::types::Value;
use integra_domain::{MetricQuery, Metrica, Timestamp, TipoMetrica};
use integra_ports::{SampleRejection, SeriesLimits, SeriesStore, StoreError};

use crate::reply::text;
use crate::RedisEngine;

fn count(n: usize) -> Value {
    i64::try_from(n).unwrap_or(i64::MAX).into()
}

#[async_trait]
impl SeriesStore for RedisEngine {
    async fn append_samples(
        &self,
        samples: &[Metrica],
        limits: SeriesLimits,
    ) -> Result<Result<(), SampleRejection>, StoreError> {
        let mut args: Vec<Value> = vec![
            self.prefix.as_str().into(),
            Timestamp::now().millis().into(),
            limits.retention_ms.into(),
            count(limits.max_series_per_name),
            count(samples.len()),
            count(limits.max_names),
            count(limits.max_samples_per_series),
        ];
        for s in samples {
            let json = serde_json::to_string(s)
                .map_err(|e| StoreError::Unavailable(format!("cannot encode a sample: {e}")))?;
            args.extend([
                s.nome.as_str().into(),
                s.tipo.as_str().into(),
                s.series_key().into(),
                s.timestamp.millis().into(),
                json.into(),
                s.tipo.exposed_names(&s.nome).join("\n").into(),
            ]);
        }
        let reply: Vec<Value> = self
            .eval(&self.scripts.append_samples, Vec::new(), args)
            .await?;
        let mut parts = reply.into_iter();
        let tag = parts.next().and_then(text).unwrap_or_default();
        let index = parts
            .next()
            .and_then(|v| v.as_i64())
            .and_then(|i| usize::try_from(i).ok())
            .unwrap_or(0);
        let nome = samples
            .get(index)
            .map(|s| s.nome.clone())
            .unwrap_or_default();
        Ok(match tag.as_str() {
            "ok" => Ok(()),
            "type" => {
                let pinned = parts
                    .next()
                    .and_then(text)
                    .and_then(|t| TipoMetrica::parse(&t))
                    .unwrap_or_default();
                Err(SampleRejection::TypeMismatch {
                    index,
                    nome,
                    pinned,
                })
            }
            "names" => Err(SampleRejection::TooManyNames {
                index,
                cap: limits.max_names,
            }),
            "collision" => Err(SampleRejection::Collision {
                index,
                nome,
                with: parts.next().and_then(text).unwrap_or_default(),
            }),
            _ => Err(SampleRejection::TooManySeries {
                index,
                nome,
                cap: limits.max_series_per_name,
            }),
        })
    }

    async fn query_samples(&self, query: &MetricQuery) -> Result<Vec<Metrica>, StoreError> {
        let bound = |t: Option<Timestamp>, open: &str| {
            t.map_or_else(|| open.to_owned(), |t| t.millis().to_string())
        };
        let args: Vec<Value> = vec![
            self.prefix.as_str().into(),
            query.nome.clone().unwrap_or_default().into(),
            query.tipo.map_or("", TipoMetrica::as_str).into(),
            bound(query.periodo.start(), "-inf").into(),
            bound(query.periodo.end(), "+inf").into(),
            count(query.limit()),
            Timestamp::now().millis().into(),
        ];
        let reply: Vec<Value> = self
            .eval(&self.scripts.query_samples, Vec::new(), args)
            .await?;
        let mut samples: Vec<(i64, u64, Metrica)> = reply
            .into_iter()
            .filter_map(text)
            .filter_map(|member| {
                let (seq, json) = member.split_once('|')?;
                let sample: Metrica = serde_json::from_str(json).ok()?;
                Some((sample.timestamp.millis(), seq.parse().ok()?, sample))
            })
            .collect();
        samples.sort_unstable_by_key(|(ts, seq, _)| (*ts, *seq));
        Ok(samples
            .into_iter()
            .take(query.limit())
            .map(|(_, _, s)| s)
            .collect())
    }
}
