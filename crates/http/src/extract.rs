//! Extractors whose every failure is a problem answer: JSON bodies (content type, size limit,
//! syntax, unknown and invalid fields) and the error handlers of actix's query and path extractors.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::error::{PathError, QueryPayloadError};
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::StreamExt;
use integra_domain::{ValidationError, SERVER_OWNED_FIELDS};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::{ApiError, AppState};

/// A JSON body: `application/json` (or any `+json` type), at most `server.body_limit_bytes`,
/// well-formed (else 400), with no unknown fields and every field valid (else 422 naming it).
/// Fields the server owns are dropped before reading.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req
            .app_data::<web::Data<AppState>>()
            .map_or(1024 * 1024, |s| s.settings.body_limit_bytes);
        let checked = check_headers(req, limit);
        let mut payload = payload.take();
        Box::pin(async move {
            checked?;
            let mut body = web::BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk
                    .map_err(|e| ApiError::BadRequest(format!("could not read the body: {e}")))?;
                if body.len() + chunk.len() > limit {
                    return Err(ApiError::PayloadTooLarge(limit));
                }
                body.extend_from_slice(&chunk);
            }
            parse(&body).map(JsonBody)
        })
    }
}

fn check_headers(req: &HttpRequest, limit: usize) -> Result<(), ApiError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if essence != "application/json"
        && !(essence.starts_with("application/") && essence.ends_with("+json"))
    {
        let given = if content_type.is_empty() {
            "no content type".to_owned()
        } else {
            format!("`{content_type}`")
        };
        return Err(ApiError::UnsupportedMediaType(format!(
            "expected application/json, got {given}"
        )));
    }
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(ApiError::PayloadTooLarge(limit));
    }
    Ok(())
}

/// Reads a JSON document into `T`, telling malformed JSON (400) from invalid content (422).
///
/// # Errors
/// [`ApiError::BadRequest`], or an invalid field.
pub fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let mut value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("malformed JSON: {e}")))?;
    match &mut value {
        Value::Array(items) => items.iter_mut().for_each(drop_owned_fields),
        item => drop_owned_fields(item),
    }
    from_value(value)
}

/// Reads an already parsed JSON document (server-owned fields already dropped) into `T`; an
/// invalid field is a 422 naming it.
///
/// # Errors
/// An invalid field, named.
pub fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let message = e.inner().to_string();
        ValidationError::new(field_of(&path, &message), message).into()
    })
}

fn drop_owned_fields(value: &mut Value) {
    if let Value::Object(map) = value {
        for field in SERVER_OWNED_FIELDS {
            map.remove(*field);
        }
    }
}

/// The field an error is about: its path, completed with the name serde quotes for unknown and
/// missing fields (whose path stops at the parent object).
fn field_of(path: &str, message: &str) -> String {
    let quoted = ["unknown field `", "missing field `"]
        .iter()
        .find_map(|p| message.strip_prefix(p))
        .and_then(|rest| rest.split('`').next());
    let parent = if path == "." { "" } else { path };
    match quoted {
        // serde_path_to_error already ends the path of an unknown field with its name.
        Some(name) if parent == name || parent.ends_with(&format!(".{name}")) => parent.to_owned(),
        Some(name) if parent.is_empty() => name.to_owned(),
        Some(name) => format!("{parent}.{name}"),
        None if parent.is_empty() => "body".to_owned(),
        None => parent.to_owned(),
    }
}

/// Turns a bad query string into a 400 problem.
pub fn query_error(err: QueryPayloadError, _: &HttpRequest) -> actix_web::Error {
    ApiError::BadRequest(format!("invalid query: {err}")).into()
}

/// Turns a bad path value into a 400 problem.
pub fn path_error(err: PathError, _: &HttpRequest) -> actix_web::Error {
    ApiError::BadRequest(format!("invalid path: {err}")).into()
}

#[cfg(test)]
mod tests {
    use integra_domain::NovaMensagem;

    use super::*;

    /// The field an answer names as invalid (a 422).
    fn invalid_field<T: std::fmt::Debug>(answer: Result<T, ApiError>) -> String {
        let problem = answer.unwrap_err().problem();
        assert_eq!(problem.status, 422);
        problem.field.unwrap_or_default()
    }

    #[test]
    fn syntax_errors_are_bad_requests_and_content_errors_name_the_field() {
        assert!(matches!(
            parse::<NovaMensagem>(b"{\"tipo\":"),
            Err(ApiError::BadRequest(_))
        ));
        let unknown =
            parse::<NovaMensagem>(br#"{"tipo":"sms","destinatario":"a","conteudo":"b","cor":1}"#);
        assert_eq!(invalid_field(unknown), "cor");
        let missing = parse::<NovaMensagem>(br#"{"tipo":"sms","conteudo":"b"}"#);
        assert_eq!(invalid_field(missing), "destinatario");
        let wrong = parse::<NovaMensagem>(br#"{"tipo":"fax","destinatario":"a","conteudo":"b"}"#);
        assert_eq!(invalid_field(wrong), "tipo");
        let nested = parse::<Vec<integra_domain::NovaMetrica>>(
            br#"[{"nome":"a","valor":1},{"nome":"b","valor":"x"}]"#,
        );
        assert_eq!(invalid_field(nested), "[1].valor");
    }

    #[test]
    fn fields_the_server_owns_are_ignored() {
        let m: NovaMensagem =
            parse(br#"{"tipo":"sms","destinatario":"a","conteudo":"b","status":"CONCLUIDA","tentativas":9}"#).unwrap();
        assert_eq!(m.destinatario, "a");
    }
}
