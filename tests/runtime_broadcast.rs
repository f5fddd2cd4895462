//! One message to many connections over loopback: broadcast, topics, and what happens to a
//! reader too slow to keep up (its queue is bounded; it is closed with 1008 or loses
//! messages, as `Config::slow_consumer` says, and the others are not held back).
#![cfg(feature = "runtime")]

mod common;

use std::io::Write;
use std::net::TcpStream;

use common::runtime::*;
use fullduplex::client::WebSocket;
use fullduplex::config::{MessageDelivery, SlowConsumer};
use fullduplex::protocol::{CloseCode, DataKind, Opcode, OwnedEvent};
use fullduplex::server::{ServerConfig, StatsSnapshot};
use fullduplex::Config;

const RECEIVERS: usize = 500;

fn expect_texts(ws: &mut WebSocket, expected: impl IntoIterator<Item = String>) {
    for text in expected {
        assert_eq!(next_event(ws), OwnedEvent::Text(text));
    }
}

#[test]
fn broadcast_and_publish_reach_500_receivers_in_order() {
    let limit = raise_fd_limit(4 * RECEIVERS as u64);
    assert!(
        limit >= 2 * RECEIVERS as u64 + 64,
        "RLIMIT_NOFILE is {limit}"
    );
    let (server, _events) = start_app(test_config());
    let addr = server.local_addr();
    // Each connection is open and subscribed by the time its 101 response arrives.
    let mut clients: Vec<_> = (0..RECEIVERS).map(|_| connect(addr)).collect();
    let handle = server.handle();
    let broadcasts: Vec<String> = (0..20).map(|i| format!("broadcast {i}")).collect();
    for text in &broadcasts {
        handle.broadcast(DataKind::Text, text.as_bytes()).unwrap();
    }
    let published: Vec<String> = (0..20).map(|i| format!("topic {i}")).collect();
    for text in &published {
        handle
            .publish(TOPIC, DataKind::Text, text.as_bytes())
            .unwrap();
    }
    handle.publish("nobody", DataKind::Text, b"lost").unwrap();
    for ws in &mut clients {
        expect_texts(ws, broadcasts.iter().chain(&published).cloned());
    }
    // From a callback: one client asks, every subscriber (itself included) receives.
    for i in 0..5 {
        clients[i * 7]
            .send_text(&format!("publish from {i}"))
            .unwrap();
        for ws in &mut clients {
            expect_texts(ws, [format!("from {i}")]);
        }
    }
    let stats = handle.stats();
    assert_eq!(stats.broadcasts, 46);
    assert_eq!(stats.messages_out, 45 * RECEIVERS as u64);
    for ws in &mut clients {
        ws.start_close(CloseCode::Normal, "").unwrap();
    }
    for ws in &mut clients {
        assert_eq!(expect_close(ws).0, CloseCode::Normal);
    }
}

/// A worker delivers a run of broadcasts with the same receivers receiver by receiver; runs
/// broken by other commands (a send to one, a publish to another topic) must still reach
/// each receiver in the order they were given.
#[test]
fn interleaved_broadcasts_publishes_and_sends_keep_each_receivers_order() {
    let config = ServerConfig {
        threads: 1,
        ..ServerConfig::default()
    };
    let (server, events) = start_app(config);
    let addr = server.local_addr();
    let mut clients = Vec::new();
    let mut ids = Vec::new();
    for _ in 0..3 {
        clients.push(connect(addr));
        match next_app_event(&events) {
            AppEvent::Opened(id) => ids.push(id),
            other => panic!("expected an open, got {other:?}"),
        }
    }
    let handle = server.handle();
    let rounds = 200;
    for r in 0..rounds {
        handle
            .broadcast(DataKind::Text, format!("b{r}").as_bytes())
            .unwrap();
        handle
            .broadcast(DataKind::Text, format!("c{r}").as_bytes())
            .unwrap();
        handle
            .publish(TOPIC, DataKind::Text, format!("t{r}").as_bytes())
            .unwrap();
        handle
            .send(ids[r % 3], DataKind::Text, format!("s{r}").as_bytes())
            .unwrap();
        handle.publish("nobody", DataKind::Text, b"lost").unwrap();
        handle
            .publish(TOPIC, DataKind::Text, format!("u{r}").as_bytes())
            .unwrap();
    }
    for (k, ws) in clients.iter_mut().enumerate() {
        let expected = (0..rounds).flat_map(|r| {
            let mut texts = vec![format!("b{r}"), format!("c{r}"), format!("t{r}")];
            if r % 3 == k {
                texts.push(format!("s{r}"));
            }
            texts.push(format!("u{r}"));
            texts
        });
        expect_texts(ws, expected);
    }
    let stats = handle.stats();
    assert_eq!(stats.messages_out, (rounds * 4 * 3 + rounds) as u64);
}

