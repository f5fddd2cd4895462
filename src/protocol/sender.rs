//! The sending half of a connection: encodes messages, fragments and control frames into the
//! output queue, and enforces what may be sent in each state. Beside it: large messages
//! written straight to the transport (`direct`), and the back-pressure decision for a peer
//! that reads too slowly (`room`: [`Sender::make_room`]).
//!
//! Implements the sending rules of
//! [RFC 6455 §5.1](https://www.rfc-editor.org/rfc/rfc6455#section-5.1) (masking by role),
//! [RFC 6455 §5.4](https://www.rfc-editor.org/rfc/rfc6455#section-5.4) (fragmentation),
//! [RFC 6455 §5.5](https://www.rfc-editor.org/rfc/rfc6455#section-5.5) (control frames),
//! [RFC 6455 §5.5.1](https://www.rfc-editor.org/rfc/rfc6455#section-5.5.1) (nothing after
//! Close) and [RFC 7692 §6](https://www.rfc-editor.org/rfc/rfc7692#section-6) (RSV1 on the
//! first frame of a compressed message).

use crate::error::{ProtocolError, UsageError};
use crate::protocol::close::{encode_close_payload, CloseCode, MAX_REASON_LEN};
use crate::protocol::connection::{Initiator, MaskKeys, Role};
use crate::protocol::deflate::codec::Compressor;
use crate::protocol::frame::{FrameHeader, Opcode, MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN, RSV1};
use crate::protocol::mask::mask_copy;
use crate::protocol::message::{DataKind, Message};
use crate::protocol::output::{OutputQueue, SharedFrame};

mod direct;
mod pongs;
mod room;

pub use direct::DIRECT_MIN;

/// A client's payload is masked into the output queue this much at a time (16 KiB).
const MASK_PIECE: usize = 16 << 10;

/// A compression scratch buffer larger than this is freed after use rather than kept.
const MAX_KEPT_SCRATCH: usize = 1 << 20;

thread_local! {
    /// Compressed payload is built here, then framed (and masked) into the output queue.
    static SCRATCH: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

/// Runs `f` with the thread's (empty) compression scratch buffer.
fn with_scratch<R>(f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    let mut scratch = SCRATCH.take();
    scratch.clear();
    let result = f(&mut scratch);
    if scratch.capacity() <= MAX_KEPT_SCRATCH {
        SCRATCH.set(scratch);
    }
    result
}

/// The fragmented message we are sending (RFC 6455 §5.4): its kind, and whether its first
/// frame was compressed (then every later fragment continues the compressed stream).
#[derive(Debug, Clone, Copy)]
struct FragmentedMessage {
    kind: DataKind,
    compressed: bool,
}

/// How far our side is from its last frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// Frames may be sent.
    NotYet,
    /// Our Close frame is queued, the last frame we send; the field says who began the close
    /// handshake.
    CloseSent(Initiator),
    /// Given up without a Close (a deadline passed): nothing more is sent.
    Abandoned,
}

/// Encodes outgoing frames. Get it from [`Connection::split`](super::Connection::split) to send
/// while holding an event, or use the same methods on [`Connection`](super::Connection).
pub struct Sender {
    role: Role,
    /// The masking keys and the deflate state: none for a server without deflate.
    extras: Option<Box<Extras>>,
    pub(crate) queue: OutputQueue,
    /// Whether frames may still be sent.
    ending: Ending,
    /// The fragmented message we are sending, if any.
    fragmented: Option<FragmentedMessage>,
    /// Automatic Pongs are bounded so that a ping flood from a peer that never reads cannot
    /// grow memory: RFC 6455 §5.5.3 allows answering "only the most recently processed Ping
    /// frame". This is the queue position (bytes written since the queue was last empty) at
    /// which the last queued Pong is fully written; the Ping held back when too many wait
    /// is in [`Extras`] (a flood is rare).
    pong_end: u64,
    /// Pongs queued since the queue last drained past all of them.
    unwritten_pongs: u8,
}

/// What only some senders need, behind one pointer so that a server without
/// permessage-deflate (the common idle connection) pays 8 bytes for all of it: the client's
/// masking keys (one more pointer load per client frame), the deflate settings, and a Ping
/// held back by a flood.
struct Extras {
    /// The client's source of masking keys. Boxed twice (a thin pointer to the trait object)
    /// so that these extras fit a 48-byte allocation on a server with deflate; the client
    /// pays one more pointer load per frame.
    mask_keys: Option<Box<Box<dyn MaskKeys>>>,
    /// The permessage-deflate compressor, when the extension was agreed.
    deflate: Option<Compressor>,
    /// Compression level and the size below which messages go uncompressed (a threshold
    /// over 4 GiB counts as 4 GiB: larger than any message worth compressing).
    level: u32,
    min_compress: u32,
    /// The latest Ping's payload, when too many Pongs are already waiting.
    pending_pong: Option<Box<pongs::PendingPong>>,
}

