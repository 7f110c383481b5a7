//! Wiring: the backends the settings name, the services, the HTTP server, and shutdown. `main`
//! and the end-to-end tests build the server the same way: [`Application::build`].

use std::future::Future;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{web, App, HttpServer};
use integra_http::AppState;
use integra_kafka::{verify_access, AccessError, KafkaBus, KafkaConfig};
use integra_memory::{MemoryBus, MemoryEngine, MemoryStore};
use integra_ports::{Bus, MetricSink, Store};
use integra_prometheus::PrometheusSink;
use integra_redis::{RedisEngine, RedisStore};
use integra_services::{CloseReason, DeferredTask, Health, Hub, HubTasks, Ports, Services};

use crate::settings::{BusBackend, Settings, SettingsError, StoreBackend};

/// Largest record the embedded bus takes: Kafka's default `message.max.bytes`.
const MEMORY_BUS_MAX_RECORD: usize = 1024 * 1024;

/// How long start-up waits, at most, to learn whether the brokers take the bus's credentials.
const KAFKA_ACCESS_CHECK: Duration = Duration::from_secs(5);

/// How long a shutdown waits, at most, for the store writes deferred behind answers already given.
const DEFERRED_DRAIN: Duration = Duration::from_secs(10);

/// How long `/readyz` waits for each dependency.
const READINESS_TIMEOUT: Duration = Duration::from_secs(2);

/// How long an idle kept-alive connection stays open (at most `server.request_timeout_ms`).
const KEEP_ALIVE: Duration = Duration::from_secs(5);

/// File descriptors kept for what is not a client connection: Redis, Kafka, logs, the listener.
const RESERVED_FDS: usize = 128;

/// The open-file limit of this process (`ulimit -n`), from `/proc/self/limits`; 1024, the usual
/// default, where it cannot be read.
fn open_file_limit() -> usize {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|limits| {
            let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
            line.split_whitespace().nth(3)?.parse().ok()
        })
        .unwrap_or(1024)
}

/// Connections each worker takes at most, so that together they leave the process descriptors
/// for its own connections: a client holding many connections gets them queued, not the rest
/// of the service starved.
fn connections_per_worker(workers: usize) -> usize {
    (open_file_limit().saturating_sub(RESERVED_FDS) / workers.max(1)).max(16)
}

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
    /// The services' tasks: redrive, silences, rules.
    background: Vec<tokio::task::JoinHandle<()>>,
    /// The store writes deferred behind the answers, drained at shutdown.
    deferred: Option<DeferredTask>,
}

async fn store(
    settings: &Settings,
    metrics: &Arc<dyn MetricSink>,
) -> Result<Arc<dyn Store>, StartupError> {
    let store = &settings.store;
    Ok(match store.backend {
        StoreBackend::Memory => Arc::new(MemoryStore::new(MemoryEngine::with_budget(
            store.ttl(),
            store.memory_max_bytes,
            Arc::clone(metrics),
        ))),
        StoreBackend::Redis => Arc::new(RedisStore::new(
            RedisEngine::connect(store.redis())
                .await
                .map_err(|e| StartupError::Backend(format!("{}: {e}", store.key_of(&e))))?,
        )),
    })
}

async fn bus(settings: &Settings) -> Result<Arc<dyn Bus>, StartupError> {
    let bus = &settings.bus;
    Ok(match bus.backend {
        BusBackend::Memory => Arc::new(MemoryBus::new(
            bus.topic_prefix.clone(),
            MEMORY_BUS_MAX_RECORD,
        )),
        BusBackend::Kafka => {
            let config = bus.kafka();
            check_kafka_access(settings, &config).await?;
            Arc::new(
                KafkaBus::new(&config)
                    .map_err(|e| StartupError::Backend(format!("bus.librdkafka: {e}")))?,
            )
        }
    })
}

/// Refuses to start on credentials or a certificate the brokers refuse, naming the setting to
/// fix; starts on brokers that are only unreachable (the bus reconnects, `/readyz` says so).
async fn check_kafka_access(settings: &Settings, config: &KafkaConfig) -> Result<(), StartupError> {
    let bus = &settings.bus;
    let within = Duration::from_millis(bus.timeout_ms).min(KAFKA_ACCESS_CHECK);
    let key = match verify_access(config, within).await {
        Ok(()) => return Ok(()),
        Err(e @ AccessError::Unreachable(_)) => {
            tracing::warn!(error = %e, "no Kafka broker answered at start-up; starting anyway");
            return Ok(());
        }
        Err(AccessError::Refused(why)) => {
            return Err(StartupError::Backend(format!(
                "bus.sasl_username / bus.sasl_password: the broker refused the credentials \
                 ({} as `{}`): {why}",
                bus.sasl_mechanism.as_str(),
                bus.sasl_username
            )))
        }
        Err(e @ AccessError::Tls(_)) if !bus.ssl_ca_file.is_empty() => ("bus.ssl_ca_file", e),
        Err(e @ AccessError::Tls(_)) => ("bus.security_protocol", e),
        Err(e @ AccessError::Config(_)) => ("bus.librdkafka", e),
    };
    Err(StartupError::Backend(format!("{}: {}", key.0, key.1)))
}

