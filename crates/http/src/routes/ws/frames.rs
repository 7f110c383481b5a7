//! The inbound side of a WebSocket: frames read straight from the connection's payload, so that
//! every limit applies before the bytes it guards are buffered. A frame whose header announces
//! more than `ws.max_frame_bytes` (alone, or with the fragments before it) is refused as soon as
//! its length is read; the connection's payload itself pauses the socket while this reader does
//! not read, so nothing a client sends is held beyond one frame.

use actix_web::dev::Payload;
use actix_web::web::{Bytes, BytesMut};
use futures_util::StreamExt;

/// A whole message or control frame from the client.
#[derive(Debug)]
pub(super) enum Received {
    /// A text message, its fragments joined, valid UTF-8.
    Text(String),
    /// A binary message (its content is not needed: Integra takes text only).
    Binary,
    /// A ping, to be answered with its payload.
    Ping(Bytes),
    /// A pong.
    Pong,
    /// The client closes, with its code if it gave one.
    Close(Option<u16>),
}

/// Why the reader gives up on a connection, each with its close code (RFC 6455 §7.4.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Refusal {
    /// A message over `ws.max_frame_bytes` (1009).
    TooBig,
    /// A text message that is not UTF-8 (1007).
    NotUtf8,
    /// A frame the protocol does not allow (1002).
    Protocol(&'static str),
    /// The connection ended or failed: nothing more can be sent either.
    Gone,
}

/// A frame, unmasked.
struct Frame {
    fin: bool,
    opcode: Opcode,
    payload: BytesMut,
}

/// What a frame is (RFC 6455 §5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Opcode {
    Continuation,
    Text,
    Binary,
    Close,
    Ping,
    Pong,
}

impl Opcode {
    fn parse(bits: u8) -> Option<Self> {
        Some(match bits {
            0x0 => Self::Continuation,
            0x1 => Self::Text,
            0x2 => Self::Binary,
            0x8 => Self::Close,
            0x9 => Self::Ping,
            0xA => Self::Pong,
            _ => return None,
        })
    }
}

/// A message being assembled from fragments.
struct Fragments {
    text: bool,
    data: BytesMut,
}

/// Reads frames from a WebSocket connection's payload.
pub(super) struct Inbound {
    payload: Payload,
    buf: BytesMut,
    max_message: usize,
    fragments: Option<Fragments>,
}

impl Inbound {
    /// A reader refusing messages over `max_message` bytes.
    pub(super) fn new(payload: Payload, max_message: usize) -> Self {
        Self {
            payload,
            buf: BytesMut::new(),
            max_message,
            fragments: None,
        }
    }

    /// The next message or control frame. Cancel-safe: what was read stays in the reader.
    pub(super) async fn next(&mut self) -> Result<Received, Refusal> {
        loop {
            while let Some(frame) = self.frame()? {
                if let Some(received) = self.assemble(frame)? {
                    return Ok(received);
                }
            }
            match self.payload.next().await {
                Some(Ok(bytes)) => self.buf.extend_from_slice(&bytes),
                Some(Err(_)) | None => return Err(Refusal::Gone),
            }
        }
    }

