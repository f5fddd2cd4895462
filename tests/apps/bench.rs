//! `fullduplex bench` against the project's own testees over loopback: each mode runs,
//! measures something, and reports it as JSON (the figures themselves are not judged here);
//! and against servers that fail it (nothing listening, no echo, no relay, closing), where
//! it must fail with one readable sentence.

use std::process::Output;

use crate::apps::broadcast::Broadcast;
use crate::apps::chat::{self, ChatOptions};
use crate::apps::echo::Echo;
use fullduplex::protocol::handshake::{ClientOffer, Request};
use fullduplex::protocol::{CloseCode, Message};
use fullduplex::server::{Conn, Handler, RunningServer, Server, ServerConfig, Upgrade};

#[path = "bench/chat_rooms.rs"]
mod chat_rooms;

fn start<H: Handler>(handler: H) -> RunningServer {
    let config = ServerConfig {
        threads: 1,
        ..ServerConfig::default()
    };
    Server::new(config, handler).bind("127.0.0.1:0").unwrap()
}

/// Runs `fullduplex bench ARGS` to its end (bounded).
fn run(args: &[&str]) -> Output {
    crate::cli::run(&[&["bench"], args].concat(), b"")
}

/// Runs a bench that must fail; returns its error sentence (stderr), checked to be one
/// sentence with no `Debug` dump of an error in it.
fn fails(args: &[&str]) -> String {
    let output = run(args);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(1), "bench {args:?}: {stderr}");
    for debris in ["{", "}", "Io(", "NotOpened", "Closed(", "kind:"] {
        assert!(!stderr.contains(debris), "{debris:?} in: {stderr}");
    }
    assert_eq!(stderr.matches("fullduplex: ").count(), 1, "{stderr}");
    stderr
}