impl Extras {
    fn new(
        mask_keys: Option<Box<dyn MaskKeys>>,
        settings: &crate::config::DeflateConfig,
    ) -> Box<Self> {
        Box::new(Self {
            mask_keys: mask_keys.map(Box::new),
            deflate: None,
            level: settings.level,
            min_compress: u32::try_from(settings.min_message_size).unwrap_or(u32::MAX),
            pending_pong: None,
        })
    }
}

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender")
            .field("role", &self.role)
            .field("queued", &self.queue.len())
            .field("ending", &self.ending)
            .field("fragmented", &self.fragmented)
            .finish_non_exhaustive()
    }
}

impl Sender {
    pub(crate) fn new(
        role: Role,
        mask_keys: Option<Box<dyn MaskKeys>>,
        deflate: Option<&crate::config::DeflateConfig>,
    ) -> Self {
        let extras = match (mask_keys, deflate) {
            (None, None) => None,
            (keys, settings) => Some(Extras::new(keys, settings.unwrap_or(&Default::default()))),
        };
        Self {
            role,
            extras,
            queue: OutputQueue::default(),
            ending: Ending::NotYet,
            fragmented: None,
            pong_end: 0,
            unwritten_pongs: 0,
        }
    }

    /// Compresses messages from now on (permessage-deflate agreed) with this window and
    /// context takeover.
    pub(crate) fn enable_deflate(&mut self, window_bits: u8, context_takeover: bool) {
        let extras = self.extras();
        extras.deflate = Some(Compressor::new(window_bits, context_takeover, extras.level));
    }

    /// Sends a text message in one frame.
    pub fn send_text(&mut self, text: &str) -> Result<(), UsageError> {
        self.send_message(Opcode::Text, text.as_bytes())
    }

