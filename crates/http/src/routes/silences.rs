//! `/silences`.

use actix_web::http::header;
use actix_web::{delete, get, post, web, HttpResponse};
use integra_domain::{NovoSilencio, Silencio};
use serde::Deserialize;
use utoipa::IntoParams;

use super::{boolean, schemas};
use crate::responses::{
    BodyRejected, Conflict, NotFound, QueryRejected, StoreFailed, Unauthorized,
};
use crate::{ApiError, AppState, JsonBody};

/// Makes a silence: alerts opened or reopened while it is in force and matches them are stored
/// `silenciado` and send no notification. The same id again with the same matchers and end
/// answers the stored silence.
#[utoipa::path(
    tag = "alerts",
    request_body = NovoSilencio,
    responses(
        (status = 201, description = "Made", body = Silencio),
        (status = 200, description = "Same id, same matchers and end: the stored one", body = Silencio),
        Unauthorized,
        BodyRejected,
        Conflict,
        StoreFailed,
    )
)]
#[post("/silences")]
pub(crate) async fn create_silence(
    state: web::Data<AppState>,
    body: JsonBody<NovoSilencio>,
) -> Result<HttpResponse, ApiError> {
    let (made, silence) = state.silences.create(body.0).await?;
    Ok(if made {
        HttpResponse::Created()
            .insert_header((header::LOCATION, format!("/silences/{}", silence.id)))
            .json(silence)
    } else {
        HttpResponse::Ok().json(silence)
    })
}

/// The filter of a silence list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct SilenceParams {
    /// `true`: in force now; `false`: ended or not begun; empty is no filter.
    #[param(schema_with = schemas::resolvido)]
    ativo: Option<String>,
}

/// Lists silences, newest first.
#[utoipa::path(
    tag = "alerts",
    params(SilenceParams),
    responses(
        (status = 200, body = [Silencio]),
        Unauthorized,
        QueryRejected,
        StoreFailed,
    )
)]
#[get("/silences")]
pub(crate) async fn list_silences(
    state: web::Data<AppState>,
    query: web::Query<SilenceParams>,
) -> Result<HttpResponse, ApiError> {
    let ativo = boolean("ativo", query.ativo.as_deref())?;
    Ok(HttpResponse::Ok().json(state.silences.list(ativo).await?))
}

/// Reads one silence.
#[utoipa::path(
    tag = "alerts",
    params(("id" = String, Path, description = "The silence id")),
    responses((status = 200, body = Silencio), Unauthorized, NotFound, StoreFailed)
)]
#[get("/silences/{id}")]
pub(crate) async fn get_silence(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.silences.get(&id).await?))
}

/// Ends a silence now; it is kept, ended (`fim` is when it ended).
#[utoipa::path(
    tag = "alerts",
    params(("id" = String, Path, description = "The silence id")),
    responses((status = 200, body = Silencio), Unauthorized, NotFound, Conflict, StoreFailed)
)]
#[delete("/silences/{id}")]
pub(crate) async fn end_silence(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.silences.end(&id).await?))
}