    /// The next whole frame in the buffer, or `None` until more bytes arrive. Its length is
    /// checked as soon as the header carries it, before the payload is waited for.
    fn frame(&mut self) -> Result<Option<Frame>, Refusal> {
        let buf = &self.buf;
        if buf.len() < 2 {
            return Ok(None);
        }
        let (first, second) = (buf[0], buf[1]);
        if first & 0x70 != 0 {
            return Err(Refusal::Protocol("reserved bits are set"));
        }
        if second & 0x80 == 0 {
            return Err(Refusal::Protocol("a client's frames must be masked"));
        }
        let fin = first & 0x80 != 0;
        let opcode = Opcode::parse(first & 0x0F).ok_or(Refusal::Protocol("unknown opcode"))?;
        let (length, at) = match second & 0x7F {
            126 if buf.len() >= 4 => (u64::from(u16::from_be_bytes([buf[2], buf[3]])), 4),
            127 if buf.len() >= 10 => {
                let mut be = [0; 8];
                be.copy_from_slice(&buf[2..10]);
                (u64::from_be_bytes(be), 10)
            }
            126 | 127 => return Ok(None),
            short => (u64::from(short), 2),
        };
        let length = usize::try_from(length).unwrap_or(usize::MAX);
        match opcode {
            Opcode::Close | Opcode::Ping | Opcode::Pong => {
                if !fin {
                    return Err(Refusal::Protocol("a control frame cannot be fragmented"));
                }
                if length > 125 {
                    return Err(Refusal::Protocol(
                        "a control frame carries at most 125 bytes",
                    ));
                }
            }
            Opcode::Continuation | Opcode::Text | Opcode::Binary => {
                let before = self.fragments.as_ref().map_or(0, |f| f.data.len());
                if before.saturating_add(length) > self.max_message {
                    return Err(Refusal::TooBig);
                }
            }
        }
        let start: usize = at + 4;
        if buf.len() < start.saturating_add(length) {
            return Ok(None);
        }
        let mask = [buf[at], buf[at + 1], buf[at + 2], buf[at + 3]];
        let mut frame = self.buf.split_to(start + length);
        let mut payload = frame.split_off(start);
        for (i, byte) in payload.iter_mut().enumerate() {
            *byte ^= mask[i % 4];
        }
        Ok(Some(Frame {
            fin,
            opcode,
            payload,
        }))
    }

    /// Joins fragments; a whole message or a control frame comes out.
    fn assemble(&mut self, frame: Frame) -> Result<Option<Received>, Refusal> {
        let data = match (frame.opcode, self.fragments.as_mut()) {
            (Opcode::Ping, _) => return Ok(Some(Received::Ping(frame.payload.freeze()))),
            (Opcode::Pong, _) => return Ok(Some(Received::Pong)),
            (Opcode::Close, _) => return close(&frame.payload).map(Some),
            (Opcode::Text | Opcode::Binary, Some(_)) => {
                return Err(Refusal::Protocol(
                    "a new message began inside a fragmented one",
                ))
            }
            (Opcode::Continuation, None) => {
                return Err(Refusal::Protocol(
                    "a continuation without a message to continue",
                ))
            }
            (Opcode::Continuation, Some(fragments)) => {
                fragments.data.extend_from_slice(&frame.payload);
                if !frame.fin {
                    return Ok(None);
                }
                match self.fragments.take() {
                    Some(whole) => (whole.text, whole.data),
                    None => return Ok(None),
                }
            }
            (opcode @ (Opcode::Text | Opcode::Binary), None) if !frame.fin => {
                self.fragments = Some(Fragments {
                    text: opcode == Opcode::Text,
                    data: frame.payload,
                });
                return Ok(None);
            }
            (opcode @ (Opcode::Text | Opcode::Binary), None) => {
                (opcode == Opcode::Text, frame.payload)
            }
        };
        match data {
            (true, bytes) => String::from_utf8(bytes.to_vec())
                .map(|text| Some(Received::Text(text)))
                .map_err(|_| Refusal::NotUtf8),
            (false, _) => Ok(Some(Received::Binary)),
        }
    }
}

/// A Close frame's code, one a peer may send (RFC 6455 §7.4); its reason, if any, must be UTF-8.
fn close(payload: &[u8]) -> Result<Received, Refusal> {
    match payload {
        [] => Ok(Received::Close(None)),
        [_] => Err(Refusal::Protocol("a close frame's code takes two bytes")),
        [high, low, reason @ ..] => {
            let code = u16::from_be_bytes([*high, *low]);
            if !matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999) {
                return Err(Refusal::Protocol("a close code a peer may not send"));
            }
            std::str::from_utf8(reason).map_err(|_| Refusal::NotUtf8)?;
            Ok(Received::Close(Some(code)))
        }
    }
}
