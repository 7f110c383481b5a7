//! `/metrics`.

use actix_web::http::header;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use integra_domain::{MetricQuery, Metrica, NovaMetrica, TimeRange, TipoMetrica, ValidationError};
use serde::Deserialize;
use serde_json::Value;
use utoipa::IntoParams;

use super::{optional, timestamp};
use crate::responses::{BodyRejected, QueryRejected, StoreFailed, Unauthorized};
use crate::{extract, ApiError, AppState, JsonBody};

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Records one sample, or an array of up to 1000 validated whole: an invalid item (its index named
/// in `field`), another tipo for a name, or too many series is a 422 and stores nothing.
#[utoipa::path(
    tag = "metrics",
    request_body(content = NovaMetrica, description = "One sample, or an array of up to 1000"),
    responses(
        (status = 201, description = "What was stored (an object for an object, an array for an array)", body = [Metrica]),
        Unauthorized,
        BodyRejected,
        StoreFailed,
    )
)]
#[post("/metrics")]
pub(crate) async fn record_metrics(
    state: web::Data<AppState>,
    body: JsonBody<Value>,
) -> Result<HttpResponse, ApiError> {
    Ok(match &body.0 {
        Value::Array(_) => {
            let batch: Vec<NovaMetrica> = extract::from_value(body.0)?;
            HttpResponse::Created().json(state.metrics.record_batch(batch).await?)
        }
        Value::Object(_) => {
            let one: NovaMetrica = extract::from_value(body.0)?;
            HttpResponse::Created().json(state.metrics.record(one).await?)
        }
        _ => {
            return Err(ValidationError::new(
                "body",
                "expected a sample object or an array of them",
            )
            .into())
        }
    })
}

/// The filters of a sample query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct MetricParams {
    /// One metric name; every name when absent.
    nome: Option<String>,
    /// `gauge`, `counter` or `histogram`.
    tipo: Option<String>,
    /// At or after (RFC 3339).
    start_time: Option<String>,
    /// At or before (RFC 3339).
    end_time: Option<String>,
    /// At most this many samples, up to 10000 (default 1000).
    limit: Option<String>,
}

/// Samples in ascending timestamp, the range inclusive; with `Accept: application/openmetrics-text`
/// or `text/plain`, the exposition instead.
#[utoipa::path(
    tag = "metrics",
    params(MetricParams),
    responses(
        (status = 200, body = [Metrica]),
        (status = 200, description = "The exposition, when asked for by Accept", body = String, content_type = "application/openmetrics-text"),
        Unauthorized,
        QueryRejected,
        StoreFailed,
    )
)]
#[get("/metrics")]
pub(crate) async fn query_metrics(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<MetricParams>,
) -> Result<HttpResponse, ApiError> {
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if accept.contains("application/openmetrics-text") {
        return Ok(exposition(&state, OPENMETRICS));
    }
    if accept.contains("text/plain") && !accept.contains("application/json") {
        return Ok(exposition(&state, PROMETHEUS_TEXT));
    }
    let nome = query
        .nome
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_owned);
    let tipo = optional(
        "tipo",
        query.tipo.as_deref(),
        TipoMetrica::parse,
        "gauge, counter or histogram",
    )?;
    let periodo = TimeRange::new(
        timestamp("start_time", query.start_time.as_deref())?,
        timestamp("end_time", query.end_time.as_deref())?,
    )?;
    let limit = optional(
        "limit",
        query.limit.as_deref(),
        |v| v.parse::<usize>().ok(),
        "a whole number",
    )?
    .unwrap_or(MetricQuery::DEFAULT_LIMIT);
    let metric_query = MetricQuery::new(nome, tipo, periodo, limit)?;
    Ok(HttpResponse::Ok().json(state.metrics.query(&metric_query).await?))
}

/// The OpenMetrics exposition of every recorded series and of the service's own metrics.
#[utoipa::path(
    tag = "metrics",
    responses((status = 200, body = String, content_type = "application/openmetrics-text"))
)]
#[get("/metrics/prometheus")]
pub(crate) async fn prometheus_exposition(state: web::Data<AppState>) -> HttpResponse {
    exposition(&state, OPENMETRICS)
}

fn exposition(state: &AppState, content_type: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type))
        .body(state.metrics.exposition())
}
