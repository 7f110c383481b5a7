//! Finding records by key among those sent within a time range: whether publishes that got no
//! answer were stored after all.
//!
//! Searches of one topic are coalesced: after an outage many resends ask at once, and one pass
//! over the topic answers all that are waiting (a broker serves a few reads much better than
//! many; Tansu's SQLite engine serves them one at a time). What a pass read is kept a while
//! ([`Scanned`]), so the next pass answers from it and reads on from where it stopped. Each pass reads every partition from
//! the first record stamped at or after the earliest start asked (the broker's time index,
//! `offsets_for_times`) until a record stamped well after the latest end asked, or the
//! partition's end. Each partition's last record is read first: when it is older than the
//! start asked, nothing of the partition is in range (see `pass`).
//!
//! A record is stamped (`CreateTime`) by the clock of the instance whose attempt produced it, the
//! same clock that wrote that attempt's start and end into the message, so the range asked
//! brackets it. Each range is widened by [`CLOCK_SLACK`] on both sides only for what breaks that:
//! a clock stepped between the two readings, and the skew between two instances that made
//! successive attempts of one message. Wider would read more: after an outage every resend
//! asks for the records sent just before it, and the pass reads all of them. (A topic with
//! `LogAppendTime` is stamped by the broker's clock, which needs the broker and the instances
//! kept within this slack.)

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use integra_domain::{CoordenadasKafka, TimeRange};
use integra_ports::BusError;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::oneshot;

use crate::{classify, reader_config, KafkaConfig};

/// How far a record's time may stray outside the range asked: NTP keeps hosts within
/// milliseconds of each other.
const CLOCK_SLACK: Duration = Duration::from_millis(250);

type Answer = Result<Option<CoordenadasKafka>, BusError>;

/// One search waiting for a pass over its topic.
struct Wanted {
    key: String,
    /// In epoch ms, widened by the slack.
    from: i64,
    until: i64,
    answer: oneshot::Sender<Answer>,
}

impl Wanted {
    fn matches(&self, key: &[u8], stamped: Option<i64>) -> bool {
        // The time index only bounds a pass (records of several producers are not stamped in
        // order, and Tansu's index can answer too early): the record's own time decides.
        self.key.as_bytes() == key && stamped.is_none_or(|t| (self.from..=self.until).contains(&t))
    }
}

/// How long what passes over a topic read is kept for the next pass.
const SCAN_KEPT: Duration = Duration::from_secs(60);

/// At most this many records read are kept per topic; past it, the next pass starts anew.
const SCAN_MAX_RECORDS: usize = 100_000;

/// A record read: its stamp, partition and offset.
type Read = (Option<i64>, i32, i64);

/// What earlier passes over a topic read, so that the next pass goes on from where they stopped
/// instead of reading it all again: after an outage every resend asks about the same stretch of
/// the topic, and a pass that ran out of time still leaves its progress.
#[derive(Default)]
struct Scanned {
    /// They read each partition from the first record stamped at or after this time (epoch ms).
    from: i64,
    /// Partition → the offset after the last record read, all of them read from `from` on.
    next: HashMap<i32, i64>,
    /// Every record read: key → (stamp, partition, offset).
    records: HashMap<Vec<u8>, Vec<Read>>,
    count: usize,
    /// When the first of those passes started.
    since: Option<Instant>,
}

impl Scanned {
    fn note(&mut self, key: Option<&[u8]>, stamped: Option<i64>, partition: i32, offset: i64) {
        self.next.insert(partition, offset + 1);
        if let Some(key) = key {
            if self.count < SCAN_MAX_RECORDS {
                self.count += 1;
                self.records
                    .entry(key.to_vec())
                    .or_default()
                    .push((stamped, partition, offset));
            }
        }
    }

    fn find(&self, wanted: &Wanted) -> Option<(i32, i64)> {
        self.records
            .get(wanted.key.as_bytes())?
            .iter()
            .find_map(|&(stamped, partition, offset)| {
                wanted
                    .matches(wanted.key.as_bytes(), stamped)
                    .then_some((partition, offset))
            })
    }
}

/// Searches topics, one pass per topic at a time.
pub(crate) struct Finder {
    config: KafkaConfig,
    /// Topic → the searches waiting for its next pass. A topic is present while a pass over it
    /// runs.
    waiting: Mutex<HashMap<String, Vec<Wanted>>>,
    /// Topic → what its passes read.
    scanned: Mutex<HashMap<String, Scanned>>,
}

impl Finder {
    pub(crate) fn new(config: &KafkaConfig) -> Arc<Self> {
        Arc::new(Self {
            config: config.clone(),
            waiting: Mutex::new(HashMap::new()),
            scanned: Mutex::new(HashMap::new()),
        })
    }

