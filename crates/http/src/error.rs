//! The one error type of the HTTP edge, answered as `application/problem+json` (RFC 9457).

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use integra_ports::{BusError, StoreError};
use integra_services::ServiceError;
use serde::Serialize;

/// Everything a request can fail with. Each variant is one status; 5xx answers log their cause.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Malformed JSON, a bad query or path value (400).
    #[error("{0}")]
    BadRequest(String),
    /// Missing or wrong credentials (401).
    #[error("missing or invalid API key")]
    Unauthorized,
    /// Unknown resource or route (404).
    #[error("{0}")]
    NotFound(String),
    /// Another request is working on the same resource (409).
    #[error("{0}")]
    Conflict(String),
    /// The body is over `server.body_limit_bytes` (413).
    #[error("the body is over the limit of {0} bytes")]
    PayloadTooLarge(usize),
    /// A JSON endpoint was given another content type (415).
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// Well-formed but invalid; `field` names the offending field (422).
    #[error("{field}: {reason}")]
    Invalid {
        /// The JSON path of the field.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The bus refused or could not be reached (502), timed out (504) or will never take the record
    /// (422). `id` names the message or alert, which stays stored.
    #[error("{source}")]
    Bus {
        /// The entity concerned.
        id: Option<String>,
        /// What the bus said.
        source: BusError,
    },
    /// The store failed (503; 504 on a timeout).
    #[error("{0}")]
    Store(StoreError),
    /// A limit of this instance is reached (503).
    #[error("{0}")]
    Overloaded(String),
    /// Data this version cannot read was found in the store (503: the store is not usable as is).
    #[error("{0}")]
    Corrupt(String),
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Invalid(v) => Self::Invalid {
                field: v.field,
                reason: v.reason,
            },
            ServiceError::NotFound(what) => Self::NotFound(format!("{what} not found")),
            ServiceError::Conflict(why) => Self::Conflict(why),
            ServiceError::Store(e) => Self::Store(e),
            ServiceError::Publish { id, source } => Self::Bus { id, source },
            ServiceError::Overloaded(why) => Self::Overloaded(why),
            ServiceError::Corrupt(why) => Self::Corrupt(why),
        }
    }
}

/// The problem document.
#[derive(Debug, Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    title: &'a str,
    status: u16,
    detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
}

impl ApiError {
    /// What the client may be told. 5xx details say what failed, never internals.
    fn detail(&self) -> String {
        match self {
            Self::Bus { source: BusError::Unavailable(_), .. } => {
                "the message bus refused the record or could not be reached; it is stored and a retry with the same id tries again".into()
            }
            Self::Bus { source: BusError::Timeout(_), .. } => {
                "the message bus did not acknowledge in time; it is stored and a retry with the same id tries again".into()
            }
            Self::Bus { source: BusError::Rejected(why), .. } => format!("the message bus will not take this record: {why}"),
            Self::Store(StoreError::Timeout) => "the store did not answer in time".into(),
            Self::Store(StoreError::Unavailable(_)) | Self::Corrupt(_) => "the store is unavailable".into(),
            other => other.to_string(),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Invalid { .. }
            | Self::Bus {
                source: BusError::Rejected(_),
                ..
            } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Bus {
                source: BusError::Unavailable(_),
                ..
            } => StatusCode::BAD_GATEWAY,
            Self::Bus {
                source: BusError::Timeout(_),
                ..
            }
            | Self::Store(StoreError::Timeout) => StatusCode::GATEWAY_TIMEOUT,
            Self::Store(StoreError::Unavailable(_)) | Self::Overloaded(_) | Self::Corrupt(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if status.is_server_error() {
            tracing::error!(status = status.as_u16(), error = %self, cause = ?self, "request failed");
        }
        let (field, id) = match self {
            Self::Invalid { field, .. } => (Some(field.as_str()), None),
            Self::Bus { id, .. } => (None, id.as_deref()),
            _ => (None, None),
        };
        let problem = Problem {
            kind: "about:blank",
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            detail: self.detail(),
            field,
            id,
        };
        let mut response = HttpResponse::build(status);
        response.insert_header((header::CONTENT_TYPE, "application/problem+json"));
        if let Self::Unauthorized = self {
            response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        response.body(serde_json::to_string(&problem).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_failure_maps_to_the_contracts_status_and_a_problem_body() {
        let cases: Vec<(ApiError, u16)> = vec![
            (ApiError::BadRequest("x".into()), 400),
            (ApiError::Unauthorized, 401),
            (ApiError::NotFound("x".into()), 404),
            (ApiError::Conflict("x".into()), 409),
            (ApiError::PayloadTooLarge(10), 413),
            (ApiError::UnsupportedMediaType("x".into()), 415),
            (
                ApiError::Invalid {
                    field: "f".into(),
                    reason: "r".into(),
                },
                422,
            ),
            (
                ApiError::Bus {
                    id: Some("m".into()),
                    source: BusError::Rejected("too large".into()),
                },
                422,
            ),
            (
                ApiError::Bus {
                    id: Some("m".into()),
                    source: BusError::Unavailable("down".into()),
                },
                502,
            ),
            (
                ApiError::Bus {
                    id: Some("m".into()),
                    source: BusError::Timeout("slow".into()),
                },
                504,
            ),
            (ApiError::Store(StoreError::Unavailable("down".into())), 503),
            (ApiError::Store(StoreError::Timeout), 504),
            (ApiError::Overloaded("full".into()), 503),
            (ApiError::Corrupt("bad".into()), 503),
        ];
        for (error, status) in cases {
            let response = error.error_response();
            assert_eq!(response.status().as_u16(), status, "{error:?}");
            assert_eq!(
                response.headers().get(header::CONTENT_TYPE).unwrap(),
                "application/problem+json"
            );
        }
    }

    #[test]
    fn server_errors_tell_the_client_what_it_can_use_not_the_internals() {
        let error = ApiError::Store(StoreError::Unavailable(
            "redis: IO error 10.0.0.7:6379 refused".into(),
        ));
        assert_eq!(error.detail(), "the store is unavailable");
        let bus = ApiError::Bus {
            id: Some("m1".into()),
            source: BusError::Unavailable("broker kafka-3 down".into()),
        };
        assert!(!bus.detail().contains("kafka-3"));
    }
}
