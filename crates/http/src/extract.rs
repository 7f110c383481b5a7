//! Extractors whose every failure is a problem answer: JSON bodies (content type, encoding, size
//! limit, read timeout, syntax, repeated keys, unknown and invalid fields) and the error handlers
//! of actix's query and path extractors.

use std::fmt;
use std::future::Future;
use std::io::Write;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::error::{PathError, QueryPayloadError};
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use flate2::write::GzDecoder;
use futures_util::StreamExt;
use integra_domain::{ValidationError, SERVER_OWNED_FIELDS};
use serde::de::{self, DeserializeOwned, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::{ApiError, AppState, HttpSettings};

/// A JSON body: `application/json` (or any `+json` type), plain or gzip-encoded, at most
/// `server.body_limit_bytes` once decoded, arrived within `server.request_timeout_ms`,
/// well-formed (else 400), with no repeated key, no unknown field and every field valid (else 422
/// naming it). Fields the server owns are dropped before reading.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let settings = req
            .app_data::<web::Data<AppState>>()
            .map_or_else(HttpSettings::default, |s| s.settings.clone());
        let checked = check_headers(req, settings.body_limit_bytes);
        let mut payload = payload.take();
        Box::pin(async move {
            let encoding = checked?;
            let read = read_body(&mut payload, encoding, settings.body_limit_bytes);
            let body = tokio::time::timeout(settings.request_timeout, read)
                .await
                .map_err(|_| ApiError::RequestTimeout(settings.request_timeout))??;
            parse(&body).map(JsonBody)
        })
    }
}

/// A JSON body a route may go without: `None` when the request has none (no `Content-Length`, or
/// 0, and no `Transfer-Encoding`); a body that is there is read as [`JsonBody`] reads it.
pub struct OptionalJson<T>(pub Option<T>);

impl<T: DeserializeOwned + 'static> FromRequest for OptionalJson<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let headers = req.headers();
        let length = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok());
        let empty =
            matches!(length, None | Some("0")) && !headers.contains_key(header::TRANSFER_ENCODING);
        if empty {
            return Box::pin(async { Ok(Self(None)) });
        }
        let body = JsonBody::<T>::from_request(req, payload);
        Box::pin(async move { Ok(Self(Some(body.await?.0))) })
    }
}

/// How a body is encoded: the `Content-Encoding`s Integra reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Identity,
    Gzip,
}

fn check_headers(req: &HttpRequest, limit: usize) -> Result<Encoding, ApiError> {
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
    let encoding = match req
        .headers()
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("?").trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("" | "identity") => Encoding::Identity,
        Some("gzip" | "x-gzip") => Encoding::Gzip,
        Some(other) => {
            return Err(ApiError::UnsupportedMediaType(format!(
                "content encoding `{other}` is not supported; send the body plain or gzip-encoded"
            )))
        }
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    if encoding == Encoding::Identity && declared.is_some_and(|n| n > limit) {
        return Err(ApiError::PayloadTooLarge(limit));
    }
    Ok(encoding)
}

/// Collects decoded bytes up to a limit; past it, writing fails, which stops a decoder at once,
/// however much its input would still inflate to.
struct Limited {
    bytes: Vec<u8>,
    limit: usize,
}

impl Write for Limited {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.bytes.len() + buf.len() > self.limit {
            return Err(std::io::Error::other("over the body limit"));
        }
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Reads a body, decoding it, never holding more than `limit` decoded bytes.
async fn read_body(
    payload: &mut Payload,
    encoding: Encoding,
    limit: usize,
) -> Result<Vec<u8>, ApiError> {
    let unreadable =
        |e: &dyn fmt::Display| ApiError::BadRequest(format!("could not read the body: {e}"));
    let mut sink = Limited {
        bytes: Vec::new(),
        limit,
    };
    let mut gzip = (encoding == Encoding::Gzip).then(|| GzDecoder::new(Vec::new()));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| unreadable(&e))?;
        match &mut gzip {
            None => sink
                .write_all(&chunk)
                .map_err(|_| ApiError::PayloadTooLarge(limit))?,
            Some(decoder) => {
                decoder
                    .write_all(&chunk)
                    .map_err(|e| ApiError::BadRequest(format!("the gzip body is corrupt: {e}")))?;
                let decoded = std::mem::take(decoder.get_mut());
                sink.write_all(&decoded)
                    .map_err(|_| ApiError::PayloadTooLarge(limit))?;
            }
        }
    }
    if let Some(decoder) = gzip {
        let rest = decoder
            .finish()
            .map_err(|e| ApiError::BadRequest(format!("the gzip body is corrupt: {e}")))?;
        sink.write_all(&rest)
            .map_err(|_| ApiError::PayloadTooLarge(limit))?;
    }
    Ok(sink.bytes)
}

