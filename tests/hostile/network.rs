//! The hostile-input attacks that need a server over loopback (127.0.0.1, port 0), written once
//! for every runtime: each takes the server as a [`Target`] (the server with the test
//! application on each event loop, [`Mio`] and [`IoUring`]; the tokio adapter's echo server in
//! `tests/tokio_hostile.rs`) and
//! asserts the HTTP status or close code, that other connections are unaffected, and the heap
//! growth ([`bounded`], process-wide: the server's threads count).

use std::io::{Read, Write};
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::common::runtime::*;
use crate::common::{client_frame, server_frame};
use crate::hostile::{bounded, unmeasured, MAX_FRAME, MAX_MESSAGE};
use fullduplex::protocol::{CloseCode, Opcode, OwnedEvent};
use fullduplex::server::EventLoop;
use fullduplex::Config;

const FIN: u8 = 0x80;

/// A server under attack, started on 127.0.0.1 port 0; an echo server for data messages.
pub trait Target {
    /// Starts one with `config` for its connections.
    fn start(config: Config) -> Self;
    /// Where it listens.
    fn addr(&self) -> SocketAddr;
    /// The close code with which the next WebSocket connection to end was ended.
    fn next_close_code(&self) -> CloseCode;
    /// The TCP connections it holds (accepted and not yet released).
    fn connections(&self) -> u64;
    /// The WebSocket connections open now.
    fn open(&self) -> u64;
}

/// An event loop of the server, chosen by type.
pub trait Loop {
    /// Which one.
    const EVENT_LOOP: EventLoop;
}

/// The epoll loop.
pub struct OnMio;

impl Loop for OnMio {
    const EVENT_LOOP: EventLoop = EventLoop::Mio;
}

/// The io_uring loop.
pub struct OnIoUring;

impl Loop for OnIoUring {
    const EVENT_LOOP: EventLoop = EventLoop::IoUring;
}

/// The server running the test application on the event loop `L`.
pub struct Served<L>(TestServer, mpsc::Receiver<AppEvent>, PhantomData<L>);

/// The server on mio, whatever `FULLDUPLEX_TEST_EVENT_LOOP` says.
pub type Mio = Served<OnMio>;

/// The server on io_uring.
pub type IoUring = Served<OnIoUring>;

impl<L: Loop> Target for Served<L> {
    /// Not measured: an io_uring server's rings and buffers (about 11 MB) would otherwise
    /// count against an attack measured on another thread when the two overlap, as they did
    /// under `stress -c 2`.
    fn start(config: Config) -> Self {
        let (app, events) = TestApp::new();
        let server = unmeasured(|| start_on(L::EVENT_LOOP, config, app));
        Self(server, events, PhantomData)
    }

    fn addr(&self) -> SocketAddr {
        self.0.local_addr()
    }

    fn next_close_code(&self) -> CloseCode {
        next_close(&self.1).1.code
    }

    fn connections(&self) -> u64 {
        self.0.handle().stats().connections
    }

    fn open(&self) -> u64 {
        self.0.handle().stats().open
    }
}

/// Waits until `server` holds no connection.
fn wait_released(server: &impl Target) {
    wait_until("the connections to be released", || {
        server.connections() == 0
    });
}

/// A head of `extra` header lines after a valid request's.
pub fn request_with(extra: &str) -> Vec<u8> {
    upgrade_request("/", extra).into_bytes()
}

/// A request with a 20 MB header line.
pub fn a_20_mb_header_line() -> Vec<u8> {
    unmeasured(|| request_with(&format!("X-Long: {}\r\n", "a".repeat(20 << 20))))
}

/// A 20 MB header line: the server reads no further than its limit, answers 431, hangs up.
pub fn a_20_mb_header_line_is_refused_with_431<T: Target>() {
    let head = a_20_mb_header_line();
    let server = T::start(test_config());
    let mut stream = raw(server.addr());
    let writer = {
        let mut stream = stream.try_clone().unwrap();
        thread::spawn(move || {
            // The server stops reading early: the rest of the write may fail.
            let _ = stream.write_all(&head);
        })
    };
    let response = bounded(4 << 20, || parse_response(&read_to_end(&mut stream)));
    assert_eq!(response.status, 431, "{}", response.head);
    writer.join().unwrap();
    wait_released(&server);
}

/// Ten thousand header lines.
pub fn ten_thousand_headers() -> Vec<u8> {
    let many: String = unmeasured(|| (0..10_000).map(|i| format!("X-{i}: {i}\r\n")).collect());
    request_with(&many)
}

/// Ten thousand header lines: 431.
pub fn ten_thousand_headers_are_refused_with_431<T: Target>() {
    let server = T::start(test_config());
    let response = exchange(server.addr(), &ten_thousand_headers());
    assert_eq!(response.status, 431, "{}", response.head);
}

