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

use std::cell::RefCell;
use std::sync::Arc;

use crate::config::{Config, MessageDelivery};
use crate::error::ProtocolError;
use crate::protocol::connection::Role;
use crate::protocol::deflate::codec::Decompressor;
use crate::protocol::frame::Opcode;
use crate::protocol::message::{Chunk, DataKind, Event, Message};
use crate::protocol::sender::Sender;
use crate::protocol::spare::{give_spare, take_spare, Spares};
use crate::protocol::utf8::Utf8Validator;

/// The receive buffer grows by at least this much.
const MIN_BUFFER: usize = 4096;

/// In streamed delivery, a compressed message is inflated into chunks of at most this size.
const INFLATED_CHUNK: usize = 64 << 10;

/// The frame whose payload is being received.
#[derive(Debug, Clone, Copy)]
struct FrameProgress {
    opcode: Opcode,
    fin: bool,
    mask: Option<[u8; 4]>,
    len: usize,
    /// Payload bytes already released from the buffer (streamed delivery): payload byte `i`
    /// is at `buf[start + (i - released)]`.
    released: usize,
    /// Payload bytes unmasked and validated so far.
    done: usize,
    /// Payload bytes handed out as chunks so far (streamed delivery).
    delivered: usize,
    /// Payload bytes fed to the inflater so far (compressed, streamed delivery).
    consumed: usize,
}

/// The data message being received.
#[derive(Debug, Clone, Copy)]
struct Incoming {
    kind: DataKind,
    fragments: u32,
    /// Payload bytes of the message so far (the frames' declared lengths).
    size: usize,
    /// A chunk of it was delivered (streamed delivery).
    started: bool,
    /// RSV1 was set on its first frame: the payload is DEFLATE data (RFC 7692 §6).
    compressed: bool,
    /// Bytes inflated so far (compressed messages): what the message size limit counts.
    inflated: usize,
}

/// Where the receiver stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Open,
    /// The peer's Close frame arrived: nothing more is read.
    CloseReceived,
    /// We failed the connection.
    Failed(ProtocolError),
}

/// An event located by ranges, built before the buffers are borrowed for the caller.
enum Ready {
    Frame {
        kind: DataKind,
        at: usize,
        len: usize,
    },
    Assembled(DataKind),
    AssembledChunk {
        kind: DataKind,
        first: bool,
        last: bool,
    },
    Chunk {
        kind: DataKind,
        at: usize,
        len: usize,
        first: bool,
        last: bool,
    },
    Ping {
        at: usize,
        len: usize,
    },
    Pong {
        at: usize,
        len: usize,
    },
    Closed {
        code: crate::protocol::close::CloseCode,
        at: usize,
        len: usize,
    },
}

impl Ready {
    /// Whether this event completes a data message.
    fn ends_message(&self) -> bool {
        match self {
            Ready::Frame { .. } | Ready::Assembled(_) => true,
            Ready::AssembledChunk { last, .. } | Ready::Chunk { last, .. } => *last,
            Ready::Ping { .. } | Ready::Pong { .. } | Ready::Closed { .. } => false,
        }
    }
}

/// What is being received: the receive buffer and the frame and message in progress.
/// Allocated when a buffer is installed or a frame header arrives, and freed by
/// [`Receiver::take_idle_buffer`] once the buffer is empty and no frame or message is in
/// progress, so that an idle connection holds a null pointer instead.
#[derive(Debug, Default)]
struct Flight {
    /// Received bytes; `buf[..]` is always initialized, live data is `buf[start..end]`.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    frame: Option<FrameProgress>,
    message: Option<Incoming>,
    /// The reassembly buffer of a fragmented message (whole delivery).
    assembled: Vec<u8>,
    /// What the previous event borrowed, released at the next call: its bytes at the start
    /// of the receive buffer, and whether it was `assembled` (then freed).
    release_frame: usize,
    release_assembled: bool,
    utf8: Utf8Validator,
}

/// Spare in-flight states per thread (each receiver allocates one per message otherwise).
const SPARE_FLIGHTS: usize = 4;

thread_local! {
    static FLIGHTS: RefCell<Spares<Flight, SPARE_FLIGHTS>> = const { RefCell::new(Spares::new()) };
}

