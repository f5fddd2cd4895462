//! The multi-connection client (`fullduplex::client::MultiClient`) against the server over
//! loopback: many connections on one loop, echo of every size, TLS, refusals, deadlines,
//! and closes from both sides; and against hand-written servers that misbehave.
#![cfg(feature = "runtime")]

mod common;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use common::runtime::*;
use fullduplex::client::{
    ClientConn, ClientError, ClientHandler, ClientId, ClientOptions, Ended, MultiClient,
};
use fullduplex::config::DeflateConfig;
use fullduplex::protocol::{CloseCode, Message, OwnedEvent};
use fullduplex::server::CloseInfo;
use fullduplex::Config;

/// How a connection ended, in a form tests can compare.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    NotOpened(String),
    Closed(CloseInfo),
}

/// Records everything; on open sends `first` (if any); echoes nothing back.
#[derive(Default)]
struct Recorder {
    first: Option<String>,
    close_after: Option<usize>,
    opened: Vec<ClientId>,
    received: HashMap<ClientId, Vec<OwnedEvent>>,
    pongs: Vec<Vec<u8>>,
    ended: HashMap<ClientId, Outcome>,
}

impl ClientHandler for Recorder {
    fn on_open(&mut self, conn: &mut ClientConn<'_>) {
        self.opened.push(conn.id());
        if let Some(first) = &self.first {
            conn.send_text(&format!("{first} {}", conn.id().as_u64()))
                .unwrap();
        }
    }

    fn on_message(&mut self, conn: &mut ClientConn<'_>, message: Message<'_>) {
        let owned = match message {
            Message::Text(t) => OwnedEvent::Text(t.into()),
            Message::Binary(b) => OwnedEvent::Binary(b.into()),
        };
        let got = self.received.entry(conn.id()).or_default();
        got.push(owned);
        if self.close_after == Some(got.len()) {
            conn.close(CloseCode::Normal, "enough").unwrap();
        }
    }

    fn on_pong(&mut self, _: &mut ClientConn<'_>, payload: &[u8]) {
        self.pongs.push(payload.to_vec());
    }

    fn on_end(&mut self, id: ClientId, ended: &Ended) {
        let outcome = match ended {
            Ended::NotOpened(_) => Outcome::NotOpened(ended.to_string()),
            Ended::Closed(info) => Outcome::Closed(info.clone()),
        };
        assert!(
            self.ended.insert(id, outcome).is_none(),
            "{id:?} ended twice"
        );
    }
}

/// Turns the loop until `done` holds, failing after [`DEADLINE`].
fn run_until<H: ClientHandler>(
    clients: &mut MultiClient,
    handler: &mut H,
    mut done: impl FnMut(&H, &MultiClient) -> bool,
) {
    let deadline = Instant::now() + DEADLINE;
    while !done(handler, clients) {
        assert!(Instant::now() < deadline, "the client loop timed out");
        clients
            .poll(handler, Some(Duration::from_millis(50)))
            .unwrap();
    }
}

fn clean(code: CloseCode) -> impl Fn(&Outcome) -> bool {
    move |outcome| matches!(outcome, Outcome::Closed(info) if info.code == code && info.clean)
}

#[test]
fn a_thousand_connections_on_one_loop_each_echo_and_close() {
    const CONNECTIONS: usize = 1000;
    let limit = raise_fd_limit(4 * CONNECTIONS as u64);
    assert!(
        limit >= 2 * CONNECTIONS as u64 + 64,
        "RLIMIT_NOFILE is {limit}"
    );
    let (server, _events) = start_app(test_config());
    let mut clients = multi_client(ClientOptions::default());
    let url = ws_url(server.local_addr(), "/");
    let ids: Vec<_> = (0..CONNECTIONS)
        .map(|_| clients.connect(&url).unwrap())
        .collect();
    assert_eq!(clients.len(), CONNECTIONS);
    let mut recorder = Recorder {
        first: Some("hello".into()),
        close_after: Some(1),
        ..Recorder::default()
    };
    run_until(&mut clients, &mut recorder, |_, c| c.is_empty());
    assert_eq!(recorder.opened.len(), CONNECTIONS);
    for id in &ids {
        let text = format!("hello {}", id.as_u64());
        assert_eq!(recorder.received[id], [OwnedEvent::Text(text)]);
        assert!(clean(CloseCode::Normal)(&recorder.ended[id]), "{id:?}");
    }
    assert_eq!(server.handle().stats().accepted, CONNECTIONS as u64);
}

