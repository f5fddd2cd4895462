//! Sending on a [`WebSocketStream`]: messages queued in the core, written with back-pressure.
//!
//! What may be sent when is the core's (RFC 6455 §5.5.1: nothing after our Close, see
//! [`Sender`](crate::protocol::Sender)); here a sender waits while more than
//! [`Config::max_outbound_queue`](crate::Config::max_outbound_queue) bytes are queued, so a
//! peer that does not read holds at most that plus one message
//! ([RFC 6455 §10.4](https://www.rfc-editor.org/rfc/rfc6455#section-10.4): limits on what
//! an endpoint buffers).

use std::future::poll_fn;
use std::task::{Context, Poll};

use ::tokio::io::{AsyncRead, AsyncWrite};

use super::io;
use super::stream::End;
use super::wake::Side;
use super::{Error, Message, WebSocketStream};
use crate::protocol::CloseCode;

impl<S: AsyncRead + AsyncWrite + Unpin> WebSocketStream<S> {
    /// Sends a message and flushes it, waiting while the transport does not take it.
    pub async fn send(&mut self, message: Message) -> Result<(), Error> {
        self.feed(message).await?;
        self.flush().await
    }

    /// Queues a message without flushing: it is written when the queue passes
    /// [`Config::max_outbound_queue`](crate::Config::max_outbound_queue) (first waiting
    /// until the transport takes enough), at the next [`flush`](Self::flush) or
    /// [`send`](Self::send), or while reading. For bursts: feed them, then flush once.
    pub async fn feed(&mut self, message: Message) -> Result<(), Error> {
        poll_fn(|cx| self.poll_send_ready(cx)).await?;
        self.send_now(message)
    }

    /// Writes everything queued and flushes the transport.
    pub async fn flush(&mut self) -> Result<(), Error> {
        poll_fn(|cx| self.poll_send_flush(cx)).await
    }

    /// Ready to queue a message: waits while more than `max_outbound_queue` bytes are
    /// queued (what [`Sink::poll_ready`](futures_sink::Sink) does).
    pub fn poll_send_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        if self.end != End::Running {
            return Poll::Ready(Err(self.terminal_error()));
        }
        let keep = self.conn.config().max_outbound_queue;
        let written =
            io::poll_write_until(&mut self.io, &mut self.conn, keep, &mut self.unflushed, cx);
        self.after_write(written, cx)
    }

    /// Writes everything queued and flushes the transport (what
    /// [`Sink::poll_flush`](futures_sink::Sink) does). After the close handshake there is
    /// nothing left to write; after a failure (a deadline, the network) it is the error.
    pub fn poll_send_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        if self.end != End::Running {
            return Poll::Ready(self.cut.as_ref().map_or(Ok(()), |e| Err(e.duplicate())));
        }
        let written = io::poll_write_all(&mut self.io, &mut self.conn, &mut self.unflushed, cx);
        self.after_write(written, cx)
    }

    /// A write's outcome for the sender. A failure ends the connection for the reader too.
    /// While the transport does not take the bytes, the deadlines run: their firing, or the
    /// connection's end by the reader, wakes the sender, which then gets the error.
    fn after_write(
        &mut self,
        written: Poll<std::io::Result<()>>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), Error>> {
        let failure = match written {
            Poll::Ready(Ok(())) => return Poll::Ready(Ok(())),
            Poll::Ready(Err(e)) => Error::Io(e),
            Poll::Pending => {
                self.wakeups.register(Side::Writer, cx.waker());
                match self.poll_deadlines() {
                    Some(timed_out) => timed_out,
                    None => return Poll::Pending,
                }
            }
        };
        self.abort(failure, cx);
        Poll::Ready(Err(self.terminal_error()))
    }

    /// Why nothing more can be sent: the failure that cut the connection, or its close.
    pub(super) fn terminal_error(&self) -> Error {
        self.cut.as_ref().map_or(Error::Closed, Error::duplicate)
    }

    /// Queues a message in the core (what [`Sink::start_send`](futures_sink::Sink) does).
    pub fn send_now(&mut self, message: Message) -> Result<(), Error> {
        if self.end != End::Running {
            return Err(self.terminal_error());
        }
        let conn = &mut self.conn;
        let sent = match &message {
            Message::Text(text) => conn.send_text(text),
            Message::Binary(data) => conn.send_binary(data),
            Message::Ping(data) => conn.ping(data),
            Message::Pong(data) => conn.pong(data),
            Message::Close(None) => conn.close(CloseCode::NoStatus, ""),
            Message::Close(Some(frame)) => conn.close(frame.code, &frame.reason),
            Message::Fragment {
                kind, data, last, ..
            } => conn.send_fragment(*kind, data, *last),
        };
        Ok(sent?)
    }
}
