//! The two document writes sent in batches ([`crate::batch`]): inserts (`lua/insert.lua`) and
//! settles (`lua/cut.lua`).

use std::sync::Arc;

use fred::prelude::*;
use fred::types::scripts::Script;
use fred::types::Value;
use integra_ports::{Inserted, Replaced, Revision, StoreError};
use tokio::sync::oneshot;

use crate::batch::{replies, Job};
use crate::failure::eval;
use crate::keys::CollectionKeys;
use crate::reply::{replaced, revision_value, versioned};

/// Where a job's answer goes.
type Answer<T> = oneshot::Sender<Result<T, StoreError>>;

/// Answers every job of a batch that failed as a whole.
fn fail_all<T>(answers: impl IntoIterator<Item = Answer<T>>, e: &StoreError) {
    for answer in answers {
        // A caller that stopped waiting does not need its answer.
        let _ = answer.send(Err(e.clone()));
    }
}

/// One insert of a new document: its keys and the values `lua/insert.lua` takes for it.
pub(crate) struct InsertJob {
    pub(crate) keys: Arc<CollectionKeys>,
    /// Documents expire this long after their last write (ms); 0 keeps them.
    pub(crate) ttl_ms: i64,
    pub(crate) doc_key: String,
    pub(crate) index_keys: Vec<String>,
    pub(crate) id: String,
    pub(crate) body: String,
    pub(crate) created_ms: i64,
    /// The index names, "\n"-joined.
    pub(crate) names: String,
    pub(crate) answer: Answer<Inserted<String>>,
}

impl Job for InsertJob {
    fn collection(&self) -> &Arc<CollectionKeys> {
        &self.keys
    }

    async fn send(pool: &Pool, script: &Script, batch: Vec<Self>) {
        let Some(first) = batch.first() else { return };
        let keys = Arc::clone(&first.keys);
        let mut names = vec![keys.expiry.clone(), keys.meta.clone()];
        let mut args: Vec<Value> = vec![
            integra_domain::Timestamp::now().millis().into(),
            keys.index_prefix.as_str().into(),
            keys.doc_prefix.as_str().into(),
        ];
        let mut answers = Vec::with_capacity(batch.len());
        for job in batch {
            names.push(job.doc_key);
            let count = i64::try_from(job.index_keys.len()).unwrap_or(i64::MAX);
            names.extend(job.index_keys);
            args.extend([
                count.into(),
                job.ttl_ms.into(),
                job.id.into(),
                job.body.into(),
                job.created_ms.into(),
                job.names.into(),
            ]);
            answers.push(job.answer);
        }
        let n = answers.len();
        match replies(eval(pool, script, names, args).await, n) {
            Ok(each) => {
                for (answer, reply) in answers.into_iter().zip(each) {
                    let inserted = match reply {
                        Value::Integer(0) => Ok(Inserted::Created),
                        Value::Array(stored) => versioned(stored).map(Inserted::Exists),
                        _ => Err(StoreError::Unavailable(
                            "redis: unexpected reply to insert".into(),
                        )),
                    };
                    let _ = answer.send(inserted);
                }
            }
            Err(e) => fail_all(answers, &e),
        }
    }
}

/// One settle: the document, the revision expected, the tail to cut.
pub(crate) struct SettleJob {
    pub(crate) keys: Arc<CollectionKeys>,
    pub(crate) doc_key: String,
    pub(crate) id: String,
    pub(crate) expected: Revision,
    pub(crate) tail: &'static str,
    pub(crate) answer: Answer<Replaced<String>>,
}

impl Job for SettleJob {
    fn collection(&self) -> &Arc<CollectionKeys> {
        &self.keys
    }

    /// A call cuts one tail.
    fn goes_with(&self, other: &Self) -> bool {
        self.tail == other.tail
    }

    async fn send(pool: &Pool, script: &Script, batch: Vec<Self>) {
        let Some(first) = batch.first() else { return };
        let mut names = Vec::with_capacity(1 + batch.len());
        names.push(first.keys.meta.clone());
        let mut args: Vec<Value> = Vec::with_capacity(1 + 2 * batch.len());
        args.push(first.tail.into());
        let mut waiting = Vec::with_capacity(batch.len());
        for job in batch {
            names.push(job.doc_key);
            args.push(job.id.into());
            args.push(revision_value(job.expected));
            waiting.push((job.expected, job.answer));
        }
        let n = waiting.len();
        match replies(eval(pool, script, names, args).await, n) {
            Ok(each) => {
                for ((expected, answer), reply) in waiting.into_iter().zip(each) {
                    let _ = answer.send(replaced(reply, expected, "cut_tail"));
                }
            }
            Err(e) => fail_all(waiting.into_iter().map(|(_, a)| a), &e),
        }
    }
}
