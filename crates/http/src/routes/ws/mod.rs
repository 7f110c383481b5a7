//! The WebSocket side of the API: the upgrade, and the HTTP routes that send to connections.

mod frames;
mod session;

use actix_web::{dev, get, post, web, FromRequest, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::ToSchema;

use integra_services::Mode;

use crate::responses::{BodyRejected, BusFailed, NotFound, StoreFailed, Unauthorized};
use crate::{ApiError, AppState, JsonBody, Problem};

/// What a WebSocket connection receives besides broadcasts, personal messages and its channels.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct WsParams {
    /// `canais`: only the events of the channels it subscribes to; absent: every event too.
    #[param(value_type = Option<String>, pattern = "^canais$")]
    eventos: Option<String>,
}

/// Upgrades to a WebSocket. The first frame is `{"evento":"conectado","dados":{"conexao_id":…}}`.
/// A text frame with `acao` is a command (`inscrever`, `cancelar`, `publicar` on a channel); every
/// other text frame the client sends is broadcast to every connection.
#[utoipa::path(
    tag = "websocket",
    params(
        WsParams,
        ("token" = Option<String>, Query, description = "The API key, for clients that cannot set headers"),
        handshake::Headers,
    ),
    security(("api_key" = []), ("token" = [])),
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
    params: web::Query<WsParams>,
) -> Result<HttpResponse, ApiError> {
    let mode = match params.eventos.as_deref() {
        None => Mode::Everything,
        Some("canais") => Mode::Channels,
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "eventos: `{other}` is not canais"
            )))
        }
    };
    // actix-ws answers the handshake and writes the frames; the client's frames are read here
    // (frames.rs), where every limit applies before the bytes it guards are buffered.
    let not_read = web::Payload::from_request(&req, &mut dev::Payload::None)
        .await
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let (response, socket, _) = actix_ws::handle(&req, not_read)
        .map_err(|e| ApiError::BadRequest(format!("not a WebSocket upgrade: {e}")))?;
    let connection = state.hub.open(mode).await?;
    let settings = state.settings.ws;
    let inbound = frames::Inbound::new(body.into_inner(), settings.max_frame_bytes);
    actix_web::rt::spawn(session::run(
        connection,
        socket,
        inbound,
        state.hub.clone(),
        settings,
    ));
    Ok(response)
}

/// The headers of the handshake (RFC 6455 §4.1), for the OpenAPI document.
mod handshake {
    use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
    use utoipa::IntoParams;

    /// The headers a WebSocket client sends.
    #[derive(IntoParams)]
    #[into_params(parameter_in = Header)]
    #[allow(dead_code, reason = "documentation only: never built, read by utoipa")]
    pub(crate) struct Headers {
        /// `websocket`.
        #[param(rename = "Upgrade", schema_with = upgrade)]
        upgrade: String,
        /// `Upgrade`.
        #[param(rename = "Connection", schema_with = connection)]
        connection: String,
        /// `13`.
        #[param(rename = "Sec-WebSocket-Version", schema_with = version)]
        version: String,
        /// 16 random bytes in base64.
        #[param(rename = "Sec-WebSocket-Key", schema_with = key)]
        key: String,
    }

    fn one(value: &str) -> Schema {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some([value]))
            .build()
            .into()
    }

    fn upgrade() -> Schema {
        one("websocket")
    }

    fn connection() -> Schema {
        one("Upgrade")
    }

    fn version() -> Schema {
        one("13")
    }

    fn key() -> Schema {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some("^[A-Za-z0-9+/]{22}==$"))
            .build()
            .into()
    }
}

/// A text for WebSocket clients.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Texto {
    /// Sent as is, as one text frame.
    texto: String,
}

/// Sends a text to every connection on every instance.
#[utoipa::path(
    tag = "websocket",
    request_body = Texto,
    responses(
        (status = 202, description = "Sent to every connection"),
        Unauthorized,
        BodyRejected,
        BusFailed,
    )
)]
#[post("/ws/broadcast")]
pub(crate) async fn broadcast(
    state: web::Data<AppState>,
    body: JsonBody<Texto>,
) -> Result<HttpResponse, ApiError> {
    state.hub.broadcast(&body.0.texto).await?;
    Ok(HttpResponse::Accepted().finish())
}

/// Sends a text to one connection, on whichever instance holds it; 404 when no instance does.
#[utoipa::path(
    tag = "websocket",
    params(("conexao_id" = String, Path, description = "From the connection's `conectado` event")),
    request_body = Texto,
    responses(
        (status = 202, description = "Sent to that connection"),
        Unauthorized,
        NotFound,
        BodyRejected,
        BusFailed,
        StoreFailed,
    )
)]
#[post("/ws/connections/{conexao_id}/messages")]
pub(crate) async fn send_personal(
    state: web::Data<AppState>,
    conexao_id: web::Path<String>,
    body: JsonBody<Texto>,
) -> Result<HttpResponse, ApiError> {
    state.hub.send_to(&conexao_id, &body.0.texto).await?;
    Ok(HttpResponse::Accepted().finish())
}
