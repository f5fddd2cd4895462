//! The tokio adapter against tokio-tungstenite, both ways, over loopback (127.0.0.1, port 0):
//! our `connect` against a tokio-tungstenite server, and a tokio-tungstenite client against
//! our `accept_with`. Text, binary, 1 MiB and fragmented messages (RFC 6455 §5.4, §5.6),
//! Ping and Pong (§5.5.2, §5.5.3), the close handshake with a code and reason begun by either
//! side (§7), a subprotocol (§4.2.2), a refused upgrade (§4.2.2, §4.1), and a
//! permessage-deflate offer declined (RFC 7692 §5: tungstenite does not implement it).
#![cfg(feature = "tokio")]

#[path = "common/interop.rs"]
mod interop;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::protocol::frame::CloseFrame as TCloseFrame;
use tokio_tungstenite::tungstenite::{Error as TError, Message as TMessage};

use fullduplex::client::{ClientError, ClientOptions};
use fullduplex::config::DeflateConfig;
use fullduplex::protocol::CloseCode;
use fullduplex::tokio::{accept_with, connect, CloseFrame, Error, Message, Upgrade};
use fullduplex::Config;
use interop::*;

/// The messages each echo test sends: every length form (RFC 6455 §5.2), 1 MiB included.
fn messages() -> Vec<Message> {
    vec![
        Message::text("hello"),
        Message::text(""),
        Message::binary([0, 1, 2, 0xff]),
        Message::binary([]),
        Message::text(large_text(1 << 20)),
        Message::binary(large_binary(1 << 20)),
    ]
}

/// A config that offers (client) or accepts (server) permessage-deflate.
fn with_deflate() -> Config {
    Config {
        deflate: Some(DeflateConfig::default()),
        ..Config::default()
    }
}

/// A header's value in tungstenite's request or response.
fn header<B>(
    message: &tokio_tungstenite::tungstenite::http::Response<B>,
    name: &str,
) -> Option<String> {
    let value = message.headers().get(name)?;
    Some(value.to_str().ok()?.to_owned())
}

// ---- our client, a tokio-tungstenite server ----

/// What the tungstenite server saw: the extensions offered, and its script's messages.
type TungsteniteServed = (Option<String>, Result<Vec<TMessage>, TError>);

/// A tokio-tungstenite server for one connection that runs [`tungstenite_script`]: it
/// chooses the subprotocol `chat` when offered and refuses `/refuse` with 403.
async fn tungstenite_server() -> (SocketAddr, JoinHandle<TungsteniteServed>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let served = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let offered = Arc::new(Mutex::new(None));
        let record = offered.clone();
        let callback = move |request: &Request, mut response: Response| {
            let extensions = request.headers().get("sec-websocket-extensions");
            *record.lock().unwrap() = extensions.map(|v| v.to_str().unwrap().to_owned());
            if request.uri().path() == "/refuse" {
                let mut refusal = ErrorResponse::new(Some("refused by the test".into()));
                *refusal.status_mut() = StatusCode::FORBIDDEN;
                return Err(refusal);
            }
            let protocols = request.headers().get("sec-websocket-protocol");
            let protocols = protocols.map(|v| v.to_str().unwrap()).unwrap_or_default();
            if protocols.split(',').any(|p| p.trim() == "chat") {
                let chat = HeaderValue::from_static("chat");
                response
                    .headers_mut()
                    .insert("sec-websocket-protocol", chat);
            }
            Ok(response)
        };
        let script = match tokio_tungstenite::accept_hdr_async(tcp, callback).await {
            Ok(ws) => tungstenite_script(ws).await,
            Err(e) => Err(e),
        };
        let offered = offered.lock().unwrap().take();
        (offered, script)
    });
    (addr, served)
}

/// Our client on `path` of a new tungstenite server, with `options`.
async fn our_client_with(
    path: &str,
    options: &ClientOptions,
) -> (
    fullduplex::tokio::WebSocketStream<fullduplex::tokio::ClientStream>,
    JoinHandle<TungsteniteServed>,
) {
    let (addr, served) = tungstenite_server().await;
    let ws = connect(&format!("ws://{addr}{path}"), options)
        .await
        .unwrap();
    (ws, served)
}

