//! The routes, one module per service.

mod alerts;
mod channels;
mod messages;
mod metrics;
mod ops;
mod rules;
mod silences;
mod ui;
mod ws;

use actix_web::web;
use integra_domain::{Paging, Timestamp};

use crate::ApiError;

pub(crate) use alerts::*;
pub(crate) use channels::*;
pub(crate) use messages::*;
pub(crate) use metrics::*;
pub(crate) use ops::*;
pub(crate) use rules::*;
pub(crate) use silences::*;
pub(crate) use ui::*;
pub(crate) use ws::*;

/// Registers every route.
pub(crate) fn register(cfg: &mut web::ServiceConfig) {
    // actix tries the resources in the order they are registered, and a path with a `{segment}`
    // is matched by a regular expression: the routes of fixed paths, the ingest first, come
    // before those with segments, so that no write pays for the reads' patterns. (No fixed path
    // here is also matched by a pattern, so the order changes no route's answer.)
    cfg.service(send_message)
        .service(record_metrics)
        .service(create_alert)
        .service(list_messages)
        .service(query_metrics)
        .service(prometheus_exposition)
        .service(list_alerts)
        .service(create_silence)
        .service(list_silences)
        .service(create_rule)
        .service(list_rules)
        .service(upgrade)
        .service(broadcast)
        .service(dashboard)
        .service(healthz)
        .service(readyz)
        .service(get_message)
        .service(resolve_alert)
        .service(acknowledge_alert)
        .service(get_alert)
        .service(get_silence)
        .service(end_silence)
        .service(get_rule)
        .service(delete_rule)
        .service(send_personal)
        .service(publish)
        .service(history)
        .service(events)
        .service(channel)
        .service(dashboard_asset);
}

/// A 200 answer of JSON already written: a page the store wrote (records passed through
/// unparsed), or a value encoded once for its events and its answer.
fn json_body(json: String) -> actix_web::HttpResponse {
    actix_web::HttpResponse::Ok()
        .content_type(actix_web::http::header::ContentType::json())
        .body(json)
}

/// A query value, when present: it must be well-formed (an empty one is not).
fn value<T>(
    field: &str,
    value: Option<&str>,
    parse: impl FnOnce(&str) -> Option<T>,
    expected: &str,
) -> Result<Option<T>, ApiError> {
    match value {
        None => Ok(None),
        Some(v) => parse(v)
            .map(Some)
            .ok_or_else(|| ApiError::BadRequest(format!("{field}: `{v}` is not {expected}"))),
    }
}

/// A filter's query value: absent or empty is no filter (`?tipo=&status=` lists everything).
fn filter<T>(
    field: &str,
    given: Option<&str>,
    parse: impl FnOnce(&str) -> Option<T>,
    expected: &str,
) -> Result<Option<T>, ApiError> {
    value(field, given.filter(|v| !v.is_empty()), parse, expected)
}

/// A whole number written in digits alone; one past what this machine counts is its largest (a
/// skip past every record is an empty page, a limit past the maximum is refused as such).
fn whole(text: &str) -> Option<usize> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(text.parse().unwrap_or(usize::MAX))
}

/// An RFC 3339 query value. A `+` of an offset that was not percent-encoded arrives as a space.
fn timestamp(field: &str, given: Option<&str>) -> Result<Option<Timestamp>, ApiError> {
    value(
        field,
        given,
        |v| Timestamp::parse(&v.replace(' ', "+")).ok(),
        "an RFC 3339 timestamp",
    )
}

/// `skip` (≥ 0, default 0) and `limit` (1 to [`Paging::MAX_LIMIT`], default
/// [`Paging::DEFAULT_LIMIT`]).
fn paging(skip: Option<&str>, limit: Option<&str>) -> Result<Paging, ApiError> {
    let skip = value("skip", skip, whole, "a whole number ≥ 0")?.unwrap_or(0);
    let limit = value("limit", limit, whole, "a whole number")?.unwrap_or(Paging::DEFAULT_LIMIT);
    Ok(Paging::new(skip, limit)?)
}

/// `true` or `false`; absent or empty is no filter.
fn boolean(field: &str, given: Option<&str>) -> Result<Option<bool>, ApiError> {
    filter(field, given, |v| v.parse::<bool>().ok(), "true or false")
}

/// The schemas of query values, for the OpenAPI document.
pub(crate) mod schemas {
    use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};

    use integra_domain::{
        MetricQuery, Paging, Severidade, StatusMensagem, TipoMensagem, TipoMetrica,
    };

    /// One of `values`, or empty (no filter).
    fn filter(values: impl IntoIterator<Item = &'static str>) -> Schema {
        let values: Vec<&str> = values.into_iter().chain([""]).collect();
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(values))
            .build()
            .into()
    }

    fn whole(min: usize, max: Option<usize>) -> Schema {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(min))
            .maximum(max)
            .build()
            .into()
    }

    pub(crate) fn tipo_mensagem() -> Schema {
        filter(TipoMensagem::ALL.map(TipoMensagem::as_str))
    }

    pub(crate) fn status_mensagem() -> Schema {
        filter(StatusMensagem::ALL.map(StatusMensagem::as_str))
    }

    pub(crate) fn severidade() -> Schema {
        filter(Severidade::ALL.map(Severidade::as_str))
    }

    pub(crate) fn tipo_metrica() -> Schema {
        filter(TipoMetrica::ALL.map(TipoMetrica::as_str))
    }

    pub(crate) fn resolvido() -> Schema {
        filter(["true", "false"])
    }

    pub(crate) fn nome() -> Schema {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some("^([a-zA-Z_:][a-zA-Z0-9_:]*)?$"))
            .max_length(Some(200))
            .build()
            .into()
    }

    pub(crate) fn skip() -> Schema {
        whole(0, None)
    }

    pub(crate) fn limit() -> Schema {
        whole(1, Some(Paging::MAX_LIMIT))
    }

    /// A channel offset: a whole number ≥ 0 (one past the largest is the largest).
    pub(crate) fn offset() -> Schema {
        whole(0, None)
    }

    pub(crate) fn metric_limit() -> Schema {
        whole(1, Some(MetricQuery::MAX_LIMIT))
    }

    pub(crate) fn date_time() -> Schema {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
            .build()
            .into()
    }
}