/// Sends each size in turn, the next once the previous came back, then closes.
struct SizeWalk {
    sizes: Vec<usize>,
    next: usize,
    ended: Option<Outcome>,
}

impl SizeWalk {
    fn send_next(&mut self, conn: &mut ClientConn<'_>) {
        match self.sizes.get(self.next) {
            Some(&len) => conn.send_binary(&pattern(len, self.next)).unwrap(),
            None => conn.close(CloseCode::Normal, "").unwrap(),
        }
    }
}

fn pattern(len: usize, seed: usize) -> Vec<u8> {
    (0..len).map(|i| ((i * 31 + seed) % 253) as u8).collect()
}

impl ClientHandler for SizeWalk {
    fn on_open(&mut self, conn: &mut ClientConn<'_>) {
        self.send_next(conn);
    }

    fn on_message(&mut self, conn: &mut ClientConn<'_>, message: Message<'_>) {
        let len = self.sizes[self.next];
        assert!(
            message == Message::Binary(&pattern(len, self.next)),
            "{len}"
        );
        self.next += 1;
        self.send_next(conn);
    }

    fn on_end(&mut self, _: ClientId, ended: &Ended) {
        self.ended = Some(match ended {
            Ended::NotOpened(e) => Outcome::NotOpened(e.to_string()),
            Ended::Closed(info) => Outcome::Closed(info.clone()),
        });
    }
}

fn walk_sizes(url: &str, options: ClientOptions) {
    walk_sizes_with(multi_client(options), url);
}

fn walk_sizes_with(mut clients: MultiClient, url: &str) {
    clients.connect(url).unwrap();
    let sizes = vec![0, 1, 125, 126, 65_535, 65_536, 1 << 20, 16 << 20];
    let mut walk = SizeWalk {
        next: 0,
        ended: None,
        sizes,
    };
    run_until(&mut clients, &mut walk, |_, c| c.is_empty());
    assert_eq!(walk.next, walk.sizes.len());
    assert!(clean(CloseCode::Normal)(walk.ended.as_ref().unwrap()));
}

#[test]
fn echoes_0_bytes_to_16_mib() {
    let (server, _events) = start_app(test_config());
    walk_sizes(&ws_url(server.local_addr(), "/"), ClientOptions::default());
}

/// Each event loop's client against the other's server, whatever the tests' event loop.
#[test]
#[cfg(all(feature = "io-uring", target_os = "linux"))]
fn the_event_loops_of_client_and_server_mix() {
    use fullduplex::server::EventLoop::{IoUring, Mio};
    for (client, server) in [(IoUring, Mio), (Mio, IoUring)] {
        let server = start_on(server, test_config(), TestApp::new().0);
        let clients = multi_client_on(client, ClientOptions::default());
        walk_sizes_with(clients, &ws_url(server.local_addr(), "/"));
    }
}

#[test]
fn echoes_0_bytes_to_16_mib_with_permessage_deflate() {
    let config = Config {
        deflate: Some(DeflateConfig::default()),
        ..test_config()
    };
    let (server, _events) = start_app(config.clone());
    let options = ClientOptions {
        config,
        ..ClientOptions::default()
    };
    walk_sizes(&ws_url(server.local_addr(), "/"), options);
}

