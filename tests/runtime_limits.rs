//! The server's deadlines and its answer to peers that break the protocol, over loopback:
//! keepalive (a peer that stops answering Pings is dropped, RFC 6455 §5.5.2), the idle
//! timeout, and garbage (the connection fails with 1002 or 1007, RFC 6455 §7.1.7, and
//! nobody else notices).
#![cfg(feature = "runtime")]

mod common;

use std::io::Write;
use std::time::{Duration, Instant};

use common::runtime::*;
use fullduplex::protocol::{CloseCode, Opcode, OwnedEvent};
use fullduplex::Config;

fn keepalive_config() -> Config {
    Config {
        ping_interval: Some(Duration::from_millis(50)),
        pong_timeout: Duration::from_millis(100),
        ..test_config()
    }
}

#[test]
fn a_peer_that_stops_answering_pings_is_dropped_after_the_pong_deadline() {
    let config = keepalive_config();
    let (server, events) = start_app(config.clone());
    let started = Instant::now();
    let (mut silent, rest) = raw_upgrade(server.local_addr());
    // It reads (so the Pings arrive) but never answers; the server cuts the connection.
    let mut frames = FrameReader::new(rest);
    let mut pings = 0;
    while let Some((opcode, _)) = frames.next(&mut silent) {
        assert_eq!(opcode, Opcode::Ping);
        pings += 1;
    }
    let waited = started.elapsed();
    assert!(pings >= 1);
    let least = config.ping_interval.unwrap() + config.pong_timeout;
    assert!(
        waited >= least,
        "dropped after {waited:?}, before {least:?}"
    );
    assert_eq!(server.handle().stats().keepalive_timeouts, 1);
    let (_, info) = next_close(&events);
    assert_eq!((info.code, info.clean), (CloseCode::Abnormal, false));
}

