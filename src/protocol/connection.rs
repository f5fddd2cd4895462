//! A WebSocket connection after the opening handshake: bytes in, events and bytes out.
//!
//! Implements the data-transfer and closing phases of
//! [RFC 6455 §5](https://www.rfc-editor.org/rfc/rfc6455#section-5) and
//! [RFC 6455 §7](https://www.rfc-editor.org/rfc/rfc6455#section-7), sans I/O: it never reads
//! a socket, a clock or a global random number generator. The caller feeds received bytes in
//! ([`receive`](Connection::receive), or [`read_space`](Connection::read_space) +
//! [`commit_read`](Connection::commit_read) to read without a copy), takes events out
//! ([`poll_event`](Connection::poll_event)), and writes what
//! [`pending_output`](Connection::pending_output) holds, reporting it with
//! [`consume_output`](Connection::consume_output). Time comes in the same way: the caller
//! passes it to [`handle_timeout`](Connection::handle_timeout) when
//! [`poll_timeout`](Connection::poll_timeout) says (see [`timers`](super::timers)).
//!
//! # States
//!
//! ```text
//!                 close() sends our Close            peer's Close arrives
//!   ┌──────┐ ─────────────────────────────▶ ┌─────────┐ ───────────────────▶ ┌────────────────┐
//!   │ Open │                                │ Closing │                      │ Closed(Local)  │
//!   └──────┘ ─────────────────────────┐     └─────────┘                      └────────────────┘
//!      │      peer's Close arrives:   │
//!      │      our Close answers it    └────────────────────────────────────▶ ┌────────────────┐
//!      │                                                                      │ Closed(Remote) │
//!      │  the peer breaks the protocol: our Close carries the error's code   └────────────────┘
//!      └──────────────────────────────────────────────────────────────────▶ ┌────────────────┐
//!                                                                            │ Failed(error)  │
//!                                                                            └────────────────┘
//!
//!   Open ── no answer to our keepalive Ping within pong_timeout ──▶ TimedOut(Pong)
//!   Closing, or Closed/Failed with output unwritten,
//!        ── close_timeout after our Close ────────────────────────▶ TimedOut(Close)
//! ```
//!
//! The connection starts `Open` (the handshake is [`handshake`](super::handshake)'s business).
//! In `Closing` the peer's messages still arrive (RFC 6455 §7.1.2 lets data flow until its
//! Close) but nothing more may be sent. Once `Closed` or `Failed`, after the queued output
//! is written, the transport may be closed: see [`Connection::is_closed`]. `TimedOut` drops
//! what is queued: the peer is not answering, and the transport is closed at once.

use std::sync::Arc;
use std::time::Instant;

use crate::config::Config;
use crate::error::{ProtocolError, UsageError};
use crate::protocol::close::CloseCode;
use crate::protocol::deflate::DeflateParams;
use crate::protocol::message::{DataKind, Event, Message};
use crate::protocol::output::SharedFrame;
use crate::protocol::receiver::Receiver;
use crate::protocol::sender::Sender;
use crate::protocol::timers::{Action, Stage, Timeout, Timers};

/// Which end of the connection we are (RFC 6455 §1.2): it decides who masks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// We accepted the connection: we require masked frames and send unmasked ones.
    Server,
    /// We opened the connection: we mask every frame and refuse masked ones.
    Client,
}

/// Who sent the first Close frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Initiator {
    /// We did ([`Connection::close`]).
    Local,
    /// The peer did; we answered.
    Remote,
}

/// Where a connection stands (see the diagram in the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Messages flow both ways.
    Open,
    /// We sent a Close frame and wait for the peer's.
    Closing,
    /// Both Close frames have been exchanged; the field says who began.
    Closed(Initiator),
    /// The peer broke the protocol; our Close frame carries the error's code.
    Failed(ProtocolError),
    /// A deadline passed (see [`Connection::handle_timeout`]): the peer stopped answering.
    /// Nothing more is sent; the transport should be closed at once.
    TimedOut(Timeout),
}

/// A source of client masking keys (RFC 6455 §5.3: "derived from a strong source of entropy").
///
/// Injected so the core stays deterministic and testable; the runtime supplies one backed by
/// the operating system's random number generator. Any `FnMut() -> [u8; 4]` is one.
pub trait MaskKeys: Send {
    /// The key for the next frame.
    fn next_key(&mut self) -> [u8; 4];
}

impl<F: FnMut() -> [u8; 4] + Send> MaskKeys for F {
    fn next_key(&mut self) -> [u8; 4] {
        self()
    }
}

/// A WebSocket connection once established (after the opening handshake), for either role:
/// open, closing, then closed.
#[derive(Debug)]
pub struct Connection {
    rx: Receiver,
    tx: Sender,
    timers: Timers,
}

