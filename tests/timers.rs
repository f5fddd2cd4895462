//! Keepalive, the pong deadline, the idle timeout and the close deadline, decided by the core
//! (`Connection::poll_timeout` / `handle_timeout`) with a clock the test moves: a client and a
//! server wired back to back in memory, in both roles. RFC 6455 §5.5.2 (Ping as keepalive),
//! RFC 6455 §7.1.1 (closing the transport when the peer does not answer).

mod common;

use std::time::{Duration, Instant};

use common::{counting_keys, drain, take_output};
use fullduplex::protocol::{CloseCode, Connection, Initiator, OwnedEvent, State, Timeout};
use fullduplex::Config;

const PING: Duration = Duration::from_secs(30);
const PONG: Duration = Duration::from_secs(10);
const CLOSE: Duration = Duration::from_secs(5);

fn config() -> Config {
    Config {
        ping_interval: Some(PING),
        pong_timeout: PONG,
        close_timeout: CLOSE,
        idle_timeout: None,
        ..Config::default()
    }
}

/// A config with no keepalive: an end that only answers.
fn quiet() -> Config {
    Config {
        ping_interval: None,
        ..config()
    }
}

/// A client and a server, back to back, with a clock that moves only when the test says.
struct Pair {
    client: Connection,
    server: Connection,
    start: Instant,
    now: Instant,
}

impl Pair {
    fn new(config: Config) -> Self {
        Self::with(config.clone(), config)
    }

    /// A pair whose server has `server`'s timers and whose client has `client`'s.
    fn with(client: Config, server: Config) -> Self {
        let start = Instant::now();
        let mut pair = Pair {
            client: Connection::client(client, counting_keys()),
            server: Connection::server(server),
            start,
            now: start,
        };
        pair.client.handle_timeout(start);
        pair.server.handle_timeout(start);
        pair
    }

    /// The connection of `role`.
    fn end(&mut self, server: bool) -> &mut Connection {
        if server {
            &mut self.server
        } else {
            &mut self.client
        }
    }

    /// Moves the clock to `at` (from the start) and gives both ends the time.
    fn at(&mut self, at: Duration) {
        self.now = self.start + at;
        self.client.handle_timeout(self.now);
        self.server.handle_timeout(self.now);
    }

    /// What `server` (or the client) sent, delivered to the other end, which is then given
    /// the time; the other end's events.
    fn deliver(&mut self, from_server: bool) -> Vec<OwnedEvent> {
        let now = self.now;
        let bytes = take_output(self.end(from_server));
        let to = self.end(!from_server);
        to.receive(&bytes);
        let (events, err) = drain(to);
        assert_eq!(err, None);
        to.handle_timeout(now);
        events
    }

    /// Moves the clock and lets everything queued flow both ways until it settles.
    fn at_and_flow(&mut self, at: Duration) -> Vec<OwnedEvent> {
        self.at(at);
        let mut events = Vec::new();
        while self.client.wants_write() || self.server.wants_write() {
            events.extend(self.deliver(true));
            events.extend(self.deliver(false));
        }
        events
    }
}

/// The frames queued by `conn`, as events seen by a fresh peer of the other role.
fn queued_events(conn: &mut Connection, server: bool) -> Vec<OwnedEvent> {
    let bytes = take_output(conn);
    let mut peer = if server {
        Connection::client(Config::default(), counting_keys())
    } else {
        Connection::server(Config::default())
    };
    peer.receive(&bytes);
    drain(&mut peer).0
}

#[test]
fn each_role_pings_after_the_interval_of_silence_and_not_before() {
    for server in [true, false] {
        let mut pair = Pair::new(config());
        assert_eq!(pair.end(server).poll_timeout(), Some(pair.start + PING));
        pair.at(PING - Duration::from_millis(1));
        assert!(!pair.end(server).wants_write(), "server: {server}");
        pair.at(PING);
        let ping = queued_events(pair.end(server), server);
        assert_eq!(ping, [OwnedEvent::Ping(Vec::new())], "server: {server}");
        assert_eq!(
            pair.end(server).poll_timeout(),
            Some(pair.start + PING + PONG)
        );
    }
}