/// The messages the tungstenite server saw, once the connection has ended.
async fn tungstenite_saw(served: JoinHandle<TungsteniteServed>) -> Vec<TMessage> {
    served
        .await
        .unwrap()
        .1
        .expect("the tungstenite server's connection")
}

#[test]
fn our_client_exchanges_text_binary_and_1_mib_with_tungstenite_deflate_declined() {
    run(async {
        let options = ClientOptions {
            config: with_deflate(),
            ..ClientOptions::default()
        };
        let (mut ws, served) = our_client_with("/", &options).await;
        assert_eq!(ws.deflate(), None, "tungstenite has no permessage-deflate");
        for message in messages() {
            ws.send(message.clone()).await.unwrap();
            assert_eq!(ws.recv().await.unwrap(), Some(message));
        }
        let theirs = ws.close(CloseCode::Normal, "done").await.unwrap();
        assert_eq!(theirs.map(|f| f.code), Some(CloseCode::Normal));
        let (offered, seen) = served.await.unwrap();
        let offered = offered.expect("our client offered an extension");
        assert!(offered.starts_with("permessage-deflate"), "{offered}");
        assert_eq!(
            seen.unwrap().len(),
            messages().len() + 1,
            "the data and our Close"
        );
    });
}

#[test]
fn our_client_sends_and_receives_fragments_with_tungstenite() {
    run(async {
        let (mut ws, served) = our_client_with("/", &ClientOptions::default()).await;
        send_our_fragments(&mut ws).await.unwrap();
        assert_eq!(ws.recv().await.unwrap(), Some(Message::text(FRAGMENTED)));
        ws.send(Message::text("fragments")).await.unwrap();
        assert_eq!(ws.recv().await.unwrap(), Some(Message::text(FRAGMENTED)));
        ws.close(CloseCode::Normal, "").await.unwrap();
        let seen = tungstenite_saw(served).await;
        assert_eq!(seen[0], TMessage::text(FRAGMENTED));
    });
}

#[test]
fn our_client_pings_and_answers_tungstenite_pings() {
    run(async {
        let (mut ws, served) = our_client_with("/", &ClientOptions::default()).await;
        ws.send(Message::Ping(b"are you there".to_vec()))
            .await
            .unwrap();
        assert_eq!(
            ws.recv().await.unwrap(),
            Some(Message::Pong(b"are you there".to_vec()))
        );
        ws.send(Message::text("ping hello")).await.unwrap();
        assert_eq!(
            ws.recv().await.unwrap(),
            Some(Message::Ping(b"hello".to_vec()))
        );
        ws.close(CloseCode::Normal, "").await.unwrap();
        let seen = tungstenite_saw(served).await;
        assert!(
            seen.contains(&TMessage::Ping(b"are you there".to_vec().into())),
            "{seen:?}"
        );
        assert!(
            seen.contains(&TMessage::Pong(b"hello".to_vec().into())),
            "{seen:?}"
        );
    });
}

#[test]
fn our_client_closes_with_a_code_and_reason_and_tungstenite_answers() {
    run(async {
        let (mut ws, served) = our_client_with("/", &ClientOptions::default()).await;
        let theirs = ws
            .close(CloseCode::try_from(4000).unwrap(), "bye")
            .await
            .unwrap();
        let expected = CloseFrame {
            code: CloseCode::try_from(4000).unwrap(),
            reason: "bye".into(),
        };
        assert_eq!(theirs, Some(expected), "tungstenite echoes the whole frame");
        let seen = tungstenite_saw(served).await;
        assert_eq!(tungstenite_close(&seen[0]), Some((4000, "bye".into())));
    });
}

#[test]
fn a_tungstenite_server_closes_with_a_code_and_reason_and_our_client_answers() {
    run(async {
        let (mut ws, served) = our_client_with("/", &ClientOptions::default()).await;
        ws.send(Message::text("close 4001 server done"))
            .await
            .unwrap();
        let expected = CloseFrame {
            code: CloseCode::try_from(4001).unwrap(),
            reason: "server done".into(),
        };
        assert_eq!(
            ws.recv().await.unwrap(),
            Some(Message::Close(Some(expected)))
        );
        assert_eq!(ws.recv().await.unwrap(), None);
        let seen = tungstenite_saw(served).await;
        assert_eq!(
            seen.last().and_then(tungstenite_close).map(|c| c.0),
            Some(4001)
        );
    });
}

