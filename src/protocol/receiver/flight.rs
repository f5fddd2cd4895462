//! What a receiver holds while something is in flight: the received bytes, and where the
//! frames stand, as types that admit only what RFC 6455 §5.4 and RFC 7692 §6 allow (the
//! `receiver` module docs draw the whole).

use std::cell::RefCell;
use std::ops::Range;

use crate::error::ProtocolError;
use crate::protocol::deflate::codec::Decompressor;
use crate::protocol::mask::apply_mask;
use crate::protocol::message::DataKind;
use crate::protocol::spare::{give_spare, take_spare, Spares};
use crate::protocol::utf8::Utf8Validator;

/// The received bytes and where the frames stand. Allocated when bytes arrive or a buffer is
/// installed, recycled by [`Receiver::take_idle_buffer`](super::Receiver::take_idle_buffer)
/// once the buffer is empty between messages, so that an idle connection holds a null
/// pointer instead.
#[derive(Debug, Default)]
pub(super) struct Flight {
    pub(super) input: Input,
    pub(super) framing: Framing,
}

/// The receive buffer, the reassembly buffer, and what the last event borrowed of them.
#[derive(Debug, Default)]
pub(super) struct Input {
    /// Received bytes; `buf[..]` is always initialized, live data is `buf[start..end]`.
    pub(super) buf: Vec<u8>,
    pub(super) start: usize,
    pub(super) end: usize,
    /// The reassembly buffer: a fragmented message (whole delivery), a compressed message
    /// inflated (whole delivery), or the chunk last inflated (streamed delivery).
    pub(super) assembled: Vec<u8>,
    /// What the previous event borrowed, released at the next call: its bytes at the start
    /// of the receive buffer, and whether it was `assembled` (then freed).
    pub(super) release_frame: usize,
    pub(super) release_assembled: bool,
}

/// Where the frames stand. A data frame always belongs to a message; a control frame may
/// come between messages or between two frames of one (RFC 6455 §5.4: "Control frames
/// [...] MAY be injected in the middle of a fragmented message").
#[derive(Debug, Default)]
pub(super) enum Framing {
    /// A header is awaited, and no message is open.
    #[default]
    BetweenMessages,
    /// A Close, Ping or Pong is arriving between messages.
    Control(ControlFrame),
    /// A data message is open: its frames are arriving, maybe with control frames between.
    Message {
        message: Incoming,
        frame: MessageFrame,
    },
}

/// Where the frames of an open message stand.
#[derive(Debug)]
pub(super) enum MessageFrame {
    /// Its next frame's header is awaited.
    BetweenFrames,
    /// A Close, Ping or Pong is arriving between two of its frames.
    Control(ControlFrame),
    /// One of its frames is arriving.
    Data(DataFrame),
}

/// The part of a frame's payload that has arrived and been unmasked (RFC 6455 §5.3).
#[derive(Debug, Clone, Copy)]
pub(super) struct Payload {
    pub(super) mask: Option<[u8; 4]>,
    /// The declared length.
    pub(super) len: usize,
    /// Bytes unmasked so far (and checked, when they are data).
    pub(super) unmasked: usize,
}

impl Payload {
    pub(super) fn new(mask: Option<[u8; 4]>, len: usize) -> Self {
        Self {
            mask,
            len,
            unmasked: 0,
        }
    }

    /// Whether all of it has arrived.
    pub(super) fn complete(&self) -> bool {
        self.unmasked == self.len
    }
}

/// A control frame whose payload is arriving (RFC 6455 §5.5).
#[derive(Debug, Clone, Copy)]
pub(super) struct ControlFrame {
    pub(super) opcode: ControlOpcode,
    pub(super) payload: Payload,
}

/// The opcodes of control frames (RFC 6455 §5.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ControlOpcode {
    Close,
    Ping,
    Pong,
}

/// A data frame whose payload is arriving.
#[derive(Debug, Clone, Copy)]
pub(super) struct DataFrame {
    /// FIN: the message's final frame.
    pub(super) fin: bool,
    pub(super) payload: Payload,
    /// Payload bytes gone from the receive buffer (streamed delivery: handed out as chunks, or
    /// fed to the decompressor): payload byte `i` is at `buf[start + i - released]`.
    pub(super) released: usize,
}

