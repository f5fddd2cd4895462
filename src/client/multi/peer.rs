//! One connection of a [`MultiClient`](super::MultiClient) through its phases: TCP connect, TLS and
//! the opening handshake; the established connection (open, then closing); waiting for the server
//! to close TCP.

use std::fmt;
use std::io;
use std::time::Instant;

use super::ClientId;
use crate::client::opening::{self, Opening};
use crate::client::ClientError;
use crate::protocol::close::CloseCode;
use crate::protocol::close::CloseInfo;
use crate::protocol::handshake::Accepted;
use crate::protocol::Connection;
use crate::transport::{write_bytes, Transport};
use crate::Config;

/// Bytes read at a time while the response head arrives.
const HANDSHAKE_READ: usize = 4096;

/// How a connection of a [`MultiClient`](super::MultiClient) ended, as given to
/// [`ClientHandler::on_end`](super::ClientHandler::on_end).
#[derive(Debug)]
pub enum Ended {
    /// It never opened: the TCP connection, TLS or the opening handshake failed or timed out
    /// (a refusal is [`ClientError::Refused`], with the server's status).
    NotOpened(ClientError),
    /// It was open: the server's close code and reason, or `Abnormal` (1006) when it ended
    /// without a Close frame, or the error's code when the server broke the protocol.
    Closed(CloseInfo),
}

impl fmt::Display for Ended {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotOpened(ClientError::Closed) => f.write_str("abandoned while connecting"),
            Self::NotOpened(e) => write!(f, "could not connect: {e}"),
            Self::Closed(info) if info.clean && info.reason.is_empty() => {
                write!(f, "the connection closed with code {}", info.code)
            }
            Self::Closed(info) if info.clean => {
                write!(
                    f,
                    "the connection closed with code {}: {}",
                    info.code, info.reason
                )
            }
            Self::Closed(info) if info.code == CloseCode::Abnormal => {
                write!(
                    f,
                    "the connection closed abnormally (1006): {}",
                    info.reason
                )
            }
            Self::Closed(info) => write!(f, "the connection failed: {}", info.reason),
        }
    }
}

/// Where a connection stands.
pub(super) enum Phase {
    /// Connecting, then sending the request and reading the response head.
    Handshake(Box<Handshaking>),
    /// The WebSocket connection, from the server's 101 response (RFC 6455 §4.1: "_The WebSocket
    /// Connection is Established_") until it is closed (or failed) and its last frames are written.
    Established(Box<Established>),
    /// Both Close frames went (or the connection failed): waiting until `until` for the
    /// server to close TCP (RFC 6455 §7.1.1: the client "SHOULD wait for the server to close
    /// the connection").
    Draining { until: Instant },
}

/// The opening handshake in progress.
pub(super) struct Handshaking {
    pub(super) opening: Opening,
    /// Bytes of the request written.
    pub(super) written: usize,
    /// The response head received so far.
    pub(super) buf: Vec<u8>,
    /// The TCP connection is established.
    pub(super) connected: bool,
    /// When the attempt gives up (connect + TLS + handshake).
    pub(super) deadline: Instant,
}

/// An established connection and the server's 101 response.
pub(super) struct Established {
    pub(super) conn: Connection,
    pub(super) accepted: Accepted,
}

/// A connection held by the client.
pub(super) struct Peer {
    pub(super) id: ClientId,
    pub(super) transport: Transport,
    pub(super) phase: Phase,
    /// How it ended, once known (reported when it is removed).
    pub(super) ended: Option<Ended>,
    /// In the list of connections to write at the end of the turn.
    pub(super) dirty: bool,
    /// In the list of connections to remove at the end of the turn.
    pub(super) dead: bool,
}

impl Peer {
    /// Records how the connection ended, unless that is known already.
    pub(super) fn end(&mut self, ended: Ended) {
        if self.ended.is_none() {
            self.ended = Some(ended);
        }
    }

    /// Moves the handshake on: finishes connecting, writes the request, reads the response.
    /// Returns the accepted response and its head's length once complete.
    pub(super) fn advance_handshake(
        &mut self,
        config: &Config,
    ) -> Result<Option<(Accepted, usize)>, ClientError> {
        let Phase::Handshake(handshake) = &mut self.phase else {
            return Ok(None);
        };
        handshake_step(&mut self.transport, handshake, config).map_err(opening::explain)
    }
}

/// One step of the handshake: finishes connecting, writes what it can of the request, reads
/// what has come of the response.
fn handshake_step(
    transport: &mut Transport,
    handshake: &mut Handshaking,
    config: &Config,
) -> Result<Option<(Accepted, usize)>, ClientError> {
    if !handshake.connected {
        // A non-blocking connect ends in writability: with an error, or connected.
        if let Some(err) = transport.tcp().take_error()? {
            return Err(err.into());
        }
        match transport.tcp().peer_addr() {
            Ok(_) => handshake.connected = true,
            Err(e) if e.kind() == io::ErrorKind::NotConnected => return Ok(None),
            Err(e) => return Err(e.into()),
        }
    }
    let request = &handshake.opening.request;
    write_bytes(transport, request, &mut handshake.written)?;
    let ended = read_head(transport, &mut handshake.buf, config)?;
    // TLS may have handshake messages to answer.
    transport.flush()?;
    // A refusal comes with the end of the stream: its status is the news.
    handshake
        .opening
        .read_response(&handshake.buf, config, ended)
}

/// Reads what the socket holds of the response head, up to the handshake limit; `true`
/// when the server closed the connection.
fn read_head(transport: &mut Transport, buf: &mut Vec<u8>, config: &Config) -> io::Result<bool> {
    let limit = config.max_handshake_size;
    while buf.len() < limit {
        let len = buf.len();
        buf.resize(len + (limit - len).min(HANDSHAKE_READ), 0);
        let read = transport.read(&mut buf[len..]);
        buf.truncate(len + *read.as_ref().unwrap_or(&0));
        match read {
            Ok(0) => return Ok(true),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::HandshakeError;

    fn closed(code: CloseCode, reason: &str, clean: bool) -> String {
        let info = CloseInfo {
            code,
            reason: reason.into(),
            clean,
        };
        Ended::Closed(info).to_string()
    }

    #[test]
    fn a_connection_that_never_opened_says_why() {
        let refused = io::Error::from_raw_os_error(libc::ECONNREFUSED);
        assert_eq!(
            Ended::NotOpened(refused.into()).to_string(),
            "could not connect: connection refused"
        );
        let status = Ended::NotOpened(HandshakeError::UnexpectedStatus(404).into());
        assert_eq!(
            status.to_string(),
            "could not connect: handshake failed: \
             the server did not answer 101 Switching Protocols (got 404)"
        );
        let abandoned = Ended::NotOpened(ClientError::Closed);
        assert_eq!(abandoned.to_string(), "abandoned while connecting");
    }

    #[test]
    fn a_closed_connection_gives_its_code_and_reason() {
        assert_eq!(
            closed(CloseCode::Normal, "", true),
            "the connection closed with code 1000"
        );
        assert_eq!(
            closed(CloseCode::GoingAway, "restarting", true),
            "the connection closed with code 1001: restarting"
        );
        assert_eq!(
            closed(
                CloseCode::Abnormal,
                "the server closed without a close frame",
                false
            ),
            "the connection closed abnormally (1006): the server closed without a close frame"
        );
        assert_eq!(
            closed(
                CloseCode::ProtocolError,
                "reserved opcode 0x3 (close code 1002)",
                false
            ),
            "the connection failed: reserved opcode 0x3 (close code 1002)"
        );
    }
}
