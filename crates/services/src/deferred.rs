//! Work done behind an answer: store bookkeeping that the client need not wait for. Clearing the
//! event an alert owes, once the broker has acknowledged it, is such work: the answer is already
//! true, and a request that finds the event still owed moments later waits for it to clear (see
//! `alerts`). Taking that write off the request's path takes one of the two store round trips a
//! new alert made before its answer.
//!
//! The work runs on the runtime that started [`Deferred::start`] (the server's main one, where the
//! store's connections live, so that it outlives the HTTP workers), and a shutdown drains it
//! ([`DeferredTask::drain`]): work lost to a restart would leave an event owed, to go out a second
//! time. Until started, and once draining, work is done in place, before the answer, as a caller
//! of the services on its own would expect.

use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use std::time::Duration;

use futures_util::stream::FuturesUnordered;
use futures_util::{FutureExt, StreamExt};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// One piece of deferred work.
type Work = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Where work deferred behind the answers goes.
#[derive(Default)]
pub struct Deferred {
    queue: OnceLock<mpsc::UnboundedSender<Work>>,
}

/// The task that does the deferred work; [`DeferredTask::drain`] ends it.
pub struct DeferredTask {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl Deferred {
    /// Does `work` behind the answer: at once where it finishes without waiting (an embedded
    /// store), else on the task [`Deferred::start`] started; in place, awaited, where there is
    /// none or it is draining.
    pub(crate) async fn run(&self, work: impl Future<Output = ()> + Send + 'static) {
        let mut work: Work = Box::pin(work);
        // The first poll also sends what work sends (a batched store call is queued by it).
        if (&mut work).now_or_never().is_some() {
            return;
        }
        let refused = match self.queue.get() {
            Some(queue) => match queue.send(work) {
                Ok(()) => return,
                Err(mpsc::error::SendError(work)) => work,
            },
            None => work,
        };
        refused.await;
    }

    /// Starts the task that does the deferred work, on the current runtime. Once only: a second
    /// call starts nothing and returns `None`.
    pub fn start(&self) -> Option<DeferredTask> {
        let (queue, queued) = mpsc::unbounded_channel();
        self.queue.set(queue).ok()?;
        let (stop, stopped) = oneshot::channel();
        Some(DeferredTask {
            stop,
            task: tokio::spawn(work_through(queued, stopped)),
        })
    }
}

impl DeferredTask {
    /// Stops taking work (what comes after is done in place) and waits, at most `within`, for
    /// the work taken to be done; returns whether it was.
    pub async fn drain(self, within: Duration) -> bool {
        let _ = self.stop.send(());
        let done = tokio::time::timeout(within, self.task).await.is_ok();
        if !done {
            tracing::warn!(
                ?within,
                "deferred store writes not done at shutdown; their events may be published again"
            );
        }
        done
    }
}

/// Does the work queued, many at a time, until told to stop; then the work still queued and in
/// progress.
async fn work_through(
    mut queued: mpsc::UnboundedReceiver<Work>,
    mut stopped: oneshot::Receiver<()>,
) {
    let mut running = FuturesUnordered::new();
    loop {
        tokio::select! {
            work = queued.recv() => match work {
                Some(work) => running.push(work),
                None => break,
            },
            Some(()) = running.next(), if !running.is_empty() => {}
            _ = &mut stopped => break,
        }
    }
    queued.close();
    while let Some(work) = queued.recv().await {
        running.push(work);
    }
    while running.next().await.is_some() {}
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use super::*;

    /// Work that waits for `go`, then counts itself done.
    fn waiting(
        go: &tokio::sync::watch::Receiver<bool>,
        done: &Arc<AtomicUsize>,
    ) -> impl Future<Output = ()> + Send + 'static {
        let (mut go, done) = (go.clone(), Arc::clone(done));
        async move {
            let _ = go.wait_for(|&go| go).await;
            done.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[tokio::test]
    async fn work_that_waits_is_done_behind_the_caller_and_drained_at_shutdown() {
        let deferred = Deferred::default();
        let task = deferred.start().unwrap();
        let (go, gate) = tokio::sync::watch::channel(false);
        let done = Arc::new(AtomicUsize::new(0));
        for _ in 0..10 {
            // Returns without the work done: it waits for the gate.
            deferred.run(waiting(&gate, &done)).await;
        }
        assert_eq!(done.load(Ordering::SeqCst), 0);
        let opened = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            go.send(true).unwrap();
        });
        assert!(task.drain(Duration::from_secs(5)).await);
        assert_eq!(
            done.load(Ordering::SeqCst),
            10,
            "the drain waited for every piece"
        );
        opened.await.unwrap();
    }

    #[tokio::test]
    async fn work_is_done_in_place_before_the_start_and_after_the_drain() {
        let deferred = Deferred::default();
        let done = Arc::new(AtomicUsize::new(0));
        let (go, gate) = tokio::sync::watch::channel(false);
        let opener = |go: tokio::sync::watch::Sender<bool>| {
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                go.send(true).unwrap();
            })
        };
        let opened = opener(go);
        deferred.run(waiting(&gate, &done)).await;
        assert_eq!(
            done.load(Ordering::SeqCst),
            1,
            "not started: awaited in place"
        );
        opened.await.unwrap();

        let task = deferred.start().unwrap();
        assert!(deferred.start().is_none(), "one task only");
        assert!(task.drain(Duration::from_secs(5)).await);
        let (go, gate) = tokio::sync::watch::channel(false);
        let opened = opener(go);
        deferred.run(waiting(&gate, &done)).await;
        assert_eq!(done.load(Ordering::SeqCst), 2, "drained: awaited in place");
        opened.await.unwrap();
    }

    #[tokio::test]
    async fn a_drain_gives_up_after_its_bound_on_work_that_never_ends() {
        let deferred = Deferred::default();
        let task = deferred.start().unwrap();
        deferred.run(std::future::pending::<()>()).await;
        assert!(!task.drain(Duration::from_millis(50)).await);
    }
}
