//! Settles in batches. Clearing the event an alert owes (cutting its document's private tail)
//! follows every publish, one compare-and-set script per alert. Here every settle that queues
//! while one call is in flight goes with the next call (`lua/cut.lua` takes many documents), as a
//! group commit: each caller still waits for its own answer, so nothing about a settle changes
//! but its share of the script's and the round trip's overhead. Alone, a settle is one call, as
//! before; under load, many share it.

use fred::prelude::*;
use fred::types::scripts::Script;
use fred::types::Value;
use integra_ports::{Replaced, Revision, StoreError};
use tokio::sync::{mpsc, oneshot};

use crate::client::failure;
use crate::documents::{replaced, revision_value};

/// Most settles in one call.
const BATCH: usize = 256;

/// The queue of settles and the task that sends them.
pub(crate) struct Settler {
    jobs: mpsc::UnboundedSender<Job>,
}

/// One settle: where, what was expected, and who waits for the answer.
struct Job {
    /// The collection's meta hash: settles of one collection share a slot, and go together.
    meta: String,
    /// The document's key.
    doc: String,
    id: String,
    expected: Revision,
    tail: &'static str,
    answer: oneshot::Sender<Result<Replaced<String>, StoreError>>,
}

impl Settler {
    /// Starts the task that sends the settles, on the current runtime; it ends with the engine.
    pub(crate) fn start(pool: Pool, script: Script) -> Self {
        // Unbounded but never long: every queued job is a caller waiting for its answer, and
        // callers are bounded by the requests in flight.
        let (jobs, queue) = mpsc::unbounded_channel();
        tokio::spawn(send_batches(pool, script, queue));
        Self { jobs }
    }

    /// Settles one document (see `lua/cut.lua`), in the next call.
    pub(crate) async fn settle(
        &self,
        meta: String,
        doc: String,
        id: &str,
        expected: Revision,
        tail: &'static str,
    ) -> Result<Replaced<String>, StoreError> {
        let (answer, answered) = oneshot::channel();
        let job = Job {
            meta,
            doc,
            id: id.to_owned(),
            expected,
            tail,
            answer,
        };
        let stopped = || StoreError::Unavailable("redis: the settles' task stopped".into());
        self.jobs.send(job).map_err(|_| stopped())?;
        answered.await.map_err(|_| stopped())?
    }
}

/// Sends what is queued, a call per collection and tail, until the engine is dropped.
async fn send_batches(pool: Pool, script: Script, mut queue: mpsc::UnboundedReceiver<Job>) {
    let mut jobs = Vec::with_capacity(BATCH);
    while queue.recv_many(&mut jobs, BATCH).await > 0 {
        while let Some(first) = jobs.first() {
            let (meta, tail) = (first.meta.clone(), first.tail);
            let (batch, rest): (Vec<Job>, Vec<Job>) = jobs
                .drain(..)
                .partition(|j| j.meta == meta && j.tail == tail);
            jobs = rest;
            send(&pool, &script, meta, tail, batch).await;
        }
    }
}

/// One call for `batch`; every job gets its own answer, or the call's failure.
async fn send(pool: &Pool, script: &Script, meta: String, tail: &'static str, batch: Vec<Job>) {
    let mut keys = Vec::with_capacity(1 + batch.len());
    keys.push(meta);
    let mut args: Vec<Value> = Vec::with_capacity(1 + 2 * batch.len());
    args.push(tail.into());
    for job in &batch {
        keys.push(job.doc.clone());
        args.push(job.id.as_str().into());
        args.push(revision_value(job.expected));
    }
    let client = pool.next_connected();
    let reply: Result<Value, StoreError> = if client.is_connected() {
        script
            .evalsha_with_reload(client, keys, args)
            .await
            .map_err(|e| failure(pool, &e))
    } else {
        Err(StoreError::Unavailable(
            "redis: not connected (reconnecting)".into(),
        ))
    };
    match reply {
        Ok(Value::Array(settled)) if settled.len() == batch.len() => {
            for (job, one) in batch.into_iter().zip(settled) {
                // A caller that stopped waiting does not need its answer.
                let _ = job.answer.send(replaced(one, job.expected, "cut_tail"));
            }
        }
        other => {
            let e = match other {
                Err(e) => e,
                Ok(_) => StoreError::Unavailable("redis: unexpected reply to cut_tail".into()),
            };
            for job in batch {
                let _ = job.answer.send(Err(e.clone()));
            }
        }
    }
}
