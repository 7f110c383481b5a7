//! Wiring: the backends the settings name, the services, the HTTP server, and shutdown.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{web, App, HttpServer};
use integra_http::{AppState, HttpSettings, WsSettings};
use integra_memory::{MemoryBus, MemoryStore};
use integra_ports::{Bus, Store};
use integra_prometheus::PrometheusSink;
use integra_services::{
    AlertService, CloseReason, Hub, HubConfig, HubTasks, MessageConfig, MessageService,
    MetricsConfig, MetricsService, Ports,
};

use crate::settings::{BusBackend, Settings, StoreBackend};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The listening socket.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// `server.bind`.
        addr: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// A backend could not be set up.
    #[error("{0}")]
    Backend(String),
}

/// A built server, listening, not yet running.
pub struct Application {
    server: Server,
    address: SocketAddr,
    hub: Hub,
    _hub_tasks: HubTasks,
    redriver: tokio::task::JoinHandle<()>,
}

impl Application {
    /// Builds the backends, the services and the server, and binds the listening socket.
    ///
    /// # Errors
    /// [`StartupError`] when the socket or a backend cannot be set up.
    pub async fn build(settings: &Settings) -> Result<Self, StartupError> {
        let publish_timeout = Duration::from_millis(settings.bus.timeout_ms);
        let ttl =
            (settings.store.ttl_secs > 0).then(|| Duration::from_secs(settings.store.ttl_secs));
        let store: Arc<dyn Store> = match settings.store.backend {
            StoreBackend::Memory => Arc::new(MemoryStore::new(ttl)),
            StoreBackend::Redis => Arc::new(
                integra_redis::RedisStore::connect(integra_redis::RedisConfig {
                    url: settings.store.url.clone(),
                    key_prefix: settings.store.key_prefix.clone(),
                    ttl,
                    command_timeout: Duration::from_secs(2),
                })
                .await
                .map_err(|e| StartupError::Backend(format!("store.url: {e}")))?,
            ),
        };
        let bus: Arc<dyn Bus> = match settings.bus.backend {
            BusBackend::Memory => Arc::new(MemoryBus::new(
                settings.bus.topic_prefix.clone(),
                1024 * 1024,
            )),
            BusBackend::Kafka => Arc::new(
                integra_kafka::KafkaBus::new(&integra_kafka::KafkaConfig {
                    brokers: settings.bus.brokers.clone(),
                    topic_prefix: settings.bus.topic_prefix.clone(),
                    timeout: publish_timeout,
                    linger: Duration::from_millis(settings.bus.linger_ms),
                })
                .map_err(|e| StartupError::Backend(format!("bus.brokers: {e}")))?,
            ),
        };
        let ports = Ports::new(store, bus, Arc::new(PrometheusSink::new()));

        let hub_config = HubConfig {
            max_queue: settings.ws.max_queue,
            max_connections: settings.ws.max_connections,
            publish_timeout,
            ..HubConfig::default()
        };
        let (hub, events) = Hub::new(ports.clone(), hub_config);
        let hub_tasks = hub.start();
        // Serving before the fan-out subscription is live would lose the first broadcasts and
        // events; a bus that is down must not keep the server from starting, though (/readyz
        // reports it).
        if !hub.wait_subscribed(publish_timeout).await {
            tracing::warn!("the WebSocket fan-out subscription is not live yet; serving anyway");
        }
        let message_config = MessageConfig {
            publish_timeout,
            ..MessageConfig::default()
        };
        let messages = Arc::new(MessageService::new(
            ports.clone(),
            events.clone(),
            message_config,
        ));
        let redriver = messages.spawn_redriver(
            (publish_timeout / 2).clamp(Duration::from_secs(1), Duration::from_secs(30)),
        );
        let metrics_config = MetricsConfig {
            retention: Duration::from_secs(settings.metrics.retention_secs),
            max_series_per_name: settings.metrics.max_series_per_name,
        };
        let state = web::Data::new(AppState {
            messages,
            metrics: Arc::new(MetricsService::new(ports.clone(), metrics_config)),
            alerts: Arc::new(AlertService::new(ports.clone(), events, publish_timeout)),
            hub: hub.clone(),
            ports,
            settings: HttpSettings {
                body_limit_bytes: settings.server.body_limit_bytes,
                api_keys: settings.auth.api_keys.clone(),
                ws: WsSettings {
                    ping_interval: Duration::from_secs(settings.ws.ping_interval_secs),
                    pong_timeout: Duration::from_secs(settings.ws.pong_timeout_secs),
                    max_frame_bytes: settings.ws.max_frame_bytes,
                },
                readiness_timeout: Duration::from_secs(2),
            },
        });

        let bind_error = |source| StartupError::Bind {
            addr: settings.server.bind.clone(),
            source,
        };
        let listener = TcpListener::bind(&settings.server.bind).map_err(bind_error)?;
        let address = listener.local_addr().map_err(bind_error)?;
        let mut server = HttpServer::new(move || {
            App::new().configure(|cfg| integra_http::configure(cfg, state.clone()))
        })
        .shutdown_timeout(30)
        .disable_signals();
        if settings.server.workers > 0 {
            server = server.workers(settings.server.workers);
        }
        let server = server.listen(listener).map_err(bind_error)?.run();
        Ok(Self {
            server,
            address,
            hub,
            _hub_tasks: hub_tasks,
            redriver,
        })
    }

    /// The address the server listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Serves until SIGTERM or SIGINT, then stops accepting, closes WebSockets with 1001, lets
    /// requests in flight finish (up to 30 s) and returns.
    ///
    /// # Errors
    /// The server's I/O errors.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let handle = self.server.handle();
        let hub = self.hub.clone();
        let redriver = self.redriver;
        tokio::spawn(async move {
            let signal = shutdown_signal().await;
            tracing::info!(signal, "shutting down: finishing requests in flight");
            redriver.abort();
            hub.close_all(CloseReason::GoingAway);
            handle.stop(true).await;
        });
        self.server.await
    }
}

async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = tokio::signal::ctrl_c() => "SIGINT",
        },
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGTERM; only SIGINT stops the server");
            let _ = tokio::signal::ctrl_c().await;
            "SIGINT"
        }
    }
}
