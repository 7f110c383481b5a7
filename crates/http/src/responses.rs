//! The error answers the routes share, each documented once for the OpenAPI document; a route
//! lists the sets it can give. Every one is a [`Problem`] as `application/problem+json`.

#![allow(dead_code, reason = "documentation only: never built, read by utoipa")]

use utoipa::IntoResponses;

use crate::Problem;

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
