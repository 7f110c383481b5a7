//! One WebSocket session: pumps between the socket and the hub's [`Connection`], keeps the
//! heartbeat, and maps the hub's closes to WebSocket close codes.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use actix_ws::{
    AggregatedMessage, AggregatedMessageStream, CloseCode, CloseReason, MessageStream,
    ProtocolError, Session,
};
use futures_util::StreamExt;
use integra_domain::Evento;
use integra_services::{Connection, Hub, Outgoing};

use crate::{ApiError, WsSettings};

fn reason(code: CloseCode, description: &str) -> Option<CloseReason> {
    Some(CloseReason {
        code,
        description: Some(description.to_owned()),
    })
}

/// The WebSocket close of a hub's close.
fn hub_close(r: integra_services::CloseReason) -> Option<CloseReason> {
    match r {
        integra_services::CloseReason::Overflow => reason(
            CloseCode::Policy,
            "outbound queue full: the client reads too slowly",
        ),
        integra_services::CloseReason::GoingAway => reason(CloseCode::Away, "server shutting down"),
    }
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

/// Runs the session until either side closes it.
pub(super) async fn run(
    mut conn: Connection,
    mut socket: Session,
    inbound: MessageStream,
    hub: Hub,
    settings: WsSettings,
) {
    let mut inbound: AggregatedMessageStream = inbound
        .max_frame_size(settings.max_frame_bytes)
        .aggregate_continuations()
        .max_continuation_size(settings.max_frame_bytes);
    let mut ping = tokio::time::interval(settings.ping_interval);
    ping.tick().await;
    let mut pong_deadline: Option<Pin<Box<tokio::time::Sleep>>> = None;
    let close = loop {
        tokio::select! {
            out = conn.next() => match out {
                Outgoing::Text(text) => {
                    if let Err(close) = send(socket.text(&*text), &mut conn).await {
                        break close;
                    }
                }
                Outgoing::Close(r) => break hub_close(r),
            },
            frame = inbound.next() => match frame {
                Some(Ok(AggregatedMessage::Text(text))) => {
                    if let Err(e) = hub.broadcast(&text).await {
                        let e = ApiError::from(e);
                        let detail = format!("broadcast failed: {e}");
                        let status = e.status_and_code().0.as_u16();
                        let refused = Evento::Erro { status, detail: &detail }.to_json();
                        if let Err(close) = send(socket.text(refused), &mut conn).await {
                            break close;
                        }
                    }
                }
                Some(Ok(AggregatedMessage::Binary(_))) => break reason(CloseCode::Unsupported, "only text frames are accepted"),
                Some(Ok(AggregatedMessage::Ping(bytes))) => {
                    if let Err(close) = send(socket.pong(&bytes), &mut conn).await {
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
                if let Err(close) = send(socket.ping(b""), &mut conn).await {
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
        let _ = tokio::time::timeout(Duration::from_secs(1), socket.close(Some(close))).await;
    }
    drop(conn);
}
