//! [`WebSocketStream`]: one WebSocket connection over any tokio byte stream, driving the
//! sans-I/O [`Connection`] with tokio's readiness and timers.
//!
//! The data-transfer and closing phases of
//! [RFC 6455 §5](https://www.rfc-editor.org/rfc/rfc6455#section-5) and
//! [RFC 6455 §7](https://www.rfc-editor.org/rfc/rfc6455#section-7) are the core's; this file
//! moves bytes and time. Reading also writes what the core queued on its own (Pongs, the
//! answer to a Close, keepalive Pings) as far as the transport takes it without waiting, so
//! a peer that does not read cannot stall reading. Sending waits while more than
//! [`Config::max_outbound_queue`](crate::Config::max_outbound_queue) bytes are queued. The
//! deadlines (keepalive, pong, idle, close) are the core's
//! ([`Connection::poll_timeout`] / [`Connection::handle_timeout`]) on one tokio timer.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use ::tokio::io::{AsyncRead, AsyncWrite};
use ::tokio::time::{Instant, Sleep};

use super::io::{self, Read};
use super::message::{CloseFrame, Message};
use super::Error;
use crate::protocol::deflate::DeflateParams;
use crate::protocol::{CloseCode, Connection, Role, State};

/// Where the transport stands, beside the connection's own state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// The connection runs; its state says when the close handshake is over.
    Running,
    /// The close handshake is over and our frames are written: ending the TCP connection
    /// (RFC 6455 §7.1.1), by `until` at the latest.
    Finishing {
        shut: bool,
        read_eof: bool,
        until: Instant,
    },
    /// Over: nothing more arrives or goes.
    Ended,
}

/// A WebSocket connection over `S`: a [`Stream`](futures_core::Stream) of received
/// [`Message`]s and a [`Sink`](futures_sink::Sink) of messages to send, or the methods
/// [`recv`](Self::recv), [`send`](Self::send) and [`close`](Self::close).
///
/// Made by [`accept`](super::accept), [`accept_with`](super::accept_with),
/// [`connect`](super::connect) or [`from_upgraded`](super::from_upgraded). The stream ends
/// (`None`) after the peer's Close ([`Message::Close`]) once the TCP connection is ended too,
/// or after an error, which is reported once.
///
/// Received messages are answered as the RFC says while you read (Pings with Pongs, a Close
/// with a Close): keep reading (for instance in a task of its own, with
/// [`StreamExt::split`](https://docs.rs/futures/latest/futures/stream/trait.StreamExt.html#method.split))
/// for the connection to stay alive; keepalive Pings and every deadline also run while you read.
pub struct WebSocketStream<S> {
    io: S,
    conn: Connection,
    subprotocol: Option<String>,
    deflate: Option<DeflateParams>,
    /// The one timer, set to the next deadline (made on first use, inside the runtime).
    timer: Option<Pin<Box<Sleep>>>,
    timer_at: Option<Instant>,
    /// Bytes went to the transport since its last flush.
    unflushed: bool,
    end: End,
    /// The failure to report once from the reading side.
    failure: Option<Error>,
}

