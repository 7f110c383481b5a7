//! How long a publish may take, and how long a claim on a record outlives it.

use std::time::Duration;

use integra_domain::Timestamp;

/// The bounds of a publish, shared by every service that publishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishConfig {
    /// How long a publish may wait for the broker's acknowledgement (`bus.timeout_ms`).
    pub timeout: Duration,
    /// How long past `timeout` a claim (a message being sent, an alert event being delivered)
    /// still belongs to the request that made it: by then that request has saved its outcome or
    /// died, and another may take the record over.
    pub takeover_margin: Duration,
}

impl Default for PublishConfig {
    fn default() -> Self {
        Self::with_timeout(Duration::from_millis(5000))
    }
}

impl PublishConfig {
    /// Publishes bounded by `timeout`, claims held 2 s longer.
    pub const fn with_timeout(timeout: Duration) -> Self {
        Self {
            timeout,
            takeover_margin: Duration::from_secs(2),
        }
    }

    /// How long a claim holds: the timeout and the margin.
    pub fn lease(&self) -> Duration {
        self.timeout + self.takeover_margin
    }

    /// Whether a claim made at `since` still holds at `now`.
    pub fn holds(&self, since: Timestamp, now: Timestamp) -> bool {
        Self::within(since, now, self.lease())
    }

    /// Whether `now` is less than `span` after `since`.
    pub(crate) fn within(since: Timestamp, now: Timestamp, span: Duration) -> bool {
        let span = i64::try_from(span.as_millis()).unwrap_or(i64::MAX);
        since.plus_millis(span) > now
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claim_holds_for_the_timeout_and_the_margin() {
        let config = PublishConfig::with_timeout(Duration::from_millis(100));
        let since = Timestamp::from_millis(1_000);
        assert!(config.holds(since, Timestamp::from_millis(3_099)));
        assert!(!config.holds(since, Timestamp::from_millis(3_100)));
    }
}
