//! `/alerts`.

use actix_web::http::header;
use actix_web::{get, post, web, HttpResponse};
use integra_domain::{AlertFilter, Alerta, NovoAlerta, Severidade, TimeRange};
use integra_services::AlertOutcome;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::{boolean, filter, json_body, paging, schemas, timestamp};
use crate::extract::OptionalJson;
use crate::responses::{
    BodyRejected, BusFailed, Conflict, NotFound, QueryRejected, StoreFailed, Unauthorized,
};
use crate::{ApiError, AppState, JsonBody, Problem};

/// Raises an alert; the same id while open is deduplicated, while resolved it reopens. When the bus
/// refuses, the alert stays stored and a retry with the same id publishes its event.
#[utoipa::path(
    tag = "alerts",
    request_body = NovoAlerta,
    responses(
        (status = 201, description = "Created; `alerta.criado` published on `alerts`", body = Alerta),
        (status = 200, description = "Same id: deduplicated (open) or reopened (resolved)", body = Alerta),
        Unauthorized,
        BodyRejected,
        Conflict,
        BusFailed,
        StoreFailed,
    )
)]
#[post("/alerts")]
pub(crate) async fn create_alert(
    state: web::Data<AppState>,
    body: JsonBody<NovoAlerta>,
) -> Result<HttpResponse, ApiError> {
    let (outcome, alert) = state.alerts.create(body.0).await?;
    let mut answer = match outcome {
        AlertOutcome::Created => {
            let mut created = HttpResponse::Created();
            created.insert_header((header::LOCATION, format!("/alerts/{}", alert.id)));
            created
        }
        AlertOutcome::Existing | AlertOutcome::Reopened => HttpResponse::Ok(),
    };
    Ok(answer
        .content_type(header::ContentType::json())
        .body(alert.into_json()))
}

/// Resolves an alert; `alerta.resolvido` is published the first time only.
#[utoipa::path(
    tag = "alerts",
    params(("id" = String, Path, description = "The alert id")),
    responses(
        (status = 200, body = Alerta),
        Unauthorized,
        NotFound,
        Conflict,
        BusFailed,
        StoreFailed,
    )
)]
#[post("/alerts/{id}/resolve")]
pub(crate) async fn resolve_alert(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(json_body(state.alerts.resolve(&id).await?.into_json()))
}

/// Who acknowledges an alert.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Reconhecimento {
    /// Who: 1 to 200 characters.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 200)]
    por: Option<String>,
}

/// Acknowledges an open alert; `alerta.reconhecido` is published the first time only, and a
/// second acknowledgement keeps the first. The body is optional.
#[utoipa::path(
    tag = "alerts",
    params(("id" = String, Path, description = "The alert id")),
    request_body(content = Option<Reconhecimento>, description = "Optional: who acknowledges"),
    responses(
        (status = 200, body = Alerta),
        Unauthorized,
        NotFound,
        BodyRejected,
        (status = 409, description = "The alert is resolved, or another request publishes its event", body = Problem, content_type = "application/problem+json"),
        BusFailed,
        StoreFailed,
    )
)]
#[post("/alerts/{id}/ack")]
pub(crate) async fn acknowledge_alert(
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: OptionalJson<Reconhecimento>,
) -> Result<HttpResponse, ApiError> {
    let por = match body.0 {
        Some(Reconhecimento { por: Some(por) }) => {
            if !(1..=200).contains(&por.chars().count()) {
                return Err(integra_domain::ValidationError::new(
                    "por",
                    "must have 1 to 200 characters",
                )
                .into());
            }
            Some(por)
        }
        _ => None,
    };
    Ok(json_body(
        state.alerts.acknowledge(&id, por).await?.into_json(),
    ))
}

/// Reads one alert.
#[utoipa::path(
    tag = "alerts",
    params(("id" = String, Path, description = "The alert id")),
    responses(
        (status = 200, body = Alerta),
        Unauthorized,
        NotFound,
        StoreFailed,
    )
)]
#[get("/alerts/{id}")]
pub(crate) async fn get_alert(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(json_body(state.alerts.get(&id).await?.into_json()))
}

/// The filters and page of an alert list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct AlertParams {
    /// `baixa`, `media`, `alta` or `critica`; empty is no filter.
    #[param(schema_with = schemas::severidade)]
    severidade: Option<String>,
    /// `true` or `false`; empty is no filter.
    #[param(schema_with = schemas::resolvido)]
    resolvido: Option<String>,
    /// `true` or `false` (acknowledged or not); empty is no filter.
    #[param(schema_with = schemas::resolvido)]
    reconhecido: Option<String>,
    /// Created at or after (RFC 3339).
    #[param(schema_with = schemas::date_time)]
    start_time: Option<String>,
    /// Created at or before (RFC 3339).
    #[param(schema_with = schemas::date_time)]
    end_time: Option<String>,
    /// How many to pass over (default 0).
    #[param(schema_with = schemas::skip)]
    skip: Option<String>,
    /// How many to return, 1 to 1000 (default 100).
    #[param(schema_with = schemas::limit)]
    limit: Option<String>,
}

/// Lists alerts, newest first; the time range applies to `criado_em`.
#[utoipa::path(
    tag = "alerts",
    params(AlertParams),
    responses(
        (status = 200, body = [Alerta]),
        Unauthorized,
        QueryRejected,
        StoreFailed,
    )
)]
#[get("/alerts")]
pub(crate) async fn list_alerts(
    state: web::Data<AppState>,
    query: web::Query<AlertParams>,
) -> Result<HttpResponse, ApiError> {
    let filter = AlertFilter {
        severidade: filter(
            "severidade",
            query.severidade.as_deref(),
            Severidade::parse,
            "baixa, media, alta or critica",
        )?,
        resolvido: boolean("resolvido", query.resolvido.as_deref())?,
        reconhecido: boolean("reconhecido", query.reconhecido.as_deref())?,
        criado_em: TimeRange::new(
            timestamp("start_time", query.start_time.as_deref())?,
            timestamp("end_time", query.end_time.as_deref())?,
        )?,
    };
    let paging = paging(query.skip.as_deref(), query.limit.as_deref())?;
    Ok(json_body(state.alerts.list_json(filter, paging).await?))
}
