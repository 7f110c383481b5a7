//! The routes, one module per service.

mod alerts;
mod messages;
mod metrics;
mod ops;
mod ws;

use actix_web::web;
use integra_domain::{Paging, Timestamp};

use crate::ApiError;

pub(crate) use alerts::*;
pub(crate) use messages::*;
pub(crate) use metrics::*;
pub(crate) use ops::*;
pub(crate) use ws::*;

/// Registers every route.
pub(crate) fn register(cfg: &mut web::ServiceConfig) {
    cfg.service(send_message)
        .service(get_message)
        .service(list_messages)
        .service(record_metrics)
        .service(query_metrics)
        .service(prometheus_exposition)
        .service(create_alert)
        .service(resolve_alert)
        .service(get_alert)
        .service(list_alerts)
        .service(upgrade)
        .service(broadcast)
        .service(send_personal)
        .service(healthz)
        .service(readyz);
}

/// An optional query value; an empty one counts as absent.
fn optional<T>(
    field: &str,
    value: Option<&str>,
    parse: impl FnOnce(&str) -> Option<T>,
    expected: &str,
) -> Result<Option<T>, ApiError> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => parse(v)
            .map(Some)
            .ok_or_else(|| ApiError::BadRequest(format!("{field}: `{v}` is not {expected}"))),
    }
}

/// An RFC 3339 query value. A `+` of an offset that was not percent-encoded arrives as a space.
fn timestamp(field: &str, value: Option<&str>) -> Result<Option<Timestamp>, ApiError> {
    optional(
        field,
        value,
        |v| Timestamp::parse(&v.replace(' ', "+")).ok(),
        "an RFC 3339 timestamp",
    )
}

/// `skip` (≥ 0, default 0) and `limit` (1 to [`Paging::MAX_LIMIT`], default
/// [`Paging::DEFAULT_LIMIT`]).
fn paging(skip: Option<&str>, limit: Option<&str>) -> Result<Paging, ApiError> {
    let skip = optional(
        "skip",
        skip,
        |v| v.parse::<usize>().ok(),
        "a whole number ≥ 0",
    )?
    .unwrap_or(0);
    let limit = optional(
        "limit",
        limit,
        |v| v.parse::<usize>().ok(),
        "a whole number",
    )?
    .unwrap_or(Paging::DEFAULT_LIMIT);
    Ok(Paging::new(skip, limit)?)
}

/// `true` or `false`.
fn boolean(field: &str, value: Option<&str>) -> Result<Option<bool>, ApiError> {
    optional(field, value, |v| v.parse::<bool>().ok(), "true or false")
}
