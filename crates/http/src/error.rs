//! The one error of the HTTP edge: a service's failure or the request's own, each answered as an
//! `application/problem+json` document (RFC 9457) by one status function.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use integra_domain::ValidationError;
use integra_services::ServiceError;
use serde::Serialize;
use utoipa::ToSchema;

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// What a service answered.
    #[error(transparent)]
    Service(#[from] ServiceError),
    /// Malformed JSON, a bad query or path value, not a WebSocket upgrade.
    #[error("{0}")]
    BadRequest(String),
    /// Missing or wrong credentials.
    #[error("missing or invalid API key")]
    Unauthorized,
    /// No such route.
    #[error("{0}")]
    NoRoute(String),
    /// A known route asked with a method it does not serve; these are the ones it does.
    #[error("{method} is not served here; use {}", allow.join(", "))]
    MethodNotAllowed {
        /// The method asked.
        method: String,
        /// The methods the route serves.
        allow: Vec<&'static str>,
    },
    /// The body did not arrive within `server.request_timeout_ms`.
    #[error("the request did not arrive within {} ms", .0.as_millis())]
    RequestTimeout(std::time::Duration),
    /// The body is over `server.body_limit_bytes`.
    #[error("the body is over the limit of {0} bytes")]
    PayloadTooLarge(usize),
    /// A JSON endpoint was given another content type.
    #[error("{0}")]
    UnsupportedMediaType(String),
}

impl From<ValidationError> for ApiError {
    fn from(e: ValidationError) -> Self {
        Self::Service(ServiceError::Invalid(e))
    }
}

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
    /// A stable, machine-readable name of the failure, for clients to branch on.
    pub code: String,
    /// What went wrong, in words a client can act on.
    pub detail: String,
    /// The offending field, on validation errors (`[3].valor` inside an array).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The message or alert concerned, on bus failures: it stays stored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

impl Problem {
    /// The problem document of `status` with a failure's `code` and `detail`.
    pub fn new(status: StatusCode, code: &str, detail: String) -> Self {
        Self {
            kind: "about:blank".to_owned(),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            code: code.to_owned(),
            detail,
            field: None,
            id: None,
        }
    }
}

impl ApiError {
    /// The status of this failure and its stable code.
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::BadRequest(_) => (StatusCode::BAD_REQUEST, "malformed_request"),
            Self::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Self::NoRoute(_) => (StatusCode::NOT_FOUND, "no_route"),
            Self::MethodNotAllowed { .. } => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            Self::RequestTimeout(_) => (StatusCode::REQUEST_TIMEOUT, "request_timeout"),
            Self::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            Self::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            Self::Service(e) => match e {
                ServiceError::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
                ServiceError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
                ServiceError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
                ServiceError::Overloaded(_) => (StatusCode::SERVICE_UNAVAILABLE, "overloaded"),
                ServiceError::StoreUnavailable(_) => {
                    (StatusCode::SERVICE_UNAVAILABLE, "store_unavailable")
                }
                ServiceError::StoreTimedOut(_) => (StatusCode::GATEWAY_TIMEOUT, "store_timeout"),
                ServiceError::BusUnavailable { .. } => (StatusCode::BAD_GATEWAY, "bus_unavailable"),
                ServiceError::BusTimedOut { .. } => (StatusCode::GATEWAY_TIMEOUT, "bus_timeout"),
                ServiceError::Unpublishable { .. } => {
                    (StatusCode::UNPROCESSABLE_ENTITY, "unpublishable")
                }
            },
        }
    }

    /// What the client may be told: 5xx details say what failed and what to do, never internals.
    fn detail(&self) -> String {
        // A record about a message or an alert stays stored, and a retry with its id tries again;
        // a broadcast is simply not sent.
        let (unavailable, timed_out) = match self.unpublished() {
            Some(_) => (
                "the message bus refused the record or could not be reached; it is stored and a retry with the same id tries again",
                "the message bus did not acknowledge in time; it is stored and a retry with the same id tries again",
            ),
            None => (
                "the message bus refused the record or could not be reached; nothing was sent, retry later",
                "the message bus did not acknowledge in time; it may not have been sent, retry later",
            ),
        };
        match self {
            Self::Service(ServiceError::BusUnavailable { .. }) => unavailable.into(),
            Self::Service(ServiceError::BusTimedOut { .. }) => timed_out.into(),
            other => other.to_string(),
        }
    }

    /// The message or alert a failed publish was about.
    fn unpublished(&self) -> Option<&integra_domain::Id> {
        match self {
            Self::Service(e) => e.unpublished_id(),
            Self::BadRequest(_)
            | Self::Unauthorized
            | Self::NoRoute(_)
            | Self::MethodNotAllowed { .. }
            | Self::RequestTimeout(_)
            | Self::PayloadTooLarge(_)
            | Self::UnsupportedMediaType(_) => None,
        }
    }

    /// The problem document of this failure.
    pub fn problem(&self) -> Problem {
        let (status, code) = self.status_and_code();
        let mut problem = Problem::new(status, code, self.detail());
        if let Self::Service(ServiceError::Invalid(v)) = self {
            problem.field = Some(v.field.clone());
        }
        problem.id = self.unpublished().map(ToString::to_string);
        problem
    }
}

