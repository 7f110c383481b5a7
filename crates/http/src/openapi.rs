//! The OpenAPI 3.1 document, generated from the handlers' annotations.

use integra_domain::{
    Alerta, KafkaCoords, Mensagem, Metrica, NovaMensagem, NovaMetrica, NovoAlerta, Severidade,
    StatusMensagem, TipoMensagem, TipoMetrica,
};
use serde::Serialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoResponses, Modify, OpenApi, ToSchema};

use crate::routes;

/// An error answer (RFC 9457), as `application/problem+json`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// Always `about:blank`: the status says what happened.
    #[serde(rename = "type")]
    pub kind: String,
    /// The status' name.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong, in words a client can act on.
    pub detail: String,
    /// The offending field, on validation errors (`[3].valor` inside an array).
    pub field: Option<String>,
    /// The message or alert concerned, on bus failures: it stays stored.
    pub id: Option<String>,
}

/// The error answers the routes share, each documented once; a route lists the sets it can give.
/// Every one is a [`Problem`] as `application/problem+json`.
#[allow(dead_code, reason = "documentation only: never built, read by utoipa")]
pub(crate) mod answers {
    use super::{IntoResponses, Problem};

    /// Missing or wrong API key (while `auth.api_keys` is set)
    #[derive(IntoResponses)]
    #[response(status = 401, content_type = "application/problem+json")]
    pub(crate) struct Unauthorized(Problem);

    /// No such resource
    #[derive(IntoResponses)]
    #[response(status = 404, content_type = "application/problem+json")]
    pub(crate) struct NotFound(Problem);

    /// Another request for the same id is in flight
    #[derive(IntoResponses)]
    #[response(status = 409, content_type = "application/problem+json")]
    pub(crate) struct Conflict(Problem);

    /// What a route reading a JSON body answers for a body it cannot take.
    #[derive(IntoResponses)]
    pub(crate) enum BodyRejected {
        /// Malformed JSON
        #[response(status = 400, content_type = "application/problem+json")]
        Malformed(Problem),
        /// Body over `server.body_limit_bytes`
        #[response(status = 413, content_type = "application/problem+json")]
        TooLarge(Problem),
        /// Not `application/json`
        #[response(status = 415, content_type = "application/problem+json")]
        NotJson(Problem),
        /// Well-formed but invalid: `field` names what
        #[response(status = 422, content_type = "application/problem+json")]
        Invalid(Problem),
    }

    /// What a list or query answers for parameters it cannot take.
    #[derive(IntoResponses)]
    pub(crate) enum QueryRejected {
        /// Malformed query
        #[response(status = 400, content_type = "application/problem+json")]
        Malformed(Problem),
        /// A value out of its range: `field` names it
        #[response(status = 422, content_type = "application/problem+json")]
        Invalid(Problem),
    }

    /// What a route that reads or writes the store answers when it fails.
    #[derive(IntoResponses)]
    pub(crate) enum StoreFailed {
        /// The store is unavailable, or a limit is reached
        #[response(status = 503, content_type = "application/problem+json")]
        Unavailable(Problem),
        /// A dependency timed out
        #[response(status = 504, content_type = "application/problem+json")]
        TimedOut(Problem),
    }

    /// What a route that publishes answers when the bus fails; what was stored stays stored,
    /// and `id` names it.
    #[derive(IntoResponses)]
    pub(crate) enum BusFailed {
        /// The bus refused the record or could not be reached
        #[response(status = 502, content_type = "application/problem+json")]
        Refused(Problem),
        /// A dependency timed out
        #[response(status = 504, content_type = "application/problem+json")]
        TimedOut(Problem),
    }
}

/// The API document.
#[derive(OpenApi)]
#[openapi(
    info(title = "Integra", description = "Messages, metrics, alerts and WebSocket fan-out."),
    paths(
        routes::send_message, routes::get_message, routes::list_messages,
        routes::record_metrics, routes::query_metrics, routes::prometheus_exposition,
        routes::create_alert, routes::resolve_alert, routes::get_alert, routes::list_alerts,
        routes::broadcast, routes::send_personal, crate::ws::upgrade,
        routes::healthz, routes::readyz, routes::openapi_json,
    ),
    components(schemas(
        Problem, Mensagem, NovaMensagem, TipoMensagem, StatusMensagem, KafkaCoords,
        Metrica, NovaMetrica, TipoMetrica, Alerta, NovoAlerta, Severidade,
    )),
    modifiers(&BearerAuth),
    security(("api_key" = [])),
    tags(
        (name = "messages", description = "Published exactly once to `messages.{tipo}`"),
        (name = "metrics", description = "Prometheus and a time series"),
        (name = "alerts", description = "Deduplicated, with events on `alerts`"),
        (name = "websocket", description = "Fan-out across every instance"),
        (name = "operations", description = "Probes and this document"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let scheme = SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some(
                    "One of auth.api_keys; required only when keys are configured",
                ))
                .build(),
        );
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme("api_key", scheme);
    }
}
