//! The harness of `connection_driven`: a `Connection` driven as a runtime drives it, by a
//! script the fuzzer writes — bytes from the peer, time passing, our sends of every kind and
//! size (queued, written straight through, fragment by fragment, shared frames), a peer that
//! reads some of what we wrote, or none — checking, beyond the checks of
//! [`connection`](crate::connection):
//!
//! - the clock never asks to be woken for a deadline it has already handled: after
//!   `handle_timeout(now)` (a few times at most, one action each), `poll_timeout()` is later
//!   than `now` or `None` (a runtime that sleeps until then would otherwise spin);
//! - while open with keepalive on, a deadline is always armed;
//! - a timed-out connection holds no output and accepts no send;
//! - back-pressure: `make_room` says yes only with the queue within `max_outbound_queue`; a
//!   refusal is the configured policy's, and the 1008 Close policy ends sending;
//! - a send accepted only while open; bytes written straight through (`send_through`) and
//!   bytes queued reach the wire in order, as well-formed frames and messages;
//! - the heap within a budget: the receive side's, the queue limit, the messages in hand.
//!
//! Input layout: a [`Setup`], then [`Step`]s until the input runs out.

use std::io::IoSlice;
use std::time::{Duration, Instant};

use arbitrary::{Arbitrary, Unstructured};
use fullduplex::config::SlowConsumer;
use fullduplex::error::SendError;
use fullduplex::protocol::{
    CloseCode, Connection, DataKind, Event, Message, Role, SharedFrame, State,
};
use fullduplex::Config;

use crate::connection::{
    base_config, check_failure, connection, deflate_params, prefix, Written, HEAP_BUDGET,
};
use crate::Rng;

/// Largest message we send (a `u16` length).
const MAX_SEND: usize = u16::MAX as usize;
/// Steps per input at most (each is cheap; this bounds a run's time).
const MAX_STEPS: usize = 512;

/// The connection's configuration, chosen by the first input bytes.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub struct Setup {
    client: bool,
    /// Bit 0: deflate agreed; bits 1–2: no context takeover for server / client; bit 3:
    /// streamed delivery; bit 4: drop messages (not close) for slow consumers.
    flags: u8,
    /// Keepalive interval in units of 10 ms (0: off).
    ping: u8,
    /// Pong deadline, idle timeout (0: off) and close deadline, in units of 10 ms.
    pong: u8,
    idle: u8,
    close: u8,
    /// The output queue's limit, in KiB (+1).
    queue_kib: u8,
    seed: u8,
}

impl Setup {
    fn config(&self) -> Config {
        let tens = |n: u8| Duration::from_millis(10 * u64::from(n));
        Config {
            ping_interval: (self.ping > 0).then(|| tens(self.ping)),
            pong_timeout: tens(self.pong.max(1)),
            idle_timeout: (self.idle > 0).then(|| tens(self.idle)),
            close_timeout: tens(self.close.max(1)),
            max_outbound_queue: (usize::from(self.queue_kib) + 1) << 10,
            slow_consumer: if self.flags & 16 != 0 {
                SlowConsumer::DropMessages
            } else {
                SlowConsumer::Close
            },
            ..base_config(self.flags & 8 != 0)
        }
    }

    fn role(&self) -> Role {
        if self.client {
            Role::Client
        } else {
            Role::Server
        }
    }
}

/// One thing that happens to the connection.
#[derive(Debug, Arbitrary)]
enum Step {
    /// Bytes from the peer (then `handle_timeout`, as after every batch of input).
    Receive(Vec<u8>),
    /// Time passes (milliseconds); the deadlines that came are handled.
    Wait(u16),
    /// A whole message of `len` bytes; `direct`: through `send_through`, whose write takes
    /// `taken` bytes at most.
    Send {
        text: bool,
        len: u16,
        direct: bool,
        taken: u16,
    },
    /// One fragment of a message.
    Fragment {
        text: bool,
        len: u16,
        fin: bool,
    },
    /// A frame encoded once for many connections (compressed with `window` when set).
    Shared {
        text: bool,
        len: u16,
        window: Option<u8>,
    },
    Ping(u8),
    Close {
        code: u16,
        reason: u8,
    },
    /// The peer reads this many bytes of what we wrote.
    Read(u16),
}

/// What a run keeps besides the connection.
struct Run {
    role: Role,
    config: Config,
    written: Written,
    now: Instant,
    /// Whether the event stream ended (`Closed`, or a failure).
    ended: bool,
    rng: Rng,
}