/// The cause chain of an error, for the logs.
fn causes(e: &dyn std::error::Error) -> String {
    let mut chain = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        chain.push_str(": ");
        chain.push_str(&cause.to_string());
        source = cause.source();
    }
    chain
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status_and_code().0
    }

    fn error_response(&self) -> HttpResponse {
        let problem = self.problem();
        let status = self.status_code();
        if status.is_server_error() {
            tracing::error!(status = status.as_u16(), code = problem.code, error = %causes(self), "request failed");
        }
        let mut response = HttpResponse::build(status);
        response.insert_header((header::CONTENT_TYPE, "application/problem+json"));
        if let Self::Unauthorized = self {
            response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        if let Self::MethodNotAllowed { allow, .. } = self {
            response.insert_header((header::ALLOW, allow.join(", ")));
        }
        response.body(serde_json::to_string(&problem).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use integra_ports::{BusError, StoreError};

    use super::*;

    fn service(e: ServiceError) -> ApiError {
        ApiError::Service(e)
    }

    fn id(text: &str) -> Option<integra_domain::Id> {
        integra_domain::Id::parse(text).ok()
    }

    #[test]
    fn every_failure_maps_to_the_contracts_status_and_a_problem_body() {
        let down = || BusError::Unavailable("down".into());
        let cases: Vec<(ApiError, u16)> = vec![
            (ApiError::BadRequest("x".into()), 400),
            (ApiError::Unauthorized, 401),
            (ApiError::NoRoute("x".into()), 404),
            (
                ApiError::MethodNotAllowed {
                    method: "PUT".into(),
                    allow: vec!["GET", "HEAD"],
                },
                405,
            ),
            (
                ApiError::RequestTimeout(std::time::Duration::from_secs(1)),
                408,
            ),
            (ApiError::PayloadTooLarge(10), 413),
            (ApiError::UnsupportedMediaType("x".into()), 415),
            (service(ServiceError::NotFound("x".into())), 404),
            (service(ServiceError::Conflict("x".into())), 409),
            (ValidationError::new("f", "r").into(), 422),
            (
                service(ServiceError::Unpublishable {
                    id: id("m"),
                    reason: "too large".into(),
                }),
                422,
            ),
            (
                service(ServiceError::BusUnavailable {
                    id: id("m"),
                    cause: down(),
                }),
                502,
            ),
            (
                service(ServiceError::BusTimedOut {
                    id: id("m"),
                    cause: BusError::Timeout("slow".into()),
                }),
                504,
            ),
            (service(StoreError::Unavailable("down".into()).into()), 503),
            (service(StoreError::Timeout.into()), 504),
            (service(ServiceError::Overloaded("full".into())), 503),
        ];
        for (error, status) in cases {
            let response = error.error_response();
            assert_eq!(response.status().as_u16(), status, "{error:?}");
            assert_eq!(
                response.headers().get(header::CONTENT_TYPE).unwrap(),
                "application/problem+json"
            );
            let problem = error.problem();
            assert_eq!(problem.status, status);
            assert!(!problem.code.is_empty() && !problem.detail.is_empty());
        }
    }

    #[test]
    fn server_errors_tell_the_client_what_it_can_use_not_the_internals() {
        let store =
            service(StoreError::Unavailable("redis: IO error 10.0.0.7:6379 refused".into()).into());
        assert_eq!(store.detail(), "the store is unavailable");
        let bus = service(ServiceError::BusUnavailable {
            id: id("m1"),
            cause: BusError::Unavailable("broker kafka-3 down".into()),
        });
        assert!(!bus.detail().contains("kafka-3"));
        assert!(bus.detail().contains("it is stored"));
        let broadcast = service(ServiceError::BusUnavailable {
            id: None,
            cause: BusError::Unavailable("down".into()),
        });
        assert!(
            !broadcast.detail().contains("stored"),
            "{}",
            broadcast.detail()
        );
        assert_eq!(bus.problem().id.as_deref(), Some("m1"));
        assert!(causes(&bus).contains("kafka-3"), "the log keeps the cause");
    }
}
