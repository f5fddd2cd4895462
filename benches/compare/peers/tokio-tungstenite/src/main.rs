//! tokio-tungstenite on a current-thread runtime (one core, like the other servers).
//!
//! Usage: tokio-tungstenite-peer echo|broadcast PORT
//! - echo: every text or binary message is sent back (the crate's own echo example's way:
//!   the read half forwarded into the write half, which flushes when the reads run dry);
//! - broadcast: every message is relayed, with its opcode, to every client, sender included.

use futures_util::{SinkExt, StreamExt, TryStreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::Message;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_default();
    let port: u16 = args
        .next()
        .and_then(|p| p.parse().ok())
        .expect("usage: tokio-tungstenite-peer echo|broadcast PORT");
    let listener = TcpListener::bind(("127.0.0.1", port)).await.expect("bind");
    eprintln!("tokio-tungstenite {mode} listening on 127.0.0.1:{port}");
    let (tx, _) = broadcast::channel::<Message>(4096);
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let _ = stream.set_nodelay(true);
        match mode.as_str() {
            "echo" => {
                tokio::spawn(echo(stream));
            }
            "broadcast" => {
                tokio::spawn(relay(stream, tx.clone()));
            }
            other => panic!("unknown mode {other:?}"),
        }
    }
}

async fn echo(stream: TcpStream) {
    let Ok(ws) = tokio_tungstenite::accept_async(stream).await else { return };
    let (write, read) = ws.split();
    let _ = read
        .try_filter(|m| std::future::ready(m.is_text() || m.is_binary()))
        .forward(write)
        .await;
}

async fn relay(stream: TcpStream, tx: broadcast::Sender<Message>) {
    let Ok(ws) = tokio_tungstenite::accept_async(stream).await else { return };
    let (mut write, mut read) = ws.split();
    let mut rx = tx.subscribe();
    let writer = tokio::spawn(async move {
        loop {
            // Queue what has arrived, then flush once: one write per wake-up, not per message.
            match rx.recv().await {
                Ok(message) => {
                    if write.feed(message).await.is_err() {
                        break;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => break,
            }
            while let Ok(message) = rx.try_recv() {
                if write.feed(message).await.is_err() {
                    return;
                }
            }
            if write.flush().await.is_err() {
                break;
            }
        }
    });
    while let Some(Ok(message)) = read.next().await {
        if message.is_text() || message.is_binary() {
            let _ = tx.send(message);
        } else if message.is_close() {
            break;
        }
    }
    writer.abort();
}