/// Reads a JSON document into `T`, telling malformed JSON (400) from invalid content (422). A
/// repeated key is invalid content: which of its values a reader keeps is not defined.
///
/// # Errors
/// [`ApiError::BadRequest`], or an invalid field, named.
pub fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    // The usual body is read straight into `T`: the request types refuse unknown fields, and
    // repeated keys (serde's derive for fields, `unique_map` for maps), so what this accepts the
    // strict reading below accepts too, with the same result. A body with a server-owned field,
    // or any fault, takes the strict reading, which drops those fields and names what is wrong.
    // Read as text when the body is UTF-8 as a whole (a JSON body always is): the body is checked
    // once, where reading bytes checks each string it holds (a sixteenth of a metric push's
    // instructions). A body that is not UTF-8 takes the strict reading, which says where.
    if let Some(read) = std::str::from_utf8(body)
        .ok()
        .and_then(|text| serde_json::from_str::<T>(text).ok())
    {
        return Ok(read);
    }
    // Tracking the path of every value costs a fifth of a small request: a body is read without
    // it, and read again with it only to name what it refuses.
    let mut reader = serde_json::Deserializer::from_slice(body);
    let mut value = match Strict::deserialize(&mut reader).and_then(|Strict(v)| {
        reader.end()?;
        Ok(v)
    }) {
        Ok(value) => value,
        Err(_) => return Err(parse_error(body)),
    };
    match &mut value {
        Value::Array(items) => items.iter_mut().for_each(drop_owned_fields),
        item => drop_owned_fields(item),
    }
    from_value(value)
}

/// Why `body` is refused, with the path of what is wrong in it.
fn parse_error(body: &[u8]) -> ApiError {
    let mut reader = serde_json::Deserializer::from_slice(body);
    match serde_path_to_error::deserialize::<_, Strict>(&mut reader) {
        Ok(_) => match reader.end() {
            Ok(()) => ApiError::BadRequest("malformed JSON".into()),
            Err(e) => ApiError::BadRequest(format!("malformed JSON: {e}")),
        },
        Err(e) if e.inner().is_data() => {
            let path = e.path().to_string();
            let message = e.inner().to_string();
            ValidationError::new(field_of(&path, &message), message).into()
        }
        Err(e) => ApiError::BadRequest(format!("malformed JSON: {}", e.inner())),
    }
}

/// A JSON value read strictly: a key repeated in one object is an error naming it.
pub(crate) struct Strict(pub(crate) Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(de::Error::custom(format!("repeated key `{key}`")));
            }
            let Strict(value) = map.next_value()?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

/// Reads an already parsed JSON document (server-owned fields already dropped) into `T`; an
/// invalid field is a 422 naming it.
///
/// # Errors
/// An invalid field, named.
pub fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, ApiError> {
    // As in `parse`: the path is tracked only to name a refused field.
    if let Ok(read) = T::deserialize(&value) {
        return Ok(read);
    }
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
    let quoted = ["unknown field `", "missing field `", "repeated key `"]
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
    fn a_key_repeated_in_an_object_or_in_a_map_is_refused_naming_it() {
        let field = parse::<NovaMensagem>(
            br#"{"tipo":"sms","destinatario":"a","destinatario":"b","conteudo":"c"}"#,
        );
        assert_eq!(invalid_field(field), "destinatario");
        let in_map = parse::<NovaMensagem>(
            br#"{"tipo":"sms","destinatario":"a","conteudo":"c","metadados":{"k":"1","k":"2"}}"#,
        );
        assert_eq!(invalid_field(in_map), "metadados.k");
        let in_batch = parse::<Vec<integra_domain::NovaMetrica>>(
            br#"[{"nome":"a","valor":1},{"nome":"b","valor":2,"labels":{"z":"1","z":"1"}}]"#,
        );
        assert_eq!(invalid_field(in_batch), "[1].labels.z");
    }

    #[test]
    fn fields_the_server_owns_are_ignored() {
        let m: NovaMensagem =
            parse(br#"{"tipo":"sms","destinatario":"a","conteudo":"b","status":"CONCLUIDA","tentativas":9}"#).unwrap();
        assert_eq!(m.destinatario, "a");
    }
}
