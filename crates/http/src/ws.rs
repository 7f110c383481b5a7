//! The WebSocket endpoint: upgrades, then pumps between the socket and the hub's [`Connection`].

use std::future::Future;
use std::pin::Pin;

use actix_web::{get, web, HttpRequest, HttpResponse};
use actix_ws::{
    AggregatedMessage, AggregatedMessageStream, CloseCode, CloseReason, ProtocolError, Session,
};
use futures_util::StreamExt;
use integra_services::{Connection, Hub, Outgoing};
use serde_json::json;

use crate::openapi::answers::Unauthorized;
use crate::openapi::Problem;
use crate::{ApiError, AppState, WsSettings};

/// Upgrades to a WebSocket. The first frame is `{"evento":"conectado","dados":{"conexao_id":…}}`;
/// every text frame the client sends is broadcast to every connection.
#[utoipa::path(
    tag = "websocket",
    params(("token" = Option<String>, Query, description = "The API key, for clients that cannot set headers")),
    responses(
        (status = 101, description = "Switching to the WebSocket protocol"),
        (status = 400, description = "Not a WebSocket upgrade", body = Problem, content_type = "application/problem+json"),
        Unauthorized,
        (status = 503, description = "ws.max_connections reached", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/ws")]
pub(crate) async fn upgrade(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (response, session, inbound) = actix_ws::handle(&req, body)
        .map_err(|e| ApiError::BadRequest(format!("not a WebSocket upgrade: {e}")))?;
    let connection = state.hub.connect().await?;
    let settings = state.settings.ws;
    let inbound = inbound
        .max_frame_size(settings.max_frame_bytes)
        .aggregate_continuations()
        .max_continuation_size(settings.max_frame_bytes);
    actix_web::rt::spawn(pump(
        connection,
        session,
        inbound,
        state.hub.clone(),
        settings,
    ));
    Ok(response)
}

fn reason(code: CloseCode, description: &str) -> Option<CloseReason> {
    Some(CloseReason {
        code,
        description: Some(description.to_owned()),
    })
}

/// Sends on the socket unless the hub closes the connection first: a client that stopped reading
/// fills the socket's buffer, and its writer must not wait on it forever.
async fn send(
    send: impl Future<Output = Result<(), actix_ws::Closed>>,
    conn: &mut Connection,
) -> Result<(), Option<CloseReason>> {
    tokio::select! {
        sent = send => sent.map_err(|_| None),
        closed = conn.closed() => Err(hub_close(closed)),
    }
}

fn hub_close(r: integra_services::CloseReason) -> Option<CloseReason> {
    match r {
        integra_services::CloseReason::Overflow => reason(
            CloseCode::Policy,
            "outbound queue full: the client reads too slowly",
        ),
        integra_services::CloseReason::GoingAway => reason(CloseCode::Away, "server shutting down"),
    }
}

async fn pump(
    mut conn: Connection,
    mut session: Session,
    mut inbound: AggregatedMessageStream,
    hub: Hub,
    settings: WsSettings,
) {
    let mut ping = tokio::time::interval(settings.ping_interval);
    ping.tick().await;
    let mut pong_deadline: Option<Pin<Box<tokio::time::Sleep>>> = None;
    let close = loop {
        tokio::select! {
            out = conn.next() => match out {
                Outgoing::Text(text) => {
                    if let Err(close) = send(session.text(&*text), &mut conn).await {
                        break close;
                    }
                }
                Outgoing::Close(r) => break hub_close(r),
            },
            frame = inbound.next() => match frame {
                Some(Ok(AggregatedMessage::Text(text))) => {
                    if let Err(e) = hub.broadcast(&text).await {
                        let problem = json!({"evento": "erro", "dados": {"detail": format!("broadcast failed: {e}")}});
                        if let Err(close) = send(session.text(problem.to_string()), &mut conn).await {
                            break close;
                        }
                    }
                }
                Some(Ok(AggregatedMessage::Binary(_))) => break reason(CloseCode::Unsupported, "only text frames are accepted"),
                Some(Ok(AggregatedMessage::Ping(bytes))) => {
                    if let Err(close) = send(session.pong(&bytes), &mut conn).await {
                        break close;
                    }
                }
                Some(Ok(AggregatedMessage::Pong(_))) => pong_deadline = None,
                Some(Ok(AggregatedMessage::Close(_))) => break reason(CloseCode::Normal, "bye"),
                Some(Err(ProtocolError::Overflow)) => break reason(CloseCode::Size, "frame over ws.max_frame_bytes"),
                Some(Err(e)) => break reason(CloseCode::Protocol, &e.to_string()),
                None => break None,
            },
            _ = ping.tick() => {
                if let Err(close) = send(session.ping(b""), &mut conn).await {
                    break close;
                }
                if pong_deadline.is_none() {
                    pong_deadline = Some(Box::pin(tokio::time::sleep(settings.pong_timeout)));
                }
            }
            () = async { match pong_deadline.as_mut() { Some(deadline) => deadline.await, None => std::future::pending().await } } => {
                break reason(CloseCode::Policy, "no pong within ws.pong_timeout_secs");
            }
        }
    };
    if let Some(close) = close {
        // The close frame goes through the same buffer; a client that does not read gets a second.
        let _ = tokio::time::timeout(
            std::time::Duration::from_secs(1),
            session.close(Some(close)),
        )
        .await;
    }
    drop(conn);
}
