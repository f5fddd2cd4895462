//! The tokio adapter over loopback: messages both ways in both roles (against itself and
//! against the mio runtime), fragments, permessage-deflate, subprotocols, refusals, the close
//! handshake, and a connection handed over by an HTTP server (`from_upgraded`).
#![cfg(feature = "tokio")]

mod common;

use fullduplex::config::{DeflateConfig, MessageDelivery};
use fullduplex::protocol::handshake::{Request, Upgrade};
use fullduplex::protocol::{CloseCode, DataKind, Role};
use fullduplex::tokio::{
    accept_with, client, connect, from_upgraded, CloseFrame, Error, Message, Negotiation,
};
use fullduplex::Config;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use common::adapter::{echo, listener, options, serve_one, url};

fn text(chars: usize) -> String {
    "fullduplex ✓ ".chars().cycle().take(chars).collect()
}

fn bytes(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

/// Messages of every length form (RFC 6455 §5.2: 7-bit, 16-bit, 64-bit).
fn messages() -> Vec<Message> {
    vec![
        Message::text("hello"),
        Message::text(""),
        Message::binary(vec![0, 1, 2, 0xff]),
        Message::binary(Vec::new()),
        Message::Text(text(300)),
        Message::Binary(bytes(1000)),
        Message::Text(text(70_000)),
        Message::Binary(bytes(70_000)),
    ]
}

#[tokio::test]
async fn a_tokio_client_and_server_exchange_messages_and_close_cleanly() {
    let (listener, addr) = listener().await;
    let server = serve_one(listener, Config::default(), echo);
    let mut ws = connect(&url(addr, "/"), &options(Config::default()))
        .await
        .unwrap();
    assert_eq!(ws.role(), Role::Client);
    for message in messages() {
        ws.send(message.clone()).await.unwrap();
        assert_eq!(ws.recv().await.unwrap(), Some(message));
    }
    ws.send(Message::Ping(b"are you there?".to_vec()))
        .await
        .unwrap();
    assert_eq!(
        ws.recv().await.unwrap(),
        Some(Message::Pong(b"are you there?".to_vec()))
    );
    let theirs = ws.close(CloseCode::Normal, "done").await.unwrap();
    assert_eq!(theirs.map(|f| f.code), Some(CloseCode::Normal));
    assert_eq!(server.await.unwrap().unwrap(), CloseCode::Normal);
    assert!(matches!(
        ws.send(Message::text("late")).await,
        Err(Error::Closed)
    ));
}

#[tokio::test]
async fn the_server_that_closes_first_gets_the_clients_answer_and_both_ends_end() {
    let (listener, addr) = listener().await;
    let server = serve_one(listener, Config::default(), |mut ws| async move {
        ws.send(Message::text("bye soon")).await?;
        ws.close(CloseCode::GoingAway, "leaving").await
    });
    let mut ws = connect(&url(addr, "/"), &options(Config::default()))
        .await
        .unwrap();
    assert_eq!(ws.recv().await.unwrap(), Some(Message::text("bye soon")));
    let close = CloseFrame {
        code: CloseCode::GoingAway,
        reason: "leaving".into(),
    };
    assert_eq!(ws.recv().await.unwrap(), Some(Message::Close(Some(close))));
    // The answer goes, the server closes TCP first (RFC 6455 §7.1.1), the stream ends.
    assert_eq!(ws.recv().await.unwrap(), None);
    let answer = server.await.unwrap().unwrap();
    assert_eq!(answer.map(|f| f.code), Some(CloseCode::GoingAway));
}

#[tokio::test]
async fn fragments_are_sent_and_streamed_in_pieces() {
    let streamed = Config {
        message_delivery: MessageDelivery::Streamed,
        ..Config::default()
    };
    let (listener, addr) = listener().await;
    let server = serve_one(listener, streamed.clone(), echo);
    let mut ws = connect(&url(addr, "/"), &options(streamed)).await.unwrap();
    let pieces = ["fullduplex ", "✓", " in three"];
    for (at, piece) in pieces.iter().enumerate() {
        let fragment = Message::Fragment {
            kind: DataKind::Text,
            data: piece.as_bytes().to_vec(),
            first: at == 0,
            last: at == pieces.len() - 1,
        };
        ws.send(fragment).await.unwrap();
    }
    let mut received = Vec::new();
    while let Some(Message::Fragment {
        kind, data, last, ..
    }) = ws.recv().await.unwrap()
    {
        assert_eq!(kind, DataKind::Text);
        received.extend_from_slice(&data);
        if last {
            break;
        }
    }
    assert_eq!(received, pieces.concat().as_bytes());
    ws.close(CloseCode::Normal, "").await.unwrap();
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn permessage_deflate_is_agreed_with_the_parameters_asked_and_messages_pass() {
    let server_config = Config {
        deflate: Some(DeflateConfig {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            ..DeflateConfig::default()
        }),
        ..Config::default()
    };
    let client_config = Config {
        deflate: Some(DeflateConfig {
            client_max_window_bits: 10,
            client_no_context_takeover: false,
            server_no_context_takeover: false,
            ..DeflateConfig::default()
        }),
        ..Config::default()
    };
    let (listener, addr) = listener().await;
    let server = serve_one(listener, server_config, |ws| async move {
        let agreed = ws.deflate().expect("deflate agreed");
        assert_eq!(agreed.client_max_window_bits, 10);
        echo(ws).await
    });
    let mut ws = connect(&url(addr, "/"), &options(client_config))
        .await
        .unwrap();
    let agreed = ws.deflate().expect("deflate agreed");
    assert!(!agreed.server_no_context_takeover && !agreed.client_no_context_takeover);
    assert_eq!(agreed.client_max_window_bits, 10);
    for message in messages() {
        ws.send(message.clone()).await.unwrap();
        assert_eq!(ws.recv().await.unwrap(), Some(message));
    }
    ws.close(CloseCode::Normal, "").await.unwrap();
    server.await.unwrap().unwrap();
}

/// The decision the mio server's `Handler::upgrade` makes: refuse `/reject/STATUS`, choose
/// `chat` when offered, add a header, keep the path as the session.
fn decide(
    request: &Request,
    offer: &fullduplex::protocol::handshake::ClientOffer,
) -> Upgrade<String> {
    if let Some(status) = request.path().strip_prefix("/reject/") {
        return Upgrade::reject(status.parse().unwrap(), "refused by the test");
    }
    let chat = offer.subprotocols.iter().any(|p| p == "chat");
    match Upgrade::accept(request.path().to_owned()).with_subprotocol(chat.then_some("chat")) {
        Upgrade::Accept {
            session,
            subprotocol,
            ..
        } => Upgrade::Accept {
            session,
            subprotocol,
            headers: vec![("X-Test".into(), "yes".into())],
        },
        refused => refused,
    }
}

#[tokio::test]
async fn accept_with_chooses_the_subprotocol_and_keeps_the_session() {
    let (listener, addr) = listener().await;
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let (ws, session) = accept_with(tcp, Config::default(), decide).await?;
        assert_eq!(ws.subprotocol(), Some("chat"));
        assert_eq!(session, "/room");
        echo(ws).await
    });
    let mut opts = options(Config::default());
    opts.subprotocols = vec!["other".into(), "chat".into()];
    let mut ws = connect(&url(addr, "/room"), &opts).await.unwrap();
    assert_eq!(ws.subprotocol(), Some("chat"));
    ws.send(Message::text("in the room")).await.unwrap();
    assert_eq!(ws.recv().await.unwrap(), Some(Message::text("in the room")));
    ws.close(CloseCode::Normal, "").await.unwrap();
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_refused_upgrade_reaches_the_client_with_its_status_and_body() {
    let (listener, addr) = listener().await;
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        accept_with(tcp, Config::default(), decide)
            .await
            .map(|_| ())
    });
    let refused = connect(&url(addr, "/reject/403"), &options(Config::default())).await;
    match refused {
        Err(fullduplex::client::ClientError::Refused(refusal)) => {
            assert_eq!(refusal.status, 403);
            assert_eq!(
                refusal.explanation().as_deref(),
                Some("refused by the test")
            );
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(matches!(server.await.unwrap(), Err(Error::Refused(403))));
}

#[tokio::test]
async fn a_request_that_is_not_a_handshake_gets_the_status_the_core_gives() {
    let (listener, addr) = listener().await;
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        fullduplex::tokio::accept(tcp, Config::default())
            .await
            .map(|_| ())
    });
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n";
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    tcp.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 426 "), "{response}");
    assert!(response.contains("\r\nSec-WebSocket-Version: 13\r\n"));
    let error = server.await.unwrap().unwrap_err();
    assert!(matches!(error, Error::Handshake(e) if e.status() == 426));
}

