//! Readiness: whether this instance can serve, dependency by dependency.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use integra_ports::{Bus, Store};

use crate::Hub;

/// One dependency's check: `Ok`, or what fails, in words an operator can act on.
pub type Check = Result<(), String>;

/// Every check of this instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readiness {
    /// The store answers.
    pub store: Check,
    /// The bus answers.
    pub bus: Check,
    /// The fan-out subscription delivers this instance's own heartbeat.
    pub subscription: Check,
}

impl Readiness {
    /// The first failing check, if any.
    pub fn failure(&self) -> Option<&str> {
        [&self.store, &self.bus, &self.subscription]
            .into_iter()
            .find_map(|check| check.as_ref().err())
            .map(String::as_str)
    }
}

/// Checks the dependencies of this instance.
pub struct Health {
    store: Arc<dyn Store>,
    bus: Arc<dyn Bus>,
    hub: Hub,
    timeout: Duration,
}

impl Health {
    /// Checks on these dependencies, each given at most `timeout` to answer.
    pub fn new(store: Arc<dyn Store>, bus: Arc<dyn Bus>, hub: Hub, timeout: Duration) -> Self {
        Self {
            store,
            bus,
            hub,
            timeout,
        }
    }

    /// Runs every check.
    pub async fn readiness(&self) -> Readiness {
        let (store, bus) = tokio::join!(
            self.check("store", self.store.ping()),
            self.check("bus", self.bus.ping()),
        );
        let subscription = if self.hub.subscription_healthy() {
            Ok(())
        } else {
            Err(
                "bus subscription stalled: this instance's fan-out heartbeat did not come back"
                    .to_owned(),
            )
        };
        Readiness {
            store,
            bus,
            subscription,
        }
    }

    async fn check<E: std::fmt::Display>(
        &self,
        dependency: &str,
        ping: impl Future<Output = Result<(), E>>,
    ) -> Check {
        match tokio::time::timeout(self.timeout, ping).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(format!("{dependency} unreachable: {e}")),
            Err(_) => Err(format!("{dependency} unreachable: no answer in time")),
        }
    }
}