/// An empty in-flight state: a spare one of this thread's, or a new allocation.
fn new_flight() -> Box<Flight> {
    take_spare(&FLIGHTS).unwrap_or_default()
}

/// Resets a finished in-flight state and keeps it for this thread's next message.
fn recycle_flight(mut flight: Box<Flight>) {
    *flight = Flight::default();
    give_spare(&FLIGHTS, flight);
}

/// The in-flight state of a receiver, allocated if it was not (borrows only that field).
macro_rules! flight {
    ($receiver:expr) => {
        $receiver.flight.get_or_insert_with(new_flight)
    };
}

mod header;
mod payload;
#[cfg(test)]
mod tests;

/// Parses and reassembles incoming frames. Get it from
/// [`Connection::split`](super::Connection::split), or use [`Connection`](super::Connection).
#[derive(Debug)]
pub struct Receiver {
    role: Role,
    phase: Phase,
    /// What arrived since [`take_activity`](Self::take_activity) last asked.
    activity: Activity,
    /// The limits and the delivery mode, shared by the connections made with this config.
    config: Arc<Config>,
    flight: Option<Box<Flight>>,
    /// The permessage-deflate decompressor, when the extension was agreed.
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
            phase: Phase::Open,
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
    pub fn read_space(&mut self, min: usize) -> &mut [u8] {
        self.apply_release();
        let f: &mut Flight = flight!(self);
        if f.buf.len() - f.end < min {
            let live = f.end - f.start;
            if f.buf.len() - live >= min {
                f.buf.copy_within(f.start..f.end, 0);
            } else {
                let size = (live + min).max(f.buf.len() * 2).max(MIN_BUFFER);
                let mut bigger = vec![0u8; size];
                bigger[..live].copy_from_slice(&f.buf[f.start..f.end]);
                f.buf = bigger;
            }
            f.start = 0;
            f.end = live;
        }
        &mut f.buf[f.end..]
    }

    /// Marks `n` bytes of [`read_space`](Self::read_space) as received.
    pub fn commit_read(&mut self, n: usize) {
        if self.phase != Phase::Open {
            // After the peer's Close or a failure, further bytes are discarded.
            return;
        }
        if let Some(f) = self.flight.as_mut() {
            f.end = (f.end + n).min(f.buf.len());
        }
        self.activity.heard |= n > 0;
    }

    /// Copies `data` into the receive buffer (the convenience form of read_space + commit).
    pub fn receive(&mut self, data: &[u8]) {
        if self.phase != Phase::Open || data.is_empty() {
            return;
        }
        self.read_space(data.len())[..data.len()].copy_from_slice(data);
        self.commit_read(data.len());
    }

    /// Whether received bytes wait to be processed (a partial frame, or a pending event).
    pub fn has_buffered_input(&self) -> bool {
        self.flight.as_ref().is_some_and(|f| f.end > f.start)
    }

    /// Hands back the receive buffer when it holds nothing, so an idle connection keeps no
    /// memory (the runtime may pool it and give it to another connection).
    pub fn take_idle_buffer(&mut self) -> Option<Vec<u8>> {
        self.apply_release();
        let f = self.flight.as_mut()?;
        let idle = (f.end == f.start && !f.buf.is_empty()).then(|| {
            f.start = 0;
            f.end = 0;
            std::mem::take(&mut f.buf)
        });
        if f.buf.is_empty() && f.frame.is_none() && f.message.is_none() {
            if let Some(flight) = self.flight.take() {
                recycle_flight(flight);
            }
        }
        idle
    }

    /// Whether the receiver holds no buffer (so one from a pool would be used).
    pub fn needs_buffer(&self) -> bool {
        self.flight.as_ref().is_none_or(|f| f.buf.is_empty())
    }

    /// Installs a buffer (e.g. from a pool) when the receiver holds none.
    pub fn provide_buffer(&mut self, mut buf: Vec<u8>) {
        let f = flight!(self);
        if f.buf.is_empty() && f.end == 0 {
            buf.resize(buf.capacity(), 0);
            f.buf = buf;
        }
    }

    /// Whether the peer's Close frame has been received.
    pub fn close_received(&self) -> bool {
        self.phase == Phase::CloseReceived
    }

    /// The protocol error that failed the connection, if any.
    pub fn failure(&self) -> Option<ProtocolError> {
        match self.phase {
            Phase::Failed(err) => Some(err),
            _ => None,
        }
    }