impl Connection {
    /// A server-side connection (frames from the client must be masked).
    ///
    /// `config` is shared, not copied: a runtime passes one `Arc<Config>` to all its
    /// connections (`Config` itself converts, for a connection of its own).
    pub fn server(config: impl Into<Arc<Config>>) -> Self {
        let config = config.into();
        Self {
            tx: Sender::new(Role::Server, None, config.deflate.as_ref()),
            rx: Receiver::new(Role::Server, config),
            timers: Timers::new(),
        }
    }

    /// A client-side connection, masking each frame with a key from `mask_keys`.
    pub fn client(config: impl Into<Arc<Config>>, mask_keys: impl MaskKeys + 'static) -> Self {
        let config = config.into();
        let keys: Box<dyn MaskKeys> = Box::new(mask_keys);
        Self {
            tx: Sender::new(Role::Client, Some(keys), config.deflate.as_ref()),
            rx: Receiver::new(Role::Client, config),
            timers: Timers::new(),
        }
    }

    /// Which end of the connection we are.
    pub fn role(&self) -> Role {
        self.tx.role()
    }

    /// The configuration the connection was made with.
    pub fn config(&self) -> &Config {
        self.rx.config()
    }

    /// Turns on permessage-deflate with the parameters the handshake agreed (RFC 7692): the
    /// compression level and threshold come from the [`Config::deflate`] this connection was
    /// made with (or its defaults). Call before any data flows.
    pub fn with_deflate(mut self, agreed: DeflateParams) -> Self {
        let (send, receive) = agreed.directions(self.tx.role());
        self.tx
            .enable_deflate(send.window_bits, send.context_takeover);
        self.rx
            .enable_inflate(receive.window_bits, receive.context_takeover);
        self
    }

    /// The two halves, to send while holding an event borrowed from the receiver:
    ///
    /// ```
    /// # use fullduplex::{Config, protocol::{Connection, Event}};
    /// # let mut conn = Connection::server(Config::default());
    /// let (rx, tx) = conn.split();
    /// while let Ok(Some(event)) = rx.poll_event(tx) {
    ///     if let Event::Message(message) = event {
    ///         tx.send(message).ok(); // echo, without copying the message out first
    ///     }
    /// }
    /// ```
    pub fn split(&mut self) -> (&mut Receiver, &mut Sender) {
        (&mut self.rx, &mut self.tx)
    }

    /// The receiving half.
    pub fn receiver(&mut self) -> &mut Receiver {
        &mut self.rx
    }

    /// The sending half.
    pub fn sender(&mut self) -> &mut Sender {
        &mut self.tx
    }

    /// Where the connection stands.
    pub fn state(&self) -> State {
        if let Some(timeout) = self.timers.expired() {
            return State::TimedOut(timeout);
        }
        if let Some(err) = self.rx.failure() {
            return State::Failed(err);
        }
        match (self.tx.closing(), self.rx.close_received()) {
            (None, _) => State::Open,
            (Some(Initiator::Local), false) => State::Closing,
            (Some(initiator), _) => State::Closed(initiator),
        }
    }

    /// Whether the connection has ended (`Closed` or `Failed`): once
    /// [`wants_write`](Self::wants_write) is false, the transport may be closed.
    ///
    /// RFC 6455 §5.5.1: "The server MUST close the underlying TCP connection immediately; the
    /// client SHOULD wait for the server to close the connection but MAY close the connection
    /// at any time" — so a client runtime waits (with a deadline) for the server's FIN.
    pub fn is_closed(&self) -> bool {
        matches!(
            self.state(),
            State::Closed(_) | State::Failed(_) | State::TimedOut(_)
        )
    }

