//! The WebSocket client: connect to `ws://` and `wss://` URLs, then the same sans-I/O
//! [`Connection`](crate::protocol::Connection) as the server, in the client role.
//!
//! With feature `runtime`, `connect` gives a blocking `WebSocket` for simple programs and tests,
//! and `MultiClient` drives many connections on one event loop (the load generator's engine).
//! What every client shares (the options, the URL, the opening handshake, the errors, TLS
//! settings) is here for the tokio adapter's client too (feature `tokio`).

use std::fmt;
use std::io;

#[cfg(feature = "runtime")]
mod bind;
#[cfg(feature = "runtime")]
mod blocking;
#[cfg(feature = "runtime")]
mod multi;
pub(crate) mod opening;
mod options;
pub(crate) mod refusal;
#[cfg(any(feature = "tls", feature = "tokio-tls"))]
pub mod tls;
#[cfg(any(feature = "tls", feature = "tokio-tls"))]
mod tls_error;
pub mod url;

pub use crate::random::OsRandom;
#[cfg(feature = "runtime")]
pub use blocking::{connect, connect_with, WebSocket};
#[cfg(feature = "runtime")]
pub use multi::{ClientConn, ClientHandler, ClientId, Ended, MultiClient};
pub use options::ClientOptions;
pub use refusal::{Refusal, MAX_REFUSAL_BODY};
pub use url::{UrlError, WsUrl};

use crate::{HandshakeError, ProtocolError, UsageError};

/// Why a client operation failed.
#[derive(Debug)]
pub enum ClientError {
    /// The URL is not a usable `ws://` or `wss://` URL.
    Url(UrlError),
    /// The network (or TLS) failed. A failed TLS handshake (feature `tls`) is of kind
    /// `InvalidData` and carries a `client::tls::TlsError` that says what went wrong and what
    /// to do (`ClientError::tls` finds it).
    Io(io::Error),
    /// The server's answer to the handshake broke RFC 6455 §4.1 (a refusal, a status other
    /// than 101, is [`ClientError::Refused`]).
    Handshake(HandshakeError),
    /// The server answered the handshake with a status other than 101: a refusal, with the
    /// start of its body, which the message shows when it is plain text.
    Refused(Refusal),
    /// The server broke the protocol; our Close frame was sent.
    Protocol(ProtocolError),
    /// We asked for something the protocol or the connection's state forbids (a control
    /// payload over 125 bytes, a message while a fragmented one is unfinished …). Never
    /// [`UsageError::Closed`], which is [`ClientError::Closed`].
    Usage(UsageError),
    /// The connection ended without the close handshake: the server closed TCP (or reset
    /// it) before its Close frame arrived. RFC 6455 §7.1.5 calls this code 1006
    /// ([`CloseCode::Abnormal`](crate::protocol::CloseCode::Abnormal)); the text says what
    /// was seen. Reported once; after it, operations return [`ClientError::Closed`].
    Abnormal(String),
    /// The connection is closing or closed: a Close frame went (ours, or our answer to the
    /// server's), or the connection failed, timed out or was abandoned, so nothing more can be
    /// sent; or, after the close handshake (or after [`ClientError::Abnormal`]), nothing more
    /// will arrive.
    Closed,
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Url(e) => write!(f, "invalid URL: {e}"),
            Self::Io(e) => f.write_str(&io_phrase(e)),
            Self::Handshake(e) => write!(f, "handshake failed: {e}"),
            Self::Refused(refusal) => write!(f, "{refusal}"),
            Self::Protocol(e) => write!(f, "protocol error: {e}"),
            Self::Usage(e) => write!(f, "{e}"),
            Self::Abnormal(why) => write!(f, "the connection closed abnormally (1006): {why}"),
            Self::Closed => f.write_str("the connection is closed"),
        }
    }
}

impl std::error::Error for ClientError {}

impl ClientError {
    /// The failed TLS handshake this error reports, if it is one (feature `tls` or
    /// `tokio-tls`).
    #[cfg(any(feature = "tls", feature = "tokio-tls"))]
    pub fn tls(&self) -> Option<&tls::TlsError> {
        match self {
            Self::Io(e) => e.get_ref()?.downcast_ref(),
            _ => None,
        }
    }
}

/// An I/O error as a phrase to go after a colon: the system's description in lower case and
/// without its number ("connection refused", not "Connection refused (os error 111)"); an
/// error of ours (a timeout, TLS) as written.
fn io_phrase(e: &io::Error) -> String {
    let text = e.to_string();
    let Some(code) = e.raw_os_error() else {
        return text;
    };
    let description = text
        .strip_suffix(&format!(" (os error {code})"))
        .unwrap_or(&text);
    let mut chars = description.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_lowercase().chain(chars).collect()
    })
}

impl From<io::Error> for ClientError {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

impl From<UrlError> for ClientError {
    fn from(e: UrlError) -> Self {
        Self::Url(e)
    }
}

impl From<HandshakeError> for ClientError {
    fn from(e: HandshakeError) -> Self {
        Self::Handshake(e)
    }
}

impl From<ProtocolError> for ClientError {
    fn from(e: ProtocolError) -> Self {
        Self::Protocol(e)
    }
}

/// A send refused because the connection is closing is [`ClientError::Closed`], not a misuse:
/// the server's Close, a deadline or a failure may have ended it.
impl From<UsageError> for ClientError {
    fn from(e: UsageError) -> Self {
        match e {
            UsageError::Closed => Self::Closed,
            other => Self::Usage(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_system_error_reads_as_a_phrase_without_its_number() {
        let refused = io::Error::from_raw_os_error(libc::ECONNREFUSED);
        assert_eq!(ClientError::Io(refused).to_string(), "connection refused");
    }

    #[test]
    fn a_send_refused_for_a_closing_connection_is_closed_not_a_misuse() {
        assert!(matches!(
            ClientError::from(UsageError::Closed),
            ClientError::Closed
        ));
        assert!(matches!(
            ClientError::from(UsageError::ControlPayloadTooLong),
            ClientError::Usage(UsageError::ControlPayloadTooLong)
        ));
    }

    #[test]
    fn an_error_of_ours_reads_as_written() {
        let timeout = io::Error::new(io::ErrorKind::TimedOut, "the opening handshake timed out");
        assert_eq!(
            ClientError::Io(timeout).to_string(),
            "the opening handshake timed out"
        );
    }
}
