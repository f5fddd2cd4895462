//! The receiving half of a connection: buffers bytes, parses frames, unmasks and validates
//! payload as it arrives, reassembles messages and turns them into events.
//!
//! Implements the receiving rules of
//! [RFC 6455 §5.1–§5.6](https://www.rfc-editor.org/rfc/rfc6455#section-5) (masking by role,
//! RSV bits, fragmentation, control frames),
//! [RFC 6455 §8.1](https://www.rfc-editor.org/rfc/rfc6455#section-8.1) (UTF-8, checked inside
//! a frame as bytes arrive so that invalid text fails at once),
//! [RFC 6455 §10.4](https://www.rfc-editor.org/rfc/rfc6455#section-10.4) (limits, checked at
//! the header before any payload is buffered), and
//! [RFC 7692 §6](https://www.rfc-editor.org/rfc/rfc7692#section-6) with
//! [RFC 7692 §7.2.2](https://www.rfc-editor.org/rfc/rfc7692#section-7.2.2) (RSV1 and the
//! inflation of compressed messages, counted against the message size limit).
//!
//! Zero copy: the runtime reads straight into the receive buffer
//! ([`read_space`](Receiver::read_space) / [`commit_read`](Receiver::commit_read)), payload is
//! unmasked in place, and a message that arrived as one frame is delivered as a slice of that
//! buffer. Only fragmented messages are copied, into a reassembly buffer.
//!
//! ## What is in flight, in types
//!
//! An idle receiver holds a null pointer. What it needs while bytes are in flight, a `Flight`
//! (`receiver/flight.rs`), is allocated when they arrive and recycled to a per-thread pool
//! once the buffer is empty between messages. Besides the bytes, a flight records where the
//! frames stand, in types that admit only what the RFC allows:
//!
//! ```text
//! Framing::BetweenMessages                   a header is awaited
//! Framing::Control(ControlFrame)             a Close, Ping or Pong is arriving
//! Framing::Message { message, frame }        a data message is open (RFC 6455 §5.4), and
//!     MessageFrame::BetweenFrames                its next frame's header is awaited,
//!     MessageFrame::Control(ControlFrame)        or a control frame comes between two,
//!     MessageFrame::Data(DataFrame)              or one of its frames is arriving
//! ```
//!
//! so a data frame without its message, or two frames at once, cannot be built. The message
//! (`Incoming`) is text with its UTF-8 validator or binary (`Content`), and plain or
//! compressed (`Coding`): a compressed message holds the connection's decompressor, which the
//! receiver lends it at its first frame (RSV1 set, RFC 7692 §6) and gets back at its last, so
//! a compressed message without a decompressor cannot be built either. Each step of
//! [`poll_event`](Receiver::poll_event) updates the framing in place: `header.rs` starts
//! frames, `payload.rs` takes their payload in and delivers messages whole, `stream.rs` as
//! chunks, and `event.rs` lends the events out.
//!
//! What the receiver records of the connection's end is its `Reception`: still reading, the
//! peer's Close received, or failed; after either of the last two nothing more is read.

use std::sync::Arc;

use crate::config::{Config, MessageDelivery};
use crate::error::ProtocolError;
use crate::protocol::connection::Role;
use crate::protocol::deflate::codec::Decompressor;
use crate::protocol::message::Event;
use crate::protocol::sender::Sender;

mod event;
mod flight;
mod header;
mod payload;
mod room;
mod stream;
#[cfg(test)]
mod tests;

use event::Ready;
use flight::{new_flight, recycle_flight, Flight, Framing, Incoming, Input, MessageFrame};

/// Whether received bytes are still read as frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reception {
    /// Frames are read.
    Reading,
    /// The peer's Close frame arrived: "after receiving a control frame indicating the
    /// connection should be closed, a peer discards any further data received" (RFC 6455 §1.4).
    CloseReceived,
    /// We failed the connection: the endpoint "MUST NOT continue to attempt to process data
    /// (including a responding Close frame) from the remote endpoint" (RFC 6455 §7.1.7).
    Failed(ProtocolError),
    /// A deadline passed and the connection was given up (`State::TimedOut`): its transport
    /// is to be closed, and what still arrives is neither an event nor an error.
    Abandoned,
}

/// What one step of `Receiver::advance` found.
enum Step {
    /// An event is ready.
    Event(Ready),
    /// More bytes must arrive first.
    NeedInput,
    /// Go on: a header was parsed, or a frame completed without an event.
    Next,
}

