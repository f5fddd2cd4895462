//! Hostile peers against the tokio adapter over loopback, with the heap measured: a ping
//! flood from a peer that never reads, a request head of 20 MB, a handshake that never ends,
//! and a peer that announces a huge frame; each bounded, and the server still serving others.
#![cfg(feature = "tokio")]

mod common;

use std::time::Duration;

use common::adapter::{echo, listener, options, url, RawPeer};
use common::counting::{self, Counting};
use fullduplex::protocol::{CloseCode, OwnedEvent};
use fullduplex::tokio::{accept, connect, Message};
use fullduplex::Config;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const FIN: u8 = 0x80;

/// Serves every connection with an echo, in a task each.
fn serve_all(listener: TcpListener, config: Config) {
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let config = config.clone();
            tokio::spawn(async move {
                if let Ok(ws) = accept(tcp, config).await {
                    let _ = echo(ws).await;
                }
            });
        }
    });
}

/// Held by each test of this file for its whole run, so that only one test allocates while an
/// attack is measured (the counters are process-wide).
static ALONE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Runs `attack` and asserts the heap grew by at most `budget` bytes at its peak. The caller
/// holds [`ALONE`], and runs on a current-thread runtime of its own: only the attack and the
/// server it attacks run while it is measured.
async fn bounded<T>(budget: usize, attack: impl std::future::Future<Output = T>) -> T {
    let before = counting::reset_peak();
    let result = attack.await;
    let peak = counting::peak().saturating_sub(before);
    assert!(
        peak <= budget,
        "peak heap growth {peak} bytes > budget {budget}"
    );
    result
}

/// A bystander's echo still works.
async fn still_serves(addr: std::net::SocketAddr) {
    let mut ws = connect(&url(addr, "/"), &options(Config::default()))
        .await
        .unwrap();
    ws.send(Message::text("unaffected")).await.unwrap();
    assert_eq!(ws.recv().await.unwrap(), Some(Message::text("unaffected")));
}

#[tokio::test]
async fn a_ping_flood_from_a_peer_that_never_reads_is_bounded() {
    let _alone = ALONE.lock().await;
    let (listener, addr) = listener().await;
    serve_all(listener, Config::default());
    let mut flood = RawPeer::connect(addr, "/", "").await;
    let burst = common::client_frame(FIN | 0x9, &[7; 125]).repeat(1000);
    // 32 MiB of Pings, never reading a Pong: the server reads on, its Pongs coalesce
    // (RFC 6455 §5.5.3 lets it answer only the latest), and its memory stays bounded.
    bounded(4 << 20, async {
        for _ in 0..(32 << 20) / burst.len() {
            flood.write(&burst).await;
        }
    })
    .await;
    flood
        .write(&common::client_frame(FIN | 0x1, b"after"))
        .await;
    // The peer finally reads: Pongs with the flood's payload, then the message.
    loop {
        match flood.next_event().await {
            Some(OwnedEvent::Pong(payload)) => assert_eq!(payload, [7; 125]),
            Some(OwnedEvent::Text(text)) => {
                assert_eq!(text, "after");
                break;
            }
            other => panic!("{other:?} in the answer to a ping flood"),
        }
    }
    still_serves(addr).await;
}

#[tokio::test]
async fn a_20_mb_header_line_is_refused_with_431_without_buffering_it() {
    let _alone = ALONE.lock().await;
    let (listener, addr) = listener().await;
    serve_all(listener, Config::default());
    let head = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nX-Long: {}\r\n\r\n",
        "a".repeat(20 << 20)
    );
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let response = bounded(1 << 20, async {
        let (mut reader, mut writer) = tcp.split();
        // The server stops reading at its limit: the rest of the write may fail.
        let write = async {
            let _ = writer.write_all(head.as_bytes()).await;
        };
        let mut response = Vec::new();
        let read = reader.read_to_end(&mut response);
        let (_, read) = tokio::join!(write, read);
        let _ = read;
        String::from_utf8_lossy(&response).into_owned()
    })
    .await;
    assert!(response.starts_with("HTTP/1.1 431 "), "{response}");
    still_serves(addr).await;
}

#[tokio::test(start_paused = true)]
async fn a_handshake_sent_one_byte_at_a_time_is_cut_at_the_handshake_deadline() {
    let _alone = ALONE.lock().await;
    let config = Config {
        handshake_timeout: Duration::from_secs(10),
        ..Config::default()
    };
    let (listener, addr) = listener().await;
    serve_all(listener, config);
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let start = tokio::time::Instant::now();
    let request = b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n";
    for byte in request.iter().cycle() {
        if tcp.write_all(&[*byte]).await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        let mut probe = [0u8; 1];
        // The server hung up (end of stream or a reset) once the deadline passed.
        if let Ok(Ok(0) | Err(_)) = tokio::time::timeout(Duration::ZERO, tcp.read(&mut probe)).await
        {
            break;
        }
    }
    let elapsed = start.elapsed().as_secs();
    assert!((10..=11).contains(&elapsed), "cut after {elapsed} s");
    still_serves(addr).await;
}

#[tokio::test]
async fn a_header_declaring_16_mib_over_the_frame_limit_is_closed_with_1009_allocating_nothing() {
    let _alone = ALONE.lock().await;
    let config = Config {
        max_frame_size: 64 << 10,
        ..Config::default()
    };
    let (listener, addr) = listener().await;
    serve_all(listener, config);
    let mut peer = RawPeer::connect(addr, "/", "").await;
    let mut header = vec![FIN | 0x2, 0x80 | 127];
    header.extend_from_slice(&(16u64 << 20).to_be_bytes());
    header.extend_from_slice(&[1, 2, 3, 4]);
    let code = bounded(256 << 10, async {
        peer.write(&header).await;
        peer.close_code().await
    })
    .await;
    assert_eq!(code, CloseCode::TooBig);
    still_serves(addr).await;
}

#[tokio::test]
async fn idle_connections_hold_no_read_buffer() {
    let _alone = ALONE.lock().await;
    let (listener, addr) = listener().await;
    serve_all(listener, Config::default());
    let quiet = Config {
        ping_interval: None,
        ..Config::default()
    };
    let before = counting::live();
    let mut clients = Vec::new();
    for _ in 0..200 {
        let mut ws = connect(&url(addr, "/"), &options(quiet.clone()))
            .await
            .unwrap();
        // One message each way, so that both ends have read.
        ws.send(Message::text("hello")).await.unwrap();
        assert_eq!(ws.recv().await.unwrap(), Some(Message::text("hello")));
        clients.push(ws);
    }
    let per_connection = counting::live().saturating_sub(before) / clients.len();
    println!("{per_connection} bytes per idle connection, both ends and the server's task");
    // A 64 KiB read buffer kept by either end would show here.
    assert!(
        per_connection < 32 << 10,
        "{per_connection} bytes per idle connection"
    );
}