    /// When the connection next needs [`handle_timeout`](Self::handle_timeout): a keepalive
    /// Ping due, the pong deadline, the idle timeout, or the close deadline, whichever comes
    /// first. A moment already past means now. `None`: no deadline is armed (keepalive and the
    /// idle timeout off and no close under way, or the connection is over), or the clock has
    /// not started: it starts at the first `handle_timeout`, which a runtime calls when the
    /// connection opens.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next(self.stage(), self.rx.config())
    }

    /// Gives the connection the time. It notes that whatever arrived since the last call
    /// arrived by `now` (so call it after each batch of input, as well as when
    /// [`poll_timeout`](Self::poll_timeout) comes), then acts on what is due:
    ///
    /// - [`Config::ping_interval`] without hearing from the peer: a Ping is queued;
    /// - [`Config::pong_timeout`] after that Ping, still nothing heard: the connection is
    ///   [`State::TimedOut`] with [`Timeout::Pong`];
    /// - [`Config::idle_timeout`] without a message: a Close with 1001 is queued;
    /// - [`Config::close_timeout`] after our Close, the handshake not finished (no answer,
    ///   or our last frames unwritten): [`State::TimedOut`] with [`Timeout::Close`].
    ///
    /// A timed-out connection drops its queued output, sends nothing more and reads nothing
    /// more (bytes still received give no event and no error): the runtime closes the
    /// transport (the application sees 1006, RFC 6455 §7.1.5).
    pub fn handle_timeout(&mut self, now: Instant) {
        let activity = self.rx.take_activity();
        let stage = self.stage();
        match self.timers.handle(now, activity, stage, self.rx.config()) {
            Action::Nothing => {}
            Action::Ping => {
                let _ = self.tx.ping(b"");
            }
            Action::CloseIdle => {
                let _ = self.tx.close(CloseCode::GoingAway, "idle timeout");
            }
            Action::Abandon(_) => {
                self.tx.abandon();
                self.rx.abandon();
            }
        }
    }

    /// Where the connection stands for its timers.
    fn stage(&self) -> Stage {
        match self.state() {
            State::Open => Stage::Open,
            State::Closing => Stage::Closing,
            State::Closed(_) | State::Failed(_) if self.wants_write() => Stage::Closing,
            State::Closed(_) | State::Failed(_) | State::TimedOut(_) => Stage::Done,
        }
    }

    /// Copies received bytes in. Follow with [`poll_event`](Self::poll_event) until it
    /// returns `Ok(None)`.
    pub fn receive(&mut self, data: &[u8]) {
        self.rx.receive(data);
    }

    /// Spare room in the receive buffer, at least `min` bytes, to read the transport into
    /// without a copy. Follow with [`commit_read`](Self::commit_read).
    pub fn read_space(&mut self, min: usize) -> &mut [u8] {
        self.rx.read_space(min)
    }

    /// Marks `n` bytes of [`read_space`](Self::read_space) as received.
    pub fn commit_read(&mut self, n: usize) {
        self.rx.commit_read(n);
    }

    /// The next event, `Ok(None)` when more input is needed.
    ///
    /// Pongs and Close answers are queued automatically. A protocol error is returned once,
    /// with its Close frame already queued; the connection is then `Failed`.
    pub fn poll_event(&mut self) -> Result<Option<Event<'_>>, ProtocolError> {
        self.rx.poll_event(&mut self.tx)
    }

    /// Sends a text message.
    pub fn send_text(&mut self, text: &str) -> Result<(), UsageError> {
        self.tx.send_text(text)
    }

    /// Sends a binary message.
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), UsageError> {
        self.tx.send_binary(data)
    }

    /// Sends a message.
    pub fn send(&mut self, message: Message<'_>) -> Result<(), UsageError> {
        self.tx.send(message)
    }

    /// Sends one fragment of a streamed message (see [`Sender::send_fragment`]).
    pub fn send_fragment(
        &mut self,
        kind: DataKind,
        data: &[u8],
        fin: bool,
    ) -> Result<(), UsageError> {
        self.tx.send_fragment(kind, data, fin)
    }

    /// Queues a frame encoded once for many connections (see [`SharedFrame`]).
    pub fn send_shared(&mut self, frame: &SharedFrame) -> Result<(), UsageError> {
        self.tx.send_shared(frame)
    }

    /// Sends a Ping.
    pub fn ping(&mut self, payload: &[u8]) -> Result<(), UsageError> {
        self.tx.ping(payload)
    }

    /// Sends an unsolicited Pong.
    pub fn pong(&mut self, payload: &[u8]) -> Result<(), UsageError> {
        self.tx.pong(payload)
    }

    /// Begins the close handshake.
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), UsageError> {
        self.tx.close(code, reason)
    }

    /// Queues raw bytes ahead of any later frame: the runtime's HTTP `101` response, so that
    /// it leaves in the same write as the first frames.
    pub fn queue_raw(&mut self, bytes: &[u8]) {
        self.tx.queue.tail(bytes.len()).extend_from_slice(bytes);
    }

    /// The first contiguous run of bytes to write (empty when nothing is queued).
    pub fn pending_output(&self) -> &[u8] {
        self.tx.queue.front()
    }

    /// Every run of bytes to write, in order, for a vectored write.
    pub fn output_chunks(&self) -> impl Iterator<Item = &[u8]> {
        self.tx.queue.chunks()
    }

    /// Reports that `n` bytes of the pending output were written.
    pub fn consume_output(&mut self, n: usize) {
        self.tx.consume_output(n);
    }

    /// Whether output is queued: register for writability only while this is true.
    pub fn wants_write(&self) -> bool {
        self.tx.queue.len() > 0
    }

    /// Bytes queued and not yet written.
    pub fn buffered_amount(&self) -> usize {
        self.tx.queue.len()
    }

    /// Discards queued output (the transport is gone and nothing more can be written).
    pub fn discard_output(&mut self) {
        self.tx.discard_output();
    }
}
