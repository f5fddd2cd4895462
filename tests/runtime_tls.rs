//! The server and the blocking client over TLS (`wss://`) on loopback, with the self-signed
//! certificate of `fullduplex::server::tls` and a client that trusts exactly it: echo,
//! Ping, both closes, shutdown, garbage, and peers that do not speak TLS.
#![cfg(feature = "dev-cert")]

mod common;

use std::io::Write;
use std::time::{Duration, Instant};

use common::runtime::*;
use fullduplex::client::{self, ClientError, ClientOptions, WebSocket};
use fullduplex::config::DeflateConfig;
use fullduplex::protocol::{CloseCode, OwnedEvent};
use fullduplex::server::{tls, Server, ServerConfig};
use fullduplex::Config;

struct Wss {
    server: TestServer,
    events: std::sync::mpsc::Receiver<AppEvent>,
    url: String,
    options: ClientOptions,
}

fn start_wss(config: impl Into<ServerConfig>) -> Wss {
    let config: ServerConfig = config.into();
    let cert = tls::self_signed(&[]).unwrap();
    let (app, events) = TestApp::new();
    let server = Server::new(server_config(config.clone()), app)
        .with_tls(cert.server.clone())
        .bind("127.0.0.1:0")
        .unwrap();
    let url = format!("wss://localhost:{}/", server.local_addr().port());
    let options = ClientOptions {
        config: config.connection,
        tls: Some(fullduplex::client::tls::trusting(&[cert.cert_der]).unwrap()),
        ..ClientOptions::default()
    };
    Wss {
        server: TestServer::from(server),
        events,
        url,
        options,
    }
}

impl Wss {
    fn connect(&self) -> WebSocket {
        connect_with(&self.url, &self.options)
    }
}

fn echo_over_tls(deflate: bool) {
    let config = Config {
        deflate: deflate.then(DeflateConfig::default),
        ..test_config()
    };
    let wss = start_wss(config);
    let mut ws = wss.connect();
    for len in [0, 1, 125, 126, 65_535, 65_536, 1 << 20, 16 << 20] {
        let text: String = (0..len)
            .map(|i| char::from(b'a' + (i % 23) as u8))
            .collect();
        ws.send_text(&text).unwrap();
        match next_event(&mut ws) {
            OwnedEvent::Text(got) => assert!(got == text, "{len} bytes differ"),
            other => panic!("{len} bytes: got {other:?}"),
        }
        let bytes: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
        ws.send_binary(&bytes).unwrap();
        assert!(next_event(&mut ws) == OwnedEvent::Binary(bytes), "{len}");
    }
    let (code, _) = ws.close(CloseCode::Normal, "bye", DEADLINE).unwrap();
    assert_eq!(code, CloseCode::Normal);
    let (_, info) = next_close(&wss.events);
    assert_eq!((info.code, info.clean), (CloseCode::Normal, true));
}

#[test]
fn echoes_0_bytes_to_16_mib_over_tls() {
    echo_over_tls(false);
}

#[test]
fn echoes_0_bytes_to_16_mib_over_tls_with_permessage_deflate() {
    echo_over_tls(true);
}

#[test]
fn ping_and_a_close_begun_by_the_server_over_tls() {
    let wss = start_wss(test_config());
    let mut ws = wss.connect();
    ws.ping(b"tls").unwrap();
    assert_eq!(next_event(&mut ws), OwnedEvent::Pong(b"tls".to_vec()));
    ws.send_text("close 4002").unwrap();
    let (code, _) = expect_close(&mut ws);
    assert_eq!(code, CloseCode::try_from(4002).unwrap());
    let (_, info) = next_close(&wss.events);
    assert_eq!((info.code, info.clean), (code, true));
}

#[test]
fn graceful_shutdown_sends_1001_over_tls() {
    let wss = start_wss(test_config());
    let mut clients: Vec<_> = (0..10).map(|_| wss.connect()).collect();
    let server = wss.server.into_inner();
    server.handle().shutdown();
    for ws in &mut clients {
        assert_eq!(expect_close(ws).0, CloseCode::GoingAway);
    }
    drop(clients);
    let handle = server.handle();
    server.join();
    assert_eq!(handle.stats().connections, 0);
}