/// The most bytes the kernel can hold for one loopback connection that is not read: the
/// sender's socket buffer at its largest and the receiver's (fixed here).
fn kernel_buffering(receive_buffer: usize) -> usize {
    let wmem = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_wmem").unwrap_or_default();
    let max_send = wmem
        .split_whitespace()
        .nth(2)
        .and_then(|v| v.parse().ok())
        .unwrap_or(4 << 20);
    // Linux doubles SO_RCVBUF for its bookkeeping.
    max_send + 2 * receive_buffer
}

const MESSAGE: usize = 64 << 10;
const ROUND: usize = 16;

/// Broadcasts `rounds` rounds of [`ROUND`] messages of [`MESSAGE`] bytes, each carrying its
/// sequence number; every reader in `readers` reads each round before the next is sent.
fn broadcast_rounds(
    server: &fullduplex::server::RunningServer,
    readers: &mut [WebSocket],
    rounds: usize,
) {
    let handle = server.handle();
    for round in 0..rounds {
        let first = round * ROUND;
        for seq in first..first + ROUND {
            let mut message = vec![b'.'; MESSAGE];
            message[..8].copy_from_slice(&(seq as u64).to_be_bytes());
            handle.broadcast(DataKind::Binary, &message).unwrap();
        }
        for ws in readers.iter_mut() {
            for seq in first..first + ROUND {
                match next_event(ws) {
                    OwnedEvent::Binary(got) => {
                        assert_eq!(got.len(), MESSAGE);
                        assert_eq!(got[..8], (seq as u64).to_be_bytes());
                    }
                    other => panic!("message {seq}: got {other:?}"),
                }
            }
        }
    }
}

/// The sequence numbers of the binary messages among `frames`, and the close code of a
/// Close frame if one follows them.
fn sequence_numbers(frames: Vec<(Opcode, Vec<u8>)>) -> (Vec<u64>, Option<u16>) {
    let mut seqs = Vec::new();
    let mut close = None;
    for (opcode, payload) in frames {
        match opcode {
            Opcode::Binary => seqs.push(u64::from_be_bytes(payload[..8].try_into().unwrap())),
            Opcode::Close => close = Some(close_code(&payload)),
            Opcode::Ping => {}
            other => panic!("unexpected {other:?} frame"),
        }
    }
    (seqs, close)
}

#[test]
fn a_reader_that_never_reads_is_closed_with_1008_and_the_others_get_everything() {
    let queue_limit = 1 << 20;
    let config = Config {
        max_outbound_queue: queue_limit,
        slow_consumer: SlowConsumer::Close,
        ..test_config()
    };
    let (server, _events) = start_app(config);
    let addr = server.local_addr();
    let receive_buffer = 16 << 10;
    let (mut slow, _) = silent_reader(addr, receive_buffer);
    let mut readers: Vec<_> = (0..5).map(|_| connect(addr)).collect();
    // Enough rounds to exceed the queue limit and everything the kernel can hold.
    let bound = queue_limit + MESSAGE + kernel_buffering(receive_buffer);
    let rounds = 2 * bound / (ROUND * MESSAGE) + 1;
    broadcast_rounds(&server, &mut readers, rounds);
    let sent = (rounds * ROUND) as u64;
    let stats = server.handle().stats();
    assert_eq!(stats.slow_consumer_closes, 1);
    // What was queued for the slow reader stayed within its limit and the kernel's buffers.
    let to_slow = stats.messages_out - sent * readers.len() as u64;
    assert!(
        to_slow as usize * MESSAGE <= bound,
        "{to_slow} messages of {MESSAGE} bytes queued for a reader that never reads"
    );
    assert!(to_slow < sent);
    // When it reads at last: the messages queued before the close, in order, then the
    // Close frame with 1008 (or the connection cut if the close deadline passed first).
    let frames = FrameReader::new(Vec::new()).until_close(&mut slow);
    let (seqs, close) = sequence_numbers(frames);
    assert!(
        seqs.iter().copied().eq(0..seqs.len() as u64),
        "out of order"
    );
    assert!(seqs.len() as u64 <= to_slow);
    if let Some(code) = close {
        assert_eq!(code, 1008);
        assert_eq!(seqs.len() as u64, to_slow);
    }
    for ws in &mut readers {
        ws.send_text("after").unwrap();
        assert_eq!(next_event(ws), OwnedEvent::Text("after".into()));
    }
}

