//! Messages through the server over loopback: echo of every size class of RFC 6455 §5.2's
//! length encoding (with and without RFC 7692 compression), many connections at once,
//! Ping and Pong, and the close handshake begun by either side (RFC 6455 §7).
#![cfg(feature = "runtime")]

mod common;

use std::io::Write;

use common::runtime::*;
use fullduplex::client::ClientOptions;
use fullduplex::config::DeflateConfig;
use fullduplex::protocol::{CloseCode, OwnedEvent};
use fullduplex::Config;

/// 0 B to 16 MiB: each boundary of the 7-bit, 16-bit and 64-bit length forms, and the
/// largest message the default limits allow.
const SIZES: [usize; 8] = [0, 1, 125, 126, 65_535, 65_536, 1 << 20, 16 << 20];

/// Compressible but not trivial bytes (printable ASCII, so also valid text).
fn payload(len: usize, seed: u32) -> String {
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..len)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            char::from(b'a' + ((x >> 16) % 16) as u8)
        })
        .collect()
}

fn echo_every_size(deflate: bool) {
    let deflate = deflate.then(DeflateConfig::default);
    let config = Config {
        deflate: deflate.clone(),
        ..test_config()
    };
    let (server, _events) = start_app(config.clone());
    let options = ClientOptions {
        config,
        ..ClientOptions::default()
    };
    let mut ws = connect_with(&ws_url(server.local_addr(), "/"), &options);
    assert_eq!(!ws.response().extensions.is_empty(), deflate.is_some());
    for (i, &len) in SIZES.iter().enumerate() {
        let text = payload(len, i as u32);
        ws.send_text(&text).unwrap();
        match next_event(&mut ws) {
            OwnedEvent::Text(got) => assert!(got == text, "text of {len} bytes differs"),
            other => panic!("text of {len} bytes: got {other:?}"),
        }
        let mut bytes = text.into_bytes();
        bytes.iter_mut().step_by(7).for_each(|b| *b ^= 0x80);
        ws.send_binary(&bytes).unwrap();
        match next_event(&mut ws) {
            OwnedEvent::Binary(got) => assert!(got == bytes, "binary of {len} bytes differs"),
            other => panic!("binary of {len} bytes: got {other:?}"),
        }
    }
    let stats = server.handle().stats();
    assert_eq!(stats.messages_in, 2 * SIZES.len() as u64);
    assert_eq!(stats.messages_out, 2 * SIZES.len() as u64);
    let (code, _) = ws.close(CloseCode::Normal, "", DEADLINE).unwrap();
    assert_eq!(code, CloseCode::Normal);
}

#[test]
fn echoes_0_bytes_to_16_mib() {
    echo_every_size(false);
}

#[test]
fn echoes_0_bytes_to_16_mib_with_permessage_deflate() {
    echo_every_size(true);
}

#[test]
fn a_thousand_connections_at_once_each_echo() {
    const CONNECTIONS: usize = 1000;
    // Each connection costs a descriptor on both ends, all in this process.
    let limit = raise_fd_limit(4 * CONNECTIONS as u64);
    assert!(
        limit >= 2 * CONNECTIONS as u64 + 64,
        "RLIMIT_NOFILE is {limit}"
    );
    let (server, _events) = start_app(test_config());
    let addr = server.local_addr();
    let mut clients: Vec<_> = (0..CONNECTIONS).map(|_| connect(addr)).collect();
    assert_eq!(server.handle().stats().open, CONNECTIONS as u64);
    for (i, ws) in clients.iter_mut().enumerate() {
        ws.send_text(&format!("message {i}")).unwrap();
    }
    for (i, ws) in clients.iter_mut().enumerate() {
        assert_eq!(next_event(ws), OwnedEvent::Text(format!("message {i}")));
    }
    for ws in &mut clients {
        ws.start_close(CloseCode::Normal, "").unwrap();
    }
    for ws in &mut clients {
        assert_eq!(expect_close(ws).0, CloseCode::Normal);
    }
    drop(clients);
    wait_until("every connection to be released", || {
        server.handle().stats().connections == 0
    });
    assert_eq!(server.handle().stats().accepted, CONNECTIONS as u64);
}