/// Runs one input.
pub fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(setup) = Setup::arbitrary(&mut u) else {
        return;
    };
    let config = setup.config();
    let base = crate::reset_peak();
    let role = setup.role();
    let deflate = deflate_params(setup.flags, setup.seed);
    let mut conn = connection(role, &config, setup.seed, deflate);
    let mut run = Run {
        role,
        config,
        written: Written::default(),
        now: Instant::now(),
        ended: false,
        rng: Rng::new(u64::from(setup.seed)),
    };
    // A runtime starts the clock when the connection opens.
    run.tick(&mut conn);
    // `FUZZ_TRACE=1` with one input prints its steps (to read a crash).
    let trace = std::env::var_os("FUZZ_TRACE").is_some();
    if trace {
        eprintln!("{setup:?}");
    }
    for _ in 0..MAX_STEPS {
        let Ok(step) = Step::arbitrary(&mut u) else {
            break;
        };
        if trace {
            eprintln!("{step:?} (state {:?})", conn.state());
        }
        run.step(&mut conn, step);
        if u.is_empty() {
            break;
        }
    }
    run.written.take(&mut conn, role);
    let budget = HEAP_BUDGET + run.config.max_outbound_queue + 4 * MAX_SEND;
    let used = crate::peak().saturating_sub(base);
    assert!(used <= budget, "heap {used} > budget {budget}");
}

impl Run {
    fn step(&mut self, conn: &mut Connection, step: Step) {
        match step {
            Step::Receive(bytes) => {
                conn.receive(&bytes);
                self.poll(conn);
                self.tick(conn);
            }
            Step::Wait(ms) => {
                self.now += Duration::from_millis(u64::from(ms));
                self.tick(conn);
            }
            Step::Send {
                text,
                len,
                direct,
                taken,
            } => self.send(conn, text, usize::from(len), direct.then_some(taken)),
            Step::Fragment { text, len, fin } => {
                let payload = self.payload(text, usize::from(len));
                let kind = if text {
                    DataKind::Text
                } else {
                    DataKind::Binary
                };
                if self.make_room(conn, true) {
                    let open = conn.state() == State::Open;
                    let sent = conn.sender().send_fragment(kind, &payload, fin).is_ok();
                    assert!(!sent || open, "a fragment was accepted after the close");
                }
            }
            Step::Shared { text, len, window } => {
                if self.role == Role::Client {
                    return;
                }
                let payload = self.payload(text, usize::from(len));
                let kind = if text {
                    DataKind::Text
                } else {
                    DataKind::Binary
                };
                let frame = match window {
                    Some(bits) => SharedFrame::compressed(kind, &payload, 8 + bits % 8, 1),
                    None => SharedFrame::new(kind, &payload),
                };
                if self.make_room(conn, false) {
                    self.accepted_only_open(conn, |conn| conn.send_shared(&frame).is_ok());
                }
            }
            Step::Ping(len) => {
                let payload = vec![0x50; usize::from(len)];
                let sent = self.accepted_only_open(conn, |conn| conn.ping(&payload).is_ok());
                assert!(!sent || payload.len() <= 125, "a Ping of {len} bytes");
            }
            Step::Close { code, reason } => {
                let Ok(code) = CloseCode::try_from(code) else {
                    return;
                };
                let reason = "r".repeat(usize::from(reason));
                self.accepted_only_open(conn, |conn| conn.close(code, &reason).is_ok());
            }
            Step::Read(n) => self.written.take_some(conn, self.role, usize::from(n)),
        }
        if matches!(conn.state(), State::TimedOut(_)) {
            assert_eq!(
                conn.buffered_amount(),
                0,
                "a timed-out connection holds output"
            );
        }
    }

    /// A whole message: room made first, as the runtimes do; then queued, or offered to a
    /// write that takes at most `taken` bytes.
    fn send(&mut self, conn: &mut Connection, text: bool, len: usize, taken: Option<u16>) {
        let payload = self.payload(text, len);
        if !self.make_room(conn, false) {
            return;
        }
        let message = if text {
            Message::Text(std::str::from_utf8(&payload).expect("ASCII"))
        } else {
            Message::Binary(&payload)
        };
        let open = conn.state() == State::Open;
        let sent = match taken {
            None => conn.send(message).is_ok(),
            Some(taken) => {
                let mut wrote = Vec::new();
                let sent = conn
                    .sender()
                    .send_through(message, |slices: &[IoSlice<'_>]| {
                        wrote = prefix(slices.iter().map(|s| &s[..]), usize::from(taken));
                        wrote.len()
                    })
                    .is_ok();
                self.written.wire(&wrote, self.role);
                sent
            }
        };
        assert!(!sent || open, "a message was accepted after the close");
    }