/// Where a step leaves the open message.
enum Progress {
    /// It goes on as it was: in the same frame, or not in a data frame.
    Continues(Step),
    /// Its data frame is done: it awaits the next one.
    FrameDone(Step),
    /// Its final frame is done: it has ended, with this last event.
    Ended(Ready),
}

/// Parses and reassembles incoming frames. Get it from
/// [`Connection::split`](super::Connection::split), or use [`Connection`](super::Connection).
#[derive(Debug)]
pub struct Receiver {
    role: Role,
    reception: Reception,
    /// What arrived since [`take_activity`](Self::take_activity) last asked.
    activity: Activity,
    /// The limits and the delivery mode, shared by the connections made with this config.
    config: Arc<Config>,
    /// What is in flight: `None` while idle (and while [`poll_event`](Self::poll_event)
    /// advances it).
    flight: Option<Box<Flight>>,
    /// The permessage-deflate decompressor when the extension was agreed, but for the time a
    /// compressed message holds it.
    inflater: Option<Box<Decompressor>>,
}

/// What a receiver has seen arrive since it was last asked: the connection's timers learn
/// from it when the peer was last heard from (keepalive) and last sent a message (idle
/// timeout).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Activity {
    /// Bytes arrived (anything, even part of a frame).
    pub heard: bool,
    /// A whole data message arrived (in streamed delivery: its last chunk).
    pub message: bool,
}

impl Receiver {
    pub(crate) fn new(role: Role, config: Arc<Config>) -> Self {
        Self {
            role,
            reception: Reception::Reading,
            activity: Activity::default(),
            config,
            flight: None,
            inflater: None,
        }
    }

    /// The configuration this receiver checks its limits against.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// What arrived since the last call (and resets it).
    pub fn take_activity(&mut self) -> Activity {
        std::mem::take(&mut self.activity)
    }

    /// Accepts compressed messages (permessage-deflate agreed), inflating them with this
    /// window and context takeover.
    pub(crate) fn enable_inflate(&mut self, window_bits: u8, context_takeover: bool) {
        self.inflater = Some(Box::new(Decompressor::new(window_bits, context_takeover)));
    }

    /// Spare room at the end of the receive buffer, at least `min` bytes, to read into.
    /// Follow with [`commit_read`](Self::commit_read).
    ///
    /// While a large frame arrives in whole-message delivery, the room offered grows towards
    /// the rest of the frame (see `receiver/room.rs`), so that it is read in few calls and
    /// moved at most once or twice.
    pub fn read_space(&mut self, min: usize) -> &mut [u8] {
        self.apply_release();
        let whole = self.config.message_delivery == MessageDelivery::Whole;
        let flight = self.flight.get_or_insert_with(new_flight);
        let frame_rest = if whole { flight.frame_rest() } else { 0 };
        let f = &mut flight.input;
        if f.buf.len() - f.end < min {
            f.make_room(min, frame_rest);
        }
        &mut f.buf[f.end..]
    }

    /// Marks `n` bytes of [`read_space`](Self::read_space) as received.
    pub fn commit_read(&mut self, n: usize) {
        if self.reception != Reception::Reading {
            // After the peer's Close, a failure or a timeout, further bytes are discarded.
            return;
        }
        if let Some(Flight { input: f, .. }) = self.flight.as_deref_mut() {
            f.end = (f.end + n).min(f.buf.len());
        }
        self.activity.heard |= n > 0;
    }

    /// Copies `data` into the receive buffer (the convenience form of read_space + commit).
    pub fn receive(&mut self, data: &[u8]) {
        if self.reception != Reception::Reading || data.is_empty() {
            return;
        }
        self.read_space(data.len())[..data.len()].copy_from_slice(data);
        self.commit_read(data.len());
    }

    /// Whether received bytes wait to be processed (a partial frame, or a pending event).
    pub fn has_buffered_input(&self) -> bool {
        self.flight
            .as_ref()
            .is_some_and(|f| f.input.end > f.input.start)
    }

    /// Hands back the receive buffer when it holds nothing, so an idle connection keeps no
    /// memory (the runtime may pool it and give it to another connection).
    pub fn take_idle_buffer(&mut self) -> Option<Vec<u8>> {
        self.apply_release();
        let Flight { input: f, framing } = self.flight.as_deref_mut()?;
        let idle = (f.end == f.start && !f.buf.is_empty()).then(|| {
            f.start = 0;
            f.end = 0;
            std::mem::take(&mut f.buf)
        });
        if f.buf.is_empty() && matches!(framing, Framing::BetweenMessages) {
            if let Some(flight) = self.flight.take() {
                recycle_flight(flight);
            }
        }
        idle
    }

