//! What answers a request no route took: 405 with `Allow` for a known path asked with another
//! method, 404 for an unknown path. The routes and their methods are read from the OpenAPI
//! document, which a test proves matches what is mounted.

use std::sync::OnceLock;

use actix_web::{HttpRequest, HttpResponse, ResponseError};
use utoipa::OpenApi;

use crate::openapi::ApiDoc;
use crate::ApiError;

/// A route's path, split on `/` (a `{…}` segment takes any value), and its methods.
struct Route {
    segments: Vec<String>,
    methods: Vec<&'static str>,
}

fn routes() -> &'static [Route] {
    static ROUTES: OnceLock<Vec<Route>> = OnceLock::new();
    ROUTES.get_or_init(|| {
        ApiDoc::openapi()
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let mut methods = Vec::new();
                if item.get.is_some() {
                    methods.extend(["GET", "HEAD"]);
                }
                let others = [
                    ("POST", item.post.is_some()),
                    ("PUT", item.put.is_some()),
                    ("PATCH", item.patch.is_some()),
                    ("DELETE", item.delete.is_some()),
                ];
                methods.extend(others.iter().filter(|(_, on)| *on).map(|(m, _)| *m));
                Route {
                    segments: path.split('/').map(str::to_owned).collect(),
                    methods,
                }
            })
            .collect()
    })
}

/// The methods served on `path`, if a route has it.
fn allowed(path: &str) -> Option<Vec<&'static str>> {
    let asked: Vec<&str> = path.split('/').collect();
    let mut methods: Vec<&'static str> = routes()
        .iter()
        .filter(|route| {
            route.segments.len() == asked.len()
                && route.segments.iter().zip(&asked).all(|(segment, value)| {
                    segment == value || (segment.starts_with('{') && !value.is_empty())
                })
        })
        .flat_map(|route| route.methods.iter().copied())
        .collect();
    methods.dedup();
    (!methods.is_empty()).then_some(methods)
}

/// Any request no route took: a problem answer, 405 with `Allow` or 404. [`configure`](crate::configure)
/// puts it behind Integra's routes; an application that has only Integra's routes can make it its
/// own default service too, for request targets that are not paths (`OPTIONS *`).
pub async fn no_route(req: HttpRequest) -> HttpResponse {
    let error = match allowed(req.path()) {
        Some(allow) => ApiError::MethodNotAllowed {
            method: req.method().to_string(),
            allow,
        },
        None => ApiError::NoRoute(format!("no route for {} {}", req.method(), req.path())),
    };
    error.error_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_known_path_names_its_methods_and_an_unknown_one_none() {
        assert_eq!(allowed("/messages"), Some(vec!["GET", "HEAD", "POST"]));
        assert_eq!(allowed("/messages/abc"), Some(vec!["GET", "HEAD"]));
        assert_eq!(allowed("/alerts/a1/resolve"), Some(vec!["POST"]));
        assert_eq!(allowed("/metrics/prometheus"), Some(vec!["GET", "HEAD"]));
        assert_eq!(allowed("/messages/"), None);
        assert_eq!(allowed("/nowhere"), None);
    }
}
