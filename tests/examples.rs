//! The examples (`examples/*.rs`), run as a user runs them: built by Cargo with this build's
//! profile and features, started as processes on 127.0.0.1 port 0, and talked to over
//! loopback by the library's blocking client (by a client made of the core alone when the
//! runtime is not built: `cargo test --no-default-features --test examples` runs the
//! `sans_io_echo` tests only).

#[path = "examples/peer.rs"]
mod peer;
#[path = "examples/run.rs"]
mod run;
#[cfg(feature = "runtime")]
#[path = "examples/runtime.rs"]
mod runtime;

use std::time::{Duration, Instant};

use fullduplex::protocol::{CloseCode, OwnedEvent};
use fullduplex::HandshakeError;

use peer::Peer;
use run::{raw_response, Example};

/// The longest any test waits for one thing to happen.
const DEADLINE: Duration = Duration::from_secs(20);

/// A message size past 65 535 bytes: sent with the 64-bit length form (RFC 6455 §5.2).
const LARGE: usize = 70_000;

/// The next event, which must come within [`DEADLINE`].
fn next_event(ws: &mut Peer) -> OwnedEvent {
    ws.recv().expect("an event")
}

/// Sends a data message.
fn send(ws: &mut Peer, message: &OwnedEvent) {
    match message {
        OwnedEvent::Text(text) => ws.send_text(text).unwrap(),
        OwnedEvent::Binary(bytes) => ws.send_binary(bytes).unwrap(),
        other => panic!("not a data message: {other:?}"),
    }
}

/// Sends `message` and checks that it comes back as sent.
fn round_trip(ws: &mut Peer, message: OwnedEvent) {
    send(ws, &message);
    assert_eq!(next_event(ws), message);
}

/// An echo server at `url` returns text and binary messages of every length form (empty,
/// 7-bit, 16-bit, 64-bit; RFC 6455 §5.2) as sent, with permessage-deflate if `deflate`, and
/// closes cleanly.
fn check_echo(url: &str, deflate: bool) {
    let mut ws = peer::connect(url, deflate);
    assert_eq!(
        peer::deflate_agreed(&ws),
        deflate,
        "permessage-deflate agreed"
    );
    let text = |chars| "fullduplex ✓ ".chars().cycle().take(chars).collect();
    let bytes = |len| (0..len).map(|i| (i * 7 % 251) as u8).collect();
    for message in [
        OwnedEvent::Text("hello".into()),
        OwnedEvent::Text(String::new()),
        OwnedEvent::Binary(vec![0, 1, 2, 0xff]),
        OwnedEvent::Binary(Vec::new()),
        OwnedEvent::Text(text(300)),
        OwnedEvent::Binary(bytes(1000)),
        OwnedEvent::Text(text(LARGE)),
        OwnedEvent::Binary(bytes(LARGE)),
    ] {
        round_trip(&mut ws, message);
    }
    close_cleanly(ws);
}

/// The close handshake (RFC 6455 §7.1.2): our Close with 1000, the server's answer with the
/// same code, then the server closes the TCP connection first (§7.1.1).
fn close_cleanly(mut ws: Peer) {
    let (code, _) = ws.close(CloseCode::Normal, "done", DEADLINE).unwrap();
    assert_eq!(code, CloseCode::Normal);
    assert!(
        ws.wait_for_server_close(DEADLINE),
        "the server did not close the TCP connection"
    );
}

/// A Ping is answered with a Pong carrying its payload (RFC 6455 §5.5.2, §5.5.3).
fn check_ping(url: &str) {
    let mut ws = peer::connect(url, false);
    ws.ping(b"are you there?").unwrap();
    assert_eq!(
        next_event(&mut ws),
        OwnedEvent::Pong(b"are you there?".to_vec())
    );
    close_cleanly(ws);
}

#[test]
fn sans_io_echo_echoes_text_and_binary_and_closes_cleanly() {
    let example = Example::start("sans_io_echo", &["0"]);
    // A connection held open while another comes and goes: one thread each.
    let mut first = peer::connect(&example.url("/"), false);
    check_echo(&example.url("/"), false);
    round_trip(&mut first, OwnedEvent::Text("still here".into()));
    close_cleanly(first);
}

#[test]
fn sans_io_echo_answers_a_ping_with_a_pong() {
    let example = Example::start("sans_io_echo", &["0"]);
    check_ping(&example.url("/"));
}

