//! Hostile opening handshakes: oversized and crowded heads, header values shaped to make a
//! backtracking parser explode, a request sent a byte at a time, a second request pipelined
//! after a refused upgrade. Each asserts the HTTP status (or the cut), that nothing panicked,
//! and the heap growth; the network ones run the real server on 127.0.0.1, port 0.
#![cfg(feature = "runtime")]

mod common;
mod hostile;

use std::io::{Read, Write};
use std::thread;
use std::time::{Duration, Instant};

use common::counting::Counting;
use common::runtime::*;
use fullduplex::protocol::handshake::{validate_request, Request};
use fullduplex::Config;
use hostile::{bounded, bounded_here, unmeasured};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// A head of `extra` header lines after a valid request's.
fn request_with(extra: &str) -> Vec<u8> {
    upgrade_request("/", extra).into_bytes()
}

/// The status a server answers `head` with: `Request::parse`, then `validate_request`.
fn status_of(head: &[u8], config: &Config) -> u16 {
    match Request::parse(head, config) {
        Ok(Some((request, _))) => match validate_request(&request) {
            Ok(_) => 101,
            Err(error) => error.status(),
        },
        Ok(None) => 0,
        Err(error) => error.status(),
    }
}

#[test]
fn a_20_mb_header_line_is_refused_with_431_without_buffering_it() {
    let head = unmeasured(|| request_with(&format!("X-Long: {}\r\n", "a".repeat(20 << 20))));
    let config = Config::default();
    bounded_here(64 << 10, || assert_eq!(status_of(&head, &config), 431));
    // Over the network: the server reads no further than its limit, answers, and hangs up.
    let (server, _events) = start_app(test_config());
    let mut stream = raw(server.local_addr());
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
    wait_until("the connection to be released", || {
        server.handle().stats().connections == 0
    });
}

#[test]
fn ten_thousand_headers_are_refused_with_431() {
    let many: String = unmeasured(|| (0..10_000).map(|i| format!("X-{i}: {i}\r\n")).collect());
    let head = request_with(&many);
    let roomy = Config {
        max_handshake_size: 1 << 20,
        ..Config::default()
    };
    bounded_here(64 << 10, || {
        assert_eq!(status_of(&head, &Config::default()), 431);
        // Even when the head fits the size limit, the count is limited.
        assert_eq!(status_of(&head, &roomy), 431);
    });
    let (server, _events) = start_app(test_config());
    let response = exchange(server.local_addr(), &head);
    assert_eq!(response.status, 431, "{}", response.head);
}

#[test]
fn redos_shaped_protocol_and_extension_headers_are_answered_in_linear_time() {
    // Shapes that make backtracking list or quoted-string parsers take exponential or
    // quadratic time: long lists of near-tokens ending in a bad byte, whitespace runs, and
    // an unterminated quoted string of escapes. 1 MiB each.
    let n = 1 << 18;
    let values = [
        ("Sec-WebSocket-Protocol", format!("{}@", "a,".repeat(n))),
        ("Sec-WebSocket-Protocol", format!("a{}b@", " \t".repeat(n))),
        ("Sec-WebSocket-Protocol", ",".repeat(2 * n) + "@"),
        (
            "Sec-WebSocket-Extensions",
            format!("permessage-deflate; a=\"{}", "\\a".repeat(n)),
        ),
        (
            "Sec-WebSocket-Extensions",
            format!("{}@", "x; y=z, ".repeat(n / 4)),
        ),
    ];
    let config = Config {
        max_handshake_size: 4 << 20,
        ..Config::default()
    };
    for (name, value) in values {
        let head = unmeasured(|| request_with(&format!("{name}: {value}\r\n")));
        let started = Instant::now();
        // The head is held once, and each list element once more (a `String` of about
        // 70 bytes per one-byte subprotocol): in proportion to the head, which the size limit
        // bounds.
        let status = bounded_here(40 * head.len(), || status_of(&head, &config));
        let took = started.elapsed();
        assert_eq!(status, 400, "{name}: {}…", &value[..20]);
        // A linear parser takes milliseconds on 1 MiB; a quadratic one, minutes.
        assert!(took < Duration::from_secs(5), "{name}: {took:?}");
    }
}

#[test]
fn a_handshake_sent_one_byte_at_a_time_is_cut_at_the_handshake_deadline() {
    let deadline = Duration::from_millis(300);
    let config = Config {
        handshake_timeout: deadline,
        ..test_config()
    };
    let (server, _events) = start_app(config);
    let mut stream = raw(server.local_addr());
    let request = request_with("");
    let started = Instant::now();
    // One byte every 5 ms: the whole request would take about a second, and every byte
    // keeps the socket busy. The deadline counts from the connection, not from the last byte.
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
            Ok(0) => {
                cut = true;
                break;
            }
            Ok(_) => panic!("the server answered a partial request"),
            Err(e) if is_reset(&e) => {
                cut = true;
                break;
            }
            Err(_) => {}
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
    wait_until("the connection to be released", || {
        server.handle().stats().connections == 0
    });
}

#[test]
fn a_request_pipelined_after_a_refused_upgrade_is_not_served() {
    let (server, _events) = start_app(test_config());
    let refused = upgrade_request("/", "").replace("Version: 13", "Version: 8");
    let valid = upgrade_request("/", "");
    let mut stream = raw(server.local_addr());
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
    assert_eq!(server.handle().stats().open, 0);
}