#[test]
fn a_ping_from_the_client_gets_a_pong_with_its_payload() {
    let (server, _events) = start_app(test_config());
    let mut ws = connect(server.local_addr());
    ws.ping(b"are you there").unwrap();
    assert_eq!(
        next_event(&mut ws),
        OwnedEvent::Pong(b"are you there".to_vec())
    );
    ws.ping(b"").unwrap();
    assert_eq!(next_event(&mut ws), OwnedEvent::Pong(Vec::new()));
}

#[test]
fn a_close_begun_by_the_client_is_answered_with_its_code() {
    let (server, events) = start_app(test_config());
    let mut ws = connect(server.local_addr());
    let AppEvent::Opened(id) = next_app_event(&events) else {
        panic!("no open report");
    };
    let code = CloseCode::try_from(4000).unwrap();
    let (answer, _) = ws.close(code, "done here", DEADLINE).unwrap();
    assert_eq!(answer, code);
    let (closed, info) = next_close(&events);
    assert_eq!(closed, id);
    assert_eq!(
        (info.code, info.reason.as_str(), info.clean),
        (code, "done here", true)
    );
}

#[test]
fn a_close_begun_by_the_server_carries_its_code_and_the_server_cuts_tcp_first() {
    let (server, events) = start_app(test_config());
    let (mut stream, _) = raw_upgrade(server.local_addr());
    stream
        .write_all(&common::client_frame(0x81, b"close 4001"))
        .unwrap();
    let frames = FrameReader::new(Vec::new()).until_close(&mut stream);
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert_eq!(close_code(&frames[0].1), 4001);
    // RFC 6455 §7.1.1: once the Close frames are exchanged, the server closes TCP first.
    stream
        .write_all(&common::client_frame(0x88, &4001u16.to_be_bytes()))
        .unwrap();
    assert_eq!(read_to_end(&mut stream), b"");
    let (_, info) = next_close(&events);
    assert_eq!(
        (info.code, info.clean),
        (CloseCode::try_from(4001).unwrap(), true)
    );
}

#[test]
fn the_handle_closes_one_connection_from_another_thread() {
    let (server, events) = start_app(test_config());
    let addr = server.local_addr();
    let mut kept = connect(addr);
    let mut closed = connect(addr);
    let _first = next_app_event(&events);
    let AppEvent::Opened(id) = next_app_event(&events) else {
        panic!("no open report");
    };
    server
        .handle()
        .close(id, CloseCode::PolicyViolation, "go away")
        .unwrap();
    assert_eq!(
        expect_close(&mut closed),
        (CloseCode::PolicyViolation, "go away".into())
    );
    kept.send_text("unaffected").unwrap();
    assert_eq!(next_event(&mut kept), OwnedEvent::Text("unaffected".into()));
}

#[test]
fn graceful_shutdown_sends_1001_to_every_connection() {
    let (server, events) = start_app(test_config());
    let server = server.into_inner();
    let addr = server.local_addr();
    let mut clients: Vec<_> = (0..20).map(|_| connect(addr)).collect();
    let handle = server.handle();
    handle.shutdown();
    for ws in &mut clients {
        let (code, _) = expect_close(ws);
        assert_eq!(code, CloseCode::GoingAway);
    }
    drop(clients);
    server.join();
    let mut ended = 0;
    while let Ok(event) = events.try_recv() {
        if let AppEvent::Closed(_, info) = event {
            assert_eq!((info.code, info.clean), (CloseCode::GoingAway, true));
            ended += 1;
        }
    }
    assert_eq!(ended, 20);
    assert_eq!(handle.stats().connections, 0);
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "still listening"
    );
}

#[test]
fn stop_ends_even_when_a_peer_never_answers_the_close() {
    let config = Config {
        close_timeout: std::time::Duration::from_millis(200),
        ..test_config()
    };
    let (server, events) = start_app(config);
    let (mut silent, _) = raw_upgrade(server.local_addr());
    let _opened = next_app_event(&events);
    server.into_inner().stop();
    let frames = server_frames(&read_to_end(&mut silent));
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert_eq!(close_code(&frames[0].1), 1001);
    let (_, info) = next_close(&events);
    assert!(!info.clean);
}
