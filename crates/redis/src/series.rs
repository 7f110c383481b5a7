//! Metric series over Redis: a store-wide registry of names (`lua/series_register.lua`, slot of
//! `{metrics}`) and each name's samples in a slot of its own (`lua/series_append.lua`, slot of
//! `{metrics:N}`), so that on Redis Cluster the names spread over the shards.
//!
//! A batch whose every series this engine has seen registered, the steady state of an exporter,
//! has nothing to check: it is one call of `lua/series_log.lua`, an `APPEND` per name (see
//! [`SeenSeries`]). Any other batch is checked and written by the scripts below, and the numbers
//! they give its series remembered.
//!
//! Appending a batch of one name is one script call once the name is known
//! (`lua/series_append.lua`: check, then write); a name seen for the first time is registered
//! first (`lua/series_register.lua`: name cap, exposition collisions).
//!
//! A batch of several names is one call on one Redis (`lua/series_batch.lua`: every key on the
//! same server, all or none). On a cluster its names live in different slots, so no one script can
//! take them: each name's samples are checked where they live, the new names registered, then each
//! name's samples written, [`FAN_OUT`] names at a time. The batch is checked whole before any name
//! is written; only a concurrent writer filling a name's series cap between the check and the
//! write can leave it written in part there (the write re-checks, and refuses that name).
//!
//! Each series is one string of 16-byte points (timestamp, value) in time order; its labels are
//! kept once, as the key of the name's series hash (`lua/series_lib.lua` has the layout). A query
//! merges a name's series in the script, reading each a block at a time, and answers the points
//! packed; the names of a query without `nome` are merged here.

use foldhash::{HashMap, HashMapExt};

use async_trait::async_trait;
use fred::prelude::*;
use fred::types::Value;
use futures_util::future::try_join_all;
use integra_domain::{MetricQuery, Metrica, Timestamp, TipoMetrica};
use integra_ports::{SampleRejection, SeriesLimits, SeriesStore, StoreError};

use crate::reply::text;
use crate::seen::SeenSeries;
use crate::RedisEngine;

/// Script calls in flight at once when a batch or a query spans many names.
const FAN_OUT: usize = 64;

fn count(n: usize) -> Value {
    i64::try_from(n).unwrap_or(i64::MAX).into()
}

/// The samples of one name in a batch, with their indexes, and the distinct series they belong
/// to.
struct Group<'a> {
    nome: &'a str,
    samples: Vec<(usize, &'a Metrica)>,
    /// Each distinct series' key, in the order of its first sample: its place in the group.
    keys: Vec<String>,
    /// The batch index of each series' first sample, by place.
    firsts: Vec<usize>,
    /// The place of each sample's series, by sample.
    places: Vec<u16>,
}

impl Group<'_> {
    /// The tipo of the group's first sample (every group has one).
    fn tipo(&self) -> TipoMetrica {
        self.samples[0].1.tipo
    }

    /// The index of the group's first sample of another tipo than its first, if any.
    fn mismatch(&self) -> Option<usize> {
        let tipo = self.tipo();
        self.samples
            .iter()
            .find(|(_, s)| s.tipo != tipo)
            .map(|(index, _)| *index)
    }

    /// The points packed as the scripts take them, 18 bytes each: the series' place (u16), the
    /// timestamp in ms and the value (f64), little-endian.
    fn points(&self) -> Vec<u8> {
        let mut points = Vec::with_capacity(18 * self.samples.len());
        for ((_, sample), place) in self.samples.iter().zip(&self.places) {
            points.extend_from_slice(&place.to_le_bytes());
            // Whole milliseconds: exact in a double up to 2^53.
            #[allow(clippy::cast_precision_loss)]
            points.extend_from_slice(&(sample.timestamp.millis() as f64).to_le_bytes());
            points.extend_from_slice(&sample.valor.to_le_bytes());
        }
        points
    }
}

/// The batch's samples by name, names in the order of their first sample.
fn by_name(samples: &[Metrica]) -> Vec<Group<'_>> {
    let mut groups: Vec<Group<'_>> = Vec::new();
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut places: Vec<HashMap<String, u16>> = Vec::new();
    for (index, sample) in samples.iter().enumerate() {
        let at = *seen.entry(sample.nome.as_str()).or_insert_with(|| {
            groups.push(Group {
                nome: &sample.nome,
                samples: Vec::new(),
                keys: Vec::new(),
                firsts: Vec::new(),
                places: Vec::new(),
            });
            places.push(HashMap::new());
            groups.len() - 1
        });
        let group = &mut groups[at];
        let next = u16::try_from(group.firsts.len()).unwrap_or(u16::MAX);
        let place = *places[at].entry(sample.series_key()).or_insert_with(|| {
            group.firsts.push(index);
            next
        });
        group.samples.push((index, sample));
        group.places.push(place);
    }
    // Each key moves from its group's map to its place: made once, never copied.
    for (group, places) in groups.iter_mut().zip(places) {
        group.keys = vec![String::new(); group.firsts.len()];
        for (key, place) in places {
            group.keys[usize::from(place)] = key;
        }
    }
    groups
}

