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

use crate::config::{Config, MessageDelivery};
use crate::error::ProtocolError;
use crate::protocol::close::parse_close_payload;
use crate::protocol::connection::Role;
use crate::protocol::deflate::codec::Decompressor;
use crate::protocol::frame::{FrameHeader, Opcode, RSV1};
use crate::protocol::mask::apply_mask;
use crate::protocol::message::{Chunk, DataKind, Event, Message};
use crate::protocol::sender::Sender;
use crate::protocol::spare::{give_spare, take_spare, Spares};
use crate::protocol::utf8::Utf8Validator;

/// The receive buffer grows by at least this much.
const MIN_BUFFER: usize = 4096;

/// In streamed delivery, a compressed message is inflated into chunks of at most this size.
const INFLATED_CHUNK: usize = 64 << 10;

/// The limits the receiver enforces, copied out of [`Config`] (kept small: one per connection).
#[derive(Debug, Clone, Copy)]
struct Limits {
    max_frame: u64,
    max_message: usize,
    max_fragments: u32,
    delivery: MessageDelivery,
}

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

/// What is being received: allocated when a frame header arrives, and freed by
/// [`Receiver::take_idle_buffer`] once no frame or message is in progress, so that an idle
/// connection holds a null pointer instead.
#[derive(Debug, Default)]
struct Flight {
    frame: Option<FrameProgress>,
    message: Option<Incoming>,
    /// The reassembly buffer of a fragmented message (whole delivery).
    assembled: Vec<u8>,
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

/// Parses and reassembles incoming frames. Get it from
/// [`Connection::split`](super::Connection::split), or use [`Connection`](super::Connection).
#[derive(Debug)]
pub struct Receiver {
    role: Role,
    limits: Limits,
    /// Received bytes; `buf[..]` is always initialized, live data is `buf[start..end]`.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// What the previous event borrowed, released at the next call: the frame's bytes in
    /// `buf`, and whether it was the assembled message. Two fields, not a struct, so that
    /// the flag fills padding instead of costing 8 bytes per connection.
    release_frame: usize,
    release_assembled: bool,
    flight: Option<Box<Flight>>,
    phase: Phase,
    /// The permessage-deflate decompressor, when the extension was agreed.
    inflater: Option<Box<Decompressor>>,
}

impl Receiver {
    pub(crate) fn new(role: Role, config: &Config) -> Self {
        Self {
            role,
            limits: Limits {
                max_frame: config.max_frame_size as u64,
                max_message: config.max_message_size,
                max_fragments: config.max_fragments.min(u32::MAX as usize) as u32,
                delivery: config.message_delivery,
            },
            buf: Vec::new(),
            start: 0,
            end: 0,
            release_frame: 0,
            release_assembled: false,
            flight: None,
            phase: Phase::Open,
            inflater: None,
        }
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
        if self.buf.len() - self.end < min {
            let live = self.end - self.start;
            if self.buf.len() - live >= min {
                self.buf.copy_within(self.start..self.end, 0);
            } else {
                let size = (live + min).max(self.buf.len() * 2).max(MIN_BUFFER);
                let mut bigger = vec![0u8; size];
                bigger[..live].copy_from_slice(&self.buf[self.start..self.end]);
                self.buf = bigger;
            }
            self.start = 0;
            self.end = live;
        }
        &mut self.buf[self.end..]
    }

    /// Marks `n` bytes of [`read_space`](Self::read_space) as received.
    pub fn commit_read(&mut self, n: usize) {
        if self.phase != Phase::Open {
            // After the peer's Close or a failure, further bytes are discarded.
            return;
        }
        self.end = (self.end + n).min(self.buf.len());
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
        self.end > self.start
    }