    /// Looks for `key` on `topic` (prefixed) among the records sent within `sent`.
    pub(crate) async fn find(
        self: &Arc<Self>,
        topic: String,
        key: String,
        sent: TimeRange,
    ) -> Answer {
        let slack = i64::try_from(CLOCK_SLACK.as_millis()).unwrap_or(i64::MAX);
        let (answer, answered) = oneshot::channel();
        let wanted = Wanted {
            key,
            from: sent.start().map_or(0, |t| t.millis().saturating_sub(slack)),
            until: sent
                .end()
                .map_or(i64::MAX, |t| t.millis().saturating_add(slack)),
            answer,
        };
        let start_pass = {
            let mut waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
            match waiting.get_mut(&topic) {
                Some(queue) => {
                    queue.push(wanted);
                    false
                }
                None => {
                    waiting.insert(topic.clone(), vec![wanted]);
                    true
                }
            }
        };
        if start_pass {
            let finder = Arc::clone(self);
            drop(tokio::task::spawn_blocking(move || finder.serve(&topic)));
        }
        answered.await.unwrap_or_else(|_| {
            Err(BusError::Unavailable(
                "the search of the topic stopped".into(),
            ))
        })
    }

    /// Runs passes over `topic` until no search waits. Blocking.
    fn serve(&self, topic: &str) {
        loop {
            let batch = {
                let mut waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
                let queue = waiting.entry(topic.to_owned()).or_default();
                if queue.is_empty() {
                    waiting.remove(topic);
                    return;
                }
                std::mem::take(queue)
            };
            let mut batch = batch;
            let mut scanned = self
                .scanned
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(topic)
                .unwrap_or_default();
            let outcome = pass(&self.config, topic, &mut batch, &mut scanned);
            if outcome.is_ok() || scanned.since.is_some() {
                self.scanned
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(topic.to_owned(), scanned);
            }
            for wanted in batch {
                let _ = wanted.answer.send(outcome.clone().map(|()| None));
            }
        }
    }
}

/// One pass over `topic` for the searches in `batch`: those found are answered and removed; the
/// rest are left for the caller to answer with the outcome (`Ok`: not on the topic).
fn pass(
    config: &KafkaConfig,
    topic: &str,
    wanted: &mut Vec<Wanted>,
    scanned: &mut Scanned,
) -> Result<(), BusError> {
    let started = Instant::now();
    let deadline = started + config.timeout;
    let from = wanted.iter().map(|w| w.from).min().unwrap_or(0);
    let until = wanted.iter().map(|w| w.until).max().unwrap_or(i64::MAX);
    // What earlier passes read serves when they read from no later than this one must.
    let usable = scanned
        .since
        .is_some_and(|since| since.elapsed() < SCAN_KEPT)
        && scanned.from <= from;
    if !usable {
        *scanned = Scanned {
            from,
            since: Some(started),
            ..Scanned::default()
        };
    }
    let consumer: BaseConsumer = reader_config(config, "find")
        .set("enable.partition.eof", "true")
        .create()
        .map_err(|e| BusError::Unavailable(format!("kafka consumer: {e}")))?;
    let metadata = consumer
        .fetch_metadata(Some(topic), left(deadline)?)
        .map_err(|e| classify(&e))?;
    let Some(described) = metadata.topics().first() else {
        return Ok(());
    };
    if described.error().is_some() || described.partitions().is_empty() {
        // The topic does not exist: nothing was stored on it.
        return Ok(());
    }
    let mut by_time = TopicPartitionList::new();
    for partition in described.partitions() {
        by_time
            .add_partition_offset(topic, partition.id(), Offset::Offset(from))
            .map_err(|e| classify(&e))?;
    }
    let starts = consumer
        .offsets_for_times(by_time, left(deadline)?)
        .map_err(|e| classify(&e))?;
    // Partition → (where reading starts, the offset after its last record).
    let mut ranges: HashMap<i32, (i64, i64)> = HashMap::new();
    for element in starts.elements() {
        let Offset::Offset(start) = element.offset() else {
            continue; // no record sent at or after `from`
        };
        let (_, high) = consumer
            .fetch_watermarks(topic, element.partition(), left(deadline)?)
            .map_err(|e| classify(&e))?;
        if start < high {
            ranges.insert(element.partition(), (start, high));
        }
    }
    // The last record of each partition first: when it is older than `from`, nothing of the
    // partition is in range, whatever the time index said (Tansu 0.6 answers offset 0 when every
    // record is older; its fetch costs what lies between the offset and the end, seconds for a
    // few thousand records, so reading from there after every outage stalled the broker).
    let lasts = read_each(
        &consumer,
        topic,
        &ranges,
        |_, &(_, high)| high - 1,
        deadline,
        |m| {
            let keep = m.timestamp().to_millis().is_none_or(|t| t >= from);
            (keep, true)
        },
    )?;
    ranges.retain(|partition, _| lasts.contains(partition));
    // A partition whose end is behind what was read of it lost records (a broker that came back
    // empty): what was read is forgotten.
    if ranges
        .iter()
        .any(|(p, &(_, high))| scanned.next.get(p).is_some_and(|&next| next > high))
    {
        *scanned = Scanned {
            from,
            since: Some(started),
            ..Scanned::default()
        };
    }
    let mut found: Vec<(usize, CoordenadasKafka)> = wanted
        .iter()
        .enumerate()
        .filter_map(|(i, w)| {
            let (particao, offset) = scanned.find(w)?;
            Some((
                i,
                CoordenadasKafka {
                    topico: topic.to_owned(),
                    particao,
                    offset,
                },
            ))
        })
        .collect();
    // Then each kept partition from its start, or from where earlier passes stopped, until a
    // record stamped after `until` or its end.
    for (partition, (start, _)) in &mut ranges {
        if let Some(&next) = scanned.next.get(partition) {
            *start = (*start).max(next);
        }
    }
    ranges.retain(|_, &mut (start, high)| start < high);
    let outcome = read_each(
        &consumer,
        topic,
        &ranges,
        |_, &(start, _)| start,
        deadline,
        |m| {
            let stamped = m.timestamp().to_millis();
            scanned.note(m.key(), stamped, m.partition(), m.offset());
            if let Some(key) = m.key() {
                for (i, w) in wanted.iter().enumerate() {
                    if w.matches(key, stamped) && found.iter().all(|(j, _)| *j != i) {
                        found.push((
                            i,
                            CoordenadasKafka {
                                topico: topic.to_owned(),
                                particao: m.partition(),
                                offset: m.offset(),
                            },
                        ));
                    }
                }
            }
            let done = stamped.is_some_and(|t| t > until) || found.len() == wanted.len();
            (false, done)
        },
    );
    found.sort_by_key(|(i, _)| std::cmp::Reverse(*i));
    for (i, coordinates) in found {
        let w = wanted.swap_remove(i);
        let _ = w.answer.send(Ok(Some(coordinates)));
    }
    outcome.map(drop)
}

