//! What an idle connection costs on the tokio adapter: its read buffer goes back to the
//! thread's pool when a read waits, so an idle connection holds none (measured with the
//! counting allocator; this file's one test is alone in its process).
#![cfg(feature = "tokio")]

mod common;

use common::adapter::{echo, listener, options, url};
use common::counting::{self, Counting};
use fullduplex::tokio::{accept, connect, Message};
use fullduplex::Config;
use tokio::net::TcpListener;

#[global_allocator]
static ALLOCATOR: Counting = Counting;

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

#[tokio::test]
async fn idle_connections_hold_no_read_buffer() {
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
