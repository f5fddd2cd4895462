//! Hostile opening handshakes on the sans-I/O core: oversized and crowded heads, header values
//! shaped to make a backtracking parser explode. Each asserts the HTTP status, that nothing
//! panicked, and the heap growth. The same heads over the network, a request sent a byte at a
//! time and one pipelined after a refused upgrade run against each runtime
//! (`hostile/network.rs`: `hostile_peers.rs` for mio, `tokio_hostile.rs`).
#![cfg(feature = "runtime")]

mod common;
mod hostile;

use std::time::{Duration, Instant};

use common::counting::Counting;
use fullduplex::protocol::handshake::{validate_request, Request};
use fullduplex::Config;
use hostile::network::{self, request_with};
use hostile::{bounded_here, unmeasured};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

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
    let head = network::a_20_mb_header_line();
    let config = Config::default();
    bounded_here(64 << 10, || assert_eq!(status_of(&head, &config), 431));
}

#[test]
fn ten_thousand_headers_are_refused_with_431() {
    let head = network::ten_thousand_headers();
    let roomy = Config {
        max_handshake_size: 1 << 20,
        ..Config::default()
    };
    bounded_here(64 << 10, || {
        assert_eq!(status_of(&head, &Config::default()), 431);
        // Even when the head fits the size limit, the count is limited.
        assert_eq!(status_of(&head, &roomy), 431);
    });
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
