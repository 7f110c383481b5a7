//! One WebSocket session: pumps between the socket and the hub's [`Connection`], keeps the
//! heartbeat, and maps the hub's closes and the reader's refusals to WebSocket close codes.

use std::future::Future;
use std::time::Duration;

use actix_ws::{CloseCode, CloseReason, Session};
use integra_domain::{Canal, Dados, Desde, Evento};
use integra_services::{Connection, Hub, Outgoing};
use serde::Deserialize;
use serde_json::value::RawValue;
use tokio::time::Instant;

use super::frames::{Inbound, Received, Refusal};
use crate::{ApiError, WsSettings};

/// A client's command: a JSON object with `acao` (see the contract's Channels).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Comando {
    acao: String,
    canal: String,
    #[serde(default)]
    desde: Option<Desde>,
    #[serde(default)]
    dados: Option<Box<RawValue>>,
}

/// Whether a text frame is a command: a JSON object with an `acao` key. Anything else is a
/// broadcast, as before channels existed.
fn is_command(text: &str) -> bool {
    #[derive(Deserialize)]
    struct Probe {
        acao: Option<serde::de::IgnoredAny>,
    }
    text.contains("\"acao\"")
        && text.trim_start().starts_with('{')
        && serde_json::from_str::<Probe>(text).is_ok_and(|p| p.acao.is_some())
}

/// Runs a command; returns the frame that answers it, if any.
async fn command(text: &str, conn: &mut Connection, hub: &Hub) -> Result<Option<String>, ApiError> {
    let c: Comando = serde_json::from_str(text)
        .map_err(|e| ApiError::BadRequest(format!("an unreadable command: {e}")))?;
    match c.acao.as_str() {
        "inscrever" => {
            conn.subscribe(Canal::parse(&c.canal)?, c.desde).await?;
            Ok(None)
        }
        "cancelar" => {
            let canal = Canal::parse(&c.canal)?;
            if conn.unsubscribe(&canal) {
                Ok(Some(
                    Evento::Cancelado {
                        canal: canal.as_str(),
                    }
                    .to_json(),
                ))
            } else {
                Err(ApiError::Service(integra_services::ServiceError::NotFound(
                    format!("a subscription to {canal}"),
                )))
            }
        }
        "publicar" => {
            let canal = Canal::for_clients(&c.canal)?;
            let dados = c.dados.ok_or_else(|| {
                ApiError::from(integra_domain::ValidationError::new("dados", "is required"))
            })?;
            hub.publish(&canal, Dados::trusted(dados.get())).await?;
            Ok(None)
        }
        other => Err(ApiError::from(integra_domain::ValidationError::new(
            "acao",
            format!("`{other}` is not a command; use inscrever, cancelar or publicar"),
        ))),
    }
}

/// The `erro` frame of a refused command or a failed broadcast.
fn error_frame(e: &ApiError, what: &str) -> String {
    let detail = format!("{what}: {e}");
    let status = e.status_and_code().0.as_u16();
    Evento::Erro {
        status,
        detail: &detail,
    }
    .to_json()
}

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

/// The WebSocket close of a refused frame; `None` when the connection is gone.
fn refused(refusal: Refusal) -> Option<CloseReason> {
    match refusal {
        Refusal::TooBig => reason(CloseCode::Size, "message over ws.max_frame_bytes"),
        Refusal::NotUtf8 => reason(CloseCode::Invalid, "text that is not UTF-8"),
        Refusal::Protocol(why) => reason(CloseCode::Protocol, why),
        Refusal::Gone => None,
    }
}

fn no_pong() -> Option<CloseReason> {
    reason(CloseCode::Policy, "no pong within ws.pong_timeout_secs")
}

/// Resolves at `deadline`, or never.
async fn until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Sends on the socket unless the hub closes the connection or the pong deadline passes first:
/// a client that stopped reading fills the socket's buffer, and its writer must not wait on it
/// past either.
async fn send(
    send: impl Future<Output = Result<(), actix_ws::Closed>>,
    conn: &mut Connection,
    pong_deadline: Option<Instant>,
) -> Result<(), Option<CloseReason>> {
    tokio::select! {
        sent = send => sent.map_err(|_| None),
        closed = conn.closed() => Err(hub_close(closed)),
        () = until(pong_deadline) => Err(no_pong()),
    }
}

/// Runs the session until either side closes it.
pub(super) async fn run(
    mut conn: Connection,
    mut socket: Session,
    mut inbound: Inbound,
    hub: Hub,
    settings: WsSettings,
) {
    let mut ping = tokio::time::interval(settings.ping_interval);
    ping.tick().await;
    // Only the client's pongs clear it: its pings never stand in for them.
    let mut pong_deadline: Option<Instant> = None;
    let close = loop {
        tokio::select! {
            out = conn.next() => match out {
                Outgoing::Text(text) => {
                    if let Err(close) = send(socket.text(&*text), &mut conn, pong_deadline).await {
                        break close;
                    }
                }
                Outgoing::Publication(p) => {
                    if let Err(close) = send(socket.text(p.frame()), &mut conn, pong_deadline).await {
                        break close;
                    }
                }
                Outgoing::Subscribed { canal, posicao, recuperado } => {
                    let frame = Evento::Inscrito { canal: canal.as_str(), posicao: &posicao, recuperado }.to_json();
                    if let Err(close) = send(socket.text(frame), &mut conn, pong_deadline).await {
                        break close;
                    }
                }
                Outgoing::Close(r) => break hub_close(r),
            },
            received = inbound.next() => match received {
                Ok(Received::Text(text)) => {
                    let answer = if is_command(&text) {
                        command(&text, &mut conn, &hub).await.unwrap_or_else(|e| Some(error_frame(&e, "the command was refused")))
                    } else {
                        hub.broadcast(&text).await.err().map(|e| error_frame(&ApiError::from(e), "the broadcast failed"))
                    };
                    if let Some(frame) = answer {
                        if let Err(close) = send(socket.text(frame), &mut conn, pong_deadline).await {
                            break close;
                        }
                    }
                }
                Ok(Received::Binary) => break reason(CloseCode::Unsupported, "only text frames are accepted"),
                Ok(Received::Ping(bytes)) => {
                    if let Err(close) = send(socket.pong(&bytes), &mut conn, pong_deadline).await {
                        break close;
                    }
                }
                Ok(Received::Pong) => pong_deadline = None,
                // The client's code is echoed, as RFC 6455 §5.5.1 has it.
                Ok(Received::Close(code)) => {
                    break reason(code.map_or(CloseCode::Normal, CloseCode::from), "bye");
                }
                Err(refusal) => break refused(refusal),
            },
            _ = ping.tick() => {
                if pong_deadline.is_none() {
                    pong_deadline = Some(Instant::now() + settings.pong_timeout);
                }
                if let Err(close) = send(socket.ping(b""), &mut conn, pong_deadline).await {
                    break close;
                }
            }
            () = until(pong_deadline) => break no_pong(),
        }
    };
    if let Some(close) = close {
        // The close frame goes through the same buffer; a client that does not read gets a second.
        let _ = tokio::time::timeout(Duration::from_secs(1), socket.close(Some(close))).await;
    }
    drop(conn);
}