    fn apply_release(&mut self) {
        if self.phase != Phase::Open {
            self.flight = None;
        }
        if let Some(flight) = self.flight.as_mut() {
            flight.start += std::mem::take(&mut flight.release_frame);
            if std::mem::take(&mut flight.release_assembled) {
                flight.assembled = Vec::new();
            }
        }
    }

    /// Processes buffered bytes until an event is ready or more input is needed.
    ///
    /// Automatic answers (Pong, the Close reply, the Close frame of a failure) go to `tx`.
    /// On a protocol error the Close frame is queued and the error returned once; after that,
    /// and after [`Event::Closed`], this returns `Ok(None)`.
    pub fn poll_event(&mut self, tx: &mut Sender) -> Result<Option<Event<'_>>, ProtocolError> {
        self.apply_release();
        match self.advance(tx) {
            Ok(Some(ready)) => {
                self.activity.message |= ready.ends_message();
                Ok(Some(self.event(ready)))
            }
            Ok(None) => Ok(None),
            Err(err) => {
                self.phase = Phase::Failed(err);
                self.flight = None;
                tx.fail(err);
                Err(err)
            }
        }
    }

    fn advance(&mut self, tx: &mut Sender) -> Result<Option<Ready>, ProtocolError> {
        if self.phase != Phase::Open {
            return Ok(None);
        }
        loop {
            let frame = match self.flight.as_ref().and_then(|f| f.frame) {
                Some(frame) => frame,
                None => match self.next_header()? {
                    Some(frame) => frame,
                    None => return Ok(None),
                },
            };
            let frame = self.process_payload(frame)?;
            flight!(self).frame = Some(frame);
            if frame.opcode.is_control() {
                if frame.done < frame.len {
                    return Ok(None);
                }
                return self.complete_control(frame, tx).map(Some);
            }
            match self.config.message_delivery {
                MessageDelivery::Streamed => {
                    if let Some(ready) = self.stream_chunk(frame)? {
                        return Ok(Some(ready));
                    }
                    if frame.done < frame.len {
                        return Ok(None);
                    }
                }
                MessageDelivery::Whole => {
                    if frame.done < frame.len {
                        return Ok(None);
                    }
                    if let Some(ready) = self.complete_data(frame)? {
                        return Ok(Some(ready));
                    }
                }
            }
        }
    }

    fn event(&self, ready: Ready) -> Event<'_> {
        let Some(flight) = self.flight.as_deref() else {
            unreachable!("an event is made while a flight holds what it borrows")
        };
        let (buf, assembled) = (&flight.buf, &flight.assembled);
        match ready {
            Ready::Frame { kind, at, len } => Event::Message(message(kind, &buf[at..at + len])),
            Ready::Assembled(kind) => Event::Message(message(kind, assembled)),
            Ready::AssembledChunk { kind, first, last } => Event::Chunk(Chunk {
                kind,
                data: assembled,
                first,
                last,
            }),
            Ready::Chunk {
                kind,
                at,
                len,
                first,
                last,
            } => Event::Chunk(Chunk {
                kind,
                data: &buf[at..at + len],
                first,
                last,
            }),
            Ready::Ping { at, len } => Event::Ping(&buf[at..at + len]),
            Ready::Pong { at, len } => Event::Pong(&buf[at..at + len]),
            Ready::Closed { code, at, len } => Event::Closed {
                code,
                reason: std::str::from_utf8(&buf[at..at + len]).unwrap_or_default(),
            },
        }
    }
}

fn message(kind: DataKind, payload: &[u8]) -> Message<'_> {
    match kind {
        DataKind::Text => Message::Text(text(payload)),
        DataKind::Binary => Message::Binary(payload),
    }
}

/// A text payload the receiver has validated as UTF-8, byte by byte, as it arrived.
fn text(payload: &[u8]) -> &str {
    // SAFETY: every text payload handed out was fed in full, in order, through
    // `Utf8Validator` (process_payload), and `end_message` checked it ended on a character
    // boundary; the validator agrees with `std::str::from_utf8` (tests in utf8.rs and the
    // `utf8` fuzz target). The benchmark `text_message/validate_twice` measures what the
    // second pass this avoids would cost.
    unsafe { std::str::from_utf8_unchecked(payload) }
}