/// An HTTP server's part, by hand: it reads the request head, answers with the headers
/// `Negotiation` computes, and hands the stream to `from_upgraded`.
#[tokio::test]
async fn an_http_server_hands_the_upgraded_connection_over_with_from_upgraded() {
    let config = Config {
        deflate: Some(DeflateConfig::default()),
        ..Config::default()
    };
    let (listener, addr) = listener().await;
    let server_config = config.clone();
    let server = tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            tcp.read_exact(&mut byte).await.unwrap();
            head.push(byte[0]);
        }
        let text = String::from_utf8(head).unwrap();
        let fields: Vec<(&str, &[u8])> = text
            .lines()
            .skip(1)
            .filter_map(|line| line.split_once(": "))
            .map(|(n, v)| (n, v.as_bytes()))
            .collect();
        let negotiation = Negotiation::from_headers("GET", fields, &server_config)
            .unwrap()
            .with_subprotocol(Some("chat"));
        let mut response = String::from("HTTP/1.1 101 Switching Protocols\r\n");
        for (name, value) in negotiation.response_headers() {
            response.push_str(&format!("{name}: {value}\r\n"));
        }
        response.push_str("\r\n");
        tcp.write_all(response.as_bytes()).await.unwrap();
        let subprotocol = negotiation.subprotocol().map(str::to_owned);
        let ws = from_upgraded(
            tcp,
            Role::Server,
            server_config,
            negotiation.deflate(),
            subprotocol,
        );
        echo(ws).await
    });
    let mut opts = options(config);
    opts.subprotocols = vec!["chat".into()];
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut ws = client(tcp, &url(addr, "/ws"), &opts).await.unwrap();
    assert_eq!(ws.subprotocol(), Some("chat"));
    assert!(ws.deflate().is_some(), "permessage-deflate agreed");
    let message = Message::Text(text(5000));
    ws.send(message.clone()).await.unwrap();
    assert_eq!(ws.recv().await.unwrap(), Some(message));
    ws.close(CloseCode::Normal, "").await.unwrap();
    assert_eq!(server.await.unwrap().unwrap(), CloseCode::Normal);
}