    /// Whether the receiver holds no buffer (so one from a pool would be used).
    pub fn needs_buffer(&self) -> bool {
        self.flight.as_ref().is_none_or(|f| f.input.buf.is_empty())
    }

    /// Installs a buffer (e.g. from a pool) when the receiver holds none.
    pub fn provide_buffer(&mut self, mut buf: Vec<u8>) {
        let f = &mut self.flight.get_or_insert_with(new_flight).input;
        if f.buf.is_empty() && f.end == 0 {
            buf.resize(buf.capacity(), 0);
            f.buf = buf;
        }
    }

    /// Whether the peer's Close frame has been received.
    pub fn close_received(&self) -> bool {
        self.reception == Reception::CloseReceived
    }

    /// Stops reading: the connection timed out (see `Connection::handle_timeout`).
    pub(crate) fn abandon(&mut self) {
        if self.reception == Reception::Reading {
            self.reception = Reception::Abandoned;
        }
    }

    /// The protocol error that failed the connection, if any.
    pub fn failure(&self) -> Option<ProtocolError> {
        match self.reception {
            Reception::Failed(err) => Some(err),
            Reception::Reading | Reception::CloseReceived | Reception::Abandoned => None,
        }
    }

    fn apply_release(&mut self) {
        if self.reception != Reception::Reading {
            self.flight = None;
        }
        if let Some(flight) = self.flight.as_mut() {
            flight.input.apply_release();
        }
    }

    /// Processes buffered bytes until an event is ready or more input is needed.
    ///
    /// Automatic answers (Pong, the Close reply, the Close frame of a failure) go to `tx`.
    /// On a protocol error the Close frame is queued and the error returned once; after that,
    /// and after [`Event::Closed`], this returns `Ok(None)`.
    pub fn poll_event(&mut self, tx: &mut Sender) -> Result<Option<Event<'_>>, ProtocolError> {
        self.apply_release();
        if self.reception != Reception::Reading {
            return Ok(None);
        }
        // The flight is taken out while it advances: a failure drops it, and an event
        // borrows it where it is put back.
        let Some(mut flight) = self.flight.take() else {
            return Ok(None);
        };
        match self.advance(&mut flight, tx) {
            Ok(Some(ready)) => {
                self.activity.message |= ready.ends_message();
                Ok(Some(self.flight.insert(flight).input.event(ready)))
            }
            Ok(None) => {
                self.flight = Some(flight);
                Ok(None)
            }
            Err(err) => {
                self.reception = Reception::Failed(err);
                tx.fail(err);
                Err(err)
            }
        }
    }

    /// Steps through the frames until an event is ready or more bytes are needed.
    fn advance(&mut self, f: &mut Flight, tx: &mut Sender) -> Result<Option<Ready>, ProtocolError> {
        loop {
            let Flight { input, framing } = &mut *f;
            let step = match framing {
                Framing::BetweenMessages => self.header_between_messages(input, framing)?,
                Framing::Control(frame) => match self.control_payload(input, frame, tx)? {
                    Some(ready) => {
                        *framing = Framing::BetweenMessages;
                        Step::Event(ready)
                    }
                    None => Step::NeedInput,
                },
                Framing::Message { message, frame } => {
                    match self.message_step(input, message, frame, tx)? {
                        Progress::Continues(step) | Progress::FrameDone(step) => step,
                        Progress::Ended(ready) => {
                            *framing = Framing::BetweenMessages;
                            Step::Event(ready)
                        }
                    }
                }
            };
            match step {
                Step::Event(ready) => return Ok(Some(ready)),
                Step::NeedInput => return Ok(None),
                Step::Next => {}
            }
        }
    }

    /// One step inside an open message: its next header, a control frame between its
    /// frames, or one of its frames.
    fn message_step(
        &mut self,
        input: &mut Input,
        message: &mut Incoming,
        frame: &mut MessageFrame,
        tx: &mut Sender,
    ) -> Result<Progress, ProtocolError> {
        let step = match frame {
            MessageFrame::BetweenFrames => self.header_in_message(input, message, frame)?,
            MessageFrame::Control(control) => match self.control_payload(input, control, tx)? {
                Some(ready) => {
                    *frame = MessageFrame::BetweenFrames;
                    Step::Event(ready)
                }
                None => Step::NeedInput,
            },
            MessageFrame::Data(data) => {
                let progress = self.data_payload(input, data, message)?;
                if let Progress::FrameDone(_) = progress {
                    *frame = MessageFrame::BetweenFrames;
                }
                return Ok(progress);
            }
        };
        Ok(Progress::Continues(step))
    }
}