#[test]
fn a_pong_clears_the_deadline_and_the_next_ping_follows_an_interval_later() {
    let mut pair = Pair::new(config());
    let events = pair.at_and_flow(PING);
    assert!(events.contains(&OwnedEvent::Pong(Vec::new())), "{events:?}");
    assert_eq!(pair.server.state(), State::Open);
    // Both ends pinged at 30 s and heard back then: the next Pings are due at 60 s.
    assert_eq!(pair.server.poll_timeout(), Some(pair.start + 2 * PING));
    assert_eq!(pair.client.poll_timeout(), Some(pair.start + 2 * PING));
    // Keepalive alone keeps the pair open for an hour.
    for minute in 1..=60 {
        pair.at_and_flow(Duration::from_secs(60 * minute));
        assert_eq!(pair.server.state(), State::Open);
        assert_eq!(pair.client.state(), State::Open);
    }
}

#[test]
fn a_peer_that_never_answers_times_out_at_the_pong_deadline_in_each_role() {
    for server in [true, false] {
        let mut pair = Pair::new(config());
        pair.at(PING);
        take_output(pair.end(server)); // the Ping, lost
        pair.at(PING + PONG - Duration::from_millis(1));
        assert_eq!(pair.end(server).state(), State::Open, "server: {server}");
        pair.at(PING + PONG);
        let conn = pair.end(server);
        assert_eq!(conn.state(), State::TimedOut(Timeout::Pong));
        assert!(conn.is_closed());
        assert!(
            !conn.wants_write(),
            "a dead peer is sent nothing, not even a Close"
        );
        assert_eq!(conn.poll_timeout(), None);
        assert!(conn.send_text("too late").is_err());
        // What arrives after the timeout, even a protocol violation, is not read: the
        // connection is over, and a Close for it would never be sent.
        conn.receive(&[0x8f, 0x00]);
        assert_eq!(conn.poll_event().map(|e| e.is_some()), Ok(false));
        assert_eq!(conn.state(), State::TimedOut(Timeout::Pong));
    }
}

#[test]
fn any_bytes_from_the_peer_answer_the_keepalive() {
    let mut pair = Pair::with(quiet(), config());
    pair.at(PING);
    take_output(&mut pair.server); // the server's Ping, unanswered
    pair.at(PING + PONG / 2);
    pair.client.send_text("still here").unwrap();
    let events = pair.deliver(false);
    assert_eq!(events, [OwnedEvent::Text("still here".into())]);
    pair.at(PING + PONG);
    assert_eq!(pair.server.state(), State::Open);
    assert_eq!(
        pair.server.poll_timeout(),
        Some(pair.start + PING + PONG / 2 + PING)
    );
}

#[test]
fn traffic_postpones_the_ping() {
    let mut pair = Pair::new(config());
    for second in (10..=120).step_by(10) {
        pair.at(Duration::from_secs(second));
        pair.client.send_binary(&[1, 2, 3]).unwrap();
        pair.deliver(false);
        pair.server.send_binary(&[4]).unwrap();
        pair.deliver(true);
        assert!(!pair.server.wants_write() && !pair.client.wants_write());
    }
    assert_eq!(
        pair.server.poll_timeout(),
        Some(pair.start + Duration::from_secs(150))
    );
}

#[test]
fn the_idle_timeout_closes_with_1001_even_when_pings_are_answered() {
    let idle = Duration::from_secs(90);
    let server = Config {
        idle_timeout: Some(idle),
        ..config()
    };
    let mut pair = Pair::with(config(), server);
    pair.at_and_flow(PING);
    pair.at_and_flow(2 * PING);
    assert_eq!(pair.server.state(), State::Open);
    assert_eq!(pair.server.poll_timeout(), Some(pair.start + idle));
    let events = pair.at_and_flow(idle);
    assert!(
        events.contains(&OwnedEvent::Closed {
            code: CloseCode::GoingAway,
            reason: "idle timeout".into()
        }),
        "{events:?}"
    );
    assert_eq!(pair.server.state(), State::Closed(Initiator::Local));
    assert_eq!(pair.client.state(), State::Closed(Initiator::Remote));
    assert_eq!(pair.server.poll_timeout(), None);
}

#[test]
fn messages_keep_a_connection_from_the_idle_timeout_but_pings_do_not() {
    let idle = Duration::from_secs(90);
    let server = Config {
        idle_timeout: Some(idle),
        ..config()
    };
    let mut pair = Pair::with(quiet(), server);
    pair.at(Duration::from_secs(60));
    pair.client.send_text("a message").unwrap();
    pair.deliver(false);
    // A Ping from the client is heard, but it is no message.
    pair.at(Duration::from_secs(100));
    pair.client.ping(b"hi").unwrap();
    pair.deliver(false);
    pair.at(Duration::from_secs(149));
    assert_eq!(pair.server.state(), State::Open);
    assert_eq!(
        pair.server.poll_timeout(),
        Some(pair.start + Duration::from_secs(150))
    );
    pair.at(Duration::from_secs(150));
    assert_eq!(pair.server.state(), State::Closing);
}