#[test]
fn with_drop_messages_a_slow_reader_loses_messages_but_stays_open() {
    let queue_limit = 1 << 20;
    let config = Config {
        max_outbound_queue: queue_limit,
        slow_consumer: SlowConsumer::DropMessages,
        ..test_config()
    };
    let (server, _events) = start_app(config);
    let addr = server.local_addr();
    let receive_buffer = 16 << 10;
    let (mut slow, _) = silent_reader(addr, receive_buffer);
    let mut readers: Vec<_> = (0..3).map(|_| connect(addr)).collect();
    let bound = queue_limit + MESSAGE + kernel_buffering(receive_buffer);
    let rounds = 2 * bound / (ROUND * MESSAGE) + 1;
    broadcast_rounds(&server, &mut readers, rounds);
    let sent = (rounds * ROUND) as u64;
    let stats = server.handle().stats();
    assert_eq!(stats.slow_consumer_closes, 0);
    let to_slow = stats.messages_out - sent * readers.len() as u64;
    assert_eq!(stats.slow_consumer_drops, sent - to_slow);
    assert!(
        to_slow as usize * MESSAGE <= bound,
        "{to_slow} messages queued"
    );
    // Still open: it reads what was queued, in order, and then its messages are echoed.
    let mut frames = FrameReader::new(Vec::new());
    let queued: Vec<_> = (0..to_slow).map_while(|_| frames.next(&mut slow)).collect();
    let (seqs, close) = sequence_numbers(queued);
    // Which messages are dropped depends on when the socket had room (the queue is written
    // before a message is judged), so the ones kept need not be a prefix: they arrive in
    // order, none twice, all of them.
    assert_eq!(seqs.len() as u64, to_slow, "lost: {seqs:?}");
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "out of order: {seqs:?}"
    );
    assert_eq!(close, None);
    slow.write_all(&common::client_frame(0x81, b"still open"))
        .unwrap();
    assert_eq!(
        frames.next(&mut slow),
        Some((Opcode::Text, b"still open".to_vec()))
    );
}

/// Writes `count` masked binary messages of `len` bytes, reading nothing.
fn flood(stream: &mut TcpStream, count: usize, len: usize) {
    let frame = common::client_frame(0x82, &vec![b'f'; len]);
    for _ in 0..count {
        if let Err(e) = stream.write_all(&frame) {
            assert!(is_reset(&e), "write: {e}");
            return;
        }
    }
}

/// A client that sends without reading what the echo sends back is a slow consumer too.
fn echo_to_a_client_that_never_reads(delivery: MessageDelivery) -> StatsSnapshot {
    let queue_limit = 256 << 10;
    let config = Config {
        max_outbound_queue: queue_limit,
        message_delivery: delivery,
        ..test_config()
    };
    let server = start(config, TestApp::new().0);
    let receive_buffer = 16 << 10;
    let (mut stream, _) = silent_reader(server.local_addr(), receive_buffer);
    let len = 64 << 10;
    let bound = queue_limit + len + kernel_buffering(receive_buffer);
    flood(&mut stream, 4 * bound / len, len);
    wait_until("the slow consumer to be closed", || {
        server.handle().stats().slow_consumer_closes == 1
    });
    let stats = server.handle().stats();
    assert!(
        stats.bytes_out as usize <= bound,
        "{} bytes queued for a client that never reads",
        stats.bytes_out
    );
    stats
}

#[test]
fn an_echo_client_that_never_reads_is_closed_with_1008() {
    echo_to_a_client_that_never_reads(MessageDelivery::Whole);
}

/// Regression: fragments sent with `Conn::send_fragment` skipped the queue limit, so a
/// streamed echo to a client that never reads grew without bound.
#[test]
fn a_streamed_echo_client_that_never_reads_is_closed_with_1008() {
    echo_to_a_client_that_never_reads(MessageDelivery::Streamed);
}
