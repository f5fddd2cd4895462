//! Why an operation of the tokio adapter failed: the network, the peer breaking the protocol
//! (the connection then closed with the code of
//! [RFC 6455 §7.4.1](https://www.rfc-editor.org/rfc/rfc6455#section-7.4.1)), a deadline, or a
//! misuse.

use std::fmt;
use std::io;

use crate::protocol::Timeout;
use crate::{HandshakeError, ProtocolError, UsageError};

/// Why an operation on a [`WebSocketStream`](super::WebSocketStream) (or an accept) failed.
///
/// A normal close is not an error: it arrives as [`Message::Close`](super::Message::Close),
/// then the stream ends.
#[derive(Debug)]
pub enum Error {
    /// The network failed.
    Io(io::Error),
    /// The request was not a valid opening handshake (RFC 6455 §4.2.1); it was answered with
    /// [`HandshakeError::status`] and the connection closed.
    Handshake(HandshakeError),
    /// The application refused the upgrade with this HTTP status (see
    /// [`accept_with`](super::accept_with)); the response was sent.
    Refused(u16),
    /// The peer broke the protocol; our Close frame with
    /// [`ProtocolError::close_code`] was sent. Reported once, then the stream ends.
    Protocol(ProtocolError),
    /// A deadline passed (the peer did not answer our keepalive Ping, or did not finish the
    /// close handshake): the connection was cut (RFC 6455 §7.1.5: 1006). Reported once.
    TimedOut(Timeout),
    /// The peer closed the connection without a Close frame (RFC 6455 §7.1.5: 1006).
    /// Reported once.
    Abnormal,
    /// We asked for something the protocol forbids (a control payload over 125 bytes, a
    /// whole message while a fragmented one is unfinished …). Never [`UsageError::Closed`],
    /// which is [`Error::Closed`].
    Usage(UsageError),
    /// The connection is closing or closed: nothing more can be sent, or nothing more will
    /// arrive.
    Closed,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => write!(f, "{e}"),
            Self::Handshake(e) => write!(f, "opening handshake refused: {e}"),
            Self::Refused(status) => write!(f, "upgrade refused with {status}"),
            Self::Protocol(e) => write!(f, "protocol error: {e}"),
            Self::TimedOut(timeout) => write!(f, "timed out: {}", timeout.reason()),
            Self::Abnormal => f.write_str(
                "the connection closed abnormally (1006): the peer closed it without a Close frame",
            ),
            Self::Usage(e) => write!(f, "{e}"),
            Self::Closed => f.write_str("the connection is closed"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io(e) => Some(e),
            Self::Handshake(e) => Some(e),
            Self::Protocol(e) => Some(e),
            Self::Usage(e) => Some(e),
            _ => None,
        }
    }
}

impl Error {
    /// The same error again, for the second of two places that report it (an I/O error is
    /// rebuilt from its kind and message).
    pub(super) fn duplicate(&self) -> Self {
        match self {
            Self::Io(e) => Self::Io(io::Error::new(e.kind(), e.to_string())),
            Self::Handshake(e) => Self::Handshake(e.clone()),
            Self::Refused(status) => Self::Refused(*status),
            Self::Protocol(e) => Self::Protocol(*e),
            Self::TimedOut(timeout) => Self::TimedOut(*timeout),
            Self::Abnormal => Self::Abnormal,
            Self::Usage(e) => Self::Usage(*e),
            Self::Closed => Self::Closed,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

impl From<HandshakeError> for Error {
    fn from(e: HandshakeError) -> Self {
        Self::Handshake(e)
    }
}

/// A send refused because the connection is closing is [`Error::Closed`], not a misuse.
impl From<UsageError> for Error {
    fn from(e: UsageError) -> Self {
        match e {
            UsageError::Closed => Self::Closed,
            other => Self::Usage(other),
        }
    }
}
