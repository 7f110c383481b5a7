//! A WebSocket client written on a bare TCP socket, for what a well-behaved client library will
//! not do: announce a frame it never sends, fragment past a limit, send invalid text, flood pings
//! without reading, or watch when the server closes the TCP connection.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Frame opcodes (RFC 6455 §5.2).
pub mod opcode {
    /// A continuation fragment.
    pub const CONTINUATION: u8 = 0x0;
    /// Text.
    pub const TEXT: u8 = 0x1;
    /// Binary.
    pub const BINARY: u8 = 0x2;
    /// Close.
    pub const CLOSE: u8 = 0x8;
    /// Ping.
    pub const PING: u8 = 0x9;
    /// Pong.
    pub const PONG: u8 = 0xA;
}

/// A raw WebSocket connection.
pub struct RawWs {
    stream: TcpStream,
    buf: Vec<u8>,
}

/// A frame from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerFrame {
    /// Its opcode.
    pub opcode: u8,
    /// Its payload.
    pub payload: Vec<u8>,
}

impl RawWs {
    /// Connects to `http://host:port` + `path` and completes the handshake.
    pub async fn connect(base: &str, path: &str) -> Self {
        let host = base.trim_start_matches("http://");
        let mut stream = TcpStream::connect(host).await.unwrap();
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut ws = Self {
            stream,
            buf: Vec::new(),
        };
        while !ws.buf.windows(4).any(|w| w == b"\r\n\r\n") {
            assert!(ws.fill(Duration::from_secs(5)).await, "no handshake answer");
        }
        let end = ws.buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        let head = String::from_utf8_lossy(&ws.buf[..end]).into_owned();
        assert!(head.starts_with("HTTP/1.1 101"), "not upgraded: {head}");
        ws.buf.drain(..end);
        ws
    }

    /// Reads more bytes within `within`; false when the connection ended or nothing came.
    async fn fill(&mut self, within: Duration) -> bool {
        let mut chunk = [0_u8; 8192];
        match tokio::time::timeout(within, self.stream.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
            _ => false,
        }
    }

    /// A frame header as a client writes it (masked with a zero key, so payloads go as they are),
    /// announcing `length` bytes.
    fn header(fin: bool, opcode: u8, length: u64) -> Vec<u8> {
        let mut head = vec![if fin { 0x80 } else { 0 } | opcode];
        match length {
            0..=125 => head.push(0x80 | u8::try_from(length).unwrap()),
            126..=0xFFFF => {
                head.push(0x80 | 126);
                head.extend_from_slice(&u16::try_from(length).unwrap().to_be_bytes());
            }
            _ => {
                head.push(0x80 | 127);
                head.extend_from_slice(&length.to_be_bytes());
            }
        }
        head.extend_from_slice(&[0, 0, 0, 0]);
        head
    }

    /// Sends a whole frame. Fails (returns false) once the server has closed the connection.
    pub async fn send(&mut self, fin: bool, opcode: u8, payload: &[u8]) -> bool {
        let mut frame = Self::header(fin, opcode, payload.len() as u64);
        frame.extend_from_slice(payload);
        self.stream.write_all(&frame).await.is_ok()
    }

    /// Sends only a frame's header, announcing `length` bytes that never come.
    pub async fn announce(&mut self, fin: bool, opcode: u8, length: u64) -> bool {
        let head = Self::header(fin, opcode, length);
        self.stream.write_all(&head).await.is_ok()
    }

    /// The next frame from the server, within `within`.
    pub async fn frame(&mut self, within: Duration) -> Option<ServerFrame> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(frame) = self.parse() {
                return Some(frame);
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            if !self.fill(left).await {
                return None;
            }
        }
    }

    fn parse(&mut self) -> Option<ServerFrame> {
        let buf = &self.buf;
        if buf.len() < 2 {
            return None;
        }
        let (length, at) = match buf[1] & 0x7F {
            126 if buf.len() >= 4 => (usize::from(u16::from_be_bytes([buf[2], buf[3]])), 4),
            127 if buf.len() >= 10 => {
                let mut be = [0; 8];
                be.copy_from_slice(&buf[2..10]);
                (usize::try_from(u64::from_be_bytes(be)).unwrap(), 10)
            }
            126 | 127 => return None,
            short => (usize::from(short), 2),
        };
        if buf.len() < at + length {
            return None;
        }
        let opcode = buf[0] & 0x0F;
        let payload = buf[at..at + length].to_vec();
        self.buf.drain(..at + length);
        Some(ServerFrame { opcode, payload })
    }

    /// The code of the server's Close frame, reading past anything else, within `within`.
    pub async fn close_code(&mut self, within: Duration) -> Option<u16> {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            let frame = self.frame(left).await?;
            if frame.opcode == opcode::CLOSE {
                return frame
                    .payload
                    .get(..2)
                    .map(|code| u16::from_be_bytes([code[0], code[1]]));
            }
        }
    }

    /// How long until the server closes the TCP connection (reads return nothing), at most
    /// `within`; anything the server still sends is read and dropped.
    pub async fn closed_within(&mut self, within: Duration) -> Option<Duration> {
        let started = Instant::now();
        let mut chunk = [0_u8; 8192];
        loop {
            let left = (started + within).checked_duration_since(Instant::now())?;
            match tokio::time::timeout(left, self.stream.read(&mut chunk)).await {
                Ok(Ok(0) | Err(_)) => return Some(started.elapsed()),
                Ok(Ok(_)) => {}
                Err(_) => return None,
            }
        }
    }
}