impl Application {
    /// Builds the backends, the services and the server, and binds the listening socket
    /// (`server.bind`; port 0 takes a free one, see [`Application::address`]).
    ///
    /// # Errors
    /// [`StartupError`] when the settings, the socket or a backend cannot be used.
    pub async fn build(settings: &Settings) -> Result<Self, StartupError> {
        settings.validate()?;
        let metrics: Arc<dyn MetricSink> = Arc::new(PrometheusSink::new());
        let ports = Ports::new(
            store(settings, &metrics).await?,
            bus(settings).await?,
            metrics,
        );
        let publish = settings.bus.publish();

        let (hub, events) = Hub::new(ports.presence(), ports.channels(), settings.hub());
        let hub_tasks = hub.start();
        // Serving before the fan-out subscription is live would lose the first broadcasts and
        // events; a bus that is down must not keep the server from starting, though (/readyz
        // reports it).
        if !hub.wait_subscribed(publish.timeout).await {
            tracing::warn!("the WebSocket fan-out subscription is not live yet; serving anyway");
        }
        let services = Services::new(
            &ports,
            &events,
            publish,
            settings.metrics.limits(),
            settings.rules.config(),
        );
        let background = services.spawn_tasks(
            (publish.timeout / 2).clamp(Duration::from_secs(1), Duration::from_secs(30)),
        );
        // On this runtime, the one the store's connections live on: it outlives the workers.
        let deferred = services.deferred.start();
        let state = web::Data::new(AppState {
            messages: services.messages,
            metrics: services.metrics,
            alerts: services.alerts,
            silences: services.silences,
            rules: services.rules,
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
        let workers = match settings.server.workers {
            0 => std::thread::available_parallelism().map_or(1, usize::from),
            n => n,
        };
        let request_timeout = Duration::from_millis(settings.server.request_timeout_ms);
        let per_worker = connections_per_worker(workers);
        tracing::debug!(
            workers,
            per_worker,
            "connection cap from the open-file limit"
        );
        let server = HttpServer::new(move || {
            App::new()
                .configure(|cfg| integra_http::configure(cfg, state.clone()))
                .default_service(web::to(integra_http::no_route))
        })
        .workers(workers)
        // A request head not arrived within the timeout is refused (408), an idle kept-alive
        // connection closed, and no client can hold every file descriptor.
        .client_request_timeout(request_timeout)
        .keep_alive(KEEP_ALIVE.min(request_timeout))
        // No lingering after a response whose request was not read to its end: a WebSocket's
        // never is, and RFC 6455 §7.1.1 has the server close TCP as soon as the closing handshake
        // is done (actix would wait a second for the client). The cost: a client still sending a
        // large refused body may see the connection reset before it reads the refusal.
        .client_disconnect_timeout(Duration::ZERO)
        // A peer that takes none of what is sent to it for this long is dropped by the kernel:
        // nothing else frees a connection whose writes are stuck behind a client that stopped
        // reading (a WebSocket flooding pings, a list fetched and never read).
        .on_connect(move |connection, _| {
            if let Some(tcp) = connection.downcast_ref::<actix_web::rt::net::TcpStream>() {
                let set = socket2::SockRef::from(tcp).set_tcp_user_timeout(Some(request_timeout));
                if let Err(e) = set {
                    tracing::debug!(error = %e, "TCP_USER_TIMEOUT not set");
                }
            }
        })
        .max_connections(per_worker)
        .shutdown_timeout(30)
        .disable_signals();
        let server = server.listen(listener).map_err(bind_error)?.run();
        Ok(Self {
            server,
            address,
            hub,
            _hub_tasks: hub_tasks,
            background,
            deferred,
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
    /// requests in flight finish (up to 30 s), finishes the store writes deferred behind their
    /// answers (up to 10 s) and returns.
    ///
    /// # Errors
    /// The server's I/O errors.
    pub async fn run_until(self, stop: impl Future<Output = ()> + 'static) -> std::io::Result<()> {
        let handle = self.server.handle();
        let hub = self.hub.clone();
        let background = self.background;
        actix_web::rt::spawn(async move {
            stop.await;
            for task in &background {
                task.abort();
            }
            hub.close_all(CloseReason::GoingAway);
            handle.stop(true).await;
        });
        let served = self.server.await;
        if let Some(deferred) = self.deferred {
            deferred.drain(DEFERRED_DRAIN).await;
        }
        served
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
