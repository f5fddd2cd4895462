//! The application's side of a [`MultiClient`](super::MultiClient): a [`ClientHandler`] with
//! open, message and end callbacks, and the [`ClientConn`] it sends through.

use super::{ClientId, Ended};
use crate::client::ClientError;
use crate::protocol::close::CloseCode;
use crate::protocol::handshake::Accepted;
use crate::protocol::{Chunk, DataKind, Message, Sender};

/// What a program does with the events of its connections. Callbacks run inside
/// [`MultiClient::poll`](super::MultiClient::poll); sends they make are written at the end of
/// the same turn.
pub trait ClientHandler {
    /// The opening handshake completed: the connection is open.
    fn on_open(&mut self, conn: &mut ClientConn<'_>) {
        let _ = conn;
    }

    /// A whole message arrived (borrowed from the read buffer until the callback returns).
    fn on_message(&mut self, conn: &mut ClientConn<'_>, message: Message<'_>);

    /// Part of a message arrived
    /// ([`MessageDelivery::Streamed`](crate::config::MessageDelivery::Streamed)).
    fn on_chunk(&mut self, conn: &mut ClientConn<'_>, chunk: Chunk<'_>) {
        let _ = (conn, chunk);
    }

    /// A Pong arrived (e.g. the answer to [`ClientConn::ping`], to time a round trip).
    fn on_pong(&mut self, conn: &mut ClientConn<'_>, payload: &[u8]) {
        let _ = (conn, payload);
    }

    /// The connection ended, or never opened. Called once per connection.
    fn on_end(&mut self, id: ClientId, ended: &Ended) {
        let _ = (id, ended);
    }
}

/// An open connection, as a callback sees it. Its sends fail with [`ClientError::Closed`]
/// once a Close frame went (ours, or our answer to the server's) or a deadline ended the
/// connection, and with [`ClientError::Usage`] when the call itself breaks a rule.
pub struct ClientConn<'a> {
    pub(super) id: ClientId,
    pub(super) tx: &'a mut Sender,
    pub(super) accepted: &'a Accepted,
}

impl ClientConn<'_> {
    /// This connection's id.
    pub fn id(&self) -> ClientId {
        self.id
    }

    /// The server's 101 response.
    pub fn response(&self) -> &Accepted {
        self.accepted
    }

    /// The subprotocol the server chose.
    pub fn subprotocol(&self) -> Option<&str> {
        self.accepted.subprotocol.as_deref()
    }

    /// Sends a text message.
    pub fn send_text(&mut self, text: &str) -> Result<(), ClientError> {
        Ok(self.tx.send_text(text)?)
    }

    /// Sends a binary message.
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), ClientError> {
        Ok(self.tx.send_binary(data)?)
    }

    /// Sends a message (e.g. echoes one).
    pub fn send(&mut self, message: Message<'_>) -> Result<(), ClientError> {
        Ok(self.tx.send(message)?)
    }

    /// Sends one fragment of a streamed message (see [`Sender::send_fragment`]).
    pub fn send_fragment(
        &mut self,
        kind: DataKind,
        data: &[u8],
        fin: bool,
    ) -> Result<(), ClientError> {
        Ok(self.tx.send_fragment(kind, data, fin)?)
    }

    /// Sends a Ping.
    pub fn ping(&mut self, payload: &[u8]) -> Result<(), ClientError> {
        Ok(self.tx.ping(payload)?)
    }

    /// Begins the close handshake.
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), ClientError> {
        Ok(self.tx.close(code, reason)?)
    }

    /// Bytes queued on this connection and not yet written (for back-pressure).
    pub fn buffered_amount(&self) -> usize {
        self.tx.buffered_amount()
    }
}
