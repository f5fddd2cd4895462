//! Hostile peers over loopback against the real server (127.0.0.1, port 0): a ping flood
//! from a peer that never reads, and protocol violations on an open connection. Each asserts
//! the close code, that the server kept serving others, and the heap growth.
#![cfg(feature = "runtime")]

mod common;
mod hostile;

use std::io::Write;
use std::time::Instant;

use common::counting::Counting;
use common::runtime::*;
use fullduplex::protocol::{CloseCode, Opcode, OwnedEvent};
use fullduplex::Config;
use hostile::bounded;

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const FIN: u8 = 0x80;

#[test]
fn a_ping_flood_from_a_peer_that_never_reads_is_bounded() {
    let config = Config {
        max_outbound_queue: 64 << 10,
        ..test_config()
    };
    let (server, _events) = start_app(config);
    let addr = server.local_addr();
    let mut bystander = connect(addr);
    let (mut flood, rest) = raw_upgrade(addr);
    let ping = common::client_frame(FIN | 0x9, &[7; 125]);
    let burst: Vec<u8> = ping.repeat(1000);
    // 32 MiB of Pings, never reading a Pong: the server's queue for this peer stays bounded
    // (Pongs coalesce, then the slow-consumer limit), whatever it decides to do with us.
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
    // The peer finally reads: only Pongs, and at most a Close that ends them.
    let mut frames = FrameReader::new(rest);
    let mut pongs = 0usize;
    let mut close = None;
    if sent >= 32 << 20 {
        // Still open: a message still gets through (after the queued Pongs).
        flood
            .write_all(&common::client_frame(FIN | 0x1, b"after"))
            .unwrap();
    }
    while let Some((opcode, payload)) = frames.next(&mut flood) {
        match opcode {
            Opcode::Pong => {
                assert_eq!(payload, [7; 125]);
                pongs += 1;
            }
            Opcode::Text if sent >= 32 << 20 => {
                assert_eq!(payload, b"after");
                break;
            }
            Opcode::Close => {
                close = Some(close_code(&payload));
                break;
            }
            other => panic!("{other:?} in the answer to a ping flood"),
        }
    }
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

/// Sends `frame` on an open connection and expects the server's Close with `code`.
fn violation_closes_with(frame: &[u8], code: CloseCode) {
    let (server, events) = start_app(test_config());
    let (mut stream, rest) = raw_upgrade(server.local_addr());
    let frames = bounded(4 << 20, || {
        stream.write_all(frame).unwrap();
        FrameReader::new(rest).until_close(&mut stream)
    });
    let (opcode, payload) = frames.last().expect("a Close frame");
    assert_eq!(
        (*opcode, close_code(payload)),
        (Opcode::Close, u16::from(code))
    );
    let (_, info) = next_close(&events);
    assert_eq!(info.code, code);
}

#[test]
fn an_unmasked_client_frame_is_closed_with_1002_by_the_server() {
    violation_closes_with(
        &common::server_frame(FIN | 0x1, b"unmasked"),
        CloseCode::ProtocolError,
    );
}

#[test]
fn a_header_declaring_16_mib_over_the_frame_limit_is_closed_with_1009() {
    let mut header = vec![FIN | 0x2, 0x80 | 127];
    header.extend_from_slice(&(16u64 << 20).to_be_bytes());
    header.extend_from_slice(&[1, 2, 3, 4]);
    let (server, _events) = start_app(Config {
        max_frame_size: 1 << 20,
        ..test_config()
    });
    let (mut stream, rest) = raw_upgrade(server.local_addr());
    let frames = bounded(4 << 20, || {
        stream.write_all(&header).unwrap();
        FrameReader::new(rest).until_close(&mut stream)
    });
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert_eq!(close_code(&frames[0].1), 1009);
}