#[test]
fn a_peer_that_answers_pings_stays_connected() {
    // Frequent Pings, and a deadline for their Pongs that a loaded machine cannot miss.
    let (server, _events) = start_app(Config {
        pong_timeout: Duration::from_secs(2),
        ..keepalive_config()
    });
    let mut ws = connect(server.local_addr());
    // Five keepalive rounds go by, each Ping answered by the client's recv.
    let mut pings = 0;
    while pings < 5 {
        match ws.recv().unwrap() {
            OwnedEvent::Ping(payload) => {
                assert!(payload.is_empty());
                pings += 1;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    ws.send_text("still here").unwrap();
    assert_eq!(next_event(&mut ws), OwnedEvent::Text("still here".into()));
    assert_eq!(server.handle().stats().keepalive_timeouts, 0);
}

#[test]
fn a_connection_without_messages_is_closed_at_the_idle_timeout() {
    let idle = Duration::from_millis(200);
    let config = Config {
        idle_timeout: Some(idle),
        ping_interval: Some(Duration::from_millis(20)),
        ..test_config()
    };
    let (server, events) = start_app(config);
    let started = Instant::now();
    let mut ws = connect(server.local_addr());
    // Answering Pings (and sending our own) does not count as activity; messages do.
    ws.ping(b"").unwrap();
    let (code, reason) = expect_close(&mut ws);
    let waited = started.elapsed();
    assert_eq!(
        (code, reason.as_str()),
        (CloseCode::GoingAway, "idle timeout")
    );
    assert!(waited >= idle, "closed after {waited:?}");
    let (_, info) = next_close(&events);
    assert_eq!((info.code, info.clean), (CloseCode::GoingAway, true));
}

#[test]
fn messages_keep_a_connection_from_the_idle_timeout() {
    // Long enough that a round trip on a loaded machine never leaves a gap this long.
    let idle = Duration::from_secs(1);
    let config = Config {
        idle_timeout: Some(idle),
        ..test_config()
    };
    let (server, _events) = start_app(config);
    let mut ws = connect(server.local_addr());
    let started = Instant::now();
    let mut sent = 0;
    // Keep talking for two idle periods: each echo proves the connection is open.
    while started.elapsed() < 2 * idle {
        ws.send_text(&sent.to_string()).unwrap();
        assert_eq!(next_event(&mut ws), OwnedEvent::Text(sent.to_string()));
        sent += 1;
    }
    assert!(sent > 1);
}

/// Sends `garbage` on a fresh connection and expects the server's Close with `code`, while
/// another connection keeps working.
fn garbage_fails_with(garbage: &[u8], code: CloseCode) {
    let (server, events) = start_app(test_config());
    let addr = server.local_addr();
    let mut bystander = connect(addr);
    let mut bad = connect(addr);
    bystander.send_text("before").unwrap();
    bad.send_raw(garbage).unwrap();
    assert_eq!(expect_close(&mut bad).0, code);
    let (_, info) = next_close(&events);
    assert_eq!((info.code, info.clean), (code, false));
    assert_eq!(
        next_event(&mut bystander),
        OwnedEvent::Text("before".into())
    );
    bystander.send_text("after").unwrap();
    assert_eq!(next_event(&mut bystander), OwnedEvent::Text("after".into()));
    let stats = server.handle().stats();
    assert_eq!((stats.protocol_errors, stats.open), (1, 1));
}

#[test]
fn an_unmasked_frame_fails_the_connection_with_1002() {
    garbage_fails_with(
        &common::server_frame(0x81, b"unmasked"),
        CloseCode::ProtocolError,
    );
}

#[test]
fn a_reserved_opcode_fails_the_connection_with_1002() {
    garbage_fails_with(&common::client_frame(0x83, b"?"), CloseCode::ProtocolError);
}

#[test]
fn random_bytes_fail_the_connection_with_1002() {
    let garbage: Vec<u8> = (0..64u32).map(|i| (i * 97 + 0x4F) as u8).collect();
    garbage_fails_with(&garbage, CloseCode::ProtocolError);
}

#[test]
fn invalid_utf8_fails_the_connection_with_1007() {
    garbage_fails_with(
        &common::client_frame(0x81, b"\xC3\x28"),
        CloseCode::InvalidPayload,
    );
}

#[test]
fn a_frame_over_the_size_limit_fails_with_1009_before_its_payload_arrives() {
    let config = Config {
        max_frame_size: 1 << 20,
        ..test_config()
    };
    let (server, _events) = start_app(config);
    let (mut stream, rest) = raw_upgrade(server.local_addr());
    // Only the header of a 1 GiB frame: the server must refuse it without waiting for more.
    let mut header = vec![0x82, 0x80 | 127];
    header.extend_from_slice(&(1u64 << 30).to_be_bytes());
    header.extend_from_slice(&[1, 2, 3, 4]);
    stream.write_all(&header).unwrap();
    let frames = FrameReader::new(rest).until_close(&mut stream);
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert_eq!(close_code(&frames[0].1), 1009);
}

#[test]
fn a_peer_that_never_answers_our_close_is_cut_at_the_close_deadline() {
    let timeout = Duration::from_millis(200);
    let config = Config {
        close_timeout: timeout,
        ..test_config()
    };
    let (server, events) = start_app(config);
    let (mut stream, rest) = raw_upgrade(server.local_addr());
    stream
        .write_all(&common::client_frame(0x81, b"close 1000"))
        .unwrap();
    let started = Instant::now();
    let mut frames = FrameReader::new(rest);
    let (opcode, payload) = frames.next(&mut stream).expect("the Close frame");
    assert_eq!((opcode, close_code(&payload)), (Opcode::Close, 1000));
    // We never answer: the connection ends at the deadline.
    assert_eq!(frames.next(&mut stream), None);
    assert!(started.elapsed() >= timeout / 2);
    let (_, info) = next_close(&events);
    assert_eq!((info.code, info.clean), (CloseCode::Abnormal, false));
    assert_eq!(server.handle().stats().connections, 0);
}
