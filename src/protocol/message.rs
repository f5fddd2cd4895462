//! What a connection reports: whole messages, streamed chunks, pings, pongs and the close.
//!
//! Messages are defined by [RFC 6455 §5.4](https://www.rfc-editor.org/rfc/rfc6455#section-5.4)
//! (fragmentation) and [RFC 6455 §5.6](https://www.rfc-editor.org/rfc/rfc6455#section-5.6)
//! (data frames). Events borrow the connection's buffers: a message read in one piece is
//! handed over without a copy, and the borrow ends at the next call on the receiver.

use crate::protocol::close::CloseCode;

/// The two kinds of data message (RFC 6455 §5.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataKind {
    /// UTF-8 text (opcode 0x1).
    Text,
    /// Arbitrary bytes (opcode 0x2).
    Binary,
}

/// A complete data message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Message<'a> {
    /// A text message, validated as UTF-8.
    Text(&'a str),
    /// A binary message.
    Binary(&'a [u8]),
}

impl<'a> Message<'a> {
    /// The message's kind.
    pub fn kind(&self) -> DataKind {
        match self {
            Self::Text(_) => DataKind::Text,
            Self::Binary(_) => DataKind::Binary,
        }
    }

    /// The payload bytes.
    pub fn as_bytes(&self) -> &'a [u8] {
        match self {
            Self::Text(text) => text.as_bytes(),
            Self::Binary(bytes) => bytes,
        }
    }
}

/// A piece of a data message, delivered as it arrives in
/// [`MessageDelivery::Streamed`](crate::config::MessageDelivery::Streamed) mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunk<'a> {
    /// The message's kind (from its first frame).
    pub kind: DataKind,
    /// The bytes. For text, the message as a whole is valid UTF-8, but a chunk may end inside
    /// a character.
    pub data: &'a [u8],
    /// This is the message's first chunk.
    pub first: bool,
    /// This is the message's last chunk.
    pub last: bool,
}

/// Something the peer did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'a> {
    /// A complete data message ([`MessageDelivery::Whole`](crate::config::MessageDelivery)).
    Message(Message<'a>),
    /// Part of a data message ([`MessageDelivery::Streamed`](crate::config::MessageDelivery)).
    Chunk(Chunk<'a>),
    /// A Ping; the Pong is already queued (RFC 6455 §5.5.2).
    Ping(&'a [u8]),
    /// A Pong (RFC 6455 §5.5.3).
    Pong(&'a [u8]),
    /// The peer's Close frame: the last event. If the peer began the close, our answering
    /// Close frame is already queued. `code` is `NoStatus` when the frame had no body.
    Closed {
        /// The peer's status code.
        code: CloseCode,
        /// The peer's reason (valid UTF-8, at most 123 bytes).
        reason: &'a str,
    },
}

/// An [`Event`] that owns its data, for code that keeps events past the next call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnedEvent {
    /// See [`Event::Message`] with [`Message::Text`].
    Text(String),
    /// See [`Event::Message`] with [`Message::Binary`].
    Binary(Vec<u8>),
    /// See [`Event::Chunk`].
    Chunk {
        /// The message's kind.
        kind: DataKind,
        /// The bytes.
        data: Vec<u8>,
        /// First chunk of its message.
        first: bool,
        /// Last chunk of its message.
        last: bool,
    },
    /// See [`Event::Ping`].
    Ping(Vec<u8>),
    /// See [`Event::Pong`].
    Pong(Vec<u8>),
    /// See [`Event::Closed`].
    Closed {
        /// The peer's status code.
        code: CloseCode,
        /// The peer's reason.
        reason: String,
    },
}

impl Event<'_> {
    /// Copies the event's data out of the connection's buffers.
    pub fn to_owned(&self) -> OwnedEvent {
        match *self {
            Event::Message(Message::Text(text)) => OwnedEvent::Text(text.to_owned()),
            Event::Message(Message::Binary(bytes)) => OwnedEvent::Binary(bytes.to_vec()),
            Event::Chunk(c) => OwnedEvent::Chunk {
                kind: c.kind,
                data: c.data.to_vec(),
                first: c.first,
                last: c.last,
            },
            Event::Ping(data) => OwnedEvent::Ping(data.to_vec()),
            Event::Pong(data) => OwnedEvent::Pong(data.to_vec()),
            Event::Closed { code, reason } => OwnedEvent::Closed {
                code,
                reason: reason.into(),
            },
        }
    }
}