#[test]
fn our_client_gets_the_subprotocol_a_tungstenite_server_chose() {
    run(async {
        let options = ClientOptions {
            subprotocols: vec!["superchat".into(), "chat".into()],
            ..ClientOptions::default()
        };
        let (mut ws, served) = our_client_with("/", &options).await;
        assert_eq!(ws.subprotocol(), Some("chat"));
        ws.close(CloseCode::Normal, "").await.unwrap();
        tungstenite_saw(served).await;
    });
}

#[test]
fn our_client_reports_a_tungstenite_refusal_with_its_status_and_body() {
    run(async {
        let (addr, served) = tungstenite_server().await;
        let url = format!("ws://{addr}/refuse");
        match connect(&url, &ClientOptions::default()).await {
            Err(ClientError::Refused(refusal)) => {
                assert_eq!(refusal.status, 403);
                assert_eq!(refusal.body, b"refused by the test");
            }
            Err(other) => panic!("not a refusal: {other}"),
            Ok(_) => panic!("the upgrade was accepted"),
        }
        assert!(served.await.unwrap().1.is_err());
    });
}

// ---- a tokio-tungstenite client, our server ----

/// Our server for one connection, permessage-deflate on, that runs [`our_script`]: it
/// chooses the subprotocol `chat` when offered and refuses `/refuse` with 403.
async fn our_server() -> (String, JoinHandle<Result<Vec<Message>, Error>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    let served = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let decide = |request: &fullduplex::protocol::handshake::Request, _: &_| {
            if request.path() == "/refuse" {
                return Upgrade::reject(403, "refused by the test");
            }
            Upgrade::accept(()).with_subprotocol(Some("chat"))
        };
        let (ws, ()) = accept_with(tcp, with_deflate(), decide).await?;
        our_script(ws).await
    });
    (url, served)
}

type TungsteniteClient =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

/// A tungstenite client of a new server of ours, on `/`.
async fn tungstenite_client() -> (TungsteniteClient, JoinHandle<Result<Vec<Message>, Error>>) {
    let (url, served) = our_server().await;
    let (ws, response) = tokio_tungstenite::connect_async(format!("{url}/"))
        .await
        .unwrap();
    assert_eq!(header(&response, "sec-websocket-extensions"), None);
    (ws, served)
}

/// The next message a tungstenite client receives.
async fn next(ws: &mut TungsteniteClient) -> TMessage {
    ws.next().await.expect("a message").expect("a message")
}

/// Closes a tungstenite client and reads until the end; then drops it, which closes the TCP
/// connection our server waits for (RFC 6455 §7.1.1: the client closes after the server).
async fn close_tungstenite(mut ws: TungsteniteClient, code: u16, reason: &str) -> Vec<TMessage> {
    let frame = TCloseFrame {
        code: code.into(),
        reason: reason.into(),
    };
    ws.close(Some(frame)).await.unwrap();
    let mut rest = Vec::new();
    while let Some(message) = ws.next().await {
        rest.push(message.unwrap());
    }
    rest
}

#[test]
fn a_tungstenite_client_exchanges_text_binary_and_1_mib_with_our_server() {
    run(async {
        let (mut ws, served) = tungstenite_client().await;
        for message in messages() {
            let sent = match message {
                Message::Text(text) => TMessage::text(text),
                Message::Binary(data) => TMessage::binary(data),
                other => unreachable!("{other:?}"),
            };
            ws.send(sent.clone()).await.unwrap();
            assert_eq!(next(&mut ws).await, sent);
        }
        // RFC 6455 §5.5.1: the answer echoes the status code (its reason is ours to choose).
        let rest = close_tungstenite(ws, 1000, "done").await;
        assert_eq!(
            rest.first().and_then(tungstenite_close).map(|c| c.0),
            Some(1000)
        );
        let seen = served.await.unwrap().unwrap();
        assert_eq!(seen.len(), messages().len() + 1, "the data and the Close");
    });
}

