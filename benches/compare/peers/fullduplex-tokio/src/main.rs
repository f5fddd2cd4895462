//! fullduplex's tokio adapter (`fullduplex::tokio`) on a current-thread runtime (one core,
//! like the other servers), written as the tokio-tungstenite peer is, so that the libraries
//! are compared and not the programs.
//!
//! Usage: fullduplex-tokio-peer echo|broadcast PORT [deflate]
//! - echo: every text or binary message is sent back (the read half forwarded into the write
//!   half, which flushes when the reads run dry);
//! - broadcast: every message is relayed, with its opcode, to every client, sender included,
//!   encoded once (`SharedFrame`) and queued on each with `feed_shared`;
//! - deflate: permessage-deflate accepted as each offer asks, as `fullduplex echo --deflate`
//!   does (without it, offers are declined).

use std::sync::Arc;

use fullduplex::config::DeflateConfig;
use fullduplex::protocol::{DataKind, SharedFrame};
use fullduplex::tokio::Message;
use fullduplex::Config;
use futures_util::{StreamExt, TryStreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_default();
    let port: u16 = args
        .next()
        .and_then(|p| p.parse().ok())
        .expect("usage: fullduplex-tokio-peer echo|broadcast PORT [deflate]");
    let config = Arc::new(config(args.next().as_deref() == Some("deflate")));
    let listener = TcpListener::bind(("127.0.0.1", port)).await.expect("bind");
    eprintln!("fullduplex-tokio {mode} listening on 127.0.0.1:{port}");
    let (tx, _) = broadcast::channel::<SharedFrame>(4096);
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let _ = stream.set_nodelay(true);
        match mode.as_str() {
            "echo" => {
                tokio::spawn(echo(stream, config.clone()));
            }
            "broadcast" => {
                tokio::spawn(relay(stream, config.clone(), tx.clone()));
            }
            other => panic!("unknown mode {other:?}"),
        }
    }
}

/// The configuration of `fullduplex echo`'s testee: deflate as each offer asks (when on),
/// 16 MiB messages.
fn config(deflate: bool) -> Config {
    let deflate = deflate.then(|| DeflateConfig {
        server_no_context_takeover: false,
        client_no_context_takeover: false,
        min_message_size: 0,
        ..DeflateConfig::default()
    });
    Config {
        deflate,
        max_message_size: 16 << 20,
        max_frame_size: 16 << 20,
        max_outbound_queue: 64 << 20,
        ..Config::default()
    }
}

async fn echo(stream: TcpStream, config: Arc<Config>) {
    let Ok(ws) = fullduplex::tokio::accept(stream, config).await else { return };
    let (write, read) = ws.split();
    let _ = read
        .try_filter(|m| std::future::ready(m.is_data()))
        .forward(write)
        .await;
}

/// One task per connection waits on both its stream and the channel (`recv` is
/// cancel-safe). A message is encoded once, as a `SharedFrame`, by the connection it came
/// from; every receiver queues the same bytes: the idiomatic fullduplex broadcast, where an
/// owned `Message` per receiver would copy the payload for each.
async fn relay(stream: TcpStream, config: Arc<Config>, tx: broadcast::Sender<SharedFrame>) {
    let Ok(mut ws) = fullduplex::tokio::accept(stream, config).await else { return };
    let mut rx = tx.subscribe();
    loop {
        tokio::select! {
            received = ws.recv() => match received {
                Ok(Some(message)) if message.is_data() => {
                    let kind = match message {
                        Message::Text(_) => DataKind::Text,
                        _ => DataKind::Binary,
                    };
                    let _ = tx.send(SharedFrame::new(kind, message.as_bytes()));
                }
                Ok(Some(Message::Close(_))) | Ok(None) | Err(_) => break,
                Ok(Some(_)) => {}
            },
            frame = rx.recv() => {
                let frame = match frame {
                    Ok(frame) => frame,
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => break,
                };
                // Queue what has arrived, then flush once: one write per wake-up.
                if ws.feed_shared(&frame).await.is_err() {
                    break;
                }
                while let Ok(frame) = rx.try_recv() {
                    if ws.feed_shared(&frame).await.is_err() {
                        return;
                    }
                }
                if ws.flush().await.is_err() {
                    break;
                }
            }
        }
    }
}