/// Each group's log record (as `append_name` in `lua/series_lib.lua` writes it) with the gen its
/// numbers hold under, when every series of the batch was seen registered with the group's tipo;
/// none otherwise.
fn records(seen: &SeenSeries, groups: &[Group<'_>]) -> Option<Vec<(String, Vec<u8>)>> {
    if groups.iter().any(|g| g.mismatch().is_some()) {
        return None;
    }
    let numbered = seen.numbers(groups.iter().map(|g| (g.nome, g.tipo(), g.keys.as_slice())))?;
    // Series numbers and counts are small: exact in a double.
    #[allow(clippy::cast_precision_loss)]
    let double = |n: usize| (n as f64).to_le_bytes();
    Some(
        groups
            .iter()
            .zip(numbered)
            .map(|(group, (gen, numbers))| {
                let points = group.points();
                let mut record = Vec::with_capacity(8 * (numbers.len() + 2) + points.len());
                record.extend_from_slice(&double(numbers.len()));
                for n in numbers {
                    record.extend_from_slice(&double(usize::try_from(n).unwrap_or(0)));
                }
                record.extend_from_slice(&double(group.samples.len()));
                record.extend_from_slice(&points);
                (gen, record)
            })
            .collect(),
    )
}

/// What a series script answered.
enum Verdict {
    /// Written (or, in a check, fit): after a write, each group's name as it was written.
    Ok(Vec<Numbered>),
    /// The name is not in the registry yet: nothing was written.
    Unregistered,
    Rejected(SampleRejection),
}

/// Reads a script's `{tag, index, detail}` reply; `nome_at` names the metric of an index.
fn verdict<'a>(
    reply: Vec<Value>,
    limits: SeriesLimits,
    nome_at: impl Fn(usize) -> &'a str,
) -> Verdict {
    let mut parts = reply.into_iter();
    let tag = parts.next().and_then(text).unwrap_or_default();
    let second = parts.next();
    if tag == "ok" {
        let numbers = second
            .into_iter()
            .chain(parts)
            .map(|v| match v {
                Value::Array(parts) => {
                    let mut parts = parts.into_iter();
                    Numbered {
                        gen: parts.next().and_then(text).unwrap_or_default(),
                        numbers: parts.filter_map(|n| n.as_i64()).collect(),
                    }
                }
                _ => Numbered::default(),
            })
            .collect();
        return Verdict::Ok(numbers);
    }
    let index = second
        .and_then(|v| v.as_i64())
        .and_then(|i| usize::try_from(i).ok())
        .unwrap_or(0);
    let nome = nome_at(index).to_owned();
    let rejection = match tag.as_str() {
        "unregistered" => return Verdict::Unregistered,
        "type" => SampleRejection::TypeMismatch {
            index,
            nome,
            pinned: parts
                .next()
                .and_then(text)
                .and_then(|t| TipoMetrica::parse(&t))
                .unwrap_or_default(),
        },
        "names" => SampleRejection::TooManyNames {
            index,
            cap: limits.max_names,
        },
        "collision" => SampleRejection::Collision {
            index,
            nome,
            with: parts.next().and_then(text).unwrap_or_default(),
        },
        _ => SampleRejection::TooManySeries {
            index,
            nome,
            cap: limits.max_series_per_name,
        },
    };
    Verdict::Rejected(rejection)
}

/// A name as a script wrote it: the gen of its meta and its series numbers, by place in the group.
#[derive(Default)]
struct Numbered {
    gen: String,
    numbers: Vec<i64>,
}

/// A batch written, with each group's name as written, or the rejection of its first refused
/// sample.
type Written = Result<Vec<Numbered>, SampleRejection>;

/// The first rejection of a batch, by the index of its sample.
fn first(rejections: impl Iterator<Item = SampleRejection>) -> Option<SampleRejection> {
    rejections.min_by_key(SampleRejection::index)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Check,
    Append,
}

