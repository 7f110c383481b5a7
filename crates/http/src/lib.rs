//! The HTTP and WebSocket API of Integra on actix-web: every route of the contract, one problem
//! (`application/problem+json`) answer for every error (the extractors' included), API-key auth,
//! request metrics and an OpenAPI 3.1 document generated from the handlers.
//!
//! Another actix-web application mounts the routes with [`configure`]:
//!
//! ```no_run
//! # fn deps() -> actix_web::web::Data<integra_http::AppState> { unimplemented!() }
//! use actix_web::{App, HttpServer};
//! # async fn run() -> std::io::Result<()> {
//! let state = deps(); // built once, outside the factory closure
//! HttpServer::new(move || App::new().configure(|cfg| integra_http::configure(cfg, state.clone())))
//!     .bind("127.0.0.1:8080")?
//!     .run()
//!     .await
//! # }
//! ```

mod error;
mod extract;
mod fallback;
mod middleware;
pub mod openapi;
mod responses;
mod routes;

use std::sync::Arc;
use std::time::Duration;

use actix_web::middleware::from_fn;
use actix_web::web;
use integra_services::{
    AlertService, Health, Hub, MessageService, MetricsService, RuleService, SilenceService,
};

pub use error::{ApiError, Problem};
pub use extract::JsonBody;
pub use fallback::no_route;

/// What the HTTP layer itself is configured with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpSettings {
    /// Largest request body, once decoded (`server.body_limit_bytes`).
    pub body_limit_bytes: usize,
    /// A body that has not arrived by then gets 408 (`server.request_timeout_ms`).
    pub request_timeout: Duration,
    /// Accepted API keys; empty turns auth off (`auth.api_keys`).
    pub api_keys: Vec<String>,
    /// WebSocket heartbeat and limits.
    pub ws: WsSettings,
}

/// WebSocket heartbeat and limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WsSettings {
    /// A ping every this long (`ws.ping_interval_secs`).
    pub ping_interval: Duration,
    /// No pong within this long closes the connection (`ws.pong_timeout_secs`).
    pub pong_timeout: Duration,
    /// Inbound frames over this close the connection with 1009 (`ws.max_frame_bytes`).
    pub max_frame_bytes: usize,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            body_limit_bytes: 1024 * 1024,
            request_timeout: Duration::from_secs(10),
            api_keys: Vec::new(),
            ws: WsSettings {
                ping_interval: Duration::from_secs(20),
                pong_timeout: Duration::from_secs(10),
                max_frame_bytes: 64 * 1024,
            },
        }
    }
}

/// Everything the handlers need, built once and shared by every worker.
pub struct AppState {
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
    /// The WebSocket hub.
    pub hub: Hub,
    /// The readiness checks.
    pub health: Arc<Health>,
    /// The HTTP settings.
    pub settings: HttpSettings,
}