/// A request a byte at a time: cut at the handshake deadline, counted from the connection.
pub fn a_handshake_sent_one_byte_at_a_time_is_cut_at_the_deadline<T: Target>() {
    let deadline = Duration::from_millis(300);
    let server = T::start(Config {
        handshake_timeout: deadline,
        ..test_config()
    });
    let mut stream = raw(server.addr());
    // A header of 8 000 bytes (under the 16 KiB limit): at one byte per 5 ms or slower, the
    // whole request takes 40 s or more, past the test's own deadline, so however late a
    // loaded machine runs the server's deadline, the request cannot get through first.
    let request = request_with(&format!("X-Slow: {}\r\n", "a".repeat(8_000)));
    let started = Instant::now();
    let mut sent = 0;
    let mut cut = false;
    for byte in &request {
        if stream.write_all(std::slice::from_ref(byte)).is_err() {
            cut = true;
            break;
        }
        sent += 1;
        let mut probe = [0u8; 1];
        stream
            .set_read_timeout(Some(Duration::from_millis(5)))
            .unwrap();
        match stream.read(&mut probe) {
            Ok(0) => cut = true,
            Ok(_) => panic!("the server answered a partial request"),
            Err(e) if is_reset(&e) => cut = true,
            Err(_) => {}
        }
        if cut {
            break;
        }
        assert!(started.elapsed() < DEADLINE, "never cut");
    }
    let waited = started.elapsed();
    assert!(
        cut,
        "the whole request went through ({sent} bytes in {waited:?})"
    );
    assert!(sent < request.len());
    assert!(
        waited >= deadline,
        "cut after {waited:?}, before the deadline"
    );
    wait_released(&server);
}

/// A valid request pipelined after a refused one is never answered.
pub fn a_request_pipelined_after_a_refused_upgrade_is_not_served<T: Target>() {
    let server = T::start(test_config());
    let refused = upgrade_request("/", "").replace("Version: 13", "Version: 8");
    let valid = upgrade_request("/", "");
    let mut stream = raw(server.addr());
    stream
        .write_all(format!("{refused}{valid}").as_bytes())
        .unwrap();
    let answer = read_to_end(&mut stream);
    let response = parse_response(&answer);
    assert_eq!(response.status, 426, "{}", response.head);
    assert_eq!(response.header("Sec-WebSocket-Version"), Some("13"));
    let connection = response.header("Connection").unwrap_or_default();
    assert!(connection.contains("close"), "{connection}");
    // One response, then the end of the stream: the second request was never answered.
    let second = response.body.windows(5).position(|w| w == b"HTTP/");
    assert_eq!(second, None, "{:?}", String::from_utf8_lossy(&answer));
    assert_eq!(server.open(), 0);
}

/// 32 MiB of Pings from a peer that never reads: the server's queue for it stays bounded
/// (Pongs coalesce; the mio server may also close it as a slow consumer, with 1008), and
/// another client is served meanwhile.
pub fn a_ping_flood_from_a_peer_that_never_reads_is_bounded<T: Target>() {
    let server = T::start(Config {
        max_outbound_queue: 64 << 10,
        ..test_config()
    });
    let mut bystander = connect(server.addr());
    let (mut flood, rest) = raw_upgrade(server.addr());
    let burst: Vec<u8> = client_frame(FIN | 0x9, &[7; 125]).repeat(1000);
    let started = Instant::now();
    let sent = bounded(8 << 20, || {
        let mut sent = 0usize;
        while sent < 32 << 20 {
            match flood.write_all(&burst) {
                Ok(()) => sent += burst.len(),
                Err(_) => break,
            }
            assert!(
                started.elapsed() < DEADLINE,
                "the flood outlived the deadline"
            );
        }
        sent
    });
    let still_open = sent >= 32 << 20;
    if still_open {
        // A message still gets through, after the queued Pongs.
        flood.write_all(&client_frame(FIN | 0x1, b"after")).unwrap();
    }
    let (pongs, close) = read_pongs(&mut flood, FrameReader::new(rest), still_open);
    println!("{sent} bytes of Pings, {pongs} Pongs read back, close {close:?}");
    if let Some(code) = close {
        assert_eq!(code, u16::from(CloseCode::PolicyViolation));
    }
    bystander.send_text("unaffected").unwrap();
    assert_eq!(
        next_event(&mut bystander),
        OwnedEvent::Text("unaffected".into())
    );
}

/// Reads the answer to a ping flood: only Pongs, then the echoed `after` (when `still_open`)
/// or a Close. The number of Pongs and the Close's code.
fn read_pongs(
    flood: &mut std::net::TcpStream,
    mut frames: FrameReader,
    still_open: bool,
) -> (usize, Option<u16>) {
    let mut pongs = 0usize;
    while let Some((opcode, payload)) = frames.next(flood) {
        match opcode {
            Opcode::Pong => {
                assert_eq!(payload, [7; 125]);
                pongs += 1;
            }
            Opcode::Text if still_open => {
                assert_eq!(payload, b"after");
                return (pongs, None);
            }
            Opcode::Close => return (pongs, Some(close_code(&payload))),
            other => panic!("{other:?} in the answer to a ping flood"),
        }
    }
    (pongs, None)
}

