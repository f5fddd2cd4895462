//! Regression tests of the runtime's weak spots, over loopback: a client whose server hangs
//! up without a Close frame, a burst of broadcasts to a reader that keeps up, the bounded
//! mailbox, a broadcast that meets a fragmented message, and the exact connection limit.
#![cfg(feature = "runtime")]

mod common;

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use common::runtime::*;
use fullduplex::client::{
    self, ClientConn, ClientError, ClientHandler, ClientId, ClientOptions, Ended,
};
use fullduplex::protocol::handshake::{ClientOffer, Request};
use fullduplex::protocol::{CloseCode, DataKind, Message, Opcode, OwnedEvent};
use fullduplex::server::{Conn, Handler, MailboxFull, ServerConfig, Upgrade};
use fullduplex::Config;

/// A server written by hand: accepts one upgrade, sends `after`, then closes the TCP
/// connection without a Close frame.
fn server_that_hangs_up(after: Vec<u8>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut stream = accept_upgrade(&listener);
        stream.write_all(&after).unwrap();
    });
    addr
}

/// An unmasked server text frame.
fn server_text(text: &str) -> Vec<u8> {
    let mut frame = vec![0x81, text.len() as u8];
    frame.extend_from_slice(text.as_bytes());
    frame
}

/// Regression: the blocking client reported a server that hung up without a Close frame
/// exactly like a clean close (`ClientError::Closed`); it is now `Abnormal` (1006), once.
#[test]
fn the_blocking_client_reports_a_hang_up_without_a_close_frame_as_abnormal() {
    for (after, middle) in [(server_text("hi"), false), (vec![0x81, 10, b'h'], true)] {
        let addr = server_that_hangs_up(after.clone());
        let mut ws = client::connect(&ws_url(addr, "/")).unwrap();
        ws.set_read_timeout(Some(DEADLINE)).unwrap();
        let started = Instant::now();
        if !middle {
            assert_eq!(ws.recv().unwrap(), OwnedEvent::Text("hi".into()));
        }
        match ws.recv() {
            Err(ClientError::Abnormal(why)) => {
                assert_eq!(why.contains("middle of a frame"), middle, "{why}");
            }
            other => panic!("expected an abnormal closure, got {other:?}"),
        }
        assert!(
            started.elapsed() < DEADLINE / 2,
            "recv waited for a timeout"
        );
        assert!(matches!(ws.recv(), Err(ClientError::Closed)));
        assert!(ws.send_text("too late").is_err());
    }
}

/// How a connection ended: its close code and whether it was clean, or why it never opened.
type Outcome = Result<(CloseCode, bool), String>;

/// Records how each connection ended.
#[derive(Default)]
struct Ends {
    ended: Vec<(ClientId, Outcome)>,
}

impl ClientHandler for Ends {
    fn on_message(&mut self, _: &mut ClientConn<'_>, _: Message<'_>) {}

    fn on_end(&mut self, id: ClientId, ended: &Ended) {
        let ended = match ended {
            Ended::Closed(info) => Ok((info.code, info.clean)),
            Ended::NotOpened(e) => Err(e.to_string()),
        };
        self.ended.push((id, ended));
    }
}

#[test]
fn the_multi_client_reports_a_hang_up_without_a_close_frame_as_1006() {
    let mut clients = multi_client(ClientOptions::default());
    let whole = clients
        .connect(&ws_url(server_that_hangs_up(server_text("hi")), "/"))
        .unwrap();
    let partial = clients
        .connect(&ws_url(server_that_hangs_up(vec![0x82, 100, 0]), "/"))
        .unwrap();
    let mut ends = Ends::default();
    let deadline = Instant::now() + DEADLINE;
    while !clients.is_empty() {
        assert!(Instant::now() < deadline, "a hang-up was never reported");
        clients
            .poll(&mut ends, Some(Duration::from_millis(50)))
            .unwrap();
    }
    assert_eq!(ends.ended.len(), 2);
    for id in [whole, partial] {
        let (_, ended) = ends.ended.iter().find(|(i, _)| *i == id).unwrap();
        assert_eq!(*ended, Ok((CloseCode::Abnormal, false)));
    }
}

