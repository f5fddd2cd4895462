//! `bench chat` with rooms, per-sender sequence accounting, the latency series and source
//! addresses: against the chat every delivery is accounted for; against relays that repeat
//! or drop a message the run fails and says how many.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::{bench, fails, start, start_chat};
use fullduplex::protocol::handshake::{ClientOffer, Request};
use fullduplex::protocol::Message;
use fullduplex::server::{Conn, Handler, Upgrade};

/// A file removed when the test ends, passed or not.
struct TempFile(std::path::PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn chat_mode_spreads_clients_over_rooms_and_accounts_for_every_sender() {
    let server = start_chat(None);
    let url = format!("ws://{}/ws", server.local_addr());
    let series = TempFile(
        std::env::temp_dir().join(format!("fullduplex-series-{}.csv", std::process::id())),
    );
    let series_arg = series.0.to_str().unwrap();
    let result = bench(&[
        "chat",
        &url,
        "-c",
        "25",
        "--room-size",
        "10",
        "--rate",
        "4",
        "--duration",
        "1.5",
        "--series",
        series_arg,
        "--series-every",
        "0.5",
    ]);
    assert_eq!(result["rooms"], 3, "{result}");
    assert_eq!(result["members"], 25, "{result}");
    assert_eq!(result["senders"], 3, "{result}");
    let sent = result["sent"].as_u64().unwrap();
    assert!(sent >= 3 * 4, "{result}");
    // Rooms of 10, 10 and 5: each message reaches its own room only.
    let deliveries = result["deliveries"].as_u64().unwrap();
    assert!(deliveries < sent * 10 && deliveries > sent * 5, "{result}");
    assert_eq!(
        result["expected_deliveries"], result["deliveries"],
        "{result}"
    );
    assert_eq!(result["missing"], 0, "{result}");
    let expected = serde_json::json!({
        "lost": 0, "duplicated": 0, "reordered": 0, "refused": 0, "passed": true,
    });
    assert_eq!(result["sequence"], expected, "{result}");
    let csv = std::fs::read_to_string(&series.0).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("unix_s,elapsed_s,members,deliveries,p50_us,p99_us,max_us")
    );
    let rows: Vec<Vec<u64>> = lines
        .map(|row| row.split(',').skip(2).map(|f| f.parse().unwrap()).collect())
        .collect();
    assert!(rows.len() >= 3, "{csv}");
    assert!(rows.iter().all(|r| r[0] == 25), "{csv}");
    let series_deliveries: u64 = rows.iter().map(|r| r[1]).sum();
    assert!(series_deliveries >= deliveries, "{csv} {result}");
    server.stop();
}

#[test]
fn chat_mode_refuses_fallback_clients_in_rooms() {
    let stderr = fails(&[
        "chat",
        "ws://127.0.0.1:1/ws",
        "-c",
        "4",
        "--fallback",
        "2",
        "--room-size",
        "2",
    ]);
    assert!(
        stderr.contains("--fallback clients join one room: leave out --room-size"),
        "{stderr}"
    );
}

/// What a faulty relay does to every third chat message it echoes.
#[derive(Clone, Copy)]
enum Fault {
    Repeats,
    Drops,
}

/// Welcomes a join and echoes each chat message to its sender alone, with a fault.
#[derive(Clone)]
struct FaultyRelay {
    fault: Fault,
    messages: Arc<AtomicU64>,
}

impl Handler for FaultyRelay {
    type Session = ();

    fn upgrade(&mut self, _: &Request, _: &ClientOffer) -> Upgrade<()> {
        Upgrade::accept(())
    }

