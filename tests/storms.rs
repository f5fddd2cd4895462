//! Storms and exhaustion against the `fullduplex chat` binary, on both event loops (issue 20,
//! case 5): many connections opened at once, every handshake in flight, while a chat member's
//! round trip must still complete; and a descriptor table too small for the clients, where the
//! chat must keep serving the connections it has, refuse the rest with 503 without spinning,
//! and take new connections again once descriptors free up.
//!
//! The storm opens 2 000 connections per event loop; `FULLDUPLEX_STORM_CONNECTIONS=10000`
//! (`scripts/test.sh storms`) runs the full form. Each test prints its figures.
#![cfg(all(feature = "cli", target_os = "linux"))]

#[path = "storms/process.rs"]
mod process;
#[allow(dead_code)]
#[path = "common/runtime.rs"]
mod runtime;
#[path = "storms/tally.rs"]
mod tally;

use std::io::ErrorKind;
use std::time::{Duration, Instant};

use fullduplex::client::{connect_with, ClientError, ClientOptions, WebSocket};
use fullduplex::protocol::OwnedEvent;
use process::{listen_overflows, ChatProcess};
use tally::Storm;

const EVENT_LOOPS: [&str; 2] = ["mio", "io-uring"];

/// Generous bounds that only matter when something hangs.
const PATIENCE: Duration = Duration::from_secs(60);

/// Descriptors of the chat in the exhaustion test, and the connections that try to get one.
const MAX_FILES: u64 = 128;
const FLOOD: usize = 200;

fn storm_size() -> usize {
    std::env::var("FULLDUPLEX_STORM_CONNECTIONS")
        .ok()
        .map(|n| n.parse().expect("FULLDUPLEX_STORM_CONNECTIONS is a number"))
        .unwrap_or(2_000)
}

#[test]
fn a_storm_of_connections_all_open_while_the_chat_keeps_answering() {
    let n = storm_size();
    let limit = runtime::raise_fd_limit(n as libc::rlim_t + 256);
    assert!(
        limit as usize > n + 100,
        "RLIMIT_NOFILE is {limit}: too few for {n} clients"
    );
    for event_loop in EVENT_LOOPS {
        let chat = ChatProcess::start(event_loop, None);
        let overflows = listen_overflows();
        let started = Instant::now();
        let mut storm = Storm::start(&chat.url(), n, PATIENCE);
        // The probe joins and talks once half the storm is in, the other half in flight.
        while storm.tally.settled() < n / 2 {
            assert!(started.elapsed() < PATIENCE, "{:?}", storm.tally);
            storm.poll();
        }
        let url = chat.url();
        let probe = std::thread::spawn(move || round_trip(&url, "probe"));
        storm.settle(started + 2 * PATIENCE);
        let storm_time = started.elapsed();
        let probe_time = probe.join().expect("the probe's round trip completes");
        let after = listen_overflows();
        eprintln!(
            "storm [{event_loop}]: {} of {n} opened in {:.2} s ({:.0}/s), {} refused, {} timed \
             out, {} other; probe join + message round trip {:.0} ms; listen overflows +{}, \
             drops +{}; chat descriptors {}",
            storm.tally.opened,
            storm_time.as_secs_f64(),
            n as f64 / storm_time.as_secs_f64(),
            storm.tally.refused,
            storm.tally.timed_out,
            storm.tally.other_count,
            probe_time.as_secs_f64() * 1e3,
            after.0 - overflows.0,
            after.1 - overflows.1,
            chat.descriptors(),
        );
        assert_eq!(storm.tally.opened, n, "{event_loop}: {:?}", storm.tally);
        assert_eq!(storm.tally.ended_open, 0, "{event_loop}: {:?}", storm.tally);
        storm.close_all(Instant::now() + PATIENCE);
    }
}

