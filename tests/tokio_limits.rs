//! The tokio adapter keeps every limit of `Config` and fails a peer that breaks the protocol
//! with the right code (RFC 6455 §7.4.1): 1009 for a message too big, 1007 for text that is
//! not UTF-8, 1002 for an unmasked client frame; the handshake's own limits answer with their
//! HTTP status.
#![cfg(feature = "tokio")]

mod common;

use fullduplex::protocol::{CloseCode, OwnedEvent};
use fullduplex::tokio::{connect, Error, Message};
use fullduplex::{Config, ProtocolError};

use common::adapter::{echo, listener, options, serve_one, url, RawPeer};

/// A server with `config` that echoes; a raw peer writes `bytes` after the handshake and must
/// get a Close with `code`, then the end of the TCP connection; the server reports `error`.
async fn raw_bytes_fail_with(config: Config, bytes: &[u8], code: CloseCode) -> Error {
    let (listener, addr) = listener().await;
    let server = serve_one(listener, config, echo);
    let mut peer = RawPeer::connect(addr, "/", "").await;
    assert!(peer.upgraded(), "{}", peer.response);
    peer.write(bytes).await;
    assert_eq!(peer.close_code().await, code);
    assert!(peer.ends().await, "the server closes the TCP connection");
    server.await.unwrap().unwrap_err()
}

#[tokio::test]
async fn an_unmasked_client_frame_fails_the_connection_with_1002() {
    // RFC 6455 §5.1: "The server MUST close the connection upon receiving a frame that is not
    // masked."
    let error = raw_bytes_fail_with(
        Config::default(),
        &[0x81, 0x02, b'h', b'i'],
        CloseCode::ProtocolError,
    )
    .await;
    assert!(matches!(error, Error::Protocol(e) if e.close_code() == CloseCode::ProtocolError));
}

#[tokio::test]
async fn text_that_is_not_utf8_fails_the_connection_with_1007() {
    // A masked text frame (key 0) whose payload is 0xff: never valid UTF-8.
    let frame = [0x81, 0x81, 0, 0, 0, 0, 0xff];
    let error = raw_bytes_fail_with(Config::default(), &frame, CloseCode::InvalidPayload).await;
    assert!(matches!(error, Error::Protocol(e) if e.close_code() == CloseCode::InvalidPayload));
}

#[tokio::test]
async fn a_frame_over_the_size_limit_fails_with_1009_before_its_payload_arrives() {
    let config = Config {
        max_frame_size: 1024,
        ..Config::default()
    };
    // A header announcing 1 MiB, and none of the payload.
    let mut header = vec![0x82, 0xFF];
    header.extend_from_slice(&(1u64 << 20).to_be_bytes());
    header.extend_from_slice(&[0, 0, 0, 0]);
    let error = raw_bytes_fail_with(config, &header, CloseCode::TooBig).await;
    assert!(matches!(error, Error::Protocol(e) if e.close_code() == CloseCode::TooBig));
}

#[tokio::test]
async fn a_message_over_the_limit_from_a_tokio_client_is_refused_with_1009() {
    let config = Config {
        max_message_size: 4096,
        ..Config::default()
    };
    let (listener, addr) = listener().await;
    let server = serve_one(listener, config, echo);
    let mut ws = connect(&url(addr, "/"), &options(Config::default()))
        .await
        .unwrap();
    ws.send(Message::binary(vec![7; 4096])).await.unwrap();
    assert_eq!(
        ws.recv().await.unwrap(),
        Some(Message::binary(vec![7; 4096]))
    );
    ws.send(Message::binary(vec![7; 4097])).await.unwrap();
    match ws.recv().await.unwrap() {
        Some(Message::Close(Some(frame))) => assert_eq!(frame.code, CloseCode::TooBig),
        other => panic!("expected the server's Close, got {other:?}"),
    }
    assert_eq!(ws.recv().await.unwrap(), None);
    let error = server.await.unwrap().unwrap_err();
    assert!(
        matches!(error, Error::Protocol(ProtocolError::MessageTooLarge)),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_client_fails_a_server_that_masks_its_frames_with_1002() {
    // RFC 6455 §5.1: "A client MUST close a connection if it detects a masked frame."
    let (listener, addr) = listener().await;
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut peer = common::adapter::RawServer::accept(tcp).await;
        peer.write(&[0x81, 0x82, 1, 2, 3, 4, b'h' ^ 1, b'i' ^ 2])
            .await;
        peer.close_code().await
    });
    let mut ws = connect(&url(addr, "/"), &options(Config::default()))
        .await
        .unwrap();
    match ws.recv().await {
        Err(Error::Protocol(e)) => assert_eq!(e.close_code(), CloseCode::ProtocolError),
        other => panic!("expected a protocol error, got {other:?}"),
    }
    assert_eq!(server.await.unwrap(), CloseCode::ProtocolError);
}

#[tokio::test]
async fn a_request_head_over_the_size_limit_is_refused_with_431() {
    let config = Config {
        max_handshake_size: 1024,
        ..Config::default()
    };
    let (listener, addr) = listener().await;
    let server = serve_one(listener, config, echo);
    let padding = format!("X-Padding: {}\r\n", "a".repeat(2000));
    let peer = RawPeer::connect(addr, "/", &padding).await;
    assert!(
        peer.response.starts_with("HTTP/1.1 431 "),
        "{}",
        peer.response
    );
    let error = server.await.unwrap().unwrap_err();
    assert!(matches!(error, Error::Handshake(e) if e.status() == 431));
}

#[tokio::test]
async fn a_ping_is_answered_even_by_a_server_that_only_reads() {
    let (listener, addr) = listener().await;
    let server = serve_one(listener, Config::default(), echo);
    let mut peer = RawPeer::connect(addr, "/", "").await;
    // A masked Ping (key 0) with payload "hi".
    peer.write(&[0x89, 0x82, 0, 0, 0, 0, b'h', b'i']).await;
    assert_eq!(
        peer.next_event().await,
        Some(OwnedEvent::Pong(b"hi".to_vec()))
    );
    drop(peer);
    assert!(matches!(
        server.await.unwrap(),
        Err(Error::Abnormal) | Err(Error::Io(_))
    ));
}
