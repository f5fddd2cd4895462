//! `fullduplex bench` against the project's own testees over loopback: each mode runs,
//! measures something, and reports it as JSON (the figures themselves are not judged here).

use std::process::Command;

use fullduplex::apps::broadcast::Broadcast;
use fullduplex::apps::echo::Echo;
use fullduplex::server::{Handler, RunningServer, Server};
use fullduplex::Config;

fn start<H: Handler>(handler: H) -> RunningServer {
    let config = Config {
        threads: 1,
        ..Config::default()
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