/// Mounts every route, the error handlers of the extractors, auth and request metrics.
pub fn configure(cfg: &mut web::ServiceConfig, state: web::Data<AppState>) {
    cfg.app_data(state)
        .app_data(web::QueryConfig::default().error_handler(extract::query_error))
        .app_data(web::PathConfig::default().error_handler(extract::path_error))
        .service(
            web::scope("")
                .wrap(from_fn(middleware::head_as_get))
                .wrap(from_fn(middleware::authenticate))
                .wrap(from_fn(middleware::track))
                .configure(routes::register)
                .service(openapi::openapi_json)
                .default_service(web::to(fallback::no_route)),
        );
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use actix_web::{test, App};
    use integra_memory::{MemoryBus, MemoryEngine, MemoryStore};
    use integra_ports::Store;
    use integra_prometheus::PrometheusSink;
    use integra_services::{HubConfig, MetricsConfig, Ports, PublishConfig, RulesConfig, Services};
    use utoipa::OpenApi;

    use super::*;

    fn state() -> web::Data<AppState> {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new(MemoryEngine::new(None)));
        let ports = Ports::new(
            store,
            Arc::new(MemoryBus::default()),
            Arc::new(PrometheusSink::new()),
        );
        let (hub, events) = Hub::new(ports.presence(), ports.channels(), HubConfig::default());
        let services = Services::new(
            &ports,
            &events,
            PublishConfig::default(),
            MetricsConfig::default(),
            RulesConfig::default(),
        );
        web::Data::new(AppState {
            messages: services.messages,
            metrics: services.metrics,
            alerts: services.alerts,
            silences: services.silences,
            rules: services.rules,
            health: Arc::new(Health::new(
                Arc::clone(&ports.store),
                Arc::clone(&ports.bus),
                hub.clone(),
                Duration::from_secs(2),
            )),
            hub,
            settings: HttpSettings::default(),
        })
    }

    #[actix_rt::test]
    async fn every_route_of_the_openapi_document_is_mounted() {
        let app = test::init_service(App::new().configure(|cfg| configure(cfg, state()))).await;
        let doc = openapi::ApiDoc::openapi();
        let mut checked = 0;
        for (path, item) in &doc.paths.paths {
            let concrete = path
                .replace("{id}", "x")
                .replace("{conexao_id}", "x")
                .replace("{canal}", "x");
            let methods = [
                ("get", item.get.is_some()),
                ("post", item.post.is_some()),
                ("delete", item.delete.is_some()),
            ];
            for (method, present) in methods {
                if !present {
                    continue;
                }
                let req = match method {
                    "get" => test::TestRequest::get(),
                    "delete" => test::TestRequest::delete(),
                    _ => test::TestRequest::post(),
                };
                let res = test::call_service(&app, req.uri(&concrete).to_request()).await;
                checked += 1;
                if res
                    .headers()
                    .get("content-type")
                    .is_some_and(|t| t == "text/event-stream")
                {
                    // A stream that never ends: served, then.
                    continue;
                }
                let body = test::read_body(res).await;
                let text = String::from_utf8_lossy(&body);
                assert!(
                    !text.contains("no route for"),
                    "{method} {path} is documented but not mounted"
                );
            }
        }
        assert_eq!(checked, 31);
    }

    #[actix_rt::test]
    async fn the_routes_mount_inside_another_application_beside_its_own() {
        let app = test::init_service(
            App::new()
                .route("/theirs", web::get().to(|| async { "their route" }))
                .configure(|cfg| configure(cfg, state())),
        )
        .await;
        let theirs =
            test::call_service(&app, test::TestRequest::get().uri("/theirs").to_request()).await;
        assert_eq!(test::read_body(theirs).await, "their route");
        let ours =
            test::call_service(&app, test::TestRequest::get().uri("/healthz").to_request()).await;
        assert!(ours.status().is_success());
    }

    #[actix_rt::test]
    async fn extractor_failures_are_problem_documents() {
        let app = test::init_service(App::new().configure(|cfg| configure(cfg, state()))).await;
        let cases = [
            (
                test::TestRequest::post()
                    .uri("/messages")
                    .insert_header(("content-type", "text/plain"))
                    .set_payload("x"),
                415,
            ),
            (
                test::TestRequest::post()
                    .uri("/messages")
                    .insert_header(("content-type", "application/json"))
                    .set_payload("{"),
                400,
            ),
            (test::TestRequest::get().uri("/alerts?skip=many"), 400),
            (test::TestRequest::get().uri("/nowhere"), 404),
        ];
        for (req, status) in cases {
            let res = test::call_service(&app, req.to_request()).await;
            assert_eq!(res.status().as_u16(), status);
            assert_eq!(
                res.headers().get("content-type").unwrap(),
                "application/problem+json"
            );
            let body: serde_json::Value =
                serde_json::from_slice(&test::read_body(res).await).unwrap();
            assert_eq!(body["status"], status);
            assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()));
        }
    }
}