/// On `burst N SIZE`, publishes N binary messages of SIZE bytes to [`TOPIC`] from the
/// callback, so that all of them are queued in the same tick; each starts with its number.
#[derive(Clone)]
struct Burst;

impl Handler for Burst {
    type Session = ();

    fn upgrade(&mut self, _: &Request, _: &ClientOffer) -> Upgrade<()> {
        Upgrade::accept(())
    }

    fn on_open(&mut self, conn: &mut Conn<'_, ()>) {
        conn.subscribe(TOPIC);
    }

    fn on_message(&mut self, conn: &mut Conn<'_, ()>, message: Message<'_>) {
        let Message::Text(text) = message else {
            return;
        };
        let mut words = text.split(' ').skip(1).map(|w| w.parse::<usize>().unwrap());
        let (count, size) = (words.next().unwrap(), words.next().unwrap());
        for seq in 0..count {
            let mut payload = vec![b'.'; size];
            payload[..8].copy_from_slice(&(seq as u64).to_be_bytes());
            conn.ctx().publish(TOPIC, DataKind::Binary, &payload);
        }
    }
}

/// A WebSocket opened by hand on a socket whose receive buffer holds `receive_buffer`.
fn reader_with_buffer(addr: SocketAddr, receive_buffer: usize) -> (TcpStream, Vec<u8>) {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(receive_buffer).unwrap();
    socket.connect(&addr.into()).unwrap();
    raw_upgrade_on(socket.into())
}

/// Regression: the queue limit was checked as messages were queued, before any write, so a
/// burst larger than the limit within one tick closed even a reader that keeps up with 1008.
/// The queue is now written before the reader is judged.
#[test]
fn a_burst_over_the_queue_limit_within_one_tick_does_not_close_a_reader_that_keeps_up() {
    let config = ServerConfig {
        connection: Config {
            max_outbound_queue: 64 << 10,
            ..test_config()
        },
        threads: 1,
        ..ServerConfig::default()
    };
    let server = start(config, Burst);
    let (mut reader, rest) = reader_with_buffer(server.local_addr(), 2 << 20);
    let (count, size) = (64, 16 << 10);
    reader
        .write_all(&common::client_frame(
            0x81,
            format!("burst {count} {size}").as_bytes(),
        ))
        .unwrap();
    let mut frames = FrameReader::new(rest);
    for seq in 0..count as u64 {
        let (opcode, payload) = frames.next(&mut reader).expect("the connection ended");
        assert_eq!(opcode, Opcode::Binary, "message {seq}");
        assert_eq!(payload.len(), size);
        assert_eq!(payload[..8], seq.to_be_bytes());
    }
    let stats = server.handle().stats();
    assert_eq!(stats.slow_consumer_closes, 0);
    assert_eq!(stats.messages_out, count as u64);
}

/// Blocks its worker inside a callback (on the message `block`) until the test says so.
#[derive(Clone)]
struct Blocker {
    blocked: Arc<Mutex<mpsc::Sender<()>>>,
    release: Arc<Mutex<mpsc::Receiver<()>>>,
}

impl Handler for Blocker {
    type Session = ();

    fn upgrade(&mut self, _: &Request, _: &ClientOffer) -> Upgrade<()> {
        Upgrade::accept(())
    }

    fn on_message(&mut self, _: &mut Conn<'_, ()>, message: Message<'_>) {
        if message.as_bytes() == b"block" {
            self.blocked.lock().unwrap().send(()).unwrap();
            let _ = self.release.lock().unwrap().recv_timeout(DEADLINE);
        }
    }
}