/// Sends `bytes` on an open connection of a server with `config` and expects its Close with
/// `code`, then the end; another client, connected before, is served all along.
pub fn violation_closes_with<T: Target>(config: Config, bytes: &[u8], code: CloseCode) {
    let server = T::start(config);
    let mut bystander = connect(server.addr());
    let (mut stream, rest) = raw_upgrade(server.addr());
    let frames = bounded(4 << 20, || {
        // The server may close before reading all of it.
        let _ = stream.write_all(bytes);
        FrameReader::new(rest).until_close(&mut stream)
    });
    let (opcode, payload) = frames.last().expect("a Close frame");
    assert_eq!(
        (*opcode, close_code(payload)),
        (Opcode::Close, u16::from(code))
    );
    assert!(frames[..frames.len() - 1]
        .iter()
        .all(|(op, _)| *op != Opcode::Close));
    assert_eq!(server.next_close_code(), code);
    bystander.send_text("unaffected").unwrap();
    assert_eq!(
        next_event(&mut bystander),
        OwnedEvent::Text("unaffected".into())
    );
}

/// An unmasked client frame: 1002.
pub fn an_unmasked_client_frame_is_closed_with_1002<T: Target>() {
    let frame = server_frame(FIN | 0x1, b"unmasked");
    violation_closes_with::<T>(test_config(), &frame, CloseCode::ProtocolError);
}

/// Invalid UTF-8 in a text message: 1007.
pub fn invalid_utf8_is_closed_with_1007<T: Target>() {
    let frame = client_frame(FIN | 0x1, b"ok \xED\xA0\x80");
    violation_closes_with::<T>(test_config(), &frame, CloseCode::InvalidPayload);
}

/// A header declaring 16 MiB over a 1 MiB frame limit: 1009 before any payload.
pub fn a_header_declaring_16_mib_over_the_frame_limit_is_closed_with_1009<T: Target>() {
    let mut header = vec![FIN | 0x2, 0x80 | 127];
    header.extend_from_slice(&(16u64 << 20).to_be_bytes());
    header.extend_from_slice(&[1, 2, 3, 4]);
    let config = Config {
        max_frame_size: 1 << 20,
        ..test_config()
    };
    violation_closes_with::<T>(config, &header, CloseCode::TooBig);
}

/// A message of frames each within the frame limit, together over the message limit: 1009,
/// with the heap grown by about the limit, not by what was sent.
pub fn a_message_over_the_limit_in_legal_frames_is_closed_with_1009<T: Target>() {
    let piece = vec![b'x'; MAX_FRAME];
    let count = MAX_MESSAGE / MAX_FRAME + 4;
    let frames: Vec<u8> = (0..count)
        .flat_map(|i| client_frame(if i == 0 { 0x2 } else { 0x0 }, &piece))
        .collect();
    violation_closes_with::<T>(crate::hostile::limits(), &frames, CloseCode::TooBig);
}

/// Declares every attack of this file as a `#[test]` against the [`Target`] type given, so
/// that each runtime runs the same list.
#[allow(unused_macros)]
macro_rules! attacks_on {
    ($target:ty) => {
        use $crate::hostile::network;

        #[test]
        fn a_20_mb_header_line_is_refused_with_431_over_the_network() {
            network::a_20_mb_header_line_is_refused_with_431::<$target>();
        }

        #[test]
        fn ten_thousand_headers_are_refused_with_431_over_the_network() {
            network::ten_thousand_headers_are_refused_with_431::<$target>();
        }

        #[test]
        fn a_handshake_sent_one_byte_at_a_time_is_cut_at_the_handshake_deadline() {
            network::a_handshake_sent_one_byte_at_a_time_is_cut_at_the_deadline::<$target>();
        }

        #[test]
        fn a_request_pipelined_after_a_refused_upgrade_is_not_served() {
            network::a_request_pipelined_after_a_refused_upgrade_is_not_served::<$target>();
        }

        #[test]
        fn a_ping_flood_from_a_peer_that_never_reads_is_bounded() {
            network::a_ping_flood_from_a_peer_that_never_reads_is_bounded::<$target>();
        }

        #[test]
        fn an_unmasked_client_frame_is_closed_with_1002() {
            network::an_unmasked_client_frame_is_closed_with_1002::<$target>();
        }

        #[test]
        fn invalid_utf8_is_closed_with_1007() {
            network::invalid_utf8_is_closed_with_1007::<$target>();
        }

        #[test]
        fn a_header_declaring_16_mib_over_the_frame_limit_is_closed_with_1009() {
            network::a_header_declaring_16_mib_over_the_frame_limit_is_closed_with_1009::<$target>(
            );
        }

        #[test]
        fn a_message_over_the_limit_in_legal_frames_is_closed_with_1009() {
            network::a_message_over_the_limit_in_legal_frames_is_closed_with_1009::<$target>();
        }
    };
}
#[allow(unused_imports)]
pub(crate) use attacks_on;