fn bench(args: &[&str]) -> serde_json::Value {
    let args = [args, &["--json", "--warmup", "0"]].concat();
    let output = run(&args);
    assert!(
        output.status.success(),
        "bench {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("one JSON object on stdout")
}

#[test]
fn echo_mode_counts_round_trips() {
    let server = start(Echo);
    let url = format!("ws://{}/", server.local_addr());
    let result = bench(&["echo", &url, "-c", "10", "-s", "100", "--duration", "0.3"]);
    assert_eq!(result["opened"], 10);
    assert!(result["messages"].as_u64().unwrap() > 10, "{result}");
    assert!(result["latency_us"]["p50"].as_f64().unwrap() > 0.0);
    server.stop();
}

#[test]
fn broadcast_mode_counts_every_delivery() {
    let server = start(Broadcast);
    let url = format!("ws://{}/", server.local_addr());
    let result = bench(&[
        "broadcast",
        &url,
        "-c",
        "20",
        "-s",
        "32",
        "--duration",
        "0.3",
    ]);
    assert_eq!(result["receivers"], 20);
    let completed = result["completed"].as_u64().unwrap();
    assert!(completed > 0, "{result}");
    // Every message that reached every receiver was delivered 20 times.
    assert!(result["deliveries"].as_u64().unwrap() >= completed * 20);
    server.stop();
}

#[test]
fn connect_mode_reads_the_servers_memory() {
    let server = start(Echo);
    let url = format!("ws://{}/", server.local_addr());
    let pid = std::process::id().to_string();
    let result = bench(&[
        "connect",
        &url,
        "-n",
        "200",
        "--pid",
        &pid,
        "--duration",
        "0.1",
    ]);
    assert_eq!(result["connections"], 200);
    assert_eq!(result["failed"], 0);
    assert!(result["server_rss_after"].as_u64().unwrap() > 0);
    server.stop();
}

#[test]
fn echo_mode_reads_the_servers_cpu_time_and_sends_chat_json() {
    let server = start(Echo);
    let url = format!("ws://{}/", server.local_addr());
    let pid = std::process::id().to_string();
    let result = bench(&[
        "echo",
        &url,
        "-c",
        "4",
        "-s",
        "200",
        "--payload",
        "chat-json",
        "--pid",
        &pid,
        "--duration",
        "0.3",
    ]);
    assert_eq!(result["payload"], "chat-json");
    assert!(result["messages"].as_u64().unwrap() > 4, "{result}");
    let cpu = result["server_cpu_secs"].as_f64().expect("CPU seconds");
    assert!((0.0..30.0).contains(&cpu), "{result}");
    assert!(result["server_cpu_us_per_msg"].as_f64().unwrap() >= 0.0);
    server.stop();
}

#[test]
fn raw_echo_mode_counts_blocks_over_plain_tcp() {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // A plain TCP echo: each of the 3 connections echoed by its thread until it ends.
    let acceptor = std::thread::spawn(move || {
        for _ in 0..3 {
            let (mut stream, _) = listener.accept().unwrap();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n @ 1..) = stream.read(&mut buf) {
                    if stream.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
        }
    });
    let url = format!("ws://{addr}/");
    let result = bench(&[
        "echo",
        &url,
        "--raw",
        "-c",
        "3",
        "-s",
        "1000",
        "--inflight",
        "2",
        "--duration",
        "0.3",
    ]);
    acceptor.join().unwrap();
    assert_eq!(result["raw"], true);
    assert_eq!(result["opened"], 3);
    assert!(result["messages"].as_u64().unwrap() > 6, "{result}");
    assert!(result["latency_us"]["p50"].as_f64().unwrap() > 0.0);
}

fn start_chat(token: Option<&str>) -> RunningServer {
    let options = ChatOptions {
        token: token.map(str::to_owned),
        threads: 1,
        log: false,
        ..ChatOptions::default()
    };
    chat::start("127.0.0.1:0", options).unwrap()
}

/// `bench chat` at 20 messages/s for 1 s, with the chat's token "s3cret" and its own
/// origin, and these arguments.
fn chat_bench_with_token(server: &RunningServer, args: &[&str]) -> serde_json::Value {
    let addr = server.local_addr();
    let url = format!("ws://{addr}/ws");
    let origin = format!("http://{addr}");
    let common = ["chat", &url, "--rate", "20", "--duration", "1"];
    let access = ["--token", "s3cret", "--origin", &origin];
    bench(&[&common[..], &access, args].concat())
}

#[test]
fn chat_mode_delivers_every_message_to_every_member() {
    let server = start_chat(Some("s3cret"));
    let result = chat_bench_with_token(&server, &["-c", "20"]);
    assert_eq!(result["members"], 20, "{result}");
    assert_eq!(result["senders"], 4, "{result}");
    let sent = result["sent"].as_u64().unwrap();
    assert!(sent >= 15, "{result}");
    assert_eq!(
        result["deliveries"].as_u64().unwrap(),
        sent * 20,
        "{result}"
    );
    assert_eq!(result["expected_deliveries"], result["deliveries"]);
    assert_eq!(result["completed"].as_u64().unwrap(), sent, "{result}");
    assert_eq!(result["missing"], 0, "{result}");
    assert_eq!(result["errors"], 0, "{result}");
    assert_eq!(result["failed"], 0, "{result}");
    assert_eq!(result["dropped"], 0, "{result}");
    assert_eq!(result["strays"], 0, "{result}");
    let fanout = result["fanout_latency_us"]["p50"].as_f64().unwrap();
    assert!(fanout > 0.0, "{result}");
    server.stop();
}

#[test]
fn chat_mode_with_fallback_clients_counts_deliveries_per_transport() {
    let server = start_chat(Some("s3cret"));
    let pid = std::process::id().to_string();
    let args = ["-c", "10", "--fallback", "5", "--pid", &pid];
    let result = chat_bench_with_token(&server, &args);
    let addr = server.local_addr();
    assert_eq!(result["members"], 10, "{result}");
    assert_eq!(result["fallback_members"], 5, "{result}");
    let sent = result["sent"].as_u64().unwrap();
    assert!(sent >= 15, "{result}");
    // Every message reached the five clients of each transport, once.
    for transport in ["websocket", "fallback"] {
        let received = &result["by_transport"][transport];
        assert_eq!(received["deliveries"].as_u64(), Some(sent * 5), "{result}");
        assert!(received["latency_us"]["p50"].as_f64().unwrap() > 0.0);
    }
    assert_eq!(result["missing"], 0, "{result}");
    for none in ["errors", "failed", "dropped", "strays", "send_failures"] {
        assert_eq!(result[none], 0, "{none}: {result}");
    }
    assert_eq!(
        result["fallback_failures"],
        serde_json::json!({}),
        "{result}"
    );
    assert!(
        result["server_cpu_us_per_delivery"].as_f64().is_some(),
        "{result}"
    );
    // The run closed its sessions: none is left to expire.
    let metrics = crate::chat::support::http_get(addr, "/metrics", "").2;
    assert!(
        metrics.contains("fullduplex_chat_sessions{transport=\"fallback\"} 0"),
        "{metrics}"
    );
    server.stop();
}

#[test]
fn chat_mode_with_only_fallback_clients_runs_and_refuses_more_than_the_clients() {
    let server = start_chat(None);
    let url = format!("ws://{}/ws", server.local_addr());
    let result = bench(&[
        "chat",
        &url,
        "-c",
        "4",
        "--fallback",
        "4",
        "--duration",
        "0.5",
    ]);
    let delivered = result["by_transport"]["fallback"]["deliveries"].as_u64();
    assert!(delivered.unwrap() > 0, "{result}");
    assert_eq!(result["by_transport"]["websocket"]["deliveries"], 0);
    assert_eq!(result["errors"], 0, "{result}");
    let stderr = fails(&["chat", &url, "-c", "2", "--fallback", "3"]);
    assert!(
        stderr.contains("--fallback 3 is more than the 2 clients (-c)"),
        "{stderr}"
    );
    server.stop();
}

#[test]
fn chat_mode_reports_the_chats_rate_limit() {
    let server = start_chat(None);
    let url = format!("ws://{}/ws", server.local_addr());
    // One sender at 40 messages/s against the chat's limit of 10 per client.
    let result = bench(&[
        "chat",
        &url,
        "-c",
        "3",
        "--rate",
        "40",
        "--senders",
        "1",
        "--duration",
        "1",
    ]);
    assert!(
        result["error_codes"]["rate_limited"].as_u64().unwrap() >= 1,
        "{result}"
    );
    assert!(result["missing"].as_u64().unwrap() > 0, "{result}");
    server.stop();
}

#[test]
fn chat_mode_fails_when_the_chat_refuses_its_clients() {
    let server = start_chat(Some("s3cret"));
    let url = format!("ws://{}/ws", server.local_addr());
    let stderr = fails(&[
        "chat",
        &url,
        "-c",
        "2",
        "--duration",
        "0.2",
        "--origin",
        "http://elsewhere.example",
    ]);
    assert!(
        stderr.contains("no client joined #bench: all 2 connections"),
        "{stderr}"
    );
    assert!(
        stderr.contains("the server answered 401 Unauthorized, not 101 Switching Protocols: a valid token is required"),
        "{stderr}"
    );
    assert!(
        stderr.contains("(does the server want a token or another Origin?)"),
        "{stderr}"
    );
    server.stop();
}

/// A port on 127.0.0.1 where nothing listens (bound, then let go).
fn port_with_nothing_listening() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[test]
fn nothing_listening_is_said_once_with_a_hint_in_every_mode() {
    let url = format!("ws://127.0.0.1:{}/", port_with_nothing_listening());
    let sentence = format!(
        "all 20 connections to {url} failed: could not connect: connection refused \
         (is a server listening there?)"
    );
    for (mode, count) in [
        ("echo", "-c"),
        ("broadcast", "-c"),
        ("connect", "-n"),
        ("chat", "-c"),
    ] {
        let stderr = fails(&[mode, &url, count, "20", "--duration", "0.2"]);
        assert!(stderr.contains(&sentence), "{mode}: {stderr}");
        assert_eq!(stderr.matches("refused").count(), 1, "{mode}: {stderr}");
    }
}

#[test]
fn raw_echo_mode_says_nothing_listens_there() {
    let port = port_with_nothing_listening();
    let url = format!("ws://127.0.0.1:{port}/");
    let stderr = fails(&["echo", &url, "--raw", "-c", "5", "--duration", "0.2"]);
    assert!(
        stderr.contains(&format!(
            "could not connect to 127.0.0.1:{port}: connection refused \
             (is a server listening there?)"
        )),
        "{stderr}"
    );
}

/// Accepts every connection and never sends a message.
#[derive(Clone)]
struct Silent;

impl Handler for Silent {
    type Session = ();

    fn upgrade(&mut self, _: &Request, _: &ClientOffer) -> Upgrade<()> {
        Upgrade::accept(())
    }

    fn on_message(&mut self, _: &mut Conn<'_, ()>, _: Message<'_>) {}
}

/// Answers every message with the same text, which is never the message.
#[derive(Clone)]
struct Answers;

impl Handler for Answers {
    type Session = ();

    fn upgrade(&mut self, _: &Request, _: &ClientOffer) -> Upgrade<()> {
        Upgrade::accept(())
    }

    fn on_message(&mut self, conn: &mut Conn<'_, ()>, _: Message<'_>) {
        let _ = conn.send_text("not an echo");
    }
}

/// Closes every connection as soon as it opens.
#[derive(Clone)]
struct Closes;

impl Handler for Closes {
    type Session = ();

    fn upgrade(&mut self, _: &Request, _: &ClientOffer) -> Upgrade<()> {
        Upgrade::accept(())
    }

    fn on_open(&mut self, conn: &mut Conn<'_, ()>) {
        let _ = conn.close(CloseCode::GoingAway, "closing at once");
    }

    fn on_message(&mut self, _: &mut Conn<'_, ()>, _: Message<'_>) {}
}

/// Answers a chat join with the chat's welcome, and relays nothing.
#[derive(Clone)]
struct WelcomesOnly;

impl Handler for WelcomesOnly {
    type Session = ();

    fn upgrade(&mut self, _: &Request, _: &ClientOffer) -> Upgrade<()> {
        Upgrade::accept(())
    }

    fn on_message(&mut self, conn: &mut Conn<'_, ()>, message: Message<'_>) {
        if let Message::Text(text) = message {
            if text.contains(r#""type":"join""#) {
                let _ = conn.send_text(r#"{"type":"welcome","users":[]}"#);
            }
        }
    }
}

#[test]
fn echo_mode_fails_when_no_message_comes_back() {
    let server = start(Silent);
    let url = format!("ws://{}/", server.local_addr());
    let stderr = fails(&[
        "echo",
        &url,
        "-c",
        "5",
        "--duration",
        "0.3",
        "--warmup",
        "0",
    ]);
    assert!(
        stderr.contains(&format!(
            "no echo came back in the 0.3 s measured, on 5 connections: \
             does the server at {url} echo each message back"
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("messages/s"), "{stderr}");
    server.stop();
}

#[test]
fn echo_mode_does_not_count_other_messages_as_echoes() {
    let server = start(Answers);
    let url = format!("ws://{}/", server.local_addr());
    let stderr = fails(&[
        "echo",
        &url,
        "-c",
        "5",
        "--duration",
        "0.3",
        "--warmup",
        "0",
    ]);
    assert!(
        stderr.contains(
            "on 5 connections (5 messages that were not echoes came back during the run): \
             does the server at"
        ),
        "{stderr}"
    );
    server.stop();
}

#[test]
fn broadcast_mode_fails_when_no_message_is_relayed() {
    let server = start(Silent);
    let url = format!("ws://{}/", server.local_addr());
    let stderr = fails(&[
        "broadcast",
        &url,
        "-c",
        "5",
        "--duration",
        "0.3",
        "--warmup",
        "0",
    ]);
    assert!(
        stderr.contains(&format!(
            "no message reached every receiver in the 0.3 s measured (0 deliveries to 5 \
             receivers): does the server at {url} relay each message to every connection"
        )),
        "{stderr}"
    );
    server.stop();
}

#[test]
fn connect_mode_fails_when_the_server_closes_every_connection() {
    let server = start(Closes);
    let url = format!("ws://{}/", server.local_addr());
    let stderr = fails(&["connect", &url, "-n", "5", "--duration", "0.3"]);
    assert!(
        stderr.contains(
            "the server closed all 5 connections while they were held, so its memory per \
             connection could not be read: the connection closed with code 1001: closing at once"
        ),
        "{stderr}"
    );
    server.stop();
}

#[test]
fn chat_mode_fails_when_no_chat_message_comes_back() {
    let server = start(WelcomesOnly);
    let url = format!("ws://{}/ws", server.local_addr());
    let stderr = fails(&[
        "chat",
        &url,
        "-c",
        "3",
        "--duration",
        "0.5",
        "--warmup",
        "0",
    ]);
    assert!(
        stderr.contains("bench chat: 3 clients joined #bench"),
        "{stderr}"
    );
    assert!(
        stderr.contains("no chat message came back in the 0.5 s measured ("),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "sent to 3 members): does the server at {url} relay each message to its room"
        )),
        "{stderr}"
    );
    server.stop();
}

#[test]
fn chat_mode_fails_when_no_client_is_welcomed() {
    let server = start(Silent);
    let url = format!("ws://{}/ws", server.local_addr());
    let stderr = fails(&["chat", &url, "-c", "3", "--duration", "0.2"]);
    assert!(
        stderr.contains(&format!(
            "no client joined #bench within 10 s: 3 connections to {url} opened, but none had \
             a welcome in answer to its join: is it the chat's endpoint (ws://HOST:PORT/ws)?"
        )),
        "{stderr}"
    );
    server.stop();
}

#[test]
fn arguments_are_checked_before_anything_runs() {
    let url = format!("ws://127.0.0.1:{}/", port_with_nothing_listening());
    let cases: [&[&str]; 6] = [
        &["echo", &url, "-c", "0"],
        &["broadcast", &url, "-c", "0"],
        &["connect", &url, "-n", "0"],
        &["connect", &url, "--concurrency", "0"],
        &["chat", &url, "-c", "0"],
        &["echo", &url, "-c", "many"],
    ];
    for args in cases {
        let output = run(args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("invalid value"), "{args:?}: {stderr}");
        assert!(!stderr.contains("refused"), "{args:?} ran: {stderr}");
    }
    let zero = run(&["echo", &url, "-c", "0"]);
    let stderr = String::from_utf8_lossy(&zero.stderr);
    assert!(
        stderr.contains(
            "invalid value '0' for '--connections <CONNECTIONS>': \
             at least 1 connection is needed to measure anything"
        ),
        "{stderr}"
    );
    let concurrency = run(&["connect", &url, "--concurrency", "0"]);
    let stderr = String::from_utf8_lossy(&concurrency.stderr);
    assert!(
        stderr.contains("at least 1 handshake must be under way at a time for any to open"),
        "{stderr}"
    );
    let word = run(&["echo", &url, "-c", "many"]);
    let stderr = String::from_utf8_lossy(&word.stderr);
    assert!(
        stderr
            .contains("\"many\" is not a number of connections (a whole number from 1, e.g. 100)"),
        "{stderr}"
    );
}

#[test]
fn the_warm_up_says_it_is_warming_up() {
    let server = start(Echo);
    let url = format!("ws://{}/", server.local_addr());
    let output = run(&[
        "echo",
        &url,
        "-c",
        "3",
        "--warmup",
        "1.5",
        "--duration",
        "0.2",
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("    1 s  warming up, measuring in 1 s: "),
        "{stderr}"
    );
    assert!(!stderr.contains("msg/s"), "{stderr}");
    server.stop();
}
