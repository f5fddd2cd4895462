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
//! ([`Connection::poll_timeout`] / [`Connection::handle_timeout`]) on one tokio timer, whose
//! firing wakes both the reading and the writing task (see [`wake`](super::wake)); the clock
//! is read when it fires and when bytes arrive, not per message.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use ::tokio::io::{AsyncRead, AsyncWrite};
use ::tokio::time::{Instant, Sleep};

use super::io::{self, Read};
use super::message::{CloseFrame, Message};
use super::wake::{Side, Wakeups};
use super::Error;
use crate::protocol::deflate::DeflateParams;
use crate::protocol::{CloseCode, Connection, Event, Role, Sender, State};

/// Where the transport stands, beside the connection's own state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum End {
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
    pub(super) io: S,
    pub(super) conn: Connection,
    subprotocol: Option<String>,
    deflate: Option<DeflateParams>,
    /// The one timer, set to the next deadline (made on first use, inside the runtime).
    timer: Option<Pin<Box<Sleep>>>,
    timer_at: Option<Instant>,
    /// The reader's and the writer's wakers, which the timer and the connection's end wake.
    pub(super) wakeups: Wakeups,
    /// Bytes went to the transport since its last flush.
    pub(super) unflushed: bool,
    pub(super) end: End,
    /// The failure to report once from the reading side.
    failure: Option<Error>,
    /// The failure that cut the connection, for the sending side (which reports it each time).
    pub(super) cut: Option<Error>,
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
            wakeups: Wakeups::new(),
            unflushed: false,
            end: End::Running,
            failure: None,
            cut: None,
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
    ///
    /// Cancel-safe: a `recv` dropped before it returns (in `tokio::select!`, under a
    /// timeout) loses nothing; what was read waits for the next call. So is
    /// [`recv_with`](Self::recv_with).
    pub async fn recv(&mut self) -> Result<Option<Message>, Error> {
        poll_fn(|cx| self.poll_recv(cx)).await.transpose()
    }

    /// The next event without a copy: `f` gets it borrowed from the receive buffer, with the
    /// connection's [`Sender`] to answer it at once (an echo sends the message back from
    /// where it arrived: one copy, into the output queue). `Ok(None)` once the connection
    /// has ended, as [`recv`](Self::recv).
    ///
    /// Before each event, this waits while more than
    /// [`Config::max_outbound_queue`](crate::Config::max_outbound_queue) bytes are queued,
    /// so `f` finds room for what it sends (what it queues is not otherwise bounded: send a
    /// bounded amount per event). Sends refused with [`UsageError::Closed`](crate::UsageError::Closed)
    /// mean the connection is closing.
    pub async fn recv_with<R>(
        &mut self,
        f: impl FnOnce(Event<'_>, &mut Sender) -> R,
    ) -> Result<Option<R>, Error> {
        let mut f = Some(f);
        poll_fn(|cx| {
            ready!(self.poll_room(cx));
            self.poll_event_with(cx, |event, tx| match f.take() {
                Some(f) => f(event, tx),
                None => unreachable!("one event per call"),
            })
        })
        .await
        .transpose()
    }

    /// Waits while more than `max_outbound_queue` bytes are queued (writing them, and
    /// running the timers); a failure ends the connection, for the reader to report.
    fn poll_room(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let keep = self.conn.config().max_outbound_queue;
        if self.end != End::Running || self.conn.buffered_amount() <= keep {
            return Poll::Ready(());
        }
        self.wakeups.register(Side::Reader, cx.waker());
        if let Some(timed_out) = self.poll_deadlines() {
            self.abort(timed_out, cx);
            return Poll::Ready(());
        }
        let written =
            io::poll_write_until(&mut self.io, &mut self.conn, keep, &mut self.unflushed, cx);
        if let Err(e) = ready!(written) {
            self.abort(Error::Io(e), cx);
        }
        Poll::Ready(())
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
        self.poll_event_with(cx, |event, _| Message::from_event(event))
    }

    /// Polls for the next event, handing it to `f` borrowed from the receive buffer.
    fn poll_event_with<R>(
        &mut self,
        cx: &mut Context<'_>,
        mut f: impl FnMut(Event<'_>, &mut Sender) -> R,
    ) -> Poll<Option<Result<R, Error>>> {
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
            let (rx, tx) = self.conn.split();
            match rx.poll_event(tx) {
                Ok(Some(event)) => {
                    let closed = matches!(event, Event::Closed { .. });
                    let out = f(event, tx);
                    io::give_back(&mut self.conn);
                    // Output waits until no more input is ready (it is written before the
                    // next read), so that a burst of messages leaves in few writes; the
                    // peer's Close is answered at once, for a reader that stops here.
                    if closed {
                        self.write_what_goes(cx);
                    }
                    return Poll::Ready(Some(Ok(out)));
                }
                Err(e) => {
                    self.write_what_goes(cx);
                    return Poll::Ready(Some(Err(Error::Protocol(e))));
                }
                Ok(None) => {}
            }
            ready!(self.poll_input(cx));
        }
    }

    /// Runs the timers, writes what goes, and reads once (or begins the end of the TCP
    /// connection); `Ready` when there is something new to look at.
    fn poll_input(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        self.wakeups.register(Side::Reader, cx.waker());
        if let Some(failure) = self.drive(cx) {
            self.abort(failure, cx);
            return Poll::Ready(());
        }
        if self.conn.is_closed() && !self.conn.wants_write() && !self.unflushed {
            self.begin_finishing();
            return Poll::Ready(());
        }
        match ready!(io::poll_read_into(&mut self.io, &mut self.conn, cx)) {
            Ok(Read::Data) => self.conn.handle_timeout(Instant::now().into_std()),
            Ok(Read::Eof) if self.conn.is_closed() => self.end = End::Ended,
            Ok(Read::Eof) => self.abort(Error::Abnormal, cx),
            Err(e) => self.abort(Error::Io(e), cx),
        }
        Poll::Ready(())
    }

    /// Runs the timers and writes what is queued without waiting; the failure that ends the
    /// connection, if one came.
    fn drive(&mut self, cx: &mut Context<'_>) -> Option<Error> {
        if let Some(timed_out) = self.poll_deadlines() {
            return Some(timed_out);
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

    /// Gives the core the time when its next deadline comes, and arms the timer for it (its
    /// firing wakes both sides: register the caller's side first); the failure if a deadline
    /// passed. The timer says whether the deadline passed (one set in the past fires at
    /// once): the clock is read only when it fires.
    pub(super) fn poll_deadlines(&mut self) -> Option<Error> {
        // Each round acts on one deadline; the core moves to the next or stops.
        for _ in 0..4 {
            let Some(at) = self.conn.poll_timeout() else {
                break;
            };
            if self.poll_timer(Instant::from_std(at)).is_pending() {
                break;
            }
            self.conn.handle_timeout(Instant::now().into_std());
        }
        match self.conn.state() {
            State::TimedOut(timeout) => Some(Error::TimedOut(timeout)),
            _ => None,
        }
    }

    /// Polls the timer set to `at`, in the context that wakes both sides.
    fn poll_timer(&mut self, at: Instant) -> Poll<()> {
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(::tokio::time::sleep_until(at)));
        if self.timer_at != Some(at) {
            timer.as_mut().reset(at);
            self.timer_at = Some(at);
        }
        timer.as_mut().poll(&mut self.wakeups.timer_context())
    }

    /// Ends the connection on a failure, reported once from the reading side and on every
    /// send: nothing queued is written any more, the transport is shut if it takes it now,
    /// and both sides are woken to see it.
    pub(super) fn abort(&mut self, failure: Error, cx: &mut Context<'_>) {
        self.conn.discard_output();
        let _ = Pin::new(&mut self.io).poll_shutdown(cx);
        self.cut = Some(failure.duplicate());
        self.failure = Some(failure);
        self.end = End::Ended;
        self.wakeups.wake(Side::Reader);
        self.wakeups.wake(Side::Writer);
    }

    fn begin_finishing(&mut self) {
        let until = Instant::now() + self.conn.config().close_timeout;
        self.end = End::Finishing {
            shut: false,
            read_eof: false,
            until,
        };
        // A writer waiting on the transport has nothing more to wait for.
        self.wakeups.wake(Side::Writer);
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
        self.wakeups.register(Side::Reader, cx.waker());
        if self.poll_timer(until).is_ready() {
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
}
