//! `/metrics`.

use actix_web::http::header;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use integra_domain::{MetricQuery, Metrica, NovaMetrica, TimeRange, TipoMetrica};
use integra_services::MAX_BATCH;
use std::fmt;

use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use utoipa::openapi::schema::{ArrayBuilder, OneOfBuilder, Schema};
use utoipa::openapi::RefOr;
use utoipa::{IntoParams, ToSchema};

use super::{filter, schemas, timestamp, value, whole};
use crate::responses::{BodyRejected, QueryRejected, StoreFailed, Unauthorized};
use crate::{ApiError, AppState, JsonBody};

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The body of `POST /metrics`: one sample, or an array of 1 to 1000.
#[derive(Debug)]
pub(crate) enum Samples {
    /// One sample, answered with one.
    One(NovaMetrica),
    /// A batch, answered with an array.
    Many(Vec<NovaMetrica>),
}

impl<'de> Deserialize<'de> for Samples {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(SamplesVisitor)
    }
}

/// Reads an object as one sample and an array as a batch, straight from the body (serde's
/// `untagged` would buffer the whole body first).
struct SamplesVisitor;

impl<'de> Visitor<'de> for SamplesVisitor {
    type Value = Samples;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a sample object or an array of them")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Samples, A::Error> {
        NovaMetrica::deserialize(MapAccessDeserializer::new(map)).map(Samples::One)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Samples, A::Error> {
        Vec::deserialize(SeqAccessDeserializer::new(seq)).map(Samples::Many)
    }
}

impl utoipa::PartialSchema for Samples {
    fn schema() -> RefOr<Schema> {
        let batch = ArrayBuilder::new()
            .items(NovaMetrica::schema())
            .min_items(Some(1))
            .max_items(Some(MAX_BATCH));
        let one_of = OneOfBuilder::new()
            .item(NovaMetrica::schema())
            .item(batch)
            .build();
        RefOr::T(Schema::OneOf(one_of))
    }
}

impl ToSchema for Samples {}

/// What was stored: an object for an object, an array for an array (documentation only).
#[derive(ToSchema)]
#[allow(dead_code, reason = "documentation only: never built, read by utoipa")]
#[serde(untagged)]
pub(crate) enum Stored {
    /// The sample.
    One(Metrica),
    /// The batch.
    Many(Vec<Metrica>),
}

/// Records one sample, or an array of up to 1000 validated whole: an invalid item (its index named
/// in `field`), another tipo for a name, an exposition that collides with another name's, or a
/// cap reached is a 422 and stores nothing.
#[utoipa::path(
    tag = "metrics",
    request_body(content = Samples, description = "One sample, or an array of up to 1000"),
    responses(
        (status = 201, description = "What was stored (an object for an object, an array for an array)", body = Stored),
        Unauthorized,
        BodyRejected,
        StoreFailed,
    )
)]
#[post("/metrics")]
pub(crate) async fn record_metrics(
    state: web::Data<AppState>,
    body: JsonBody<Samples>,
) -> Result<HttpResponse, ApiError> {
    let json = match body.0 {
        Samples::Many(batch) => Metrica::json_array(&state.metrics.record_batch(batch).await?),
        Samples::One(one) => {
            let mut json = Vec::with_capacity(160);
            state.metrics.record(one).await?.write_json(&mut json);
            json
        }
    };
    Ok(HttpResponse::Created()
        .content_type(header::ContentType::json())
        .body(json))
}

/// The filters of a sample query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct MetricParams {
    /// One metric name; every name when absent or empty.
    #[param(schema_with = schemas::nome)]
    nome: Option<String>,
    /// `gauge`, `counter` or `histogram`; empty is no filter.
    #[param(schema_with = schemas::tipo_metrica)]
    tipo: Option<String>,
    /// At or after (RFC 3339).
    #[param(schema_with = schemas::date_time)]
    start_time: Option<String>,
    /// At or before (RFC 3339).
    #[param(schema_with = schemas::date_time)]
    end_time: Option<String>,
    /// At most this many samples, up to 10000 (default 1000).
    #[param(schema_with = schemas::metric_limit)]
    limit: Option<String>,
}

/// Samples in ascending timestamp, the range inclusive; with `Accept: application/openmetrics-text`
/// or `text/plain`, the exposition instead.
#[utoipa::path(
    tag = "metrics",
    params(MetricParams),
    responses(
        (status = 200, description = "The samples in ascending timestamp; with `Accept: application/openmetrics-text` or `text/plain`, the exposition instead", content(
            (Vec<Metrica> = "application/json"),
            (String = "application/openmetrics-text"),
            (String = "text/plain"),
        )),
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
        .filter(|n| !n.is_empty())
        .map(str::to_owned);
    let tipo = filter(
        "tipo",
        query.tipo.as_deref(),
        TipoMetrica::parse,
        "gauge, counter or histogram",
    )?;
    let periodo = TimeRange::new(
        timestamp("start_time", query.start_time.as_deref())?,
        timestamp("end_time", query.end_time.as_deref())?,
    )?;
    let limit = value("limit", query.limit.as_deref(), whole, "a whole number")?
        .unwrap_or(MetricQuery::DEFAULT_LIMIT);
    let metric_query = MetricQuery::new(nome, tipo, periodo, limit)?;
    Ok(HttpResponse::Ok()
        .content_type(header::ContentType::json())
        .body(Metrica::json_array(
            &state.metrics.query(&metric_query).await?,
        )))
}

/// The OpenMetrics exposition of every recorded series and of the service's own metrics.
#[utoipa::path(
    tag = "metrics",
    security(()),
    responses((status = 200, description = "OpenMetrics text", body = String, content_type = "application/openmetrics-text"))
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
