//! The kinds of error: the peer broke the protocol, the opening handshake failed, our own
//! caller misused the API, or a runtime could not send (the connection ended, or the peer
//! reads too slowly).
//!
//! Incomplete input is never an error (parsers return `Ok(None)`), and a normal close is an
//! [`Event`](crate::protocol::Event), never an `Err`. See
//! [RFC 6455 §7.1.7](https://www.rfc-editor.org/rfc/rfc6455#section-7.1.7) (failing the
//! connection) and [RFC 6455 §4.2.2](https://www.rfc-editor.org/rfc/rfc6455#section-4.2.2)
//! (refusing a handshake with an HTTP status).

use std::fmt;

/// The peer broke RFC 6455 or RFC 7692: the connection is failed with a Close frame carrying
/// [`close_code`](ProtocolError::close_code), then closed.
///
/// Its close code, `Display` and `Error` are implemented in
/// [`protocol::close`](crate::protocol::close), beside the codes: this module is a leaf and
/// imports nothing of the layers above it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtocolError {
    /// An opcode the RFC reserves (0x3–0x7, 0xB–0xF).
    ReservedOpcode(u8),
    /// RSV1, RSV2 or RSV3 set without an extension that defines it (the bits, as in byte 0).
    ReservedBits(u8),
    /// A 64-bit payload length with its most significant bit set.
    LengthTopBitSet,
    /// A payload length not encoded in the minimal number of bytes.
    NonMinimalLength,
    /// A control frame with a payload longer than 125 bytes.
    ControlFrameTooLong,
    /// A control frame without FIN.
    FragmentedControlFrame,
    /// A client frame without a mask (a server must reject it).
    UnmaskedFrame,
    /// A server frame with a mask (a client must reject it).
    MaskedFrame,
    /// A continuation frame with no fragmented message in progress.
    UnexpectedContinuation,
    /// A new text or binary frame while a fragmented message is still in progress.
    ExpectedContinuation,
    /// A frame whose declared payload exceeds the frame size limit.
    FrameTooLarge,
    /// A message whose total (inflated) size exceeds the message size limit.
    MessageTooLarge,
    /// A message split into more fragments than the limit allows.
    TooManyFragments,
    /// A text message (or close reason) that is not valid UTF-8.
    InvalidUtf8,
    /// A Close frame with a 1-byte payload.
    InvalidClosePayload,
    /// A Close frame whose status code is reserved, unassigned or must not be sent.
    InvalidCloseCode(u16),
    /// A Close frame whose reason is not valid UTF-8.
    InvalidCloseReason,
    /// RSV1 (compressed) on a control frame or a continuation frame (RFC 7692 §6.1).
    CompressedControlOrContinuation,
    /// The permessage-deflate data of a message is corrupt (RFC 7692 §6.2).
    InvalidCompressedData,
}

impl ProtocolError {
    /// A short description, sent as the close reason (always under 123 bytes).
    pub fn reason(&self) -> &'static str {
        match self {
            Self::ReservedOpcode(_) => "reserved opcode",
            Self::ReservedBits(_) => "reserved bits set without a negotiated extension",
            Self::LengthTopBitSet => "64-bit payload length with the top bit set",
            Self::NonMinimalLength => "payload length not minimally encoded",
            Self::ControlFrameTooLong => "control frame payload longer than 125 bytes",
            Self::FragmentedControlFrame => "fragmented control frame",
            Self::UnmaskedFrame => "client frame not masked",
            Self::MaskedFrame => "server frame masked",
            Self::UnexpectedContinuation => "continuation frame without a message to continue",
            Self::ExpectedContinuation => "new data frame inside a fragmented message",
            Self::FrameTooLarge => "frame too large",
            Self::MessageTooLarge => "message too large",
            Self::TooManyFragments => "too many fragments in one message",
            Self::InvalidUtf8 => "invalid UTF-8 in a text message",
            Self::InvalidClosePayload => "close payload of 1 byte",
            Self::InvalidCloseCode(_) => "invalid close code",
            Self::InvalidCloseReason => "invalid UTF-8 in the close reason",
            Self::CompressedControlOrContinuation => "RSV1 on a control or continuation frame",
            Self::InvalidCompressedData => "corrupt compressed data",
        }
    }
}