#[test]
fn a_close_without_an_answer_times_out_at_the_close_deadline() {
    for server in [true, false] {
        let mut pair = Pair::new(config());
        pair.at(Duration::from_secs(7));
        pair.end(server).close(CloseCode::Normal, "bye").unwrap();
        // The close is stamped when the connection is next given the time.
        assert!(pair.end(server).poll_timeout().unwrap() <= pair.now);
        pair.at(Duration::from_secs(8));
        assert_eq!(
            pair.end(server).poll_timeout(),
            Some(pair.start + Duration::from_secs(8) + CLOSE)
        );
        take_output(pair.end(server)); // our Close, never answered
        pair.at(Duration::from_secs(8) + CLOSE - Duration::from_millis(1));
        assert_eq!(pair.end(server).state(), State::Closing);
        pair.at(Duration::from_secs(8) + CLOSE);
        assert_eq!(
            pair.end(server).state(),
            State::TimedOut(Timeout::Close),
            "server: {server}"
        );
    }
}

#[test]
fn an_answered_close_needs_no_more_time() {
    let mut pair = Pair::new(config());
    pair.at(Duration::from_secs(1));
    pair.client.close(CloseCode::Normal, "").unwrap();
    pair.deliver(false);
    pair.deliver(true);
    pair.at(Duration::from_secs(1));
    assert_eq!(pair.client.state(), State::Closed(Initiator::Local));
    assert_eq!(pair.server.state(), State::Closed(Initiator::Remote));
    assert_eq!(pair.client.poll_timeout(), None);
    assert_eq!(pair.server.poll_timeout(), None);
    pair.at(Duration::from_secs(3600));
    assert_eq!(pair.client.state(), State::Closed(Initiator::Local));
}

#[test]
fn our_last_frames_unwritten_keep_the_close_deadline_armed() {
    let mut pair = Pair::new(config());
    pair.at(Duration::from_secs(1));
    pair.client.close(CloseCode::Normal, "").unwrap();
    pair.deliver(false);
    // The server answered (Closed) but its answer is never written: a peer that does not read.
    assert_eq!(pair.server.state(), State::Closed(Initiator::Remote));
    assert!(pair.server.wants_write());
    assert_eq!(
        pair.server.poll_timeout(),
        Some(pair.start + Duration::from_secs(1) + CLOSE)
    );
    pair.at(Duration::from_secs(1) + CLOSE);
    assert_eq!(pair.server.state(), State::TimedOut(Timeout::Close));
    assert!(!pair.server.wants_write());
}

#[test]
fn without_keepalive_or_idle_timeout_nothing_is_armed() {
    let mut pair = Pair::new(Config {
        ping_interval: None,
        ..config()
    });
    assert_eq!(pair.server.poll_timeout(), None);
    pair.at(Duration::from_secs(86_400));
    assert_eq!(pair.server.state(), State::Open);
    assert!(!pair.server.wants_write());
}

#[test]
fn the_clock_starts_at_the_first_handle_timeout() {
    let mut conn = Connection::server(config());
    assert_eq!(conn.poll_timeout(), None);
    let start = Instant::now();
    conn.handle_timeout(start);
    assert_eq!(conn.poll_timeout(), Some(start + PING));
}

#[test]
fn a_connection_that_failed_needs_time_only_to_write_its_close() {
    let mut pair = Pair::new(config());
    pair.at(Duration::from_secs(2));
    // A reserved opcode from the client fails the server with 1002.
    pair.server.receive(&common::client_frame(0x83, b""));
    let (_, err) = drain(&mut pair.server);
    assert!(err.is_some());
    pair.at(Duration::from_secs(2));
    assert_eq!(
        pair.server.poll_timeout(),
        Some(pair.start + Duration::from_secs(2) + CLOSE)
    );
    take_output(&mut pair.server);
    pair.at(Duration::from_secs(3));
    assert_eq!(pair.server.poll_timeout(), None);
    assert!(matches!(pair.server.state(), State::Failed(_)));
}