#[test]
#[cfg(feature = "dev-cert")]
fn echoes_0_bytes_to_16_mib_over_tls() {
    use fullduplex::server::{tls, Server};
    let cert = tls::self_signed(&[]).unwrap();
    let (app, _events) = TestApp::new();
    let server = Server::new(server_config(test_config()), app)
        .with_tls(cert.server.clone())
        .bind("127.0.0.1:0")
        .unwrap();
    let server = TestServer::from(server);
    let options = ClientOptions {
        tls: Some(fullduplex::client::tls::trusting(&[cert.cert_der]).unwrap()),
        ..ClientOptions::default()
    };
    let url = format!("wss://localhost:{}/", server.local_addr().port());
    walk_sizes(&url, options);
}

#[test]
fn refusals_and_unreachable_servers_are_reported_as_not_opened() {
    let (server, _events) = start_app(test_config());
    let gone = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut clients = multi_client(ClientOptions::default());
    let refused = clients
        .connect(&ws_url(server.local_addr(), "/reject/403"))
        .unwrap();
    let unreachable = clients.connect(&ws_url(gone, "/")).unwrap();
    assert!(matches!(
        clients.connect("http://x/"),
        Err(ClientError::Url(_))
    ));
    let mut recorder = Recorder::default();
    run_until(&mut clients, &mut recorder, |_, c| c.is_empty());
    assert!(recorder.opened.is_empty());
    // The refusal with what of its body came with the head.
    let status = "could not connect: the server answered 403 Forbidden, \
                  not 101 Switching Protocols: refused by the test";
    assert!(
        matches!(&recorder.ended[&refused], Outcome::NotOpened(e) if e == status),
        "{:?}",
        recorder.ended[&refused]
    );
    assert!(
        matches!(&recorder.ended[&unreachable], Outcome::NotOpened(e) if e == "could not connect: connection refused"),
        "{:?}",
        recorder.ended[&unreachable]
    );
}

#[test]
fn a_server_that_never_answers_the_handshake_times_out() {
    // The kernel completes the TCP handshake into the backlog; nobody ever answers.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let timeout = Duration::from_millis(200);
    let options = ClientOptions {
        connect_timeout: timeout,
        ..ClientOptions::default()
    };
    let mut clients = multi_client(options);
    let started = Instant::now();
    let id = clients
        .connect(&ws_url(listener.local_addr().unwrap(), "/"))
        .unwrap();
    let mut recorder = Recorder::default();
    run_until(&mut clients, &mut recorder, |_, c| c.is_empty());
    assert!(started.elapsed() >= timeout);
    assert!(
        matches!(&recorder.ended[&id], Outcome::NotOpened(e) if e.contains("timed out")),
        "{:?}",
        recorder.ended[&id]
    );
}

#[test]
fn pings_sends_from_outside_and_closes_from_the_server() {
    let (server, _events) = start_app(test_config());
    let mut clients = multi_client(ClientOptions::default());
    let url = ws_url(server.local_addr(), "/");
    let id = clients.connect(&url).unwrap();
    let mut recorder = Recorder::default();
    assert!(matches!(
        clients.send(id, Message::Text("too early")),
        Err(ClientError::Closed)
    ));
    run_until(&mut clients, &mut recorder, |r, _| !r.opened.is_empty());
    clients.ping(id, b"p").unwrap();
    clients.send(id, Message::Binary(b"outside")).unwrap();
    assert!(clients.buffered_amount(id) > 0);
    run_until(&mut clients, &mut recorder, |r, _| {
        r.received.contains_key(&id)
    });
    assert_eq!(recorder.pongs, [b"p".to_vec()]);
    assert_eq!(
        recorder.received[&id],
        [OwnedEvent::Binary(b"outside".to_vec())]
    );
    clients.send(id, Message::Text("close 4003")).unwrap();
    run_until(&mut clients, &mut recorder, |_, c| c.is_empty());
    assert!(clean(CloseCode::try_from(4003).unwrap())(
        &recorder.ended[&id]
    ));
    assert!(clients.send(id, Message::Text("late")).is_err());
}