/// The opening handshake failed (RFC 6455 §4).
///
/// On the server side each variant maps to the HTTP [`status`](HandshakeError::status) to
/// answer with; on the client side it says why the server's response was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandshakeError {
    /// The request or response head is larger than the configured limit.
    TooLarge,
    /// More header fields than the configured limit.
    TooManyHeaders,
    /// The bytes are not a well-formed HTTP/1.x message head.
    Malformed(&'static str),
    /// The request method is not `GET`.
    MethodNotAllowed,
    /// The HTTP version is older than HTTP/1.1.
    HttpVersion,
    /// The request has no `Host` header.
    MissingHost,
    /// `Upgrade` does not name `websocket` (or is missing from a response).
    MissingUpgrade,
    /// `Connection` does not contain the `Upgrade` token.
    MissingConnectionUpgrade,
    /// `Sec-WebSocket-Key` is missing, repeated, or not 16 bytes in base64.
    InvalidKey,
    /// `Sec-WebSocket-Version` is missing or not 13 (the server answers 426).
    UnsupportedVersion,
    /// A header the RFC defines has a value that does not follow its grammar.
    InvalidHeader(&'static str),
    /// (client) The server answered with a status other than 101.
    UnexpectedStatus(u16),
    /// (client) `Sec-WebSocket-Accept` is missing or does not match our key.
    InvalidAccept,
    /// (client) The server chose a subprotocol we did not offer.
    UnofferedSubprotocol,
    /// (client) The server accepted an extension we did not offer, or with parameters we
    /// cannot honour.
    UnofferedExtension,
}

impl HandshakeError {
    /// The HTTP status a server answers with (RFC 6455 §4.2.1, §4.4).
    pub fn status(&self) -> u16 {
        match self {
            Self::TooLarge | Self::TooManyHeaders => 431,
            Self::MethodNotAllowed => 405,
            Self::HttpVersion => 505,
            // §4.4: "the server MUST ... include a |Sec-WebSocket-Version| header field"
            // with the versions it supports; 426 Upgrade Required is the customary status.
            Self::UnsupportedVersion => 426,
            Self::UnexpectedStatus(status) => *status,
            _ => 400,
        }
    }

    /// A short reason phrase for the response body and for logs.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::TooLarge => "request head too large",
            Self::TooManyHeaders => "too many header fields",
            Self::Malformed(what) => what,
            Self::MethodNotAllowed => "the method must be GET",
            Self::HttpVersion => "HTTP/1.1 or later is required",
            Self::MissingHost => "missing Host header",
            Self::MissingUpgrade => "Upgrade must be websocket",
            Self::MissingConnectionUpgrade => "Connection must contain Upgrade",
            Self::InvalidKey => "Sec-WebSocket-Key must be 16 bytes in base64",
            Self::UnsupportedVersion => "Sec-WebSocket-Version must be 13",
            Self::InvalidHeader(what) => what,
            Self::UnexpectedStatus(_) => "the server did not answer 101 Switching Protocols",
            Self::InvalidAccept => "Sec-WebSocket-Accept does not match the key",
            Self::UnofferedSubprotocol => "the server chose a subprotocol that was not offered",
            Self::UnofferedExtension => "the server accepted an extension we did not offer, or with parameters we did not allow",
        }
    }
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnexpectedStatus(status) => write!(f, "{} (got {status})", self.reason()),
            _ => write!(f, "{} (HTTP {})", self.reason(), self.status()),
        }
    }
}

impl std::error::Error for HandshakeError {}

/// Our own caller asked for something the protocol or the connection's state forbids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsageError {
    /// We already sent a Close frame (or the connection failed or timed out): nothing more may
    /// be sent.
    Closed,
    /// A control frame payload (ping, pong) longer than 125 bytes.
    ControlPayloadTooLong,
    /// A close reason longer than 123 bytes.
    CloseReasonTooLong,
    /// A close code that must not be sent (1005, 1006, 1015, or out of its range).
    CloseCodeNotSendable,
    /// A whole message or a new fragmented message while a fragmented one is unfinished.
    MessageInProgress,
    /// A shared frame that does not fit this connection (e.g. compressed, with other
    /// permessage-deflate parameters).
    IncompatibleSharedFrame,
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Closed => "the connection is closing or closed",
            Self::ControlPayloadTooLong => "control frame payload longer than 125 bytes",
            Self::CloseReasonTooLong => "close reason longer than 123 bytes",
            Self::CloseCodeNotSendable => "this close code must not be sent",
            Self::MessageInProgress => "a fragmented message is still in progress",
            Self::IncompatibleSharedFrame => "the shared frame does not fit this connection",
        })
    }
}

impl std::error::Error for UsageError {}

/// Why a runtime's send (the server's `Conn::send` and its siblings) did not queue what the
/// application gave it. Unlike a [`UsageError`], the first two kinds are not the caller's
/// mistake: the connection ended, or the peer reads too slowly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendError {
    /// Nothing more can be sent: a Close frame went, sent by the application or by the runtime
    /// (a server shutting down, the idle timeout, the slow-consumer policy), or the peer's
    /// Close was answered, or the connection failed or timed out.
    Closed,
    /// The peer reads too slowly: its output queue stayed over
    /// [`Config::max_outbound_queue`](crate::config::Config::max_outbound_queue) after a write, and
    /// this message was not queued. The field is what was done about it, as
    /// [`Config::slow_consumer`](crate::config::Config::slow_consumer) says:
    /// [`DropMessages`](crate::config::SlowConsumer::DropMessages), this message was dropped and
    /// the connection stays open; [`Close`](crate::config::SlowConsumer::Close), a Close with 1008
    /// is queued and later sends are [`SendError::Closed`]. A fragment is never dropped (part of a
    /// message cannot be): over the limit it closes the connection under either policy.
    SlowConsumer(crate::config::SlowConsumer),
    /// The call broke a rule of the protocol or of the connection's state (a control payload
    /// over 125 bytes, a whole message while a fragmented one is unfinished …): the caller's
    /// mistake. Never [`UsageError::Closed`], which is [`SendError::Closed`].
    Usage(UsageError),
}

impl From<UsageError> for SendError {
    fn from(e: UsageError) -> Self {
        match e {
            UsageError::Closed => Self::Closed,
            other => Self::Usage(other),
        }
    }
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Closed => f.write_str("the connection is closing or closed"),
            Self::SlowConsumer(crate::config::SlowConsumer::DropMessages) => {
                f.write_str("the peer reads too slowly: the message was dropped")
            }
            Self::SlowConsumer(crate::config::SlowConsumer::Close) => {
                f.write_str("the peer reads too slowly: the connection is closing with 1008")
            }
            Self::Usage(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for SendError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Usage(e) => Some(e),
            Self::Closed | Self::SlowConsumer(_) => None,
        }
    }
}