    /// `make_room` (or `make_room_for_fragment`) with a write that takes a few bytes of the
    /// queue; checks what it decided against the queue and the policy.
    fn make_room(&mut self, conn: &mut Connection, fragment: bool) -> bool {
        let config = self.config.clone();
        let can_take = self.rng.below(4096);
        let mut wrote = Vec::new();
        let write = |tx: &mut fullduplex::protocol::Sender| {
            wrote = prefix(tx.output_chunks(), can_take);
            tx.consume_output(wrote.len());
        };
        let open = conn.state() == State::Open;
        let decided = if fragment {
            conn.sender().make_room_for_fragment(&config, write)
        } else {
            conn.sender().make_room(&config, write)
        };
        self.written.wire(&wrote, self.role);
        match decided {
            Ok(()) => {
                assert!(open, "room made after the close");
                let limit = config.max_outbound_queue;
                assert!(conn.buffered_amount() <= limit, "room made over the limit");
                true
            }
            Err(SendError::SlowConsumer(policy)) => {
                assert!(open, "a slow consumer after the close");
                let expected = if fragment {
                    SlowConsumer::Close
                } else {
                    config.slow_consumer
                };
                assert_eq!(policy, expected);
                if policy == SlowConsumer::Close {
                    assert_ne!(conn.state(), State::Open, "1008 queued, still open");
                }
                false
            }
            Err(SendError::Closed) => {
                assert!(!open, "refused as closed while open");
                false
            }
            Err(SendError::Usage(e)) => panic!("make_room: {e}"),
        }
    }

    /// Runs a send of a control frame or a shared one; checks it was accepted only while open
    /// and that a refusal queued nothing.
    fn accepted_only_open(
        &mut self,
        conn: &mut Connection,
        send: impl FnOnce(&mut Connection) -> bool,
    ) -> bool {
        let open = conn.state() == State::Open;
        let before = conn.buffered_amount();
        let sent = send(conn);
        if sent {
            assert!(open, "accepted after the close");
        } else {
            assert_eq!(
                conn.buffered_amount(),
                before,
                "a refused send queued bytes"
            );
        }
        sent
    }

    /// Handles the deadlines due by `now`, one action per call, and checks that the clock
    /// then asks for a later moment, or none.
    fn tick(&mut self, conn: &mut Connection) {
        conn.handle_timeout(self.now);
        for _ in 0..4 {
            match conn.poll_timeout() {
                Some(due) if due <= self.now => conn.handle_timeout(self.now),
                _ => break,
            }
        }
        if let Some(due) = conn.poll_timeout() {
            assert!(due > self.now, "a deadline handled stays due: spin");
        }
        if conn.state() == State::Open && self.config.ping_interval.is_some() {
            assert!(
                conn.poll_timeout().is_some(),
                "open with keepalive, no deadline"
            );
        }
    }

    /// Polls events until there are none; the output stays queued (the peer reads when the
    /// script says), except after a failure, whose Close is checked.
    fn poll(&mut self, conn: &mut Connection) {
        for _ in 0..100_000 {
            let closed_before = self.written.close.is_some() || conn.state() != State::Open;
            match conn.poll_event() {
                Ok(None) => return,
                Ok(Some(event)) => {
                    assert!(!self.ended, "an event after the end: {event:?}");
                    match event {
                        Event::Closed { .. } => self.ended = true,
                        Event::Message(Message::Text(text)) => {
                            assert!(std::str::from_utf8(text.as_bytes()).is_ok());
                        }
                        _ => {}
                    }
                }
                Err(err) => {
                    check_failure(conn, &mut self.written, self.role, &err, closed_before);
                    self.ended = true;
                    return;
                }
            }
        }
    }

    /// `len` bytes to send: ASCII for text (valid UTF-8 in any fragments), any for binary.
    fn payload(&mut self, text: bool, len: usize) -> Vec<u8> {
        let start = self.rng.below(256) as u8;
        (0..len)
            .map(|i| {
                let b = start.wrapping_add(i as u8);
                if text {
                    b'a' + b % 26
                } else {
                    b
                }
            })
            .collect()
    }
}
