//! The tokio adapter against the mio runtime, both ways, and over TLS: its client against the
//! mio server (plain, and `wss://` with feature `tokio-tls`), the mio blocking client against
//! its server, with the TLS failures explained in the same words as the mio client's.
#![cfg(all(feature = "tokio", feature = "runtime"))]

mod common;

use fullduplex::config::DeflateConfig;
use fullduplex::protocol::{CloseCode, OwnedEvent};
use fullduplex::tokio::Message;
use fullduplex::Config;

use common::adapter::{echo, listener, options, serve_one, url};
use common::runtime::{start_app, test_config};

fn deflate() -> Config {
    Config {
        deflate: Some(DeflateConfig::default()),
        ..test_config()
    }
}

#[tokio::test]
async fn the_tokio_client_talks_to_the_mio_server_with_deflate() {
    let (server, _events) = start_app(deflate());
    let mut ws = fullduplex::tokio::connect(&url(server.local_addr(), "/"), &options(deflate()))
        .await
        .unwrap();
    assert!(ws.deflate().is_some());
    for len in [0, 125, 126, 65_536, 1 << 20] {
        let message = Message::binary(vec![b'x'; len]);
        ws.send(message.clone()).await.unwrap();
        assert_eq!(ws.recv().await.unwrap(), Some(message));
    }
    // The test application closes with the code asked for; the mio server closes TCP first.
    ws.send(Message::text("close 4000")).await.unwrap();
    match ws.recv().await.unwrap() {
        Some(Message::Close(Some(frame))) => assert_eq!(frame.code, CloseCode::Private(4000)),
        other => panic!("expected the server's Close, got {other:?}"),
    }
    assert_eq!(ws.recv().await.unwrap(), None);
}

#[tokio::test]
async fn the_mio_blocking_client_talks_to_the_tokio_server_with_deflate() {
    let (listener, addr) = listener().await;
    let server = serve_one(listener, deflate(), echo);
    let client = tokio::task::spawn_blocking(move || {
        let opts = fullduplex::client::ClientOptions {
            config: deflate(),
            ..Default::default()
        };
        let mut ws = fullduplex::client::connect_with(&url(addr, "/"), &opts).unwrap();
        assert!(ws
            .response()
            .extensions
            .iter()
            .any(|e| e.name == "permessage-deflate"));
        for len in [0, 125, 126, 65_536, 1 << 20] {
            let payload = vec![b'y'; len];
            ws.send_binary(&payload).unwrap();
            assert_eq!(ws.recv().unwrap(), OwnedEvent::Binary(payload));
        }
        ws.close(CloseCode::Normal, "done", common::runtime::DEADLINE)
            .unwrap();
        // RFC 6455 §7.1.1: the server closes the TCP connection first.
        assert!(ws.wait_for_server_close(common::runtime::DEADLINE));
    });
    client.await.unwrap();
    assert_eq!(server.await.unwrap().unwrap(), CloseCode::Normal);
}

#[cfg(all(feature = "tokio-tls", feature = "dev-cert"))]
mod tls {
    use super::*;
    use fullduplex::server::{tls, Server};

    #[tokio::test]
    async fn the_tokio_client_speaks_wss_to_the_mio_server() {
        let cert = tls::self_signed(&[]).unwrap();
        let (app, _events) = common::runtime::TestApp::new();
        let server = Server::new(deflate(), app)
            .with_tls(cert.server.clone())
            .bind("127.0.0.1:0")
            .unwrap();
        let server = common::runtime::TestServer::from(server);
        let url = format!("wss://localhost:{}/", server.local_addr().port());
        let mut opts = options(deflate());
        opts.tls =
            Some(fullduplex::client::tls::trusting(std::slice::from_ref(&cert.cert_der)).unwrap());
        let mut ws = fullduplex::tokio::connect(&url, &opts).await.unwrap();
        for len in [0, 126, 1 << 20] {
            let message = Message::binary(vec![b'z'; len]);
            ws.send(message.clone()).await.unwrap();
            assert_eq!(ws.recv().await.unwrap(), Some(message));
        }
        let theirs = ws.close(CloseCode::Normal, "").await.unwrap();
        assert_eq!(theirs.map(|f| f.code), Some(CloseCode::Normal));
        // A certificate the client does not trust: the mio client's sentence.
        let other = tls::self_signed(&[]).unwrap();
        opts.tls = Some(fullduplex::client::tls::trusting(&[other.cert_der]).unwrap());
        let error = fullduplex::tokio::connect(&url, &opts).await.unwrap_err();
        assert!(error.tls().is_some(), "{error}");
        assert!(error.to_string().contains("issuer"), "{error}");
    }

    #[tokio::test]
    async fn wss_to_a_plain_server_says_so() {
        let (listener, addr) = listener().await;
        let _server = serve_one(listener, test_config(), echo);
        let url = format!("wss://localhost:{}/", addr.port());
        let error = fullduplex::tokio::connect(&url, &options(test_config()))
            .await
            .unwrap_err();
        assert!(error.to_string().contains("TLS"), "{error}");
    }
}
