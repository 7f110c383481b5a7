//! The OpenAPI 3.1 document, generated from the handlers' annotations.

use actix_web::{get, web, HttpResponse};
use integra_domain::{
    Acao, AcaoDevida, Alerta, Canal, Condicao, CoordenadasKafka, EstadoRegra, Matchers, Mensagem,
    Metrica, Notificar, NovaMensagem, NovaMetrica, NovaRegra, NovoAlerta, NovoSilencio, Publicacao,
    Regra, SerieRegra, Severidade, Silencio, StatusMensagem, TipoMensagem, TipoMetrica,
};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes;
use crate::{AppState, Problem};

/// The API document.
#[derive(OpenApi)]
#[openapi(
    info(title = "Integra", description = "Messages, metrics, alerts and WebSocket fan-out."),
    paths(
        routes::send_message, routes::get_message, routes::list_messages,
        routes::record_metrics, routes::query_metrics, routes::prometheus_exposition,
        routes::create_alert, routes::resolve_alert, routes::acknowledge_alert, routes::get_alert, routes::list_alerts,
        routes::create_silence, routes::list_silences, routes::get_silence, routes::end_silence,
        routes::create_rule, routes::list_rules, routes::get_rule, routes::delete_rule,
        routes::broadcast, routes::send_personal, routes::upgrade,
        routes::publish, routes::history, routes::channel, routes::events,
        routes::healthz, routes::readyz, routes::dashboard, routes::dashboard_asset, openapi_json,
    ),
    components(schemas(
        Problem, Mensagem, NovaMensagem, TipoMensagem, StatusMensagem, CoordenadasKafka,
        Metrica, NovaMetrica, TipoMetrica, Alerta, NovoAlerta, Severidade, Canal, Publicacao,
        Silencio, NovoSilencio, Matchers, Regra, NovaRegra, Condicao, Notificar, EstadoRegra,
        SerieRegra, Acao, AcaoDevida,
    )),
    modifiers(&Auth),
    security(("api_key" = [])),
    tags(
        (name = "messages", description = "Published exactly once to `messages.{tipo}`"),
        (name = "metrics", description = "Prometheus and a time series"),
        (name = "alerts", description = "Deduplicated, with events on `alerts`; acknowledged; silenced"),
        (name = "rules", description = "Metric series that open and resolve alerts, and notify"),
        (name = "websocket", description = "Fan-out across every instance"),
        (name = "channels", description = "Numbered publications with a history, over WebSocket and SSE"),
        (name = "operations", description = "Probes, the dashboard and this document"),
    )
)]
pub struct ApiDoc;

/// The document this server answers with: with auth on, every route but the probes and the
/// scrape needs a key; with auth off, none does, and the document says so (no security at all).
pub fn document(auth: bool) -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    if !auth {
        doc.security = None;
        if let Some(components) = doc.components.as_mut() {
            components.security_schemes.clear();
        }
        for item in doc.paths.paths.values_mut() {
            for operation in [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.delete,
            ] {
                if let Some(operation) = operation.as_mut() {
                    operation.security = None;
                    operation.responses.responses.remove("401");
                }
            }
        }
    }
    doc
}

/// This document.
#[utoipa::path(tag = "operations", security(()), responses((status = 200, description = "The OpenAPI 3.1 document")))]
#[get("/openapi.json")]
pub(crate) async fn openapi_json(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(document(!state.settings.api_keys.is_empty()))
}

/// The ways to present a key: the `Authorization` header, or `?token=` where headers cannot be set.
struct Auth;

impl Modify for Auth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let bearer = SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some("One of auth.api_keys"))
                .build(),
        );
        let token = SecurityScheme::ApiKey(ApiKey::Query(ApiKeyValue::with_description(
            "token",
            "One of auth.api_keys, on /ws (and the SSE streams) where headers cannot be set",
        )));
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("api_key", bearer);
        components.add_security_scheme("token", token);
    }
}