    /// Hands back the receive buffer when it holds nothing, so an idle connection keeps no
    /// memory (the runtime may pool it and give it to another connection).
    pub fn take_idle_buffer(&mut self) -> Option<Vec<u8>> {
        self.apply_release();
        let between_messages = self
            .flight
            .as_ref()
            .is_some_and(|f| f.frame.is_none() && f.message.is_none());
        if between_messages {
            if let Some(flight) = self.flight.take() {
                recycle_flight(flight);
            }
        }
        if self.end == self.start && !self.buf.is_empty() {
            self.start = 0;
            self.end = 0;
            Some(std::mem::take(&mut self.buf))
        } else {
            None
        }
    }

    /// Whether the receiver holds no buffer (so one from a pool would be used).
    pub fn needs_buffer(&self) -> bool {
        self.buf.is_empty()
    }

    /// Installs a buffer (e.g. from a pool) when the receiver holds none.
    pub fn provide_buffer(&mut self, mut buf: Vec<u8>) {
        if self.buf.is_empty() && self.end == 0 {
            buf.resize(buf.capacity(), 0);
            self.buf = buf;
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
        self.start += std::mem::take(&mut self.release_frame);
        if std::mem::take(&mut self.release_assembled) {
            if let Some(flight) = self.flight.as_mut() {
                flight.assembled = Vec::new();
            }
        }
        if self.phase != Phase::Open && (!self.buf.is_empty() || self.flight.is_some()) {
            self.buf = Vec::new();
            self.flight = None;
            self.start = 0;
            self.end = 0;
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
            Ok(Some(ready)) => Ok(Some(self.event(ready))),
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
            match self.limits.delivery {
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

    /// Parses and checks the next frame header, if it has arrived.
    fn next_header(&mut self) -> Result<Option<FrameProgress>, ProtocolError> {
        let Some((header, header_len)) = FrameHeader::parse(&self.buf[self.start..self.end])?
        else {
            return Ok(None);
        };
        self.check_header(&header)?;
        self.start += header_len;
        let frame = FrameProgress {
            opcode: header.opcode,
            fin: header.fin,
            mask: header.mask,
            // Checked against max_frame (a usize) in check_header.
            len: header.payload_len as usize,
            released: 0,
            done: 0,
            delivered: 0,
            consumed: 0,
        };
        flight!(self).frame = Some(frame);
        Ok(Some(frame))
    }

    /// The rules a header must follow on this connection, checked before any payload is read.
    fn check_header(&mut self, header: &FrameHeader) -> Result<(), ProtocolError> {
        match (self.role, header.mask) {
            // §5.1: "The server MUST close the connection upon receiving a frame that is not
            // masked."
            (Role::Server, None) => return Err(ProtocolError::UnmaskedFrame),
            // §5.1: "A client MUST close a connection if it detects a masked frame."
            (Role::Client, Some(_)) => return Err(ProtocolError::MaskedFrame),
            _ => {}
        }
        // §5.2: RSV1–3 "MUST be 0 unless an extension is negotiated that defines meanings for
        // non-zero values."
        let deflate = self.inflater.is_some();
        let first_data_frame = matches!(header.opcode, Opcode::Text | Opcode::Binary);
        if header.rsv != 0 && !(deflate && first_data_frame && header.rsv == RSV1) {
            if deflate && header.rsv == RSV1 {
                // RFC 7692 §6: "An endpoint receiving such a frame MUST _Fail the WebSocket
                // Connection_" (RSV1 "of control frames and non-first fragments of a data message").
                return Err(ProtocolError::CompressedControlOrContinuation);
            }
            return Err(ProtocolError::ReservedBits(header.rsv << 4));
        }
        if header.opcode.is_control() {
            return Ok(());
        }
        // §10.4: "implementations SHOULD impose implementation-specific limits on frame sizes
        // and the total message size" — checked here, before buffering the payload.
        if header.payload_len > self.limits.max_frame {
            return Err(ProtocolError::FrameTooLarge);
        }
        let len = header.payload_len as usize;
        let flight = flight!(self);
        let message = match (header.opcode, flight.message.as_mut()) {
            // §5.4: a fragmented message is "a single frame with the FIN bit clear and an opcode
            // other than 0, followed by zero or more frames with [...] the opcode set to 0".
            (Opcode::Continuation, None) => return Err(ProtocolError::UnexpectedContinuation),
            (Opcode::Continuation, Some(message)) => message,
            // §5.4: "fragments of one message MUST NOT be interleaved between the fragments
            // of another message unless an extension has been negotiated".
            (_, Some(_)) => return Err(ProtocolError::ExpectedContinuation),
            (opcode, None) => {
                let kind = if opcode == Opcode::Text {
                    DataKind::Text
                } else {
                    DataKind::Binary
                };
                flight.message.insert(Incoming {
                    kind,
                    fragments: 0,
                    size: 0,
                    started: false,
                    compressed: header.rsv == RSV1,
                    inflated: 0,
                })
            }
        };
        message.fragments += 1;
        if message.fragments > self.limits.max_fragments {
            return Err(ProtocolError::TooManyFragments);
        }
        message.size = message.size.saturating_add(len);
        // A compressed message is limited by its inflated size (checked while inflating); its
        // wire size gets the slack incompressible data needs, so endless empty DEFLATE blocks
        // are still bounded.
        let max = if message.compressed {
            self.limits
                .max_message
                .saturating_add(self.limits.max_message / 8 + 1024)
        } else {
            self.limits.max_message
        };
        if message.size > max {
            return Err(ProtocolError::MessageTooLarge);
        }
        Ok(())
    }

    /// Unmasks and validates whatever part of the frame's payload has arrived.
    fn process_payload(
        &mut self,
        mut frame: FrameProgress,
    ) -> Result<FrameProgress, ProtocolError> {
        let present = (frame.released + self.end - self.start).min(frame.len);
        if present > frame.done {
            let from = self.start + (frame.done - frame.released);
            let to = self.start + (present - frame.released);
            let piece = &mut self.buf[from..to];
            if let Some(key) = frame.mask {
                apply_mask(piece, key, frame.done);
            }
            frame.done = present;
            let message = self.flight.as_ref().and_then(|f| f.message);
            let Some(message) = message.filter(|_| !frame.opcode.is_control()) else {
                return Ok(frame);
            };
            let text = message.kind == DataKind::Text;
            if !message.compressed {
                if text {
                    // §8.1: invalid UTF-8 "MUST _Fail the WebSocket Connection_" — checked as
                    // the bytes arrive, so the failure comes at the first invalid byte.
                    flight!(self)
                        .utf8
                        .feed(&self.buf[from..to])
                        .map_err(|_| ProtocolError::InvalidUtf8)?;
                }
            } else if self.limits.delivery == MessageDelivery::Whole {
                self.inflate_whole(from, to, text)?;
            }
        }
        Ok(frame)
    }

    /// Inflates newly arrived compressed payload into the reassembly buffer, bounded by the
    /// message size limit, validating text on the inflated bytes (RFC 7692 §6.2).
    fn inflate_whole(&mut self, from: usize, to: usize, text: bool) -> Result<(), ProtocolError> {
        let Some(inflater) = self.inflater.as_mut() else {
            unreachable!("a compressed message needs the extension")
        };
        let assembled = &mut flight!(self).assembled;
        let before = assembled.len();
        let cap = self.limits.max_message;
        inflater
            .inflate(&self.buf[from..to], assembled, cap)
            .map_err(|_| ProtocolError::InvalidCompressedData)?;
        self.check_inflated(before, text)
    }

    /// The checks on bytes just inflated into `assembled[before..]`: the size limit, UTF-8.
    fn check_inflated(&mut self, before: usize, text: bool) -> Result<(), ProtocolError> {
        let flight = flight!(self);
        if flight.assembled.len() > self.limits.max_message {
            return Err(ProtocolError::MessageTooLarge);
        }
        if text {
            flight
                .utf8
                .feed(&flight.assembled[before..])
                .map_err(|_| ProtocolError::InvalidUtf8)?;
        }
        Ok(())
    }

    /// A complete Ping, Pong or Close.
    fn complete_control(
        &mut self,
        frame: FrameProgress,
        tx: &mut Sender,
    ) -> Result<Ready, ProtocolError> {
        let (at, len) = (self.start, frame.len);
        self.release_frame = len;
        flight!(self).frame = None;
        let payload = &self.buf[at..at + len];
        Ok(match frame.opcode {
            Opcode::Ping => {
                tx.answer_ping(payload);
                Ready::Ping { at, len }
            }
            Opcode::Pong => Ready::Pong { at, len },
            _ => {
                let (code, reason) = parse_close_payload(payload)?;
                let reason_at = at + len - reason.len();
                self.phase = Phase::CloseReceived;
                tx.answer_close(code);
                Ready::Closed {
                    code,
                    at: reason_at,
                    len: reason.len(),
                }
            }
        })
    }

    /// A complete data frame, in whole-message delivery.
    fn complete_data(&mut self, frame: FrameProgress) -> Result<Option<Ready>, ProtocolError> {
        let Some(message) = flight!(self).message else {
            unreachable!("check_header starts a message for every data frame")
        };
        let (at, len) = (self.start, frame.len);
        if message.compressed {
            // The payload is already inflated into `assembled`.
            self.start += len;
            flight!(self).frame = None;
            if !frame.fin {
                return Ok(None);
            }
            self.finish_inflating(message.kind == DataKind::Text)?;
            self.end_message(message.kind)?;
            self.release_assembled = true;
            return Ok(Some(Ready::Assembled(message.kind)));
        }
        if frame.fin {
            self.end_message(message.kind)?;
        }
        if frame.fin && message.fragments == 1 {
            // A message in one frame: hand out the receive buffer itself, no copy.
            self.release_frame = len;
            flight!(self).frame = None;
            return Ok(Some(Ready::Frame {
                kind: message.kind,
                at,
                len,
            }));
        }
        let flight = flight!(self);
        if flight.assembled.is_empty() {
            flight.assembled.reserve_exact(message.size);
        }
        flight.assembled.extend_from_slice(&self.buf[at..at + len]);
        flight.frame = None;
        self.start += len;
        if frame.fin {
            self.release_assembled = true;
            return Ok(Some(Ready::Assembled(message.kind)));
        }
        Ok(None)
    }

    /// Inflates the trailer at the end of a compressed message (RFC 7692 §7.2.2).
    fn finish_inflating(&mut self, text: bool) -> Result<(), ProtocolError> {
        let Some(inflater) = self.inflater.as_mut() else {
            unreachable!("a compressed message needs the extension")
        };
        let assembled = &mut flight!(self).assembled;
        let before = assembled.len();
        inflater
            .end_message(assembled, self.limits.max_message)
            .map_err(|_| ProtocolError::InvalidCompressedData)?;
        self.check_inflated(before, text)
    }

    /// The newly arrived part of a data frame, in streamed delivery. Each chunk is released
    /// from the buffer at the next call, so a frame of any size streams in bounded memory.
    fn stream_chunk(&mut self, mut frame: FrameProgress) -> Result<Option<Ready>, ProtocolError> {
        let Some(mut message) = flight!(self).message else {
            unreachable!("check_header starts a message for every data frame")
        };
        if message.compressed {
            return self.stream_inflated(frame, message);
        }
        let complete = frame.done == frame.len;
        let last = complete && frame.fin;
        let fresh = frame.done > frame.delivered;
        // An empty piece is still worth an event when it starts or ends the message.
        let starts_empty_message = complete && !message.started;
        if !(fresh || last || starts_empty_message) {
            if complete {
                flight!(self).frame = None;
            }
            return Ok(None);
        }
        if last {
            self.end_message(message.kind)?;
        }
        let at = self.start + (frame.delivered - frame.released);
        let len = frame.done - frame.delivered;
        let first = !message.started;
        message.started = true;
        frame.delivered = frame.done;
        frame.released = frame.done;
        self.release_frame = len;
        let flight = flight!(self);
        flight.frame = if complete { None } else { Some(frame) };
        if !last {
            flight.message = Some(message);
        }
        Ok(Some(Ready::Chunk {
            kind: message.kind,
            at,
            len,
            first,
            last,
        }))
    }

    /// Inflates what has arrived of a compressed frame, in streamed delivery: at most
    /// `INFLATED_CHUNK` bytes per event, resuming where the last one stopped.
    fn stream_inflated(
        &mut self,
        mut frame: FrameProgress,
        mut message: Incoming,
    ) -> Result<Option<Ready>, ProtocolError> {
        let Some(inflater) = self.inflater.as_mut() else {
            unreachable!("a compressed message needs the extension")
        };
        let from = self.start + (frame.consumed - frame.released);
        let to = self.start + (frame.done - frame.released);
        let flight = flight!(self);
        flight.assembled.clear();
        let used = inflater
            .inflate(
                &self.buf[from..to],
                &mut flight.assembled,
                INFLATED_CHUNK - 1,
            )
            .map_err(|_| ProtocolError::InvalidCompressedData)?;
        frame.consumed += used;
        let complete = frame.consumed == frame.len;
        let last = complete && frame.fin;
        if last {
            inflater
                .end_message(&mut flight.assembled, 2 * INFLATED_CHUNK)
                .map_err(|_| ProtocolError::InvalidCompressedData)?;
        }
        message.inflated += flight.assembled.len();
        if message.inflated > self.limits.max_message {
            return Err(ProtocolError::MessageTooLarge);
        }
        if message.kind == DataKind::Text {
            flight
                .utf8
                .feed(&flight.assembled)
                .map_err(|_| ProtocolError::InvalidUtf8)?;
        }
        // Input fed to the inflater is no longer needed.
        let release = frame.consumed - frame.released;
        frame.released = frame.consumed;
        frame.delivered = frame.consumed;
        flight.frame = if complete { None } else { Some(frame) };
        let starts_empty_message = complete && !message.started;
        if flight.assembled.is_empty() && !last && !starts_empty_message {
            flight.message = Some(message);
            self.start += release;
            return Ok(None);
        }
        self.release_frame = release;
        let first = !message.started;
        if last {
            self.end_message(message.kind)?;
        } else {
            message.started = true;
            flight!(self).message = Some(message);
        }
        Ok(Some(Ready::AssembledChunk {
            kind: message.kind,
            first,
            last,
        }))
    }

    /// The message's final frame is complete: text must end on a character boundary.
    fn end_message(&mut self, kind: DataKind) -> Result<(), ProtocolError> {
        let flight = flight!(self);
        flight.message = None;
        // §5.6: "a particular text frame might include a partial UTF-8 sequence; however, the
        // whole message MUST contain valid UTF-8."
        if kind == DataKind::Text {
            flight
                .utf8
                .finish()
                .map_err(|_| ProtocolError::InvalidUtf8)?;
        }
        Ok(())
    }

    fn event(&self, ready: Ready) -> Event<'_> {
        let assembled = self.flight.as_ref().map_or(&[][..], |f| &f.assembled);
        match ready {
            Ready::Frame { kind, at, len } => {
                Event::Message(message(kind, &self.buf[at..at + len]))
            }
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
                data: &self.buf[at..at + len],
                first,
                last,
            }),
            Ready::Ping { at, len } => Event::Ping(&self.buf[at..at + len]),
            Ready::Pong { at, len } => Event::Pong(&self.buf[at..at + len]),
            Ready::Closed { code, at, len } => Event::Closed {
                code,
                reason: std::str::from_utf8(&self.buf[at..at + len]).unwrap_or_default(),
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
