//! Document writes in batches. An insert (a new alert, a message's claim) and a settle (clearing
//! the event an alert owes, after its publish) are each a script call per record. Here the
//! calls of one kind that queue while one is in flight go to Redis together in the next (the
//! scripts take many documents), as a group commit: each caller still waits for its own answer,
//! so nothing about an insert or a settle changes but its share of the script's and the round
//! trip's overhead. Alone, a call is one call, as before; under load, many share one.

use std::future::Future;
use std::sync::Arc;

use fred::prelude::*;
use fred::types::scripts::Script;
use fred::types::Value;
use integra_ports::StoreError;
use tokio::sync::mpsc;

use crate::keys::CollectionKeys;

/// Most calls in one batch.
const BATCH: usize = 256;

/// One queued call.
pub(crate) trait Job: Send + Sized + 'static {
    /// The keys of its collection: calls of one collection share a slot, and may go together.
    fn collection(&self) -> &Arc<CollectionKeys>;

    /// Whether it may go in one call with `other`, of the same collection.
    fn goes_with(&self, _other: &Self) -> bool {
        true
    }

    /// Sends `batch` (one collection's) as one call, and answers each job.
    fn send(pool: &Pool, script: &Script, batch: Vec<Self>) -> impl Future<Output = ()> + Send;
}

/// The queue of one kind of call and the task that sends it.
pub(crate) struct Batcher<J: Job> {
    jobs: mpsc::UnboundedSender<J>,
}

impl<J: Job> Batcher<J> {
    /// Starts the task that sends the calls, on the current runtime; it ends with the engine.
    pub(crate) fn start(pool: Pool, script: Script) -> Self {
        // Unbounded but never long: every queued job is a caller waiting for its answer, and
        // callers are bounded by the requests in flight.
        let (jobs, queue) = mpsc::unbounded_channel();
        tokio::spawn(send_batches(pool, script, queue));
        Self { jobs }
    }

    /// Queues `job` for the next call.
    pub(crate) fn submit(&self, job: J) -> Result<(), StoreError> {
        self.jobs.send(job).map_err(|_| stopped())
    }
}

/// The error of a job whose answer never came: the engine is shutting down.
pub(crate) fn stopped() -> StoreError {
    StoreError::Unavailable("redis: the batched writes' task stopped".into())
}

/// Sends what is queued, a call per collection, until the engine is dropped.
async fn send_batches<J: Job>(pool: Pool, script: Script, mut queue: mpsc::UnboundedReceiver<J>) {
    let mut jobs = Vec::with_capacity(BATCH);
    while queue.recv_many(&mut jobs, BATCH).await > 0 {
        while !jobs.is_empty() {
            let (mut batch, mut rest) = (Vec::with_capacity(jobs.len()), Vec::new());
            for job in jobs.drain(..) {
                let joins = batch.first().is_none_or(|first: &J| {
                    Arc::ptr_eq(first.collection(), job.collection()) && first.goes_with(&job)
                });
                if joins {
                    batch.push(job);
                } else {
                    rest.push(job);
                }
            }
            jobs = rest;
            J::send(&pool, &script, batch).await;
        }
    }
}

/// The replies of a batch of `n` calls: one each, or the error every job of the batch gets.
pub(crate) fn replies(
    reply: Result<Value, StoreError>,
    n: usize,
) -> Result<Vec<Value>, StoreError> {
    match reply? {
        Value::Array(each) if each.len() == n => Ok(each),
        _ => Err(StoreError::Unavailable(
            "redis: unexpected reply to a batch".into(),
        )),
    }
}