#[test]
fn a_full_descriptor_table_keeps_serving_refuses_the_rest_and_recovers() {
    runtime::raise_fd_limit(4096);
    for event_loop in EVENT_LOOPS {
        let chat = ChatProcess::start(event_loop, Some(MAX_FILES));
        let (mut ada, mut grace) = (member(&chat, "Ada"), member(&chat, "Grace"));
        assert_eq!(expect(&mut ada, "welcome")["room"], "held");
        expect(&mut grace, "welcome");
        let baseline = chat.descriptors();

        let mut flood = Storm::start(&chat.url(), FLOOD, PATIENCE);
        flood.settle(Instant::now() + 2 * PATIENCE);
        let tally = &flood.tally;
        assert!(
            tally.refused > 0,
            "{event_loop}: the table never filled: {tally:?}"
        );
        assert_eq!(
            tally.opened + tally.refused,
            FLOOD,
            "{event_loop}: {tally:?}"
        );

        // Saturated: new connections are refused, at no more than a trickle of CPU. On
        // io_uring one may open when it comes as a worker lets its reserve descriptor go to
        // refuse others, and another worker's accept, in the kernel, takes that descriptor
        // first. A knock that opens is kept open: closed, it would leave its descriptor free
        // for the next one, and the table would no longer be full.
        let (cpu, since) = (chat.cpu(), Instant::now());
        let mut let_in = Vec::new();
        let knocks: Vec<Option<u16>> = (0..10)
            .map(|_| match knock(&chat) {
                Ok(ws) => {
                    let_in.push(ws);
                    None
                }
                Err(status) => Some(status),
            })
            .collect();
        let (cpu, wall) = (chat.cpu() - cpu, since.elapsed());
        let refused = knocks.iter().filter(|k| **k == Some(503)).count();
        assert!(
            refused >= 8,
            "{event_loop}: knocks on a full chat: {knocks:?}"
        );
        // What has a member of the room to say that the others must hear.
        talk(&mut ada, &mut grace, "still here");
        eprintln!(
            "exhaustion [{event_loop}]: RLIMIT_NOFILE {MAX_FILES}: {} of {FLOOD} opened, {} \
             refused with 503; {refused} of 10 more refused in {:.0} ms using {:.0} ms CPU ({:.1} % of a \
             core); 'accept failed' said {} times; {} descriptors open",
            tally.opened,
            tally.refused,
            wall.as_secs_f64() * 1e3,
            cpu.as_secs_f64() * 1e3,
            100.0 * cpu.as_secs_f64() / wall.as_secs_f64(),
            chat.accept_failures(),
            chat.descriptors(),
        );
        assert!(
            cpu.as_secs_f64() <= 0.10 * wall.as_secs_f64() + 0.05,
            "{event_loop}: the chat used {cpu:?} of CPU in {wall:?} while full"
        );
        assert!(
            (1..=8).contains(&chat.accept_failures()),
            "said once per shortage"
        );

        // Descriptors free up: new connections open again. A client sees its connection end
        // when the chat's Close comes, before the chat has closed its socket: the storm that
        // follows waits until the chat holds no more descriptors than before the flood.
        drop(let_in);
        let opened = flood.tally.opened;
        flood.close_all(Instant::now() + PATIENCE);
        let (closed, held) = (Instant::now(), chat.descriptors());
        let deadline = closed + PATIENCE;
        while chat.descriptors() > baseline {
            assert!(
                Instant::now() < deadline,
                "{event_loop}: the chat still holds {} descriptors, {baseline} before the flood",
                chat.descriptors()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        eprintln!(
            "exhaustion [{event_loop}]: the flood closed; the chat held {held} descriptors, back \
             to {baseline} within {:.0} ms",
            closed.elapsed().as_secs_f64() * 1e3
        );
        let mut again = Storm::start(&chat.url(), opened / 2, PATIENCE);
        again.settle(Instant::now() + 2 * PATIENCE);
        assert_eq!(
            again.tally.opened,
            opened / 2,
            "{event_loop}: {:?}",
            again.tally
        );
        talk(&mut grace, &mut ada, "and back");
    }
}

/// Joins room "held" as `nick`.
fn member(chat: &ChatProcess, nick: &str) -> WebSocket {
    let mut ws = connect_with(&chat.url(), &ClientOptions::default()).expect("a member joins");
    let join = serde_json::json!({"type": "join", "nick": nick, "room": "held"});
    ws.send_text(&join.to_string()).expect("sends");
    ws
}

/// `from` says `text`; `to` hears it, and so does `from` (the chat sends a message to the
/// whole room, its sender included).
fn talk(from: &mut WebSocket, to: &mut WebSocket, text: &str) {
    say(from, text);
    hear(to, text);
    hear(from, text);
}

fn say(ws: &mut WebSocket, text: &str) {
    let message = serde_json::json!({"type": "message", "text": text});
    ws.send_text(&message.to_string()).expect("sends");
}

/// Reads until a chat message with `text` (joins, user lists and typing pass by).
fn hear(ws: &mut WebSocket, text: &str) {
    loop {
        let heard = next_json(ws);
        if heard["type"] == "message" {
            assert_eq!(heard["text"], text);
            return;
        }
    }
}

/// Joins, says something and hears it back; returns how long that took.
fn round_trip(url: &str, nick: &str) -> Duration {
    let started = Instant::now();
    let options = ClientOptions {
        connect_timeout: PATIENCE,
        ..ClientOptions::default()
    };
    let mut ws = connect_with(url, &options).expect("the probe connects");
    let join = serde_json::json!({"type": "join", "nick": nick, "room": "probe"});
    ws.send_text(&join.to_string()).expect("sends");
    expect(&mut ws, "welcome");
    say(&mut ws, "ping");
    hear(&mut ws, "ping");
    started.elapsed()
}

/// The next message, which must be of this type.
fn expect(ws: &mut WebSocket, kind: &str) -> serde_json::Value {
    let value = next_json(ws);
    assert_eq!(value["type"], kind, "expected a {kind} message: {value}");
    value
}

/// The next text message, as JSON (pings pass by); panics after [`PATIENCE`].
fn next_json(ws: &mut WebSocket) -> serde_json::Value {
    ws.set_read_timeout(Some(PATIENCE)).expect("sets a timeout");
    loop {
        match ws.recv() {
            Ok(OwnedEvent::Text(text)) => return serde_json::from_str(&text).expect("JSON"),
            Ok(OwnedEvent::Ping(_)) | Ok(OwnedEvent::Pong(_)) => {}
            Ok(other) => panic!("expected a text message, got {other:?}"),
            Err(ClientError::Io(e)) if e.kind() == ErrorKind::WouldBlock => {
                panic!("nothing from the chat within {PATIENCE:?}")
            }
            Err(e) => panic!("the chat connection failed: {e}"),
        }
    }
}

/// A new connection: open, or the status it was refused with.
fn knock(chat: &ChatProcess) -> Result<WebSocket, u16> {
    let options = ClientOptions {
        connect_timeout: PATIENCE,
        ..ClientOptions::default()
    };
    match connect_with(&chat.url(), &options) {
        Ok(ws) => Ok(ws),
        Err(ClientError::Refused(refusal)) => Err(refusal.status),
        Err(e) => panic!("neither opened nor refused: {e}"),
    }
}
