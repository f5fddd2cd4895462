//! The adapter's message: owned, one type for what arrives (the stream's items) and what is
//! sent (the sink's items), as users of tokio-tungstenite know it.
//!
//! Data messages are [RFC 6455 §5.6](https://www.rfc-editor.org/rfc/rfc6455#section-5.6),
//! fragments [RFC 6455 §5.4](https://www.rfc-editor.org/rfc/rfc6455#section-5.4), control
//! frames [RFC 6455 §5.5](https://www.rfc-editor.org/rfc/rfc6455#section-5.5).

use crate::protocol::{CloseCode, DataKind, Event, Message as Borrowed};

/// A WebSocket message, received or to send.
///
/// Received: `Text` and `Binary` are whole messages (the default
/// [`MessageDelivery::Whole`](crate::config::MessageDelivery::Whole)); `Fragment` carries the
/// pieces of one in [`MessageDelivery::Streamed`](crate::config::MessageDelivery::Streamed)
/// mode; `Ping` is already answered; `Close` is the peer's Close frame, the last message.
///
/// Sent: `Text`, `Binary`, `Ping` and `Pong` as such; `Fragment` sends one frame of a message
/// sent in pieces (its `kind` counts on the first, `last` ends it); `Close` begins the close
/// handshake (`None` sends a Close frame without a body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A text message (valid UTF-8).
    Text(String),
    /// A binary message.
    Binary(Vec<u8>),
    /// A Ping (at most 125 bytes).
    Ping(Vec<u8>),
    /// A Pong (at most 125 bytes).
    Pong(Vec<u8>),
    /// A Close frame: its status code and reason, or `None` for a frame without a body.
    Close(Option<CloseFrame>),
    /// A piece of a data message.
    Fragment {
        /// The message's kind.
        kind: DataKind,
        /// The bytes. For text, a piece may end inside a character; the message as a whole
        /// is valid UTF-8.
        data: Vec<u8>,
        /// The message's first piece (ignored when sending: the state decides).
        first: bool,
        /// The message's last piece.
        last: bool,
    },
}

/// The body of a Close frame (RFC 6455 §5.5.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseFrame {
    /// The status code.
    pub code: CloseCode,
    /// The reason (at most 123 bytes of UTF-8).
    pub reason: String,
}

impl Message {
    /// A text message.
    pub fn text(text: impl Into<String>) -> Self {
        Self::Text(text.into())
    }

    /// A binary message.
    pub fn binary(data: impl Into<Vec<u8>>) -> Self {
        Self::Binary(data.into())
    }

    /// Whether this is a data message (`Text`, `Binary` or a `Fragment`).
    pub fn is_data(&self) -> bool {
        matches!(
            self,
            Self::Text(_) | Self::Binary(_) | Self::Fragment { .. }
        )
    }

    /// The payload: a data message's bytes, a Ping's or Pong's, a Close frame's reason.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Text(text) => text.as_bytes(),
            Self::Binary(data) | Self::Ping(data) | Self::Pong(data) => data,
            Self::Fragment { data, .. } => data,
            Self::Close(frame) => frame.as_ref().map_or(&[], |f| f.reason.as_bytes()),
        }
    }

    /// The owned message for an event of the core, copied out of its buffers.
    pub(crate) fn from_event(event: Event<'_>) -> Self {
        match event {
            Event::Message(Borrowed::Text(text)) => Self::Text(text.to_owned()),
            Event::Message(Borrowed::Binary(data)) => Self::Binary(data.to_vec()),
            Event::Chunk(chunk) => Self::Fragment {
                kind: chunk.kind,
                data: chunk.data.to_vec(),
                first: chunk.first,
                last: chunk.last,
            },
            Event::Ping(data) => Self::Ping(data.to_vec()),
            Event::Pong(data) => Self::Pong(data.to_vec()),
            Event::Closed {
                code: CloseCode::NoStatus,
                ..
            } => Self::Close(None),
            Event::Closed { code, reason } => Self::Close(Some(CloseFrame {
                code,
                reason: reason.to_owned(),
            })),
        }
    }
}

impl From<String> for Message {
    fn from(text: String) -> Self {
        Self::Text(text)
    }
}

impl From<&str> for Message {
    fn from(text: &str) -> Self {
        Self::Text(text.to_owned())
    }
}

impl From<Vec<u8>> for Message {
    fn from(data: Vec<u8>) -> Self {
        Self::Binary(data)
    }
}