    /// Sends a binary message in one frame.
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), UsageError> {
        self.send_message(Opcode::Binary, data)
    }

    /// Sends a message (e.g. one just received, to echo it).
    pub fn send(&mut self, message: Message<'_>) -> Result<(), UsageError> {
        match message {
            Message::Text(text) => self.send_text(text),
            Message::Binary(data) => self.send_binary(data),
        }
    }

    fn send_message(&mut self, opcode: Opcode, payload: &[u8]) -> Result<(), UsageError> {
        self.check_open()?;
        if self.fragmented.is_some() {
            return Err(UsageError::MessageInProgress);
        }
        self.write_data(opcode, true, self.compresses(payload.len()), payload);
        Ok(())
    }

    /// Whether a message of `len` bytes would be sent compressed (permessage-deflate agreed
    /// and `len` at least the configured threshold).
    pub fn compresses(&self, len: usize) -> bool {
        self.extras
            .as_ref()
            .is_some_and(|e| e.deflate.is_some() && len as u64 >= u64::from(e.min_compress))
    }

    /// Writes a data frame, compressing its payload when `compressed` (RFC 7692 §6: RSV1
    /// only on the first frame of a compressed message).
    fn write_data(&mut self, opcode: Opcode, fin: bool, compressed: bool, payload: &[u8]) {
        let taken = match self.extras.as_mut() {
            Some(extras) if compressed => extras.deflate.take(),
            _ => None,
        };
        let Some(mut deflate) = taken else {
            return self.write_frame(opcode, fin, 0, payload);
        };
        with_scratch(|scratch| {
            deflate.compress(payload, fin, scratch);
            // RFC 7692 §6: "An endpoint MUST NOT set the "Per-Message Compressed" bit of control
            // frames and non-first fragments of a data message."
            let rsv = if opcode == Opcode::Continuation {
                0
            } else {
                RSV1
            };
            self.write_frame(opcode, fin, rsv, scratch);
        });
        if let Some(extras) = self.extras.as_mut() {
            extras.deflate = Some(deflate);
        }
    }

    /// Sends one fragment of a message streamed frame by frame (RFC 6455 §5.4).
    ///
    /// The first call starts a message of `kind`; later calls continue it (their `kind` must
    /// be the same); `fin` ends it. Control frames and the close may be sent in between.
    /// For text, the fragments together must be valid UTF-8 (each may end inside a character).
    pub fn send_fragment(
        &mut self,
        kind: DataKind,
        data: &[u8],
        fin: bool,
    ) -> Result<(), UsageError> {
        self.check_open()?;
        let (opcode, compressed) = match self.fragmented {
            // Whether to compress is decided by the first fragment's size.
            None => match kind {
                DataKind::Text => (Opcode::Text, self.compresses(data.len())),
                DataKind::Binary => (Opcode::Binary, self.compresses(data.len())),
            },
            Some(current) if current.kind == kind => (Opcode::Continuation, current.compressed),
            Some(_) => return Err(UsageError::MessageInProgress),
        };
        self.write_data(opcode, fin, compressed, data);
        self.fragmented = if fin {
            None
        } else {
            Some(FragmentedMessage { kind, compressed })
        };
        Ok(())
    }

    /// Queues a frame encoded once for many connections (see [`SharedFrame`]).
    ///
    /// Only a server may share frames: a client must mask each frame with a fresh key.
    pub fn send_shared(&mut self, frame: &SharedFrame) -> Result<(), UsageError> {
        self.check_open()?;
        if self.fragmented.is_some() {
            return Err(UsageError::MessageInProgress);
        }
        if self.role == Role::Client {
            return Err(UsageError::IncompatibleSharedFrame);
        }
        if let Some(window_bits) = frame.compressed_window() {
            // A message compressed on its own fits a receiver whose server side resets its
            // compressor per message and allows at least that window; with context takeover
            // our compressor would not know the message, and later ones would refer wrongly.
            let fits = self
                .extras
                .as_ref()
                .and_then(|e| e.deflate.as_ref())
                .is_some_and(|d| !d.context_takeover() && window_bits <= d.window_bits().max(9));
            if !fits {
                return Err(UsageError::IncompatibleSharedFrame);
            }
        }
        self.queue.push_shared(frame);
        Ok(())
    }

    /// Sends a Ping (RFC 6455 §5.5.2); the payload is at most 125 bytes.
    pub fn ping(&mut self, payload: &[u8]) -> Result<(), UsageError> {
        self.send_control(Opcode::Ping, payload)
    }

    /// Sends an unsolicited Pong, a one-way heartbeat (RFC 6455 §5.5.3).
    pub fn pong(&mut self, payload: &[u8]) -> Result<(), UsageError> {
        self.send_control(Opcode::Pong, payload)
    }

    fn send_control(&mut self, opcode: Opcode, payload: &[u8]) -> Result<(), UsageError> {
        self.check_open()?;
        // §5.5: "All control frames MUST have a payload length of 125 bytes or less"
        if payload.len() > MAX_CONTROL_PAYLOAD {
            return Err(UsageError::ControlPayloadTooLong);
        }
        self.write_frame(opcode, true, 0, payload);
        Ok(())
    }

    /// Begins the close handshake (RFC 6455 §7.1.2) by sending a Close frame.
    ///
    /// `NoStatus` sends a Close frame without a body (and then `reason` must be empty). After
    /// this, no frame may be sent; messages from the peer still arrive until its Close.
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), UsageError> {
        self.check_open()?;
        if code != CloseCode::NoStatus && !code.is_sendable() {
            return Err(UsageError::CloseCodeNotSendable);
        }
        if reason.len() > MAX_REASON_LEN || (code == CloseCode::NoStatus && !reason.is_empty()) {
            return Err(UsageError::CloseReasonTooLong);
        }
        self.write_close(code, reason);
        self.ending = Ending::CloseSent(Initiator::Local);
        Ok(())
    }

    /// Which end we are.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Bytes queued and not yet written: the measure for back-pressure (see
    /// [`make_room`](Sender::make_room)).
    pub fn buffered_amount(&self) -> usize {
        self.queue.len()
    }

    /// Every run of queued bytes, in order, for a vectored write.
    pub fn output_chunks(&self) -> impl Iterator<Item = &[u8]> {
        self.queue.chunks()
    }

    /// Reports that `n` bytes of the queued output were written.
    pub fn consume_output(&mut self, n: usize) {
        self.queue.consume(n);
        self.on_written();
    }

    /// Drops everything queued (the transport is gone).
    pub(crate) fn discard_output(&mut self) {
        self.queue.clear();
        self.unwritten_pongs = 0;
        self.pong_end = 0;
    }

    /// Whether a frame may still be sent (no Close frame sent yet, and not given up).
    pub fn is_open(&self) -> bool {
        self.ending == Ending::NotYet
    }

    fn check_open(&self) -> Result<(), UsageError> {
        match self.ending {
            Ending::NotYet => Ok(()),
            // §5.5.1: "After sending a Close frame, the endpoint MUST NOT send any more data
            // frames." We send no control frames either: the Close is the last frame.
            Ending::CloseSent(_) | Ending::Abandoned => Err(UsageError::Closed),
        }
    }

    /// The extras, allocated on first need (deflate agreed, a Ping held back). A sender
    /// without them was built with neither mask keys nor deflate settings, so the defaults
    /// are its settings.
    fn extras(&mut self) -> &mut Extras {
        self.extras
            .get_or_insert_with(|| Extras::new(None, &Default::default()))
    }

    /// The client's masking keys (none for a server).
    fn mask_keys(&mut self) -> Option<&mut dyn MaskKeys> {
        let keys: &mut Box<dyn MaskKeys> = self.extras.as_mut()?.mask_keys.as_mut()?;
        Some(&mut **keys)
    }

    /// Encodes one frame into the queue, masking it in the client role.
    fn write_frame(&mut self, opcode: Opcode, fin: bool, rsv: u8, payload: &[u8]) {
        // §5.3: "The masking key needs to be unpredictable; thus, the masking key MUST be
        // derived from a strong source of entropy" — the key source is the caller's.
        let mask = self.mask_keys().map(|keys| keys.next_key());
        let header = FrameHeader {
            fin,
            rsv,
            opcode,
            mask,
            payload_len: payload.len() as u64,
        };
        let mut head = [0u8; MAX_HEADER_LEN];
        let n = header.encode(&mut head);
        let out = self.queue.tail(n + payload.len());
        out.extend_from_slice(&head[..n]);
        match mask {
            // §5.1: "A server MUST NOT mask any frames that it sends to the client."
            None => out.extend_from_slice(payload),
            // §5.1: "a client MUST mask all frames that it sends to the server"
            // In pieces that stay in the first-level cache: a megabyte zeroed whole before
            // it is masked into would be written to memory twice.
            Some(key) => {
                for (i, piece) in payload.chunks(MASK_PIECE).enumerate() {
                    let start = out.len();
                    out.resize(start + piece.len(), 0);
                    mask_copy(&mut out[start..], piece, key, i * MASK_PIECE);
                }
            }
        }
    }

    fn write_close(&mut self, code: CloseCode, reason: &str) {
        let mut body = [0u8; MAX_CONTROL_PAYLOAD];
        let n = encode_close_payload(code, reason, &mut body);
        self.write_frame(Opcode::Close, true, 0, &body[..n]);
        if let Some(extras) = self.extras.as_mut() {
            extras.pending_pong = None;
        }
    }

    /// Answers the peer's Close (RFC 6455 §5.5.1: "If an endpoint receives a Close frame and
    /// did not previously send a Close frame, the endpoint MUST send a Close frame in
    /// response"), echoing its status code.
    pub(crate) fn answer_close(&mut self, code: CloseCode) {
        if self.is_open() {
            self.write_close(code, "");
            self.ending = Ending::CloseSent(Initiator::Remote);
        }
    }

    /// Fails the connection: sends a Close frame with the error's code unless one was sent
    /// (RFC 6455 §7.1.7: the endpoint "SHOULD send a Close frame with an appropriate status
    /// code").
    pub(crate) fn fail(&mut self, err: ProtocolError) {
        if self.is_open() {
            self.write_close(err.close_code(), err.reason());
            self.ending = Ending::CloseSent(Initiator::Local);
        }
        self.fragmented = None;
    }

    /// Who began the close handshake, once our Close frame is queued.
    pub(crate) fn closing(&self) -> Option<Initiator> {
        match self.ending {
            Ending::CloseSent(initiator) => Some(initiator),
            Ending::NotYet | Ending::Abandoned => None,
        }
    }

    /// Gives up (a deadline passed): drops what is queued and sends nothing more.
    pub(crate) fn abandon(&mut self) {
        self.discard_output();
        self.fragmented = None;
        self.ending = Ending::Abandoned;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server with deflate keeps the extras all its life: 40 bytes, a 48-byte allocation.
    #[test]
    fn the_extras_stay_small() {
        assert!(std::mem::size_of::<Extras>() <= 40);
    }
}
