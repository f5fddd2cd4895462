//! Heap held by permessage-deflate, measured with a counting global allocator and printed as
//! markdown tables (`cargo bench --bench deflate_memory`):
//!
//! - the compressor and the decompressor of one connection at each window (8 to 15) and
//!   compression level, with context takeover (so the state lives as long as the connection);
//! - the heap per idle connection, and the heap shared by a worker thread's connections
//!   (its pool of zlib states), for connections that each received and sent one chat
//!   message, with and without context takeover (from 100 and 200 connections).
//!
//! Each figure is the heap a connection holds with deflate minus the heap the same
//! connection holds without it, after the same traffic.

mod common;
#[path = "../tests/common/counting.rs"]
mod counting;

use common::{chat_messages, config, params};
use fullduplex::protocol::deflate::DeflateParams;
use fullduplex::protocol::Connection;

#[global_allocator]
static ALLOCATOR: counting::Counting = counting::Counting;

/// Heap figures of one measurement, in bytes, from before the connection was made.
#[derive(Clone, Copy)]
struct Heap {
    held: usize,
    peak: usize,
}

/// Runs `f` on a new thread: its per-thread pool of zlib states starts empty, so `f` pays
/// what the first connection of a worker thread pays.
fn on_fresh_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::spawn(f).join().unwrap()
}

fn connection(server: bool, agreed: Option<DeflateParams>, level: u32) -> Connection {
    let config = config(level);
    let conn = if server {
        Connection::server(config.clone())
    } else {
        Connection::client(config.clone(), || [0x37, 0xfa, 0x21, 0x3d])
    };
    match agreed {
        Some(params) => conn.with_deflate(params),
        None => conn,
    }
}

/// Receives `wire` whole, takes every event, and gives back the read buffer (as the runtime
/// does, to its pool).
fn receive(conn: &mut Connection, wire: &[u8]) {
    conn.receive(wire);
    while conn.poll_event().unwrap().is_some() {}
    drop(conn.receiver().take_idle_buffer());
}

fn send(conn: &mut Connection, message: &str) {
    conn.send_text(message).unwrap();
    conn.consume_output(conn.buffered_amount());
}

/// The frames one side sends for `message`.
fn wire(server: bool, agreed: Option<DeflateParams>, message: &str) -> Vec<u8> {
    let mut conn = connection(server, agreed, 6);
    conn.send_text(message).unwrap();
    conn.output_chunks().flatten().copied().collect()
}

/// A server connection's heap after sending `message` (its compressor, with deflate).
fn after_sending(agreed: Option<DeflateParams>, level: u32, message: String) -> Heap {
    on_fresh_thread(move || {
        let before = counting::reset_peak();
        let mut conn = connection(true, agreed, level);
        send(&mut conn, &message);
        let heap = Heap {
            held: counting::live() - before,
            peak: counting::peak() - before,
        };
        drop(conn);
        heap
    })
}

/// A client connection's heap after receiving `wire` (its decompressor, with deflate).
fn after_receiving(agreed: Option<DeflateParams>, wire: Vec<u8>) -> Heap {
    on_fresh_thread(move || {
        let before = counting::reset_peak();
        let mut conn = connection(false, agreed, 6);
        receive(&mut conn, &wire);
        let heap = Heap {
            held: counting::live() - before,
            peak: counting::peak() - before,
        };
        drop(conn);
        heap
    })
}

fn kib(bytes: usize) -> String {
    format!("{:.1} KiB", bytes as f64 / 1024.0)
}

/// One row per window: compressor at levels 1, 6, 9, decompressor, and peaks.
fn per_window_table(message: &str) {
    let plain_sent = after_sending(None, 6, message.to_owned());
    let plain_received = after_receiving(None, wire(true, None, message));
    println!("| window bits | compressor, level 1 | level 6 | level 9 | decompressor | peak while compressing (level 6) | peak while inflating |");
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for window in 8..=15 {
        let agreed = Some(params(window, true));
        let sent: Vec<Heap> = [1, 6, 9]
            .iter()
            .map(|&level| after_sending(agreed, level, message.to_owned()))
            .collect();
        let received = after_receiving(agreed, wire(true, agreed, message));
        let label = match window {
            8 => "8 (stored)".to_owned(),
            window => window.to_string(),
        };
        println!(
            "| {label} | {} | {} | {} | {} | {} | {} |",
            kib(sent[0].held - plain_sent.held),
            kib(sent[1].held - plain_sent.held),
            kib(sent[2].held - plain_sent.held),
            kib(received.held - plain_received.held),
            kib(sent[1].peak - plain_sent.peak),
            kib(received.peak - plain_received.peak),
        );
    }
}

/// Heap held by `count` idle server connections that each received and sent one message.
fn idle_connections(agreed: Option<DeflateParams>, count: usize, message: String) -> usize {
    let inbound = wire(false, agreed, &message);
    on_fresh_thread(move || {
        let before = counting::live();
        let connections: Vec<Connection> = (0..count)
            .map(|_| {
                let mut conn = connection(true, agreed, 6);
                receive(&mut conn, &inbound);
                send(&mut conn, &message);
                conn
            })
            .collect();
        let held = counting::live() - before;
        drop(connections);
        held
    })
}

/// (per connection, shared by the thread's connections): from 100 and 200 connections.
fn idle_cost(agreed: Option<DeflateParams>, message: &str) -> (usize, usize) {
    let hundred = idle_connections(agreed, 100, message.to_owned());
    let two_hundred = idle_connections(agreed, 200, message.to_owned());
    let per_connection = (two_hundred - hundred) / 100;
    (per_connection, hundred - 100 * per_connection)
}

fn idle_connections_table(message: &str) {
    let (plain, plain_shared) = idle_cost(None, message);
    println!("| deflate (both directions) | heap per idle connection | shared by a thread's connections (state pool) |");
    println!("| --- | ---: | ---: |");
    for (label, window, takeover) in [
        ("window 15, context takeover", 15, true),
        ("window 15, no context takeover", 15, false),
        ("window 12, context takeover", 12, true),
        ("window 9, context takeover", 9, true),
        ("window 9, no context takeover", 9, false),
    ] {
        let (each, shared) = idle_cost(Some(params(window, takeover)), message);
        println!(
            "| {label} | {} | {} |",
            kib(each.saturating_sub(plain)),
            kib(shared.saturating_sub(plain_shared))
        );
    }
    println!(
        "\n(without deflate an idle connection holds {})",
        kib(plain)
    );
}

fn main() {
    // A typical chat message; the state sizes do not depend on it.
    let message = chat_messages(1).remove(0);
    println!("message: {} bytes\n", message.len());
    per_window_table(&message);
    println!();
    idle_connections_table(&message);
}