/// A group's samples as the series scripts take them (`read_group` in `lua/series_lib.lua`): the
/// first sample's tipo, the index of the first sample and of the first of another tipo (-1), the
/// number of distinct series, the points packed ([`Group::points`]; none in a check), then each
/// series' key and the index of its first sample.
fn push_samples(args: &mut Vec<Value>, group: &Group<'_>, mode: Mode) {
    let mismatch = group
        .mismatch()
        .map_or(-1, |index| i64::try_from(index).unwrap_or(i64::MAX));
    let points = match mode {
        Mode::Append => group.points(),
        Mode::Check => Vec::new(),
    };
    args.extend([
        group.tipo().as_str().into(),
        count(group.samples[0].0),
        mismatch.into(),
        count(group.keys.len()),
        Value::Bytes(points.into()),
    ]);
    for (key, first) in group.keys.iter().zip(&group.firsts) {
        args.extend([key.as_str().into(), count(*first)]);
    }
}

/// The bytes of one point in `lua/series_query.lua`'s answer: series n, timestamp, value.
const QUERIED_POINT: usize = 24;

/// The samples of `nome` in a `lua/series_query.lua` answer, in its order.
fn queried(nome: &str, reply: Vec<Value>) -> Result<Vec<Metrica>, StoreError> {
    let unreadable = || StoreError::Unavailable("redis: unexpected reply to a series query".into());
    let mut parts = reply.into_iter();
    // No samples of that name (and tipo).
    let Some(kind) = parts.next() else {
        return Ok(Vec::new());
    };
    let tipo = text(kind)
        .and_then(|k| TipoMetrica::parse(&k))
        .ok_or_else(unreadable)?;
    let points = parts
        .next()
        .and_then(|v| v.as_bytes().map(<[u8]>::to_vec))
        .ok_or_else(unreadable)?;
    let mut labels = HashMap::new();
    while let (Some(key), Some(n)) = (parts.next(), parts.next()) {
        let key = text(key).ok_or_else(unreadable)?;
        let n = n.as_i64().ok_or_else(unreadable)?;
        let parsed = Metrica::labels_of_series_key(&key).ok_or_else(unreadable)?;
        labels.insert(n, parsed);
    }
    let double = |bytes: &[u8]| {
        bytes
            .try_into()
            .map(f64::from_le_bytes)
            .map_err(|_| unreadable())
    };
    // Series numbers and whole milliseconds, written by this crate: exact in a double.
    #[allow(clippy::cast_possible_truncation)]
    points
        .chunks_exact(QUERIED_POINT)
        .map(|point| {
            let n = double(&point[..8])?;
            let ms = double(&point[8..16])?;
            Ok(Metrica {
                nome: nome.to_owned(),
                valor: double(&point[16..])?,
                tipo,
                labels: labels.get(&(n as i64)).cloned().ok_or_else(unreadable)?,
                timestamp: Timestamp::from_millis(ms as i64),
            })
        })
        .collect()
}

/// The name of the batch's sample `index`.
fn nome_of<'a>(groups: &[Group<'a>], index: usize) -> &'a str {
    groups
        .iter()
        .find(|g| g.samples.iter().any(|(i, _)| *i == index))
        .map_or("", |g| g.nome)
}

impl RedisEngine {
    /// Runs `lua/series_append.lua` on one name's samples.
    async fn append_name(
        &self,
        group: &Group<'_>,
        mode: Mode,
        registered: bool,
        limits: SeriesLimits,
    ) -> Result<Verdict, StoreError> {
        let keys = self.series_keys.name(group.nome);
        let mut args: Vec<Value> = Vec::with_capacity(11 + 2 * group.samples.len());
        args.extend([
            match mode {
                Mode::Check => "check",
                Mode::Append => "append",
            }
            .into(),
            if registered { "1" } else { "0" }.into(),
            Timestamp::now().millis().into(),
            limits.retention_ms.into(),
            count(limits.max_series_per_name),
            count(limits.max_samples_per_series),
        ]);
        push_samples(&mut args, group, mode);
        let reply: Vec<Value> = self
            .eval(
                &self.scripts.series_append,
                vec![keys.base, keys.series, keys.meta],
                args,
            )
            .await?;
        Ok(verdict(reply, limits, |_| group.nome))
    }

