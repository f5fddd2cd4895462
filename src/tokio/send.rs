//! Sending on a [`WebSocketStream`]: messages queued in the core, written with back-pressure.
//!
//! What may be sent when is the core's (RFC 6455 §5.5.1: nothing after our Close, see
//! [`Sender`](crate::protocol::Sender)); here a sender waits while more than
//! [`Config::max_outbound_queue`](crate::Config::max_outbound_queue) bytes are queued, so a
//! peer that does not read holds at most that plus one message
//! ([RFC 6455 §10.4](https://www.rfc-editor.org/rfc/rfc6455#section-10.4): limits on what
//! an endpoint buffers).

use std::future::poll_fn;
use std::task::{ready, Context, Poll};

use ::tokio::io::{AsyncRead, AsyncWrite};

use super::io;
use super::stream::End;
use super::{Error, Message, WebSocketStream};
use crate::protocol::{CloseCode, State};

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
        self.check_sendable(cx)?;
        let keep = self.conn.config().max_outbound_queue;
        let written =
            io::poll_write_until(&mut self.io, &mut self.conn, keep, &mut self.unflushed, cx);
        self.after_write(ready!(written), cx)
    }

    /// Writes everything queued and flushes the transport (what
    /// [`Sink::poll_flush`](futures_sink::Sink) does).
    pub fn poll_send_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        if self.end != End::Running {
            return Poll::Ready(Ok(()));
        }
        let written = io::poll_write_all(&mut self.io, &mut self.conn, &mut self.unflushed, cx);
        self.after_write(ready!(written), cx)
    }

    /// A write's outcome for the sender; a failure also ends the connection for the reader.
    fn after_write(
        &mut self,
        written: std::io::Result<()>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), Error>> {
        match written {
            Ok(()) => Poll::Ready(Ok(())),
            Err(e) => {
                let copy = std::io::Error::new(e.kind(), e.to_string());
                self.abort(Error::Io(e), cx);
                Poll::Ready(Err(Error::Io(copy)))
            }
        }
    }

    /// `Err` when nothing can be sent: the connection ended or a deadline passed.
    fn check_sendable(&mut self, cx: &mut Context<'_>) -> Result<(), Error> {
        if self.end != End::Running {
            return Err(Error::Closed);
        }
        self.poll_timers(cx);
        if let State::TimedOut(timeout) = self.conn.state() {
            self.abort(Error::TimedOut(timeout), cx);
            return Err(Error::TimedOut(timeout));
        }
        Ok(())
    }

    /// Queues a message in the core (what [`Sink::start_send`](futures_sink::Sink) does).
    pub fn send_now(&mut self, message: Message) -> Result<(), Error> {
        if self.end != End::Running {
            return Err(Error::Closed);
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
