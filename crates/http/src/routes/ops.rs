//! Probes, the OpenAPI document, and the HTTP side of the WebSocket hub.

use actix_web::{get, post, web, HttpResponse};
use serde::Deserialize;
use serde_json::json;
use utoipa::{OpenApi, ToSchema};

use crate::openapi::answers::{BodyRejected, BusFailed, NotFound, StoreFailed, Unauthorized};
use crate::openapi::{ApiDoc, Problem};
use crate::{ApiError, AppState, JsonBody};

/// A text for WebSocket clients.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Texto {
    /// Sent as is, as one text frame.
    texto: String,
}

/// Sends a text to every connection on every instance.
#[utoipa::path(
    tag = "websocket",
    request_body = Texto,
    responses(
        (status = 202, description = "Sent to every connection"),
        Unauthorized,
        BodyRejected,
        BusFailed,
    )
)]
#[post("/ws/broadcast")]
pub(crate) async fn broadcast(
    state: web::Data<AppState>,
    body: JsonBody<Texto>,
) -> Result<HttpResponse, ApiError> {
    state.hub.broadcast(&body.0.texto).await?;
    Ok(HttpResponse::Accepted().finish())
}

/// Sends a text to one connection, on whichever instance holds it; 404 when no instance does.
#[utoipa::path(
    tag = "websocket",
    params(("conexao_id" = String, Path, description = "From the connection's `conectado` event")),
    request_body = Texto,
    responses(
        (status = 202, description = "Sent to that connection"),
        Unauthorized,
        NotFound,
        BodyRejected,
        BusFailed,
        StoreFailed,
    )
)]
#[post("/ws/connections/{conexao_id}/messages")]
pub(crate) async fn send_personal(
    state: web::Data<AppState>,
    conexao_id: web::Path<String>,
    body: JsonBody<Texto>,
) -> Result<HttpResponse, ApiError> {
    state.hub.send_to(&conexao_id, &body.0.texto).await?;
    Ok(HttpResponse::Accepted().finish())
}

/// 200 while the process serves.
#[utoipa::path(tag = "operations", responses((status = 200, description = "Serving")))]
#[get("/healthz")]
pub(crate) async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// 200 when the store, the bus and the fan-out subscription work; 503 naming the one that fails.
#[utoipa::path(
    tag = "operations",
    responses(
        (status = 200, description = "Every dependency answers"),
        (status = 503, description = "Names the dependency that fails", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/readyz")]
pub(crate) async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let timeout = state.settings.readiness_timeout;
    let store = match tokio::time::timeout(timeout, state.ports.store.ping()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(format!("store unreachable: {e}")),
        Err(_) => Err("store unreachable: no answer in time".to_owned()),
    };
    let bus = match tokio::time::timeout(timeout, state.ports.bus.ping()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(format!("bus unreachable: {e}")),
        Err(_) => Err("bus unreachable: no answer in time".to_owned()),
    };
    let subscription = if state.hub.subscription_healthy() {
        Ok(())
    } else {
        Err(
            "bus subscription stalled: this instance's fan-out heartbeat did not come back"
                .to_owned(),
        )
    };
    let label = |r: &Result<(), String>| r.as_ref().map_or_else(Clone::clone, |()| "ok".to_owned());
    let checks =
        json!({"store": label(&store), "bus": label(&bus), "subscription": label(&subscription)});
    match [store, bus, subscription].into_iter().find_map(Result::err) {
        None => HttpResponse::Ok().json(json!({"status": "ready", "checks": checks})),
        Some(failure) => HttpResponse::ServiceUnavailable().content_type("application/problem+json").json(json!({
            "type": "about:blank", "title": "Service Unavailable", "status": 503, "detail": failure, "checks": checks
        })),
    }
}

/// This document.
#[utoipa::path(tag = "operations", responses((status = 200, description = "The OpenAPI 3.1 document")))]
#[get("/openapi.json")]
pub(crate) async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}