impl<S> std::fmt::Debug for WebSocketStream<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocketStream")
            .field("conn", &self.conn)
            .field("subprotocol", &self.subprotocol)
            .field("deflate", &self.deflate)
            .field("end", &self.end)
            .finish_non_exhaustive()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> WebSocketStream<S> {
    /// The stream for an established connection; its clock starts now.
    pub(crate) fn new(
        io: S,
        mut conn: Connection,
        subprotocol: Option<String>,
        deflate: Option<DeflateParams>,
    ) -> Self {
        conn.handle_timeout(Instant::now().into_std());
        Self {
            io,
            conn,
            subprotocol,
            deflate,
            timer: None,
            timer_at: None,
            unflushed: false,
            end: End::Running,
            failure: None,
        }
    }

    /// The subprotocol agreed in the opening handshake.
    pub fn subprotocol(&self) -> Option<&str> {
        self.subprotocol.as_deref()
    }

    /// The permessage-deflate parameters agreed in the opening handshake, if it was.
    pub fn deflate(&self) -> Option<DeflateParams> {
        self.deflate
    }

    /// Which end we are.
    pub fn role(&self) -> Role {
        self.conn.role()
    }

    /// The connection underneath: its [`state`](Connection::state), its
    /// [`buffered_amount`](Connection::buffered_amount), its configuration.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// The connection, for the sink's close.
    pub(crate) fn connection_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }

    /// The transport.
    pub fn get_ref(&self) -> &S {
        &self.io
    }

    /// The transport, to set socket options. Reading or writing it directly corrupts the
    /// connection.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.io
    }

    /// The next message: `Ok(None)` once the connection has ended (after the peer's
    /// [`Message::Close`], or after an error reported here once).
    pub async fn recv(&mut self) -> Result<Option<Message>, Error> {
        poll_fn(|cx| self.poll_recv(cx)).await.transpose()
    }

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

    /// Performs the close handshake (RFC 6455 §7.1.2): sends a Close frame with `code` and
    /// `reason` (unless one was sent), then reads until the peer's Close and the end of the
    /// TCP connection, dropping data messages that arrive meanwhile. Returns the peer's Close
    /// frame (`None`: it had no body, or the connection had ended already). Bounded by
    /// [`Config::close_timeout`](crate::Config::close_timeout) ([`Error::TimedOut`]).
    pub async fn close(
        &mut self,
        code: CloseCode,
        reason: &str,
    ) -> Result<Option<CloseFrame>, Error> {
        if self.conn.sender().is_open() && self.end == End::Running {
            self.conn.close(code, reason)?;
        }
        let mut theirs = None;
        while let Some(message) = self.recv().await? {
            if let Message::Close(frame) = message {
                theirs = frame;
            }
        }
        Ok(theirs)
    }

    /// Polls for the next message (what [`Stream::poll_next`](futures_core::Stream) does).
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Message, Error>>> {
        loop {
            match self.end {
                End::Ended => return Poll::Ready(self.failure.take().map(Err)),
                End::Finishing { .. } => {
                    ready!(self.poll_finish(cx));
                    self.end = End::Ended;
                    continue;
                }
                End::Running => {}
            }
            match self.conn.poll_event() {
                Ok(Some(event)) => {
                    let message = Message::from_event(event);
                    self.write_what_goes(cx);
                    return Poll::Ready(Some(Ok(message)));
                }
                Err(e) => {
                    self.write_what_goes(cx);
                    return Poll::Ready(Some(Err(Error::Protocol(e))));
                }
                Ok(None) => {}
            }
            if let Some(failure) = self.drive(cx) {
                self.abort(failure, cx);
                continue;
            }
            if self.conn.is_closed() && !self.conn.wants_write() && !self.unflushed {
                self.begin_finishing();
                continue;
            }
            match ready!(io::poll_read_into(&mut self.io, &mut self.conn, cx)) {
                Ok(Read::Data) => self.conn.handle_timeout(Instant::now().into_std()),
                Ok(Read::Eof) if self.conn.is_closed() => self.end = End::Ended,
                Ok(Read::Eof) => self.abort(Error::Abnormal, cx),
                Err(e) => self.abort(Error::Io(e), cx),
            }
        }
    }

    /// Runs the timers and writes what is queued without waiting; the failure that ends the
    /// connection, if one came.
    fn drive(&mut self, cx: &mut Context<'_>) -> Option<Error> {
        self.poll_timers(cx);
        if let State::TimedOut(timeout) = self.conn.state() {
            return Some(Error::TimedOut(timeout));
        }
        match io::poll_write_all(&mut self.io, &mut self.conn, &mut self.unflushed, cx) {
            Poll::Ready(Err(e)) => Some(Error::Io(e)),
            _ => None,
        }
    }

    /// Writes what the core queued as far as the transport takes it now.
    fn write_what_goes(&mut self, cx: &mut Context<'_>) {
        let written = io::poll_write_all(&mut self.io, &mut self.conn, &mut self.unflushed, cx);
        if let Poll::Ready(Err(e)) = written {
            self.abort(Error::Io(e), cx);
        }
    }

    /// Gives the core the time when its next deadline comes, and arms the timer for it.
    ///
    /// The timer alone says whether the deadline has come (one set in the past fires at once),
    /// so the clock is read only when one has: this runs on every read and every message
    /// queued, and a clock read each time cost more than the rest of the timer work.
    fn poll_timers(&mut self, cx: &mut Context<'_>) {
        // Each round acts on one deadline; the core moves to the next or stops.
        for _ in 0..4 {
            let Some(at) = self.conn.poll_timeout() else {
                return;
            };
            if self.poll_timer(Instant::from_std(at), cx).is_pending() {
                return;
            }
            self.conn.handle_timeout(Instant::now().into_std());
        }
    }

    /// Polls the timer set to `at`.
    fn poll_timer(&mut self, at: Instant, cx: &mut Context<'_>) -> Poll<()> {
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(::tokio::time::sleep_until(at)));
        if self.timer_at != Some(at) {
            timer.as_mut().reset(at);
            self.timer_at = Some(at);
        }
        timer.as_mut().poll(cx)
    }

    /// Ends the connection on a failure, reported once from the reading side: nothing queued
    /// is written any more, and the transport is shut if it takes it now.
    fn abort(&mut self, failure: Error, cx: &mut Context<'_>) {
        self.conn.discard_output();
        let _ = Pin::new(&mut self.io).poll_shutdown(cx);
        self.failure = Some(failure);
        self.end = End::Ended;
    }

    fn begin_finishing(&mut self) {
        let until = Instant::now() + self.conn.config().close_timeout;
        self.end = End::Finishing {
            shut: false,
            read_eof: false,
            until,
        };
    }

    /// Ends the TCP connection after the close handshake (RFC 6455 §7.1.1): "the server MUST
    /// close the underlying TCP connection immediately", so a server shuts its side first;
    /// "the client SHOULD wait for the server to close the connection", so a client reads to
    /// the end first. Either way, not past `until`.
    fn poll_finish(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let End::Finishing {
            mut shut,
            mut read_eof,
            until,
        } = self.end
        else {
            return Poll::Ready(());
        };
        if self.poll_timer(until, cx).is_ready() {
            return Poll::Ready(());
        }
        let server_first = self.role() == Role::Server;
        let result = loop {
            if !shut && (server_first || read_eof) {
                let _ = ready!(Pin::new(&mut self.io).poll_shutdown(cx));
                shut = true;
            }
            if read_eof && shut {
                break Poll::Ready(());
            }
            match io::poll_discard(&mut self.io, cx) {
                Poll::Pending => break Poll::Pending,
                Poll::Ready(Ok(Read::Data)) => {}
                Poll::Ready(Ok(Read::Eof) | Err(_)) => read_eof = true,
            }
        };
        self.end = End::Finishing {
            shut,
            read_eof,
            until,
        };
        result
    }

    /// Ready to queue a message: waits while more than `max_outbound_queue` bytes are
    /// queued (what [`Sink::poll_ready`](futures_sink::Sink) does).
    ///
    /// The deadlines are armed here only when it waits (to end the wait): while the transport
    /// takes the bytes, the reading side runs them, and polling the timer for each message
    /// queued cost more than queueing a small message.
    pub fn poll_send_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        if self.end != End::Running {
            return Poll::Ready(Err(Error::Closed));
        }
        self.check_timed_out(cx)?;
        let keep = self.conn.config().max_outbound_queue;
        match io::poll_write_until(&mut self.io, &mut self.conn, keep, &mut self.unflushed, cx) {
            Poll::Ready(written) => self.after_write(written, cx),
            Poll::Pending => {
                self.poll_timers(cx);
                self.check_timed_out(cx)?;
                Poll::Pending
            }
        }
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

    /// `Err` when a deadline has passed (the connection is then ended).
    fn check_timed_out(&mut self, cx: &mut Context<'_>) -> Result<(), Error> {
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