    /// Runs `lua/series_batch.lua`: the whole batch in one call, on one Redis.
    async fn append_batch(
        &self,
        groups: &[Group<'_>],
        limits: SeriesLimits,
    ) -> Result<Written, StoreError> {
        let mut keys = Vec::with_capacity(2 + 3 * groups.len());
        keys.extend([
            self.series_keys.kinds.clone(),
            self.series_keys.exposed.clone(),
        ]);
        let mut args: Vec<Value> = vec![
            Timestamp::now().millis().into(),
            limits.retention_ms.into(),
            count(limits.max_series_per_name),
            count(limits.max_samples_per_series),
            count(limits.max_names),
        ];
        for group in groups {
            let name = self.series_keys.name(group.nome);
            keys.extend([name.base, name.series, name.meta]);
            args.extend([
                group.nome.into(),
                group.tipo().exposed_names(group.nome).join("\n").into(),
            ]);
            push_samples(&mut args, group, Mode::Append);
        }
        let reply: Vec<Value> = self.eval(&self.scripts.series_batch, keys, args).await?;
        Ok(
            match verdict(reply, limits, |index| nome_of(groups, index)) {
                Verdict::Rejected(r) => Err(r),
                Verdict::Ok(numbers) => Ok(numbers),
                Verdict::Unregistered => Ok(Vec::new()),
            },
        )
    }

    /// Runs `lua/series_log.lua`: the batch's records appended unchecked, every series of it seen
    /// registered before. False when Redis no longer holds a name (nothing was written).
    async fn append_seen(
        &self,
        groups: &[Group<'_>],
        records: Vec<(String, Vec<u8>)>,
        limits: SeriesLimits,
    ) -> Result<bool, StoreError> {
        let mut keys = Vec::with_capacity(2 * groups.len());
        for group in groups {
            let name = self.series_keys.name(group.nome);
            keys.extend([name.base, name.meta]);
        }
        let mut args: Vec<Value> = Vec::with_capacity(3 + 2 * records.len());
        args.extend([
            Timestamp::now().millis().into(),
            limits.retention_ms.into(),
            count(limits.max_samples_per_series),
        ]);
        for (gen, record) in records {
            args.extend([gen.into(), Value::Bytes(record.into())]);
        }
        let reply: Vec<Value> = self.eval(&self.scripts.series_log, keys, args).await?;
        Ok(reply.into_iter().next().and_then(text).as_deref() == Some("ok"))
    }

    /// Checks and writes a batch (registering its new names), as the scripts decide.
    async fn append_checked(
        &self,
        groups: &[Group<'_>],
        limits: SeriesLimits,
    ) -> Result<Written, StoreError> {
        if let [one] = groups {
            // Check and write in one call; a name seen for the first time is registered, then
            // written.
            return match self.append_name(one, Mode::Append, false, limits).await? {
                Verdict::Ok(numbers) => Ok(Ok(numbers)),
                Verdict::Rejected(r) => Ok(Err(r)),
                Verdict::Unregistered => match self.register(&[one], limits).await? {
                    Verdict::Rejected(r) => Ok(Err(r)),
                    _ => self.write(groups, limits).await,
                },
            };
        }
        if !self.clustered {
            return self.append_batch(groups, limits).await;
        }
        let verdicts = self
            .append_names(groups, Mode::Check, false, limits)
            .await?;
        let mut unregistered = Vec::new();
        let mut rejections = Vec::new();
        for (group, verdict) in groups.iter().zip(verdicts) {
            match verdict {
                Verdict::Ok(_) => {}
                Verdict::Unregistered => unregistered.push(group),
                Verdict::Rejected(r) => rejections.push(r),
            }
        }
        if let Some(r) = first(rejections.into_iter()) {
            return Ok(Err(r));
        }
        if !unregistered.is_empty() {
            if let Verdict::Rejected(r) = self.register(&unregistered, limits).await? {
                return Ok(Err(r));
            }
        }
        self.write(groups, limits).await
    }

    /// Runs `lua/series_register.lua` on these names.
    async fn register(
        &self,
        groups: &[&Group<'_>],
        limits: SeriesLimits,
    ) -> Result<Verdict, StoreError> {
        let mut args: Vec<Value> = vec![count(limits.max_names)];
        for group in groups {
            let (index, sample) = group.samples[0];
            args.extend([
                group.nome.into(),
                sample.tipo.as_str().into(),
                count(index),
                sample.tipo.exposed_names(group.nome).join("\n").into(),
            ]);
        }
        let keys = vec![
            self.series_keys.kinds.clone(),
            self.series_keys.exposed.clone(),
        ];
        let reply: Vec<Value> = self.eval(&self.scripts.series_register, keys, args).await?;
        Ok(verdict(reply, limits, |index| {
            groups
                .iter()
                .find(|g| g.samples[0].0 == index)
                .map_or("", |g| g.nome)
        }))
    }

    /// The samples of one name, as `lua/series_query.lua` answers, in time order.
    async fn query_name(
        &self,
        nome: &str,
        query: &MetricQuery,
    ) -> Result<Vec<Metrica>, StoreError> {
        let bound = |t: Option<Timestamp>| t.map_or_else(String::new, |t| t.millis().to_string());
        let keys = self.series_keys.name(nome);
        let args: Vec<Value> = vec![
            query.tipo.map_or("", TipoMetrica::as_str).into(),
            bound(query.periodo.start()).into(),
            bound(query.periodo.end()).into(),
            count(query.limit()),
            Timestamp::now().millis().into(),
        ];
        let reply: Vec<Value> = self
            .eval(
                &self.scripts.series_query,
                vec![keys.base, keys.series, keys.meta],
                args,
            )
            .await?;
        queried(nome, reply)
    }

    /// Runs `lua/series_append.lua` on every name of a batch, [`FAN_OUT`] at a time.
    async fn append_names(
        &self,
        groups: &[Group<'_>],
        mode: Mode,
        registered: bool,
        limits: SeriesLimits,
    ) -> Result<Vec<Verdict>, StoreError> {
        let mut verdicts = Vec::with_capacity(groups.len());
        for chunk in groups.chunks(FAN_OUT) {
            let calls = chunk
                .iter()
                .map(|g| self.append_name(g, mode, registered, limits));
            verdicts.extend(try_join_all(calls).await?);
        }
        Ok(verdicts)
    }

    /// Writes every name's samples of a batch that passed its checks; the registry knows them.
    async fn write(
        &self,
        groups: &[Group<'_>],
        limits: SeriesLimits,
    ) -> Result<Written, StoreError> {
        let verdicts = self
            .append_names(groups, Mode::Append, true, limits)
            .await?;
        let mut numbers = Vec::with_capacity(groups.len());
        let mut rejections = Vec::new();
        for verdict in verdicts {
            match verdict {
                Verdict::Ok(mut n) => numbers.push(n.pop().unwrap_or_default()),
                Verdict::Rejected(r) => rejections.push(r),
                Verdict::Unregistered => numbers.push(Numbered::default()),
            }
        }
        Ok(first(rejections.into_iter()).map_or(Ok(numbers), Err))
    }

    /// Every registered name, or only those of `tipo`.
    async fn names(&self, tipo: Option<TipoMetrica>) -> Result<Vec<String>, StoreError> {
        let kinds: HashMap<String, String> = self
            .client()?
            .hgetall(&self.series_keys.kinds)
            .await
            .map_err(|e| self.fail(&e))?;
        Ok(kinds
            .into_iter()
            .filter(|(_, kind)| tipo.is_none_or(|t| t.as_str() == kind))
            .map(|(nome, _)| nome)
            .collect())
    }
}

#[async_trait]
impl SeriesStore for RedisEngine {
    async fn append_samples(
        &self,
        samples: &[Metrica],
        limits: SeriesLimits,
    ) -> Result<Result<(), SampleRejection>, StoreError> {
        let groups = by_name(samples);
        // One script call holds one slot: on a cluster, only a batch of one name is appended
        // unchecked in one call, all or none.
        if !self.clustered || groups.len() == 1 {
            if let Some(records) = records(&self.seen, &groups) {
                if self.append_seen(&groups, records, limits).await? {
                    return Ok(Ok(()));
                }
                self.seen.forget();
            }
        }
        let numbers = match self.append_checked(&groups, limits).await? {
            Ok(numbers) => numbers,
            Err(r) => return Ok(Err(r)),
        };
        for (group, written) in groups.iter().zip(&numbers) {
            self.seen.remember(
                group.nome,
                group.tipo(),
                &group.keys,
                &written.gen,
                &written.numbers,
            );
        }
        Ok(Ok(()))
    }

    async fn query_samples(&self, query: &MetricQuery) -> Result<Vec<Metrica>, StoreError> {
        // One name is asked of its own slot at once; its script tells its kind.
        let names = match &query.nome {
            Some(nome) => vec![nome.clone()],
            None => self.names(query.tipo).await?,
        };
        let mut samples = Vec::new();
        for chunk in names.chunks(FAN_OUT) {
            let calls = chunk.iter().map(|n| self.query_name(n, query));
            samples.extend(try_join_all(calls).await?.into_iter().flatten());
        }
        // Each name's samples are in order: a stable sort by time keeps them so.
        samples.sort_by(|a, b| (a.timestamp, &a.nome).cmp(&(b.timestamp, &b.nome)));
        samples.truncate(query.limit());
        Ok(samples)
    }
}
