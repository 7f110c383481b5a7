//! `/messages`.

use actix_web::http::header;
use actix_web::{get, post, web, HttpResponse};
use integra_domain::{Mensagem, MessageFilter, NovaMensagem, StatusMensagem, TipoMensagem};
use integra_services::Sent;
use serde::Deserialize;
use utoipa::IntoParams;

use super::{filter, json_body, paging, schemas};
use crate::responses::{
    BodyRejected, BusFailed, Conflict, NotFound, QueryRejected, StoreFailed, Unauthorized,
};
use crate::{ApiError, AppState, JsonBody};

/// Sends a message: stored `PROCESSANDO`, published to `messages.{tipo}`, stored with its outcome.
/// When the bus fails the message is stored `ERRO` and the answer's `id` names it; an id reused
/// for another message is a 422.
#[utoipa::path(
    tag = "messages",
    request_body = NovaMensagem,
    responses(
        (status = 201, description = "Published now", body = Mensagem, headers(("Location" = String, description = "/messages/{id}"))),
        (status = 200, description = "Already published: nothing sent again", body = Mensagem, headers(("Idempotent-Replayed" = String, description = "true"))),
        Unauthorized,
        BodyRejected,
        Conflict,
        BusFailed,
        StoreFailed,
    )
)]
#[post("/messages")]
pub(crate) async fn send_message(
    state: web::Data<AppState>,
    body: JsonBody<NovaMensagem>,
) -> Result<HttpResponse, ApiError> {
    let (mut answer, m) = match state.messages.send(body.0).await? {
        Sent::Created(m) => {
            let mut created = HttpResponse::Created();
            created.insert_header((header::LOCATION, format!("/messages/{}", m.id)));
            (created, m)
        }
        Sent::Replayed(m) => {
            let mut replayed = HttpResponse::Ok();
            replayed.insert_header(("Idempotent-Replayed", "true"));
            (replayed, m)
        }
    };
    Ok(answer
        .content_type(header::ContentType::json())
        .body(m.into_json()))
}

/// Reads one message.
#[utoipa::path(
    tag = "messages",
    params(("id" = String, Path, description = "The message id")),
    responses(
        (status = 200, body = Mensagem),
        Unauthorized,
        NotFound,
        StoreFailed,
    )
)]
#[get("/messages/{id}")]
pub(crate) async fn get_message(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(json_body(state.messages.get(&id).await?.into_json()))
}

/// The filters and page of a message list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct MessageParams {
    /// `email`, `sms`, `push` or `webhook`; empty is no filter.
    #[param(schema_with = schemas::tipo_mensagem)]
    tipo: Option<String>,
    /// `PENDENTE`, `PROCESSANDO`, `CONCLUIDA` or `ERRO`; empty is no filter.
    #[param(schema_with = schemas::status_mensagem)]
    status: Option<String>,
    /// How many to pass over (default 0).
    #[param(schema_with = schemas::skip)]
    skip: Option<String>,
    /// How many to return, 1 to 1000 (default 100).
    #[param(schema_with = schemas::limit)]
    limit: Option<String>,
}

/// Lists messages, newest `criado_em` first (ties by id descending).
#[utoipa::path(
    tag = "messages",
    params(MessageParams),
    responses(
        (status = 200, body = [Mensagem]),
        Unauthorized,
        QueryRejected,
        StoreFailed,
    )
)]
#[get("/messages")]
pub(crate) async fn list_messages(
    state: web::Data<AppState>,
    query: web::Query<MessageParams>,
) -> Result<HttpResponse, ApiError> {
    let filter = MessageFilter {
        tipo: filter(
            "tipo",
            query.tipo.as_deref(),
            TipoMensagem::parse,
            "email, sms, push or webhook",
        )?,
        status: filter(
            "status",
            query.status.as_deref(),
            StatusMensagem::parse,
            "PENDENTE, PROCESSANDO, CONCLUIDA or ERRO",
        )?,
    };
    let paging = paging(query.skip.as_deref(), query.limit.as_deref())?;
    Ok(json_body(state.messages.list_json(filter, paging).await?))
}