#[test]
fn a_full_mailbox_refuses_commands_and_counts_them() {
    let (blocked_tx, blocked) = mpsc::channel();
    let (release, release_rx) = mpsc::channel();
    let app = Blocker {
        blocked: Arc::new(Mutex::new(blocked_tx)),
        release: Arc::new(Mutex::new(release_rx)),
    };
    let config = ServerConfig {
        max_mailbox: 4,
        threads: 1,
        ..ServerConfig::default()
    };
    let server = start(config, app);
    let mut ws = connect(server.local_addr());
    ws.send_text("block").unwrap();
    blocked.recv_timeout(DEADLINE).expect("the worker to block");
    let handle = server.handle();
    let results: Vec<_> = (0..10u8)
        .map(|i| handle.broadcast(DataKind::Text, &[b'0' + i]))
        .collect();
    assert!(results[..4].iter().all(Result::is_ok), "{results:?}");
    assert!(results[4..]
        .iter()
        .all(|r| *r == Err(MailboxFull { workers: 1 })));
    assert_eq!(handle.stats().mailbox_drops, 6);
    release.send(()).unwrap();
    for i in 0..4u8 {
        let expected = char::from(b'0' + i).to_string();
        assert_eq!(next_event(&mut ws), OwnedEvent::Text(expected));
    }
    // The mailbox has room again.
    handle.broadcast(DataKind::Text, b"again").unwrap();
    assert_eq!(next_event(&mut ws), OwnedEvent::Text("again".into()));
}

/// Sends a message in two fragments across two callbacks: `start` sends the first (and
/// reports it), `end` the last.
#[derive(Clone)]
struct Fragments {
    started: Arc<Mutex<mpsc::Sender<()>>>,
}

impl Handler for Fragments {
    type Session = ();

    fn upgrade(&mut self, _: &Request, _: &ClientOffer) -> Upgrade<()> {
        Upgrade::accept(())
    }

    fn on_message(&mut self, conn: &mut Conn<'_, ()>, message: Message<'_>) {
        match message.as_bytes() {
            b"start" => {
                conn.send_fragment(DataKind::Text, b"first half, ", false)
                    .unwrap();
                self.started.lock().unwrap().send(()).unwrap();
            }
            b"end" => conn
                .send_fragment(DataKind::Text, b"second half", true)
                .unwrap(),
            _ => {}
        }
    }
}

/// Regression: a broadcast that found the connection in the middle of a fragmented message
/// was silently lost. It is now held, counted, and sent after the message's last fragment.
#[test]
fn a_broadcast_during_a_fragmented_message_is_sent_after_it() {
    let (started_tx, started) = mpsc::channel();
    let app = Fragments {
        started: Arc::new(Mutex::new(started_tx)),
    };
    let server = start(test_config(), app);
    let mut ws = connect(server.local_addr());
    ws.send_text("start").unwrap();
    started.recv_timeout(DEADLINE).unwrap();
    let handle = server.handle();
    handle.broadcast(DataKind::Text, b"broadcast").unwrap();
    wait_until("the broadcast to be held back", || {
        handle.stats().held_back == 1
    });
    ws.send_text("end").unwrap();
    assert_eq!(
        next_event(&mut ws),
        OwnedEvent::Text("first half, second half".into())
    );
    assert_eq!(next_event(&mut ws), OwnedEvent::Text("broadcast".into()));
    // The fragmented message and the broadcast.
    assert_eq!(handle.stats().messages_out, 2);
}

/// Regression: each worker checked the connection count and then added to it, so workers
/// accepting at the same time could together exceed `max_connections`.
#[test]
fn max_connections_is_exact_when_several_workers_accept_at_once() {
    let max = 8;
    let total = 64;
    let config = ServerConfig {
        max_connections: max,
        threads: 4,
        ..ServerConfig::default()
    };
    let (server, _events) = start_app(config);
    let addr = server.local_addr();
    let streams: Vec<TcpStream> = (0..total).map(|_| raw(addr)).collect();
    let handle = server.handle();
    wait_until("every connection to be accepted or refused", || {
        let stats = handle.stats();
        stats.accepted + stats.refused_over_limit == total as u64
    });
    let stats = handle.stats();
    assert_eq!(stats.accepted, max as u64, "{stats:?}");
    assert_eq!(stats.connections, max as u64);
    assert_eq!(stats.refused_over_limit, (total - max) as u64);
    drop(streams);
}