/// Reads each partition of `ranges` from the offset `from_offset` gives it, handing every record
/// to `visit`, which answers (keep the partition, done with it); a partition is also done at its
/// end. Answers the partitions kept.
fn read_each(
    consumer: &BaseConsumer,
    topic: &str,
    ranges: &HashMap<i32, (i64, i64)>,
    from_offset: impl Fn(&i32, &(i64, i64)) -> i64,
    deadline: Instant,
    mut visit: impl FnMut(&rdkafka::message::BorrowedMessage<'_>) -> (bool, bool),
) -> Result<HashSet<i32>, BusError> {
    let mut kept = HashSet::new();
    if ranges.is_empty() {
        return Ok(kept);
    }
    let mut assignment = TopicPartitionList::new();
    for (partition, range) in ranges {
        assignment
            .add_partition_offset(
                topic,
                *partition,
                Offset::Offset(from_offset(partition, range)),
            )
            .map_err(|e| classify(&e))?;
    }
    consumer.assign(&assignment).map_err(|e| classify(&e))?;
    let mut open: HashMap<i32, i64> = ranges.iter().map(|(p, (_, high))| (*p, *high)).collect();
    while !open.is_empty() {
        let Some(polled) = consumer.poll(left(deadline)?.min(Duration::from_millis(200))) else {
            continue;
        };
        let m = match polled {
            Ok(m) => m,
            // The end came with no record to show (the last offsets can be control records):
            // the partition is kept, to be read rather than skipped on a guess.
            Err(KafkaError::PartitionEOF(partition)) => {
                if open.remove(&partition).is_some() {
                    kept.insert(partition);
                }
                continue;
            }
            Err(e) => return Err(classify(&e)),
        };
        let Some(&end) = open.get(&m.partition()) else {
            continue;
        };
        let (keep, done) = visit(&m);
        if keep {
            kept.insert(m.partition());
        }
        if done || m.offset() + 1 >= end {
            open.remove(&m.partition());
        }
    }
    Ok(kept)
}

/// The time left before `deadline`.
fn left(deadline: Instant) -> Result<Duration, BusError> {
    deadline
        .checked_duration_since(Instant::now())
        .filter(|d| !d.is_zero())
        .ok_or_else(|| BusError::Timeout("the topic could not be searched in time".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wanted(key: &str, from: i64, until: i64) -> Wanted {
        Wanted {
            key: key.into(),
            from,
            until,
            answer: oneshot::channel().0,
        }
    }

    #[test]
    fn what_a_pass_read_answers_a_later_search_only_within_its_range() {
        let mut scanned = Scanned::default();
        scanned.note(Some(b"k"), Some(1_000), 2, 7);
        scanned.note(None, Some(1_001), 2, 8);
        assert_eq!(
            scanned.next.get(&2),
            Some(&9),
            "the next pass goes on after both"
        );
        assert_eq!(scanned.find(&wanted("k", 900, 1_100)), Some((2, 7)));
        assert_eq!(scanned.find(&wanted("k", 1_001, 2_000)), None);
        assert_eq!(scanned.find(&wanted("other", 0, i64::MAX)), None);
    }
}
