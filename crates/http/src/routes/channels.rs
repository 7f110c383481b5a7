//! `/channels`: publish, read the history, where a channel stands, and its publications as
//! Server-Sent Events.

use std::convert::Infallible;
use std::time::Duration;

use actix_web::web::Bytes;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use futures_util::stream;
use integra_domain::{Canal, Dados, Desde, Paging, Posicao, Publicacao};
use integra_services::{Connection, Mode, Outgoing};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{schemas, value, whole};
use crate::extract::Strict;
use crate::responses::{BodyRejected, BusFailed, QueryRejected, StoreFailed, Unauthorized};
use crate::{ApiError, AppState, JsonBody, Problem};

/// A publication to make.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NovaPublicacao {
    /// Any JSON.
    #[schema(value_type = serde_json::Value)]
    dados: Strict,
}

/// One Server-Sent Event: `inscrito` (its data where the channel stands and `recuperado`), or
/// `publicacao` (its id the offset, its data the publication's JSON).
#[derive(ToSchema)]
#[allow(dead_code, reason = "documentation only: never built, read by utoipa")]
pub(crate) struct EventoSse {
    /// The publication's offset (`publicacao` only).
    id: Option<String>,
    /// `inscrito` or `publicacao`.
    event: String,
    /// JSON: `{"canal", "offset", "epoca", "recuperado"}`, or a publication.
    data: String,
}

/// Where a publication went.
#[derive(Serialize, ToSchema)]
pub(crate) struct Publicado {
    canal: Canal,
    offset: u64,
    epoca: String,
}

/// A page of a channel's history.
#[derive(Serialize, ToSchema)]
pub(crate) struct Publicacoes {
    /// The history these belong to.
    epoca: String,
    /// In ascending offset.
    publicacoes: Vec<Publicacao>,
}

/// Where a channel stands, and how many subscribe to it.
#[derive(Serialize, ToSchema)]
pub(crate) struct CanalInfo {
    canal: Canal,
    offset: u64,
    epoca: String,
    /// Its subscribers on every instance.
    inscritos: u64,
}

fn canal(path: &str) -> Result<Canal, ApiError> {
    Ok(Canal::parse(path)?)
}

/// Publishes on a channel, for its subscribers on every instance. The system channels
/// (`mensagens`, `mensagens.{tipo}`, `alertas`) are the server's; `dados` may take at most
/// `ws.max_frame_bytes` as JSON.
#[utoipa::path(
    tag = "channels",
    params(("canal" = String, Path, description = "The channel")),
    request_body = NovaPublicacao,
    responses(
        (status = 202, description = "Numbered and kept in the history; on its way to subscribers", body = Publicado),
        Unauthorized,
        BodyRejected,
        BusFailed,
        StoreFailed,
    )
)]
#[post("/channels/{canal}/publications")]
pub(crate) async fn publish(
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: JsonBody<NovaPublicacao>,
) -> Result<HttpResponse, ApiError> {
    let canal = Canal::for_clients(&path)?;
    // The body's value, written again by serde: one JSON value.
    let dados = Dados::trusted(body.0.dados.0.to_string());
    // What a WebSocket client may publish in one frame, a publication over HTTP may hold: every
    // subscriber receives it as one frame.
    let max = state.settings.ws.max_frame_bytes;
    if dados.get().len() > max {
        return Err(integra_domain::ValidationError::new(
            "dados",
            format!("over ws.max_frame_bytes ({max} bytes as JSON)"),
        )
        .into());
    }
    let p = state.hub.publish(&canal, dados).await?;
    Ok(HttpResponse::Accepted().json(Publicado {
        canal: p.canal,
        offset: p.offset,
        epoca: p.epoca,
    }))
}

/// The page of a channel's history to read.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct HistoryParams {
    /// The publications after this offset (default 0: from the oldest kept).
    #[param(schema_with = schemas::offset)]
    desde: Option<String>,
    /// How many, 1 to 1000 (default 100).
    #[param(schema_with = schemas::limit)]
    limit: Option<String>,
}

/// A channel's kept publications after an offset, ascending.
#[utoipa::path(
    tag = "channels",
    params(("canal" = String, Path, description = "The channel"), HistoryParams),
    responses(
        (status = 200, body = Publicacoes),
        Unauthorized,
        QueryRejected,
        StoreFailed,
    )
)]
#[get("/channels/{canal}/publications")]
pub(crate) async fn history(
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<HistoryParams>,
) -> Result<HttpResponse, ApiError> {
    let canal = canal(&path)?;
    let desde = offset("desde", query.desde.as_deref())?.unwrap_or(0);
    let limit = value("limit", query.limit.as_deref(), whole, "a whole number")?
        .unwrap_or(Paging::DEFAULT_LIMIT);
    // The same bounds as every list.
    Paging::new(0, limit)?;
    let found = state.hub.history(&canal, desde, limit).await?;
    Ok(HttpResponse::Ok().json(Publicacoes {
        epoca: found.posicao.epoca,
        publicacoes: found.publicacoes,
    }))
}

