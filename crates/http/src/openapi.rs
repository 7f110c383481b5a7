//! The OpenAPI 3.1 document, generated from the handlers' annotations.

use integra_domain::{
    Alerta, KafkaCoords, Mensagem, Metrica, NovaMensagem, NovaMetrica, NovoAlerta, Severidade,
    StatusMensagem, TipoMensagem, TipoMetrica,
};
use serde::Serialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

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
