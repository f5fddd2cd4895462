//! `fullduplex bench` against the project's own testees over loopback: each mode runs,
//! measures something, and reports it as JSON (the figures themselves are not judged here).

use std::process::Command;

use crate::apps::broadcast::Broadcast;
use crate::apps::chat::{self, ChatOptions};
use crate::apps::echo::Echo;
use fullduplex::server::{Handler, RunningServer, Server, ServerConfig};

fn start<H: Handler>(handler: H) -> RunningServer {
    let config = ServerConfig {
        threads: 1,
        ..ServerConfig::default()
    };
    Server::new(config, handler).bind("127.0.0.1:0").unwrap()
}

fn bench(args: &[&str]) -> serde_json::Value {
    let output = Command::new(env!("CARGO_BIN_EXE_fullduplex"))
        .arg("bench")
        .args(args)
        .args(["--json", "--warmup", "0"])
        .output()
        .expect("the binary runs");
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

#[test]
fn chat_mode_delivers_every_message_to_every_member() {
    let server = start_chat(Some("s3cret"));
    let addr = server.local_addr();
    let url = format!("ws://{addr}/ws");
    let origin = format!("http://{addr}");
    let result = bench(&[
        "chat",
        &url,
        "-c",
        "20",
        "--rate",
        "20",
        "--duration",
        "1",
        "--token",
        "s3cret",
        "--origin",
        &origin,
    ]);
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
    let output = Command::new(env!("CARGO_BIN_EXE_fullduplex"))
        .args(["bench", "chat", &url, "-c", "2", "--duration", "0.2"])
        .args(["--origin", "http://elsewhere.example"])
        .output()
        .expect("the binary runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no client joined"), "{stderr}");
    assert!(stderr.contains("401"), "{stderr}");
    server.stop();
}
