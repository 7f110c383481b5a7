//! Request middleware: API-key authentication, request metrics with labels from fixed sets, and
//! HEAD answered as GET.

use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, Method};
use actix_web::middleware::Next;
use actix_web::{web, Error, ResponseError};

use crate::{ApiError, AppState};

/// Routes open without a key: probes and the scrape endpoint (the dashboard's page and assets
/// are open too: `routes::is_dashboard`).
const OPEN_ROUTES: [&str; 3] = ["/healthz", "/readyz", "/metrics/prometheus"];

/// Refuses requests without a valid `Authorization: Bearer <key>` (or `?token=<key>` on `/ws` and
/// the SSE streams)
/// when keys are configured.
pub async fn authenticate(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let keys = req
        .app_data::<web::Data<AppState>>()
        .map(|s| s.settings.api_keys.clone())
        .unwrap_or_default();
    if keys.is_empty()
        || OPEN_ROUTES.contains(&req.path())
        || crate::routes::is_dashboard(req.path())
        || presented_key(&req).is_some_and(|k| keys.iter().any(|key| same(key, &k)))
    {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    }
    Ok(req.into_response(ApiError::Unauthorized.error_response()))
}

fn presented_key(req: &ServiceRequest) -> Option<String> {
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(|k| k.trim().to_owned());
    bearer.or_else(|| {
        takes_token(req.path()).then(|| {
            web::Query::<std::collections::HashMap<String, String>>::from_query(req.query_string())
                .ok()
                .and_then(|q| q.get("token").cloned())
        })?
    })
}

/// Whether a route takes its key as `?token=` too: the WebSocket and the SSE streams, which
/// browsers open without headers of their own.
fn takes_token(path: &str) -> bool {
    path == "/ws"
        || path
            .strip_prefix("/channels/")
            .and_then(|rest| rest.strip_suffix("/events"))
            .is_some_and(|canal| !canal.is_empty() && !canal.contains('/'))
}

/// Compares without leaking, through timing, how much of a key matched.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// A request's method as a metric label: one of the methods HTTP defines, else `OTHER`. A label
/// taken from what the client sent would let it grow the exposition without end.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "OTHER",
    }
}

/// Routes a HEAD request as a GET. The connection still knows it was HEAD and sends the GET's
/// headers (its `Content-Length` included) without the body.
pub async fn head_as_get(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    if req.method() == Method::HEAD {
        req.head_mut().method = Method::GET;
    }
    next.call(req).await
}

/// Counts every request by method, route pattern and status, with its latency. Every label comes
/// from a fixed set: a method HTTP defines (else `OTHER`), a mounted route's pattern (else
/// `unmatched`), a status.
pub async fn track(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let method = method_label(req.method());
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let response = next.call(req).await;
    if let Some(state) = state {
        let (status, route) = match &response {
            Ok(r) => (
                r.status().as_u16(),
                r.request()
                    .match_pattern()
                    .unwrap_or_else(|| "unmatched".to_owned()),
            ),
            Err(e) => (
                e.as_response_error().status_code().as_u16(),
                "unmatched".to_owned(),
            ),
        };
        state
            .metrics
            .observe_request(method, &route, status, started.elapsed().as_secs_f64());
    }
    response
}
