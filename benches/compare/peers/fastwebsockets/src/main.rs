//! fastwebsockets on a current-thread runtime, upgraded through hyper as the crate's own
//! examples do.
//!
//! Usage: fastwebsockets-peer echo|broadcast PORT
//! - echo: the crate's echo example (a `FragmentCollector`, one `write_frame` per message);
//! - broadcast: the connection split in halves; the read half publishes every message on a
//!   channel, the write half of every connection queues what the channel holds and flushes once.

use std::sync::Arc;

use fastwebsockets::{upgrade, Frame, OpCode, Payload, WebSocketError};
use http_body_util::Empty;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use tokio::io::BufWriter;
use tokio::net::TcpListener;
use tokio::sync::broadcast;

type Relay = broadcast::Sender<(OpCode, Arc<[u8]>)>;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_default();
    let port: u16 = args
        .next()
        .and_then(|p| p.parse().ok())
        .expect("usage: fastwebsockets-peer echo|broadcast PORT");
    assert!(mode == "echo" || mode == "broadcast", "unknown mode {mode:?}");
    let listener = TcpListener::bind(("127.0.0.1", port)).await.expect("bind");
    eprintln!("fastwebsockets {mode} listening on 127.0.0.1:{port}");
    let (tx, _) = broadcast::channel(4096);
    let broadcast = mode == "broadcast";
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let _ = stream.set_nodelay(true);
        let tx = tx.clone();
        tokio::spawn(async move {
            let io = hyper_util::rt::TokioIo::new(stream);
            let service = service_fn(move |req| upgrade_to(req, broadcast, tx.clone()));
            let _ = http1::Builder::new()
                .serve_connection(io, service)
                .with_upgrades()
                .await;
        });
    }
}

async fn upgrade_to(
    mut req: Request<Incoming>,
    broadcast: bool,
    tx: Relay,
) -> Result<Response<Empty<Bytes>>, WebSocketError> {
    let (response, fut) = upgrade::upgrade(&mut req)?;
    tokio::spawn(async move {
        let _ = if broadcast {
            relay(fut, tx).await
        } else {
            tokio::task::unconstrained(echo(fut)).await
        };
    });
    Ok(response)
}

async fn echo(fut: upgrade::UpgradeFut) -> Result<(), WebSocketError> {
    let mut ws = fastwebsockets::FragmentCollector::new(fut.await?);
    loop {
        let frame = ws.read_frame().await?;
        match frame.opcode {
            OpCode::Close => return Ok(()),
            OpCode::Text | OpCode::Binary => ws.write_frame(frame).await?,
            _ => {}
        }
    }
}

async fn relay(fut: upgrade::UpgradeFut, tx: Relay) -> Result<(), WebSocketError> {
    let ws = fut.await?;
    let (mut read, mut write) = ws.split(|io| {
        let (r, w) = tokio::io::split(io);
        (r, BufWriter::with_capacity(64 * 1024, w))
    });
    let mut rx = tx.subscribe();
    let writer = tokio::spawn(async move {
        loop {
            let first = match rx.recv().await {
                Ok(m) => m,
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return,
            };
            let mut next = Some(first);
            while let Some((opcode, data)) = next {
                let frame = Frame::new(true, opcode, None, Payload::Borrowed(&data));
                if write.write_frame(frame).await.is_err() {
                    return;
                }
                next = rx.try_recv().ok();
            }
            if write.flush().await.is_err() {
                return;
            }
        }
    });
    let mut ignore = |_: Frame<'_>| async { Ok::<(), WebSocketError>(()) };
    loop {
        let frame = read.read_frame(&mut ignore).await?;
        match frame.opcode {
            OpCode::Close => break,
            OpCode::Text | OpCode::Binary => {
                let _ = tx.send((frame.opcode, Arc::from(&frame.payload[..])));
            }
            _ => {}
        }
    }
    writer.abort();
    Ok(())
}