#[test]
fn a_tungstenite_client_sends_and_receives_fragments_with_our_server() {
    run(async {
        let (mut ws, served) = tungstenite_client().await;
        send_tungstenite_fragments(&mut ws).await.unwrap();
        assert_eq!(next(&mut ws).await, TMessage::text(FRAGMENTED));
        ws.send(TMessage::text("fragments")).await.unwrap();
        assert_eq!(next(&mut ws).await, TMessage::text(FRAGMENTED));
        close_tungstenite(ws, 1000, "").await;
        let seen = served.await.unwrap().unwrap();
        assert_eq!(seen[0], Message::text(FRAGMENTED));
    });
}

#[test]
fn a_tungstenite_client_pings_and_answers_our_servers_pings() {
    run(async {
        let (mut ws, served) = tungstenite_client().await;
        ws.send(TMessage::Ping(b"are you there".to_vec().into()))
            .await
            .unwrap();
        assert_eq!(
            next(&mut ws).await,
            TMessage::Pong(b"are you there".to_vec().into())
        );
        ws.send(TMessage::text("ping hello")).await.unwrap();
        assert_eq!(
            next(&mut ws).await,
            TMessage::Ping(b"hello".to_vec().into())
        );
        // tungstenite sends its Pong with its next frame (a Close would replace it): a message
        // echoed after it shows the Pong reached our server.
        ws.send(TMessage::text("after")).await.unwrap();
        assert_eq!(next(&mut ws).await, TMessage::text("after"));
        close_tungstenite(ws, 1000, "").await;
        let seen = served.await.unwrap().unwrap();
        assert!(
            seen.contains(&Message::Ping(b"are you there".to_vec())),
            "{seen:?}"
        );
        assert!(seen.contains(&Message::Pong(b"hello".to_vec())), "{seen:?}");
    });
}

#[test]
fn a_tungstenite_client_closes_with_a_code_and_reason_and_our_server_answers() {
    run(async {
        let (ws, served) = tungstenite_client().await;
        let rest = close_tungstenite(ws, 4000, "bye").await;
        assert_eq!(
            rest.first().and_then(tungstenite_close).map(|c| c.0),
            Some(4000)
        );
        let seen = served.await.unwrap().unwrap();
        let expected = CloseFrame {
            code: CloseCode::try_from(4000).unwrap(),
            reason: "bye".into(),
        };
        assert_eq!(seen, [Message::Close(Some(expected))]);
    });
}

#[test]
fn our_server_closes_with_a_code_and_reason_and_a_tungstenite_client_answers() {
    run(async {
        let (mut ws, served) = tungstenite_client().await;
        ws.send(TMessage::text("close 4001 server done"))
            .await
            .unwrap();
        assert_eq!(
            tungstenite_close(&next(&mut ws).await),
            Some((4001, "server done".into()))
        );
        assert!(
            ws.next().await.is_none(),
            "the end after the close handshake"
        );
        drop(ws);
        let seen = served.await.unwrap().unwrap();
        let theirs = seen.last().unwrap();
        assert!(
            matches!(theirs, Message::Close(Some(f)) if u16::from(f.code) == 4001),
            "{theirs:?}"
        );
    });
}

#[test]
fn a_tungstenite_client_gets_the_subprotocol_our_server_chose() {
    run(async {
        let (url, served) = our_server().await;
        let mut request = format!("{url}/").into_client_request().unwrap();
        let offer = HeaderValue::from_static("superchat, chat");
        request
            .headers_mut()
            .insert("sec-websocket-protocol", offer);
        let (ws, response) = tokio_tungstenite::connect_async(request).await.unwrap();
        assert_eq!(
            header(&response, "sec-websocket-protocol").as_deref(),
            Some("chat")
        );
        close_tungstenite(ws, 1000, "").await;
        served.await.unwrap().unwrap();
    });
}

#[test]
fn a_tungstenite_client_sees_our_refusal_with_its_status_and_body() {
    run(async {
        let (url, served) = our_server().await;
        match tokio_tungstenite::connect_async(format!("{url}/refuse")).await {
            Err(TError::Http(response)) => {
                assert_eq!(response.status(), StatusCode::FORBIDDEN);
                let body = response.body().as_deref().unwrap_or_default();
                assert_eq!(String::from_utf8_lossy(body).trim(), "refused by the test");
            }
            Err(other) => panic!("not a refusal: {other}"),
            Ok(_) => panic!("the upgrade was accepted"),
        }
        assert!(matches!(served.await.unwrap(), Err(Error::Refused(403))));
    });
}
