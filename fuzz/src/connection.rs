//! The harness of `connection_server` and `connection_client`: arbitrary bytes fed in
//! arbitrary splits into a `Connection`, with and without permessage-deflate, checking:
//! - nothing panics;
//! - the heap stays within a budget derived from the configured limits;
//! - everything the connection writes is a well-formed frame (RFC 6455 §5.2), masked by a
//!   client and not by a server (§5.1);
//! - every failure is followed by a Close frame whose code is the error's (§7.1.7) unless a
//!   Close was already sent, and every Close carries a valid code (§7.4);
//! - nothing is written after the first Close frame (§5.5.1), and no event follows `Closed`;
//! - the frames written make messages: a continuation only inside a fragmented message, no new
//!   message inside one (§5.4), control frames whole and at most 125 bytes (§5.5);
//! - text delivered as `&str` is valid UTF-8 (§8.1).
//!
//! Input layout: three option bytes (see [`Options`]) then the bytes from the peer.

use arbitrary::{Arbitrary, Unstructured};
use fullduplex::config::{DeflateConfig, MessageDelivery};
use fullduplex::protocol::close::parse_close_payload;
use fullduplex::protocol::deflate::DeflateParams;
use fullduplex::protocol::mask::apply_mask;
use fullduplex::protocol::{
    CloseCode, Connection, Event, FrameHeader, Message, Opcode, Role, State,
};
use fullduplex::{Config, ProtocolError};

use crate::Rng;

/// Largest frame the fuzzed connections accept.
pub const MAX_FRAME: usize = 32 << 10;
/// Largest message the fuzzed connections accept.
pub const MAX_MESSAGE: usize = 64 << 10;
/// Heap the connection may hold beyond the limits: zlib states (about 420 KiB with context
/// takeover on both sides), the read buffer's spare room, small bookkeeping.
const OVERHEAD: usize = 1 << 20;
/// The budget: a frame buffered whole, a message reassembled (or inflated, one byte past the
/// limit, in a buffer that may have doubled), the output queue of the answers, and overhead.
pub const HEAP_BUDGET: usize = 2 * MAX_FRAME + 2 * MAX_MESSAGE + OVERHEAD;

/// What the first input bytes choose.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub struct Options {
    /// Bit 0: deflate agreed; bits 1–2: context takeover off for server / client; bit 3:
    /// streamed delivery; bit 4: we send messages, pings and a close between the reads.
    pub flags: u8,
    /// Seeds the split sizes and our actions.
    pub seed: u8,
    /// Largest split (1 to 256 bytes; 0 means the rest of the input at once).
    pub max_split: u8,
}

impl Options {
    fn deflate(&self) -> Option<DeflateParams> {
        deflate_params(self.flags, self.seed)
    }

    fn config(&self) -> Config {
        base_config(self.flags & 8 != 0)
    }
}

/// The fuzzed connections' limits ([`MAX_FRAME`], [`MAX_MESSAGE`], 64 fragments), deflate
/// offered, whole or `streamed` delivery; the rest as by default.
pub(crate) fn base_config(streamed: bool) -> Config {
    Config {
        max_frame_size: MAX_FRAME,
        max_message_size: MAX_MESSAGE,
        max_fragments: 64,
        message_delivery: if streamed {
            MessageDelivery::Streamed
        } else {
            MessageDelivery::Whole
        },
        deflate: Some(DeflateConfig::default()),
        ..Config::default()
    }
}

/// What the connection wrote so far, checked frame by frame.
#[derive(Debug, Default)]
pub(crate) struct Written {
    /// Output bytes not yet forming a whole frame.
    pub(crate) pending: Vec<u8>,
    /// The code of the first Close frame written (`NoStatus` for an empty one).
    pub(crate) close: Option<CloseCode>,
    /// Whether a fragmented message is under way (its last frame not written yet).
    in_message: bool,
}

impl Written {
    /// Takes the connection's output and checks each whole frame in it.
    pub(crate) fn take(&mut self, conn: &mut Connection, role: Role) {
        let n = conn.pending_output().len();
        let out: Vec<u8> = conn.output_chunks().flatten().copied().collect();
        assert!(out.len() >= n);
        conn.consume_output(out.len());
        self.wire(&out, role);
    }

    /// Takes at most `limit` bytes of the connection's output (a peer that reads slowly).
    pub(crate) fn take_some(&mut self, conn: &mut Connection, role: Role, limit: usize) {
        let out = prefix(conn.output_chunks(), limit);
        conn.consume_output(out.len());
        self.wire(&out, role);
    }

    /// Bytes that reached the wire, in order, checked as whole frames form.
    pub(crate) fn wire(&mut self, out: &[u8], role: Role) {
        self.pending.extend_from_slice(out);
        while let Some((header, len)) = FrameHeader::parse(&self.pending).expect("we wrote it") {
            let end = len + header.payload_len as usize;
            if self.pending.len() < end {
                break;
            }
            self.check(&header, len, end, role);
            self.pending.drain(..end);
        }
    }

    fn check(&mut self, header: &FrameHeader, len: usize, end: usize, role: Role) {
        assert!(self.close.is_none(), "a frame after our Close: {header:?}");
        assert_eq!(header.mask.is_some(), role == Role::Client, "§5.1 masking");
        match header.opcode {
            Opcode::Continuation => {
                assert!(self.in_message, "a continuation outside a message");
                self.in_message = !header.fin;
            }
            Opcode::Text | Opcode::Binary => {
                assert!(!self.in_message, "a message inside a fragmented one");
                self.in_message = !header.fin;
            }
            _ => assert!(header.fin && header.payload_len <= 125, "§5.5 {header:?}"),
        }
        if header.opcode == Opcode::Close {
            let mut payload = self.pending[len..end].to_vec();
            if let Some(key) = header.mask {
                apply_mask(&mut payload, key, 0);
            }
            let (code, _) = parse_close_payload(&payload).expect("our Close is valid");
            self.close = Some(code);
        }
    }
}