#[test]
fn sans_io_echo_accepts_permessage_deflate() {
    let example = Example::start("sans_io_echo", &["0"]);
    check_echo(&example.url("/chat?room=1"), true);
}

#[test]
fn sans_io_echo_sends_keepalive_pings_at_the_interval_given() {
    let interval = Duration::from_millis(100);
    let example = Example::start("sans_io_echo", &["0", "100"]);
    let start = Instant::now();
    let mut ws = peer::connect(&example.url("/"), false);
    // The server's Ping after `interval` of silence; our client answers each with a Pong, so
    // the server keeps the connection and pings again after the next silence.
    for ping in 1..=3 {
        assert_eq!(
            next_event(&mut ws),
            OwnedEvent::Ping(Vec::new()),
            "ping {ping}"
        );
        // Not before its time (the core counts whole milliseconds: at most 1 ms early).
        let earliest = (interval - Duration::from_millis(1)) * ping;
        assert!(
            start.elapsed() >= earliest,
            "ping {ping} after {:?}",
            start.elapsed()
        );
    }
    round_trip(&mut ws, OwnedEvent::Text("after the pings".into()));
    close_cleanly(ws);
}

#[test]
fn sans_io_echo_fails_a_connection_that_breaks_the_protocol_with_1002() {
    let mut example = Example::start("sans_io_echo", &["0"]);
    let mut ws = peer::connect(&example.url("/"), false);
    // An unmasked frame. RFC 6455 §5.1: "The server MUST close the connection upon receiving a
    // frame that is not masked", with 1002 (§7.4.1).
    ws.send_raw(&[0x81, 0x02, b'h', b'i']).unwrap();
    match next_event(&mut ws) {
        OwnedEvent::Closed { code, .. } => assert_eq!(code, CloseCode::ProtocolError),
        other => panic!("expected the server's Close, got {other:?}"),
    }
    // RFC 6455 §7.1.7: the server then closes the TCP connection without waiting for our
    // answering Close (which may meet a reset), and says why.
    let said = example.line_containing("failing the connection");
    assert!(said.contains("not masked"), "{said}");
}

#[test]
fn sans_io_echo_refuses_bad_handshakes_with_the_status_the_core_gives() {
    let example = Example::start("sans_io_echo", &["0"]);
    // A plain HTTP request: no `Upgrade: websocket` (RFC 6455 §4.2.1).
    let (status, body) = example.http_get("/");
    assert_eq!(status, HandshakeError::MissingUpgrade.status());
    assert_eq!(body.trim(), HandshakeError::MissingUpgrade.reason());
    // Another version of the protocol: 426 with the version we speak (RFC 6455 §4.4).
    let request = "GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
        Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Sec-WebSocket-Version: 8\r\n\r\n";
    let response = raw_response(&example.addr, request);
    assert!(response.starts_with("HTTP/1.1 426 "), "{response}");
    assert!(
        response.contains("\r\nSec-WebSocket-Version: 13\r\n"),
        "{response}"
    );
    // The server is still there for a proper client.
    check_echo(&example.url("/"), false);
}

#[cfg(feature = "tokio")]
#[test]
fn tokio_echo_echoes_with_deflate_answers_pings_and_closes_cleanly() {
    let example = Example::start("tokio_echo", &["127.0.0.1:0"]);
    let mut first = peer::connect(&example.url("/"), false);
    check_echo(&example.url("/"), true);
    check_ping(&example.url("/"));
    round_trip(&mut first, OwnedEvent::Text("still here".into()));
    close_cleanly(first);
}

#[cfg(feature = "tokio")]
#[test]
fn axum_route_echoes_on_its_websocket_route_and_answers_plain_http_beside_it() {
    let example = Example::start("axum_route", &["127.0.0.1:0"]);
    check_echo(&example.url("/ws"), true);
    check_ping(&example.url("/ws"));
    // hyper keeps connections alive unless asked not to.
    let request = "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    let response = raw_response(&example.addr, request);
    assert!(response.starts_with("HTTP/1.1 200 "), "{response}");
    assert!(
        response.ends_with("\r\n\r\nfullduplex under axum: connect to /ws\n"),
        "{response}"
    );
    // Not an opening handshake: the status the core gives (RFC 6455 §4.2.1).
    let request = "GET /ws HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    let response = raw_response(&example.addr, request);
    let status = HandshakeError::MissingUpgrade.status();
    assert!(
        response.starts_with(&format!("HTTP/1.1 {status} ")),
        "{response}"
    );
}