/// Where a channel stands: its latest offset (0 before the first publication), its epoca, and its
/// subscribers on every instance.
#[utoipa::path(
    tag = "channels",
    params(("canal" = String, Path, description = "The channel")),
    responses(
        (status = 200, body = CanalInfo),
        Unauthorized,
        QueryRejected,
        StoreFailed,
    )
)]
#[get("/channels/{canal}")]
pub(crate) async fn channel(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let canal = canal(&path)?;
    let (Posicao { offset, epoca }, inscritos) = state.hub.channel(&canal).await?;
    Ok(HttpResponse::Ok().json(CanalInfo {
        canal,
        offset,
        epoca,
        inscritos,
    }))
}

/// Where an SSE stream starts.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct EventsParams {
    /// Recover the publications after this offset (as `Last-Event-ID` does).
    #[param(schema_with = schemas::offset)]
    desde: Option<String>,
}

/// The header an SSE client sends when it reconnects.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code, reason = "documentation only: never built, read by utoipa")]
pub(crate) struct EventsHeaders {
    /// The last offset received: the publications after it come first.
    #[param(rename = "Last-Event-ID", schema_with = schemas::offset)]
    last_event_id: Option<String>,
}

/// An offset in a query or a `Last-Event-ID`.
fn offset(field: &str, given: Option<&str>) -> Result<Option<u64>, ApiError> {
    value(
        field,
        given,
        |v| whole(v).map(|n| n as u64),
        "a whole number ≥ 0",
    )
}

/// A channel's publications as Server-Sent Events: first `inscrito` (where the channel stands,
/// and whether what follows is everything missed), then, with `Last-Event-ID` or `?desde=`, the
/// missed publications, then each new one: `id: <offset>`, `event: publicacao`, `data: <JSON>`.
/// A comment line every `ws.ping_interval_secs` keeps it open.
#[utoipa::path(
    tag = "channels",
    params(
        ("canal" = String, Path, description = "The channel"),
        EventsHeaders,
        EventsParams,
        ("token" = Option<String>, Query, description = "The API key, for clients that cannot set headers"),
    ),
    security(("api_key" = []), ("token" = [])),
    responses(
        (status = 200, description = "A stream of events", content_type = "text/event-stream", body = EventoSse),
        Unauthorized,
        QueryRejected,
        StoreFailed,
        (status = 503, description = "ws.max_connections reached", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/channels/{canal}/events")]
pub(crate) async fn events(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<EventsParams>,
) -> Result<HttpResponse, ApiError> {
    let canal = canal(&path)?;
    let last_event = req
        .headers()
        .get("last-event-id")
        .map(|v| v.to_str().unwrap_or("?"));
    // Both are checked; the header, which a reconnecting EventSource sends, wins.
    let from_query = offset("desde", query.desde.as_deref())?;
    let desde = offset("Last-Event-ID", last_event)?.or(from_query);
    let mut conn = state.hub.open(Mode::Stream).await?;
    conn.subscribe(
        canal,
        desde.map(|offset| Desde {
            offset,
            epoca: None,
        }),
    )
    .await?;
    let ping = state.settings.ws.ping_interval;
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("cache-control", "no-cache"))
        .insert_header(("x-accel-buffering", "no"))
        .streaming(sse(conn, ping)))
}

/// The stream of a subscribed connection, as Server-Sent Events.
fn sse(
    conn: Connection,
    ping: Duration,
) -> impl futures_util::Stream<Item = Result<Bytes, Infallible>> {
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + ping, ping);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    stream::unfold((conn, tick), |(mut conn, mut tick)| async move {
        let event = tokio::select! {
            out = conn.next() => match out {
                Outgoing::Publication(p) => {
                    format!("id: {}\nevent: publicacao\ndata: {}\n\n", p.offset, p.json())
                }
                Outgoing::Subscribed { canal, posicao, recuperado } => format!(
                    "event: inscrito\ndata: {}\n\n",
                    serde_json::json!({
                        "canal": canal,
                        "offset": posicao.offset,
                        "epoca": posicao.epoca,
                        "recuperado": recuperado,
                    })
                ),
                Outgoing::Text(text) => format!("data: {text}\n\n"),
                Outgoing::Close(_) => return None,
            },
            _ = tick.tick() => ": ping\n\n".to_owned(),
        };
        Some((Ok(Bytes::from(event)), (conn, tick)))
    })
}