/// The data message being received.
#[derive(Debug)]
pub(super) struct Incoming {
    pub(super) content: Content,
    pub(super) coding: Coding,
    /// Frames so far.
    pub(super) fragments: u32,
    /// Payload bytes of the message so far (the frames' declared lengths).
    pub(super) size: usize,
    /// A chunk of it was delivered (streamed delivery).
    pub(super) started: bool,
}

/// What a message carries: text, checked as UTF-8 as it arrives (RFC 6455 §8.1), or bytes.
#[derive(Debug)]
pub(super) enum Content {
    Text(Utf8Validator),
    Binary,
}

impl Content {
    pub(super) fn new(kind: DataKind) -> Self {
        match kind {
            DataKind::Text => Self::Text(Utf8Validator::new()),
            DataKind::Binary => Self::Binary,
        }
    }

    pub(super) fn kind(&self) -> DataKind {
        match self {
            Self::Text(_) => DataKind::Text,
            Self::Binary => DataKind::Binary,
        }
    }

    /// Checks the next piece of the message.
    #[inline]
    pub(super) fn check(&mut self, piece: &[u8]) -> Result<(), ProtocolError> {
        match self {
            // §8.1: invalid UTF-8 "MUST _Fail the WebSocket Connection_" — checked as the
            // bytes arrive, so the failure comes at the first invalid byte.
            Self::Text(utf8) => utf8.feed(piece).map_err(|_| ProtocolError::InvalidUtf8),
            Self::Binary => Ok(()),
        }
    }

    /// The message is complete: what it was.
    pub(super) fn finish(&mut self) -> Result<DataKind, ProtocolError> {
        match self {
            // §5.6: "a particular text frame might include a partial UTF-8 sequence; however,
            // the whole message MUST contain valid UTF-8."
            Self::Text(utf8) => match utf8.finish() {
                Ok(()) => Ok(DataKind::Text),
                Err(_) => Err(ProtocolError::InvalidUtf8),
            },
            Self::Binary => Ok(DataKind::Binary),
        }
    }
}

/// How a message's payload is coded on the wire.
#[derive(Debug)]
pub(super) enum Coding {
    /// As is.
    Plain,
    /// RSV1 was set on its first frame: DEFLATE data (RFC 7692 §6). The message holds the
    /// connection's decompressor from its first frame to its last.
    Deflate {
        inflater: Box<Decompressor>,
        /// Bytes inflated so far (streamed delivery; whole delivery counts `assembled`).
        inflated: usize,
    },
}

impl Input {
    /// The received bytes not yet processed.
    pub(super) fn live(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Unmasks the bytes of `payload` that arrived since the last call, where its first
    /// `released` bytes have left the buffer; returns where those new bytes are in `buf`.
    #[inline]
    pub(super) fn unmask(&mut self, payload: &mut Payload, released: usize) -> Range<usize> {
        let present = (released + self.end - self.start).min(payload.len);
        let from = self.start + (payload.unmasked - released);
        if present <= payload.unmasked {
            return from..from;
        }
        let to = self.start + (present - released);
        if let Some(key) = payload.mask {
            apply_mask(&mut self.buf[from..to], key, payload.unmasked);
        }
        payload.unmasked = present;
        from..to
    }

    /// Releases what the previous event borrowed.
    pub(super) fn apply_release(&mut self) {
        self.start += std::mem::take(&mut self.release_frame);
        if std::mem::take(&mut self.release_assembled) {
            self.assembled = Vec::new();
        }
    }
}

/// Spare in-flight states per thread (each receiver allocates one per message otherwise).
const SPARE_FLIGHTS: usize = 4;

thread_local! {
    static FLIGHTS: RefCell<Spares<Flight, SPARE_FLIGHTS>> = const { RefCell::new(Spares::new()) };
}

/// An empty in-flight state: a spare one of this thread's, or a new allocation.
pub(super) fn new_flight() -> Box<Flight> {
    take_spare(&FLIGHTS).unwrap_or_default()
}

/// Resets a finished in-flight state and keeps it for this thread's next message.
pub(super) fn recycle_flight(mut flight: Box<Flight>) {
    *flight = Flight::default();
    give_spare(&FLIGHTS, flight);
}