#[tokio::test]
async fn a_handshake_from_headers_that_breaks_the_rules_says_its_status() {
    let fields: [(&str, &[u8]); 2] = [("Host", b"x"), ("Upgrade", b"websocket")];
    let error = Negotiation::from_headers("GET", fields, &Config::default()).unwrap_err();
    assert_eq!(error.status(), 400);
    let error = Negotiation::from_headers("POST", [], &Config::default()).unwrap_err();
    assert_eq!(error.status(), 405);
}

/// The futures traits, driven by hand as `SinkExt::send` and `StreamExt::next` drive them.
#[tokio::test]
async fn the_stream_and_sink_traits_carry_messages_and_the_sinks_close_starts_the_handshake() {
    use futures_core::Stream;
    use futures_sink::Sink;
    use std::future::poll_fn;
    use std::pin::Pin;

    let (listener, addr) = listener().await;
    let server = serve_one(listener, Config::default(), echo);
    let mut ws = connect(&url(addr, "/"), &options(Config::default()))
        .await
        .unwrap();
    for message in [Message::text("one"), Message::binary(vec![2; 300])] {
        poll_fn(|cx| Pin::new(&mut ws).poll_ready(cx))
            .await
            .unwrap();
        Pin::new(&mut ws).start_send(message.clone()).unwrap();
        poll_fn(|cx| Pin::new(&mut ws).poll_flush(cx))
            .await
            .unwrap();
        let received = poll_fn(|cx| Pin::new(&mut ws).poll_next(cx)).await;
        assert_eq!(received.unwrap().unwrap(), message);
    }
    poll_fn(|cx| Pin::new(&mut ws).poll_close(cx))
        .await
        .unwrap();
    // The answer comes on the stream side, which then ends.
    let answer = poll_fn(|cx| Pin::new(&mut ws).poll_next(cx)).await;
    match answer.unwrap().unwrap() {
        Message::Close(Some(frame)) => assert_eq!(frame.code, CloseCode::Normal),
        other => panic!("expected the server's Close, got {other:?}"),
    }
    assert!(poll_fn(|cx| Pin::new(&mut ws).poll_next(cx))
        .await
        .is_none());
    assert_eq!(server.await.unwrap().unwrap(), CloseCode::Normal);
}
