//! A WebSocket client that answers pings and reads frames with deadlines.

use std::time::{Duration, Instant};

use awc::ws;
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;

use crate::client;

/// A WebSocket client.
pub struct WsClient {
    framed: actix_codec::Framed<awc::BoxedSocket, ws::Codec>,
    /// Its `conexao_id`, from the `conectado` event.
    pub id: String,
}

impl WsClient {
    /// Connects and reads the `conectado` event.
    pub async fn connect(url: &str) -> Self {
        let (_, framed) = client()
            .ws(url)
            .max_frame_size(16 << 20)
            .connect()
            .await
            .unwrap_or_else(|e| panic!("ws connect {url}: {e}"));
        let mut client = Self {
            framed,
            id: String::new(),
        };
        let hello = client.next_json().await;
        assert_eq!(hello["evento"], "conectado");
        client.id = hello["dados"]["conexao_id"].as_str().unwrap().to_owned();
        client
    }

    /// The next text frame (pings are answered), within 10 s.
    pub async fn next_text(&mut self) -> String {
        match self.next_frame(Duration::from_secs(10)).await {
            Some(ws::Frame::Text(t)) => String::from_utf8(t.to_vec()).unwrap(),
            other => panic!("expected a text frame, got {other:?}"),
        }
    }

    /// The next text frame as JSON.
    pub async fn next_json(&mut self) -> Value {
        serde_json::from_str(&self.next_text().await).unwrap()
    }

    /// The next frame other than a ping (answered), or `None` when the stream ends or `within` passes.
    pub async fn next_frame(&mut self, within: Duration) -> Option<ws::Frame> {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            match actix_rt::time::timeout(left, self.framed.next()).await {
                Ok(Some(Ok(ws::Frame::Ping(p)))) => {
                    self.framed.send(ws::Message::Pong(p)).await.unwrap()
                }
                Ok(Some(Ok(frame))) => return Some(frame),
                Ok(Some(Err(_)) | None) | Err(_) => return None,
            }
        }
    }

    /// The close code the server ends with, reading past queued texts (pings are not answered).
    pub async fn close_code(&mut self, within: Duration) -> Option<u16> {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            match actix_rt::time::timeout(left, self.framed.next()).await {
                Ok(Some(Ok(ws::Frame::Close(reason)))) => return reason.map(|r| u16::from(r.code)),
                Ok(Some(Ok(_))) => {}
                Ok(Some(Err(_)) | None) | Err(_) => return None,
            }
        }
    }

    /// Sends a text frame.
    pub async fn send_text(&mut self, text: &str) {
        self.framed
            .send(ws::Message::Text(text.to_owned().into()))
            .await
            .unwrap();
    }
}
