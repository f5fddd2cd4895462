//! Broadcast with the tokio adapter: one frame encoded once ([`SharedFrame`]) and queued on
//! many server connections, each of which receives it whole; a client, which must mask each
//! frame of its own, refuses one.
#![cfg(feature = "tokio")]

mod common;

use std::sync::Arc;

use fullduplex::protocol::{CloseCode, DataKind, SharedFrame};
use fullduplex::tokio::{accept, connect, Error, Message, WebSocketStream};
use fullduplex::{Config, UsageError};
use tokio::net::TcpStream;

use common::adapter::{listener, options, url};

const RECEIVERS: usize = 5;

/// `RECEIVERS` server streams, and the clients connected to them.
async fn connections() -> (
    Vec<WebSocketStream<TcpStream>>,
    Vec<WebSocketStream<fullduplex::tokio::ClientStream>>,
) {
    let (listener, addr) = listener().await;
    let config = Arc::new(Config::default());
    let server = tokio::spawn(async move {
        let mut streams = Vec::new();
        for _ in 0..RECEIVERS {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut ws = accept(tcp, config.clone()).await.unwrap();
            // The 101 response leaves with the stream's first write.
            ws.flush().await.unwrap();
            streams.push(ws);
        }
        streams
    });
    let (url, options) = (url(addr, "/"), options(Config::default()));
    let mut clients = Vec::new();
    for _ in 0..RECEIVERS {
        clients.push(connect(&url, &options).await.unwrap());
    }
    (server.await.unwrap(), clients)
}

#[tokio::test]
async fn one_encoded_frame_reaches_every_connection() {
    let (mut servers, mut clients) = connections().await;
    let frame = SharedFrame::new(DataKind::Text, "to everyone".as_bytes());
    for server in &mut servers {
        server.send_shared(&frame).await.unwrap();
    }
    // Queued, then flushed once.
    let binary = SharedFrame::new(DataKind::Binary, &[1, 2, 3]);
    for server in &mut servers {
        server.feed_shared(&binary).await.unwrap();
        server.feed(Message::text("own")).await.unwrap();
        server.flush().await.unwrap();
    }
    for client in &mut clients {
        assert_eq!(
            client.recv().await.unwrap(),
            Some(Message::text("to everyone"))
        );
        assert_eq!(
            client.recv().await.unwrap(),
            Some(Message::binary([1, 2, 3]))
        );
    }
    for (client, server) in clients.iter_mut().zip(&mut servers) {
        assert_eq!(client.recv().await.unwrap(), Some(Message::text("own")));
        let served = async {
            let mut last = None;
            while let Some(message) = server.recv().await.unwrap() {
                last = Some(message);
            }
            last
        };
        let (closed, last) = tokio::join!(client.close(CloseCode::Normal, ""), served);
        closed.unwrap();
        assert!(matches!(last, Some(Message::Close(_))), "{last:?}");
    }
}

#[tokio::test]
async fn a_client_refuses_a_shared_frame() {
    let (_servers, mut clients) = connections().await;
    let frame = SharedFrame::new(DataKind::Text, b"unmasked");
    let refused = clients[0].send_shared(&frame).await;
    assert!(
        matches!(
            refused,
            Err(Error::Usage(UsageError::IncompatibleSharedFrame))
        ),
        "{refused:?}"
    );
    // The connection is unharmed.
    clients[0].send(Message::text("fine")).await.unwrap();
}
