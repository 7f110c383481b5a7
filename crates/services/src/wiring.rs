//! [`Services`]: every service of one instance, wired over one set of ports, and the background
//! tasks they need.

use std::sync::Arc;
use std::time::Duration;

use integra_ports::{SeriesStore, Store};
use tokio::task::JoinHandle;

use crate::{
    AlertService, Deferred, Events, MessageService, MetricsConfig, MetricsService, Ports,
    PublishConfig, RuleService, RulesConfig, SilenceService,
};

/// The services of one instance. Rules read the series and act through the alert and message
/// services; silences mark the alerts the alert service opens; ingest hands samples to the rules.
pub struct Services {
    /// Messages.
    pub messages: Arc<MessageService>,
    /// Metrics.
    pub metrics: Arc<MetricsService>,
    /// Alerts.
    pub alerts: Arc<AlertService>,
    /// Silences.
    pub silences: Arc<SilenceService>,
    /// Rules.
    pub rules: Arc<RuleService>,
    /// The store writes done behind the answers; [`Deferred::start`] it where a shutdown drains
    /// it (until then they are done before the answers).
    pub deferred: Arc<Deferred>,
}

impl Services {
    /// Wires every service over `ports`.
    pub fn new(
        ports: &Ports<dyn Store>,
        events: &Events,
        publish: PublishConfig,
        metrics: MetricsConfig,
        rules: RulesConfig,
    ) -> Self {
        let silences = Arc::new(SilenceService::new(ports.silences()));
        let deferred = Arc::new(Deferred::default());
        let alerts = Arc::new(
            AlertService::new(ports.alerts(), events.clone(), publish)
                .with_silences(Arc::clone(&silences))
                .with_deferred(Arc::clone(&deferred)),
        );
        let messages = Arc::new(MessageService::new(
            ports.messages(),
            events.clone(),
            publish,
        ));
        let rules = Arc::new(RuleService::new(
            ports.rules(),
            Arc::clone(&ports.store) as Arc<dyn SeriesStore>,
            Arc::clone(&alerts),
            Arc::clone(&messages),
            rules,
        ));
        let metrics =
            Arc::new(MetricsService::new(ports.series(), metrics).with_rules(Arc::clone(&rules)));
        Self {
            messages,
            metrics,
            alerts,
            silences,
            rules,
            deferred,
        }
    }

    /// Starts what runs beside the requests: the redrive of abandoned messages (every
    /// `redrive_every`), the reading of silences, the rounds of rules. Abort the handles to stop.
    pub fn spawn_tasks(&self, redrive_every: Duration) -> Vec<JoinHandle<()>> {
        vec![
            self.messages.spawn_redriver(redrive_every),
            self.silences.spawn_refresher(),
            self.rules.spawn_evaluator(),
        ]
    }
}
