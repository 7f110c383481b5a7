//! Probes.

use crate::{AppState, Problem};
use actix_web::http::StatusCode;
use actix_web::{get, web, HttpResponse};
use integra_services::Check;
use serde::Serialize;
use serde_json::json;

/// 200 while the process serves.
#[utoipa::path(tag = "operations", security(()), responses((status = 200, description = "Serving")))]
#[get("/healthz")]
pub(crate) async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// Each check as `ok` or what fails.
#[derive(Serialize)]
struct Checks {
    store: String,
    bus: String,
    subscription: String,
}

/// The 503 answer of `/readyz`: a problem with every check.
#[derive(Serialize)]
struct Unready {
    #[serde(flatten)]
    problem: Problem,
    checks: Checks,
}

/// 200 when the store, the bus and the fan-out subscription work; 503 naming the one that fails.
#[utoipa::path(
    tag = "operations",
    security(()),
    responses(
        (status = 200, description = "Every dependency answers"),
        (status = 503, description = "Names the dependency that fails", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/readyz")]
pub(crate) async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let readiness = state.health.readiness().await;
    let label = |check: &Check| {
        check
            .as_ref()
            .map_or_else(Clone::clone, |()| "ok".to_owned())
    };
    let checks = Checks {
        store: label(&readiness.store),
        bus: label(&readiness.bus),
        subscription: label(&readiness.subscription),
    };
    match readiness.failure() {
        None => HttpResponse::Ok().json(json!({"status": "ready", "checks": checks})),
        Some(failure) => {
            let status = StatusCode::SERVICE_UNAVAILABLE;
            let problem = Problem::new(status, "not_ready", failure.to_owned());
            HttpResponse::build(status)
                .content_type("application/problem+json")
                .json(Unready { problem, checks })
        }
    }
}
