//! `/rules`.

use actix_web::http::header;
use actix_web::{delete, get, post, web, HttpResponse};
use integra_domain::{NovaRegra, Regra};

use crate::responses::{BodyRejected, Conflict, NotFound, StoreFailed, Unauthorized};
use crate::{ApiError, AppState, JsonBody};

/// Makes a rule over a metric's series: while a series' latest sample has met the condition for
/// `por_segundos`, the alert `regra:{id}:{series}` is open; a later sample that does not meet it
/// resolves the alert. Each opening and resolution is notified to every `notificar` entry. The
/// same id again with the same definition answers the stored rule.
#[utoipa::path(
    tag = "rules",
    request_body = NovaRegra,
    responses(
        (status = 201, description = "Made", body = Regra),
        (status = 200, description = "Same id, same definition: the stored one", body = Regra),
        Unauthorized,
        BodyRejected,
        Conflict,
        StoreFailed,
    )
)]
#[post("/rules")]
pub(crate) async fn create_rule(
    state: web::Data<AppState>,
    body: JsonBody<NovaRegra>,
) -> Result<HttpResponse, ApiError> {
    let (made, rule) = state.rules.create(body.0).await?;
    Ok(if made {
        HttpResponse::Created()
            .insert_header((header::LOCATION, format!("/rules/{}", rule.id)))
            .json(rule)
    } else {
        HttpResponse::Ok().json(rule)
    })
}

/// Lists the rules, newest first, each with its `estado` and the series pending or firing.
#[utoipa::path(
    tag = "rules",
    responses((status = 200, body = [Regra]), Unauthorized, StoreFailed)
)]
#[get("/rules")]
pub(crate) async fn list_rules(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.rules.list().await?))
}

/// Reads one rule, with its `estado` and the series pending or firing.
#[utoipa::path(
    tag = "rules",
    params(("id" = String, Path, description = "The rule id")),
    responses((status = 200, body = Regra), Unauthorized, NotFound, StoreFailed)
)]
#[get("/rules/{id}")]
pub(crate) async fn get_rule(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.rules.get(&id).await?))
}

/// Deletes a rule; the alerts it opened stay as they are.
#[utoipa::path(
    tag = "rules",
    params(("id" = String, Path, description = "The rule id")),
    responses(
        (status = 204, description = "Deleted"),
        Unauthorized,
        NotFound,
        StoreFailed,
    )
)]
#[delete("/rules/{id}")]
pub(crate) async fn delete_rule(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state.rules.delete(&id).await?;
    Ok(HttpResponse::NoContent().finish())
}
