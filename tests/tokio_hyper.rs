//! A real axum application (`examples/axum_route.rs`, hyper underneath) whose `/ws` route hands
//! connections to the tokio adapter with `Negotiation` and `from_upgraded`, end to end over
//! loopback (127.0.0.1, port 0), with our client and with tokio-tungstenite's: echo, the
//! subprotocol and permessage-deflate negotiated through the route (RFC 6455 §4.2.2,
//! RFC 7692 §5), requests that are not opening handshakes refused with
//! `HandshakeError::status()` (RFC 6455 §4.2.1, §4.4), and the plain HTTP route beside it.
#![cfg(feature = "tokio")]

#[path = "../examples/axum_route.rs"]
#[allow(dead_code)]
mod axum_route;
#[path = "common/interop.rs"]
mod interop;

use std::net::SocketAddr;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message as TMessage;

use fullduplex::client::ClientOptions;
use fullduplex::config::DeflateConfig;
use fullduplex::protocol::CloseCode;
use fullduplex::tokio::{connect, Message};
use fullduplex::{Config, HandshakeError};
use interop::{large_binary, large_text, run};

/// Serves the example's application on 127.0.0.1, port 0, for as long as the test runs.
async fn serve() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum_route::app(axum_route::config());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// Sends `request` as it is and reads the response until the server closes: its status, head
/// and body.
async fn exchange(addr: SocketAddr, request: &str) -> (u16, String, String) {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    tcp.read_to_string(&mut response).await.unwrap();
    let (head, body) = response.split_once("\r\n\r\n").expect("a response head");
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok());
    (status.expect("a status"), head.to_owned(), body.to_owned())
}

/// An opening handshake for `/ws`, closing after the answer, with `fields` (each ending in
/// CRLF) in place of the key and version.
fn handshake_with(method: &str, fields: &str) -> String {
    format!(
        "{method} /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n\
         Connection: Upgrade, close\r\n{fields}\r\n"
    )
}

/// Whether a response head has the field `name: value` (the name in any case).
fn has_field(head: &str, name: &str, value: &str) -> bool {
    head.lines().any(|line| {
        line.split_once(':')
            .is_some_and(|(n, v)| n.eq_ignore_ascii_case(name) && v.trim() == value)
    })
}

#[test]
fn the_plain_http_route_answers_beside_the_websocket_route() {
    run(async {
        let addr = serve().await;
        let request = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
        let (status, _, body) = exchange(addr, request).await;
        assert_eq!(status, 200);
        assert_eq!(body, "fullduplex under axum: connect to /ws\n");
    });
}

#[test]
fn our_client_echoes_through_the_route_with_permessage_deflate_and_a_subprotocol() {
    run(async {
        let addr = serve().await;
        let options = ClientOptions {
            config: Config {
                deflate: Some(DeflateConfig::default()),
                ..Config::default()
            },
            subprotocols: vec!["chat".into()],
            ..ClientOptions::default()
        };
        let mut ws = connect(&format!("ws://{addr}/ws"), &options).await.unwrap();
        assert_eq!(ws.subprotocol(), Some("chat"));
        assert!(
            ws.deflate().is_some(),
            "permessage-deflate agreed by the route"
        );
        for message in [
            Message::text("hello"),
            Message::binary([0, 1, 2, 0xff]),
            Message::text(large_text(1 << 20)),
            Message::binary(large_binary(1 << 20)),
        ] {
            ws.send(message.clone()).await.unwrap();
            assert_eq!(ws.recv().await.unwrap(), Some(message));
        }
        let theirs = ws.close(CloseCode::Normal, "done").await.unwrap();
        assert_eq!(theirs.map(|f| f.code), Some(CloseCode::Normal));
    });
}

#[test]
fn a_tungstenite_client_echoes_through_the_route_and_closes() {
    run(async {
        let addr = serve().await;
        let mut request = format!("ws://{addr}/ws").into_client_request().unwrap();
        let offer = HeaderValue::from_static("chat");
        request
            .headers_mut()
            .insert("sec-websocket-protocol", offer);
        let (mut ws, response) = tokio_tungstenite::connect_async(request).await.unwrap();
        let protocol = response.headers().get("sec-websocket-protocol");
        assert_eq!(protocol.map(|v| v.to_str().unwrap()), Some("chat"));
        assert_eq!(response.headers().get("sec-websocket-extensions"), None);
        for message in [
            TMessage::text("hello"),
            TMessage::binary(large_binary(1 << 20)),
        ] {
            ws.send(message.clone()).await.unwrap();
            assert_eq!(ws.next().await.unwrap().unwrap(), message);
        }
        ws.close(None).await.unwrap();
        let answer = ws.next().await.unwrap().unwrap();
        assert!(matches!(answer, TMessage::Close(_)), "{answer:?}");
        assert!(ws.next().await.is_none());
    });
}

#[test]
fn a_request_without_a_key_is_refused_with_the_status_of_its_error() {
    run(async {
        let addr = serve().await;
        let request = handshake_with("GET", "Sec-WebSocket-Version: 13\r\n");
        let (status, _, body) = exchange(addr, &request).await;
        assert_eq!(status, HandshakeError::InvalidKey.status());
        assert_eq!(body.trim(), HandshakeError::InvalidKey.reason());
    });
}

#[test]
fn another_version_is_refused_with_426_and_the_version_the_route_speaks() {
    run(async {
        let addr = serve().await;
        let fields = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n";
        let (status, head, _) = exchange(addr, &handshake_with("GET", fields)).await;
        assert_eq!(status, HandshakeError::UnsupportedVersion.status());
        assert!(has_field(&head, "Sec-WebSocket-Version", "13"), "{head}");
        let fields = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";
        let (status, head, _) = exchange(addr, &handshake_with("POST", fields)).await;
        assert_eq!(status, HandshakeError::MethodNotAllowed.status());
        assert!(has_field(&head, "Allow", "GET"), "{head}");
    });
}
