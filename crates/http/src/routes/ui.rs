//! `/ui`: the dashboard, a page and its two assets compiled into the binary (nothing is fetched
//! from anywhere at build or run time). The page is open, like the probes; what it shows comes
//! from the API, with the key it asks for when auth is on.

use actix_web::http::header;
use actix_web::{get, web, HttpResponse};

use crate::{ApiError, AppState};

const PAGE: &str = include_str!("../ui/index.html");

/// The page's assets: name, content type, content.
const ASSETS: [(&str, &str, &str); 2] = [
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("../ui/app.js"),
    ),
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("../ui/app.css"),
    ),
];

/// Whether `path` is the page or one of its assets: open like the probes.
pub(crate) fn is_dashboard(path: &str) -> bool {
    path == "/ui"
        || path
            .strip_prefix("/ui/")
            .is_some_and(|name| ASSETS.iter().any(|(asset, ..)| *asset == name))
}

/// The page's own content only: its script, its style, the API and `/ws` on this origin.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self' ws: wss:; base-uri 'none'; form-action 'none'; \
                   frame-ancestors 'none'";

fn asset(content_type: &'static str, body: impl Into<String>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
        .body(body.into())
}

/// The operations dashboard: live tables of messages and alerts, a metric's chart, the channels,
/// connections and readiness. With auth on, it asks for the key and keeps it for the tab.
#[utoipa::path(
    tag = "operations",
    security(()),
    responses((status = 200, description = "The dashboard page", content_type = "text/html"))
)]
#[get("/ui")]
pub(crate) async fn dashboard(state: web::Data<AppState>) -> HttpResponse {
    let auth = if state.settings.api_keys.is_empty() {
        "off"
    } else {
        "on"
    };
    asset("text/html; charset=utf-8", PAGE.replace("{{AUTH}}", auth))
}

/// The dashboard's script (`app.js`) and style (`app.css`).
#[utoipa::path(
    tag = "operations",
    security(()),
    params(("asset" = String, Path, description = "`app.js` or `app.css`")),
    responses(
        (status = 200, description = "The asset", content_type = "text/plain"),
        (status = 404, description = "No such asset", body = crate::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/ui/{asset}")]
pub(crate) async fn dashboard_asset(
    asset_name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    ASSETS
        .iter()
        .find(|(name, ..)| *name == asset_name.as_str())
        .map(|(_, content_type, content)| asset(content_type, *content))
        .ok_or_else(|| ApiError::NoRoute(format!("no dashboard asset `{asset_name}`")))
}