/// Runs one input through a connection of `role`.
pub fn run(data: &[u8], role: Role) {
    let mut u = Unstructured::new(data);
    let Ok(options) = Options::arbitrary(&mut u) else {
        return;
    };
    let wire = u.take_rest();
    let config = options.config();
    let base = crate::reset_peak();
    let mut conn = connection(role, &config, options.seed, options.deflate());
    exercise(&mut conn, wire, &options, role);
    let used = crate::peak().saturating_sub(base);
    assert!(used <= HEAP_BUDGET, "heap {used} > budget {HEAP_BUDGET}");
}

/// The first `limit` bytes of `chunks` (all of them if fewer): what a transport that takes
/// `limit` bytes writes of them.
pub(crate) fn prefix<'a>(chunks: impl IntoIterator<Item = &'a [u8]>, limit: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for chunk in chunks {
        let room = limit - out.len();
        out.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if out.len() == limit {
            break;
        }
    }
    out
}

/// Deflate agreed when bit 0 of `flags` is set; bits 1–2: no context takeover for server /
/// client; the windows from `seed`.
pub(crate) fn deflate_params(flags: u8, seed: u8) -> Option<DeflateParams> {
    (flags & 1 != 0).then(|| DeflateParams {
        server_no_context_takeover: flags & 2 != 0,
        client_no_context_takeover: flags & 4 != 0,
        server_max_window_bits: 8 + (seed % 8),
        client_max_window_bits: 15 - (seed / 8 % 8),
    })
}

/// A connection of `role` (a client's masking keys from `seed`), with `deflate` if agreed.
pub(crate) fn connection(
    role: Role,
    config: &Config,
    seed: u8,
    deflate: Option<DeflateParams>,
) -> Connection {
    let conn = match role {
        Role::Server => Connection::server(config.clone()),
        Role::Client => {
            let mut keys = Rng::new(u64::from(seed));
            Connection::client(config.clone(), move || {
                (keys.next_u64() as u32).to_be_bytes()
            })
        }
    };
    match deflate {
        Some(params) => conn.with_deflate(params),
        None => conn,
    }
}

/// Feeds `wire` into `conn` in the splits `options` choose, polling after each piece and
/// checking what the connection writes (the checks of the module docs, memory aside).
pub fn exercise(conn: &mut Connection, wire: &[u8], options: &Options, role: Role) {
    let mut rng = Rng::new(u64::from(options.seed) << 8 | u64::from(options.max_split));
    let mut written = Written::default();
    let mut ended = false;
    let mut rest = wire;
    while !rest.is_empty() {
        let split = match options.max_split {
            0 => rest.len(),
            max => 1 + rng.below(usize::from(max)),
        };
        let (piece, tail) = rest.split_at(split.min(rest.len()));
        rest = tail;
        conn.receive(piece);
        ended |= poll_all(conn, &mut written, role, ended);
        if options.flags & 16 != 0 {
            act(conn, &mut rng);
            written.take(conn, role);
        }
    }
}

/// Our own sends between reads; refused ones (after a close) must queue nothing.
fn act(conn: &mut Connection, rng: &mut Rng) {
    let before = conn.buffered_amount();
    let open = conn.state() == State::Open;
    let accepted = match rng.below(8) {
        0 => conn.send_text("fuzz fuzz fuzz fuzz").is_ok(),
        1 => conn.send_binary(&[0xAB; 300]).is_ok(),
        2 => conn.ping(b"p").is_ok(),
        3 => conn.close(CloseCode::Normal, "bye").is_ok(),
        _ => return,
    };
    if !accepted {
        assert_eq!(
            conn.buffered_amount(),
            before,
            "a refused send queued bytes"
        );
    } else {
        assert!(open, "a send was accepted after the close");
    }
}

/// Polls until `Ok(None)` or an error; returns whether the peer's Close or a failure ended
/// the event stream.
fn poll_all(conn: &mut Connection, written: &mut Written, role: Role, mut ended: bool) -> bool {
    for _ in 0..100_000 {
        let closed_before = written.close.is_some();
        match conn.poll_event() {
            Ok(None) => break,
            Ok(Some(event)) => {
                assert!(!ended, "an event after the end: {event:?}");
                match event {
                    Event::Closed { .. } => ended = true,
                    // The receiver hands out text it validated as `&str` without a second
                    // check (`from_utf8_unchecked`): the validator must have been right.
                    Event::Message(Message::Text(text)) => {
                        assert!(std::str::from_utf8(text.as_bytes()).is_ok());
                    }
                    _ => {}
                }
            }
            Err(err) => {
                check_failure(conn, written, role, &err, closed_before);
                return true;
            }
        }
        written.take(conn, role);
    }
    written.take(conn, role);
    ended
}

pub(crate) fn check_failure(
    conn: &mut Connection,
    written: &mut Written,
    role: Role,
    err: &ProtocolError,
    closed_before: bool,
) {
    written.take(conn, role);
    assert!(written.pending.is_empty(), "a partial frame after failing");
    let code = written
        .close
        .expect("a failure is followed by a Close frame");
    if !closed_before {
        assert_eq!(code, err.close_code(), "the Close carries the error's code");
    }
    assert!(conn.is_closed(), "a failed connection is closed");
}