#[test]
fn graceful_shutdown_of_the_server_ends_every_connection_with_1001() {
    let (server, _events) = start_app(test_config());
    let mut clients = multi_client(ClientOptions::default());
    let url = ws_url(server.local_addr(), "/");
    for _ in 0..50 {
        clients.connect(&url).unwrap();
    }
    let mut recorder = Recorder::default();
    run_until(&mut clients, &mut recorder, |r, _| r.opened.len() == 50);
    server.handle().shutdown();
    run_until(&mut clients, &mut recorder, |_, c| c.is_empty());
    assert_eq!(recorder.ended.len(), 50);
    assert!(recorder.ended.values().all(clean(CloseCode::GoingAway)));
}

/// A server written by hand: accepts one upgrade, then sends `after` and reads until EOF.
fn fake_server(after: Vec<u8>) -> (std::net::SocketAddr, std::thread::JoinHandle<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let thread = std::thread::spawn(move || {
        let mut stream = accept_upgrade(&listener);
        stream.write_all(&after).unwrap();
        let mut rest = Vec::new();
        let _ = stream.read_to_end(&mut rest);
        rest
    });
    (addr, thread)
}

#[test]
fn a_server_that_breaks_the_protocol_is_closed_with_1002() {
    // RFC 6455 §5.1: "A client MUST close a connection if it detects a masked frame."
    let (addr, server) = fake_server(common::client_frame(0x81, b"masked"));
    let options = ClientOptions {
        config: Config {
            close_timeout: Duration::from_millis(100),
            ..Config::default()
        },
        ..ClientOptions::default()
    };
    let mut clients = multi_client(options);
    let id = clients.connect(&ws_url(addr, "/")).unwrap();
    let mut recorder = Recorder::default();
    // The client sends its Close, then waits for the server to close TCP, which this one
    // does only when the client gives up and closes its socket at the close deadline.
    run_until(&mut clients, &mut recorder, |_, c| c.is_empty());
    let Outcome::Closed(info) = &recorder.ended[&id] else {
        panic!("{:?}", recorder.ended[&id]);
    };
    assert_eq!((info.code, info.clean), (CloseCode::ProtocolError, false));
    drop(clients);
    let sent = server.join().unwrap();
    let mut close = fullduplex::protocol::Connection::server(Config::default());
    close.receive(&sent);
    assert_eq!(
        close.poll_event().unwrap().map(|e| e.to_owned()),
        Some(OwnedEvent::Closed {
            code: CloseCode::ProtocolError,
            reason: "server frame masked".into()
        })
    );
}

#[test]
fn a_server_that_never_answers_our_close_is_cut_at_the_close_deadline() {
    let (addr, server) = fake_server(Vec::new());
    let timeout = Duration::from_millis(200);
    let options = ClientOptions {
        config: Config {
            close_timeout: timeout,
            ..Config::default()
        },
        ..ClientOptions::default()
    };
    let mut clients = multi_client(options);
    let id = clients.connect(&ws_url(addr, "/")).unwrap();
    let mut recorder = Recorder::default();
    run_until(&mut clients, &mut recorder, |r, _| !r.opened.is_empty());
    clients.close(id, CloseCode::Normal, "bye").unwrap();
    let started = Instant::now();
    run_until(&mut clients, &mut recorder, |_, c| c.is_empty());
    assert!(started.elapsed() >= timeout);
    let Outcome::Closed(info) = &recorder.ended[&id] else {
        panic!("{:?}", recorder.ended[&id]);
    };
    assert_eq!((info.code, info.clean), (CloseCode::Abnormal, false));
    drop(clients);
    assert!(
        !server.join().unwrap().is_empty(),
        "our Close frame was not sent"
    );
}