    fn on_message(&mut self, conn: &mut Conn<'_, ()>, message: Message<'_>) {
        let Message::Text(text) = message else { return };
        if text.contains(r#""type":"join""#) {
            let _ = conn.send_text(r#"{"type":"welcome","users":[{}]}"#);
            return;
        }
        let copies = match (
            self.fault,
            self.messages.fetch_add(1, Ordering::Relaxed) % 3,
        ) {
            (Fault::Repeats, 2) => 2,
            (Fault::Drops, 2) => 0,
            _ => 1,
        };
        for _ in 0..copies {
            let _ = conn.send_text(text);
        }
    }
}

/// Runs one client against a relay with `fault` until it fails; returns the sentence.
fn against_faulty_relay(fault: Fault) -> String {
    let messages = Arc::new(AtomicU64::new(0));
    let server = start(FaultyRelay { fault, messages });
    let url = format!("ws://{}/ws", server.local_addr());
    let args = ["chat", &url, "-c", "1", "--rate", "10", "--duration", "0.6"];
    let stderr = fails(&[&args[..], &["--warmup", "0"]].concat());
    server.stop();
    stderr
}

#[test]
fn chat_mode_fails_when_the_relay_repeats_a_message() {
    let stderr = against_faulty_relay(Fault::Repeats);
    assert!(
        stderr.contains("deliveries not accounted for, per sender: 0 lost, "),
        "{stderr}"
    );
    assert!(!stderr.contains(", 0 repeated"), "{stderr}");
}

#[test]
fn chat_mode_fails_when_the_relay_drops_a_message() {
    let stderr = against_faulty_relay(Fault::Drops);
    assert!(
        stderr.contains("deliveries not accounted for, per sender: "),
        "{stderr}"
    );
    assert!(!stderr.contains(": 0 lost"), "{stderr}");
    assert!(stderr.contains("0 repeated, 0 out of order"), "{stderr}");
}

/// Welcomes a join, echoes each chat message, and notes the address each client came from.
#[derive(Clone)]
struct NotesSources(Arc<Mutex<BTreeSet<IpAddr>>>);

impl Handler for NotesSources {
    type Session = ();

    fn upgrade(&mut self, _: &Request, _: &ClientOffer) -> Upgrade<()> {
        Upgrade::accept(())
    }

    fn on_open(&mut self, conn: &mut Conn<'_, ()>) {
        self.0.lock().unwrap().insert(conn.peer_addr().ip());
    }

    fn on_message(&mut self, conn: &mut Conn<'_, ()>, message: Message<'_>) {
        let Message::Text(text) = message else { return };
        if text.contains(r#""type":"join""#) {
            let _ = conn.send_text(r#"{"type":"welcome","users":[{}]}"#);
        } else {
            let _ = conn.send_text(text);
        }
    }
}

#[test]
fn chat_mode_spreads_its_clients_over_source_addresses() {
    let sources = Arc::new(Mutex::new(BTreeSet::new()));
    let server = start(NotesSources(sources.clone()));
    let url = format!("ws://{}/ws", server.local_addr());
    let result = bench(&[
        "chat",
        &url,
        "-c",
        "5",
        "--room-size",
        "1",
        "--source-addrs",
        "3",
        "--duration",
        "0.3",
    ]);
    assert_eq!(result["members"], 5, "{result}");
    let expected: BTreeSet<IpAddr> = [1, 2, 3]
        .map(|last| IpAddr::V4(Ipv4Addr::new(127, 0, 0, last)))
        .into();
    assert_eq!(*sources.lock().unwrap(), expected);
    server.stop();
    let refused = super::run(&["chat", &url, "--source-addrs", "0"]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("is not a number of source addresses"),
        "{stderr}"
    );
}

#[test]
fn chat_mode_paces_its_joins() {
    let server = start_chat(None);
    let url = format!("ws://{}/ws", server.local_addr());
    // Connection k starts k / 4 s in: the sixth 1.25 s after the first.
    let result = bench(&[
        "chat",
        &url,
        "-c",
        "6",
        "--join-rate",
        "4",
        "--duration",
        "0.3",
    ]);
    assert_eq!(result["members"], 6, "{result}");
    let setup = result["setup_seconds"].as_f64().unwrap();
    assert!(setup >= 1.25, "{result}");
    server.stop();
}
