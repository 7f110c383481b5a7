//! HTTP helpers: a client, and answers read whole (status, headers, JSON, text). Reading an
//! answer fails the test on a 500: no request may produce one.

use std::time::Duration;

use serde_json::Value;

/// An HTTP client with room for large bodies.
pub fn client() -> awc::Client {
    awc::Client::builder()
        .timeout(Duration::from_secs(30))
        .finish()
}

/// A response: status, headers, body as JSON (`Value::Null` when empty or not JSON) and raw text.
pub struct Reply {
    /// The status.
    pub status: u16,
    /// The headers.
    pub headers: awc::http::header::HeaderMap,
    /// The body as JSON.
    pub json: Value,
    /// The body as text.
    pub text: String,
}

impl Reply {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts the body is a problem document with this status.
    pub fn assert_problem(&self, status: u16) -> &Self {
        assert_eq!(self.status, status, "body: {}", self.text);
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "body: {}",
            self.text
        );
        assert_eq!(self.json["status"], status, "body: {}", self.text);
        assert!(
            self.json["title"].is_string() && self.json["detail"].is_string(),
            "body: {}",
            self.text
        );
        self
    }
}

async fn read<S>(mut res: awc::ClientResponse<S>) -> Reply
where
    S: futures_util::Stream<Item = Result<bytes::Bytes, awc::error::PayloadError>> + Unpin,
{
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let body = res.body().limit(64 << 20).await.unwrap();
    let text = String::from_utf8_lossy(&body).into_owned();
    let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
    assert_ne!(status, 500, "a 500 answer: {text}");
    Reply {
        status,
        headers,
        json,
        text,
    }
}

/// GET `url`.
pub async fn get(url: &str) -> Reply {
    get_with(url, &[]).await
}

/// GET `url` with headers.
pub async fn get_with(url: &str, headers: &[(&str, &str)]) -> Reply {
    let mut req = client().get(url);
    for (k, v) in headers {
        req = req.insert_header((*k, *v));
    }
    read(req.send().await.unwrap()).await
}

/// POST JSON to `url`.
pub async fn post(url: &str, body: &Value) -> Reply {
    let sent = client().post(url).send_json(body).await;
    read(sent.unwrap_or_else(|e| panic!("POST {url}: {e:?}"))).await
}

/// DELETE `url`.
pub async fn delete(url: &str) -> Reply {
    let sent = client().delete(url).send().await;
    read(sent.unwrap_or_else(|e| panic!("DELETE {url}: {e:?}"))).await
}

/// POST a raw body with a content type (or none) and extra headers.
pub async fn post_raw(
    url: &str,
    content_type: Option<&str>,
    body: impl Into<Vec<u8>>,
    headers: &[(&str, &str)],
) -> Reply {
    let mut req = client().post(url);
    if let Some(ct) = content_type {
        req = req.insert_header(("content-type", ct));
    }
    for (k, v) in headers {
        req = req.insert_header((*k, *v));
    }
    read(req.send_body(body.into()).await.unwrap()).await
}
