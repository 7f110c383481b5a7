//! A Server-Sent Events client that reads events with deadlines.

use std::pin::Pin;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};

type Body = Pin<Box<dyn Stream<Item = Result<Bytes, awc::error::PayloadError>>>>;

/// One event: its `id`, `event` and `data` fields (comments are skipped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// `id:`, if given.
    pub id: Option<String>,
    /// `event:`, `message` when not given.
    pub event: String,
    /// `data:`, lines joined with `\n`.
    pub data: String,
}

/// An open event stream.
pub struct SseClient {
    body: Body,
    buf: String,
    /// The response's status.
    pub status: u16,
    /// The response's content type.
    pub content_type: String,
    /// Blocks of comments alone read so far (keep-alive lines).
    pub comments: usize,
}

impl SseClient {
    /// Opens `url` with these headers (`Accept: text/event-stream` is added).
    pub async fn open(url: &str, headers: &[(&str, &str)]) -> Self {
        let client = awc::Client::builder().disable_timeout().finish();
        let mut req = client
            .get(url)
            .insert_header(("accept", "text/event-stream"));
        for (name, value) in headers {
            req = req.insert_header((*name, *value));
        }
        let res = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}"));
        let content_type = res
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        Self {
            status: res.status().as_u16(),
            content_type,
            body: Box::pin(res),
            buf: String::new(),
            comments: 0,
        }
    }

    /// The next event, within `within`; `None` when the stream ends or the time passes.
    pub async fn next_event(&mut self, within: Duration) -> Option<SseEvent> {
        let deadline = Instant::now() + within;
        loop {
            while let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                match parse(&block) {
                    Some(event) => return Some(event),
                    None => self.comments += 1,
                }
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            match actix_rt::time::timeout(left, self.body.next()).await {
                Ok(Some(Ok(chunk))) => self.buf.push_str(&String::from_utf8_lossy(&chunk)),
                Ok(Some(Err(_)) | None) | Err(_) => return None,
            }
        }
    }
}

/// An event block, or `None` for one of comments alone.
fn parse(block: &str) -> Option<SseEvent> {
    let (mut id, mut event, mut data) = (None, None, Vec::new());
    for line in block.lines() {
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "id" => id = Some(value.to_owned()),
            "event" => event = Some(value.to_owned()),
            "data" => data.push(value),
            _ => {}
        }
    }
    if event.is_none() && data.is_empty() && id.is_none() {
        return None;
    }
    Some(SseEvent {
        id,
        event: event.unwrap_or_else(|| "message".into()),
        data: data.join("\n"),
    })
}
