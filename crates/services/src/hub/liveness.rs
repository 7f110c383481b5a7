//! Whether this instance's fan-out subscription works, proven end to end: every instance sends
//! itself a heartbeat through the bus, and the subscription is live while they come back.
//!
//! - **Healthy** (what `/readyz` reports): a heartbeat sent after the last failed fan-out
//!   publish came back, and the latest one that came back was sent less than `stall_after` ago.
//!   So after any bus failure, the instance is not ready again until a record it published
//!   afterwards has made the whole trip; texts broadcast while it says ready reach its clients.
//! - **Stalled** (when the hub subscribes again): for `stall_after`, neither a heartbeat of its
//!   own nor any other record arrived. A subscription that still receives records but lags is
//!   left alone: replacing it would skip what it has not read yet.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use integra_domain::Timestamp;

/// Times in epoch milliseconds; `i64::MIN` for never.
#[derive(Debug)]
pub(super) struct Liveness {
    stall_after_ms: i64,
    /// When the latest own heartbeat that came back was sent.
    heartbeat_sent: AtomicI64,
    /// When a fan-out publish last failed.
    publish_failed: AtomicI64,
    /// When the current subscription started, or last received any record.
    last_activity: AtomicI64,
}

fn now() -> i64 {
    Timestamp::now().millis()
}

impl Liveness {
    pub(super) fn new(stall_after: Duration) -> Self {
        Self {
            stall_after_ms: i64::try_from(stall_after.as_millis()).unwrap_or(i64::MAX),
            heartbeat_sent: AtomicI64::new(i64::MIN),
            publish_failed: AtomicI64::new(i64::MIN),
            last_activity: AtomicI64::new(i64::MIN),
        }
    }

    /// A new subscription started.
    pub(super) fn subscribed(&self) {
        self.last_activity.store(now(), Ordering::Relaxed);
    }

    /// The subscription delivered a record.
    pub(super) fn received(&self) {
        self.last_activity.store(now(), Ordering::Relaxed);
    }

    /// An own heartbeat sent at `sent` (epoch ms) came back.
    pub(super) fn heartbeat_back(&self, sent: i64) {
        self.heartbeat_sent.fetch_max(sent, Ordering::Relaxed);
    }

    /// A fan-out publish failed.
    pub(super) fn publish_failed(&self) {
        self.publish_failed.store(now(), Ordering::Relaxed);
    }

    pub(super) fn healthy(&self) -> bool {
        let sent = self.heartbeat_sent.load(Ordering::Relaxed);
        sent != i64::MIN
            && sent >= self.publish_failed.load(Ordering::Relaxed)
            && now().saturating_sub(sent) <= self.stall_after_ms
    }

    pub(super) fn stalled(&self) -> bool {
        let latest = self
            .heartbeat_sent
            .load(Ordering::Relaxed)
            .max(self.last_activity.load(Ordering::Relaxed));
        now().saturating_sub(latest) > self.stall_after_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn healthy_once_a_heartbeat_sent_after_the_last_failure_came_back() {
        let liveness = Liveness::new(Duration::from_secs(60));
        assert!(!liveness.healthy(), "nothing came back yet");
        let before = now() - 10;
        liveness.heartbeat_back(before);
        assert!(liveness.healthy());
        liveness.publish_failed();
        assert!(
            !liveness.healthy(),
            "a failure since the heartbeat was sent"
        );
        liveness.heartbeat_back(before);
        assert!(!liveness.healthy(), "an old heartbeat proves nothing");
        liveness.heartbeat_back(now() + 1);
        assert!(liveness.healthy());
    }

    #[test]
    fn stalled_only_when_nothing_arrives_at_all() {
        let liveness = Liveness::new(Duration::from_millis(50));
        liveness.subscribed();
        assert!(!liveness.stalled());
        std::thread::sleep(Duration::from_millis(60));
        assert!(liveness.stalled());
        liveness.received();
        assert!(!liveness.stalled(), "a lagging subscription still delivers");
        assert!(!liveness.healthy(), "but no heartbeat of its own came back");
    }
}
