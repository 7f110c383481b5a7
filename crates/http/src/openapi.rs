//! The OpenAPI 3.1 document, generated from the handlers' annotations.

use actix_web::{get, HttpResponse};
use integra_domain::{
    Alerta, CoordenadasKafka, Mensagem, Metrica, NovaMensagem, NovaMetrica, NovoAlerta, Severidade,
    StatusMensagem, TipoMensagem, TipoMetrica,
};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes;
use crate::Problem;

/// The API document.
#[derive(OpenApi)]
#[openapi(
    info(title = "Integra", description = "Messages, metrics, alerts and WebSocket fan-out."),
    paths(
        routes::send_message, routes::get_message, routes::list_messages,
        routes::record_metrics, routes::query_metrics, routes::prometheus_exposition,
        routes::create_alert, routes::resolve_alert, routes::get_alert, routes::list_alerts,
        routes::broadcast, routes::send_personal, routes::upgrade,
        routes::healthz, routes::readyz, openapi_json,
    ),
    components(schemas(
        Problem, Mensagem, NovaMensagem, TipoMensagem, StatusMensagem, CoordenadasKafka,
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

/// This document.
#[utoipa::path(tag = "operations", responses((status = 200, description = "The OpenAPI 3.1 document")))]
#[get("/openapi.json")]
pub(crate) async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}

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
