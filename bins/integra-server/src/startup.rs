//! Wiring: the backends the settings name, the services, the HTTP server, and shutdown. `main`
//! and the end-to-end tests build the server the same way: [`Application::build`].

use std::future::Future;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{web, App, HttpServer};
use integra_http::AppState;
use integra_kafka::KafkaBus;
use integra_memory::{MemoryBus, MemoryEngine, MemoryStore};
use integra_ports::{Bus, Store};
use integra_prometheus::PrometheusSink;
use integra_redis::{RedisEngine, RedisStore};
use integra_services::{
    AlertService, CloseReason, Health, Hub, HubTasks, MessageService, MetricsService, Ports,
};

use crate::settings::{BusBackend, Settings, SettingsError, StoreBackend};

/// Largest record the embedded bus takes: Kafka's default `message.max.bytes`.
const MEMORY_BUS_MAX_RECORD: usize = 1024 * 1024;

/// How long `/readyz` waits for each dependency.
const READINESS_TIMEOUT: Duration = Duration::from_secs(2);

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The settings are out of range.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// The listening socket.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// `server.bind`.
        addr: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// A backend could not be set up; names its key.
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

async fn store(settings: &Settings) -> Result<Arc<dyn Store>, StartupError> {
    let store = &settings.store;
    Ok(match store.backend {
        StoreBackend::Memory => Arc::new(MemoryStore::new(MemoryEngine::new(store.ttl()))),
        StoreBackend::Redis => Arc::new(RedisStore::new(
            RedisEngine::connect(store.redis())
                .await
                .map_err(|e| StartupError::Backend(format!("store.url: {e}")))?,
        )),
    })
}

fn bus(settings: &Settings) -> Result<Arc<dyn Bus>, StartupError> {
    let bus = &settings.bus;
    Ok(match bus.backend {
        BusBackend::Memory => Arc::new(MemoryBus::new(
            bus.topic_prefix.clone(),
            MEMORY_BUS_MAX_RECORD,
        )),
        BusBackend::Kafka => Arc::new(
            KafkaBus::new(&bus.kafka())
                .map_err(|e| StartupError::Backend(format!("bus.brokers: {e}")))?,
        ),
    })
}

impl Application {
    /// Builds the backends, the services and the server, and binds the listening socket
    /// (`server.bind`; port 0 takes a free one, see [`Application::address`]).
    ///
    /// # Errors
    /// [`StartupError`] when the settings, the socket or a backend cannot be used.
    pub async fn build(settings: &Settings) -> Result<Self, StartupError> {
        settings.validate()?;
        let ports = Ports::new(
            store(settings).await?,
            bus(settings)?,
            Arc::new(PrometheusSink::new()),
        );
        let publish = settings.bus.publish();

        let (hub, events) = Hub::new(ports.presence(), settings.hub());
        let hub_tasks = hub.start();
        // Serving before the fan-out subscription is live would lose the first broadcasts and
        // events; a bus that is down must not keep the server from starting, though (/readyz
        // reports it).
        if !hub.wait_subscribed(publish.timeout).await {
            tracing::warn!("the WebSocket fan-out subscription is not live yet; serving anyway");
        }
        let messages = Arc::new(MessageService::new(
            ports.messages(),
            events.clone(),
            publish,
        ));
        let redriver = messages.spawn_redriver(
            (publish.timeout / 2).clamp(Duration::from_secs(1), Duration::from_secs(30)),
        );
        let state = web::Data::new(AppState {
            messages,
            metrics: Arc::new(MetricsService::new(
                ports.series(),
                settings.metrics.limits(),
            )),
            alerts: Arc::new(AlertService::new(ports.alerts(), events, publish)),
            health: Arc::new(Health::new(
                Arc::clone(&ports.store),
                Arc::clone(&ports.bus),
                hub.clone(),
                READINESS_TIMEOUT,
            )),
            hub: hub.clone(),
            settings: settings.http(),
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

    /// Serves until SIGTERM or SIGINT, then shuts down as [`Application::run_until`] does.
    ///
    /// # Errors
    /// The server's I/O errors.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.run_until(async {
            let signal = shutdown_signal().await;
            tracing::info!(signal, "shutting down: finishing requests in flight");
        })
        .await
    }

    /// Serves until `stop` resolves, then stops accepting, closes WebSockets with 1001, lets
    /// requests in flight finish (up to 30 s) and returns.
    ///
    /// # Errors
    /// The server's I/O errors.
    pub async fn run_until(self, stop: impl Future<Output = ()> + 'static) -> std::io::Result<()> {
        let handle = self.server.handle();
        let hub = self.hub.clone();
        let redriver = self.redriver;
        actix_web::rt::spawn(async move {
            stop.await;
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