#[test]
fn garbage_inside_tls_fails_with_1002_and_others_go_on() {
    let wss = start_wss(test_config());
    let mut good = wss.connect();
    let mut bad = wss.connect();
    bad.send_raw(&common::client_frame(0x8F, b"")).unwrap();
    assert_eq!(expect_close(&mut bad).0, CloseCode::ProtocolError);
    good.send_text("fine").unwrap();
    assert_eq!(next_event(&mut good), OwnedEvent::Text("fine".into()));
}

#[test]
fn a_peer_that_does_not_speak_tls_is_cut_and_others_go_on() {
    let wss = start_wss(test_config());
    let mut good = wss.connect();
    let mut plain = raw(wss.server.local_addr());
    plain
        .write_all(upgrade_request("/", "").as_bytes())
        .unwrap();
    // A TLS alert at most, then the end of the connection; never an HTTP answer.
    let answer = read_to_end(&mut plain);
    assert!(!answer.starts_with(b"HTTP"), "{answer:?}");
    good.send_text("fine").unwrap();
    assert_eq!(next_event(&mut good), OwnedEvent::Text("fine".into()));
}

/// Regression: at `max_connections` a TLS listener wrote its 503 as plaintext into the TLS
/// connection. It now closes the connection without a byte (see `Server`'s docs).
#[test]
fn at_max_connections_a_tls_listener_closes_without_a_plaintext_503() {
    let wss = start_wss(ServerConfig {
        max_connections: 1,
        ..ServerConfig::default()
    });
    let mut first = wss.connect();
    let mut refused = raw(wss.server.local_addr());
    assert_eq!(read_to_end(&mut refused), b"");
    match client::connect_with(&wss.url, &wss.options) {
        Err(ClientError::Io(_)) => {}
        Err(e) => panic!("expected the connection to be closed, got {e}"),
        Ok(_) => panic!("connected past max_connections"),
    }
    assert_eq!(wss.server.handle().stats().refused_over_limit, 2);
    first.send_text("still here").unwrap();
    assert_eq!(
        next_event(&mut first),
        OwnedEvent::Text("still here".into())
    );
}

#[test]
fn a_client_that_does_not_trust_the_certificate_refuses_it() {
    let wss = start_wss(test_config());
    let other = tls::self_signed(&[]).unwrap();
    let options = ClientOptions {
        tls: Some(fullduplex::client::tls::trusting(&[other.cert_der]).unwrap()),
        ..ClientOptions::default()
    };
    match client::connect_with(&wss.url, &options) {
        Err(ClientError::Io(e)) => assert!(e.to_string().contains("certificate"), "{e}"),
        Err(e) => panic!("expected a certificate error, got {e}"),
        Ok(_) => panic!("connected to a server with an untrusted certificate"),
    }
}

#[test]
fn a_silent_tls_peer_is_cut_at_the_handshake_deadline() {
    let timeout = Duration::from_millis(300);
    let wss = start_wss(Config {
        handshake_timeout: timeout,
        ..test_config()
    });
    let started = Instant::now();
    let mut silent = raw(wss.server.local_addr());
    assert_eq!(read_to_end(&mut silent), b"");
    assert!(started.elapsed() >= timeout);
    let mut ws = wss.connect();
    ws.send_text("served").unwrap();
    assert_eq!(next_event(&mut ws), OwnedEvent::Text("served".into()));
}

#[test]
fn broadcast_reaches_every_tls_receiver_in_order() {
    let wss = start_wss(test_config());
    let mut clients: Vec<_> = (0..50).map(|_| wss.connect()).collect();
    let handle = wss.server.handle();
    let big = vec![b'b'; 256 << 10];
    for i in 0..10u8 {
        handle
            .broadcast(fullduplex::protocol::DataKind::Text, &[b'0' + i])
            .unwrap();
        handle
            .broadcast(fullduplex::protocol::DataKind::Binary, &big)
            .unwrap();
    }
    for ws in &mut clients {
        for i in 0..10u8 {
            assert_eq!(
                next_event(ws),
                OwnedEvent::Text(char::from(b'0' + i).into())
            );
            assert!(next_event(ws) == OwnedEvent::Binary(big.clone()));
        }
    }
}
