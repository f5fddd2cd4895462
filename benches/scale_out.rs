//! Measures the chat scaled out through Redis: broadcast latency within one node and across
//! two, and how many room events per second one node publishes through Redis.
//!
//! ```sh
//! cargo bench --bench scale_out -- [--redis URL] [--clients N] [--rate R] \
//!     [--seconds S] [--senders K]
//! ```
//!
//! Without `--redis` it starts `redis-server` on a free loopback port. Two chat nodes (A and
//! B) run in this process, one worker each. Phase 1: one client on A sends `R` messages per
//! second for `S` seconds to a room holding `N` clients on A and `N` on B; each receiver
//! records send → receive per message (same-process clock), kept apart for receivers on A
//! (within one node) and on B (across nodes, through Redis). Phase 2: `K` clients on A send
//! as fast as they can; the rate is A's published envelopes per second and B's received.

// The chat is the binary's code, not the library's: compiled in here as in `src/main.rs`.
#[allow(dead_code, unused_imports)]
#[path = "../src/apps/mod.rs"]
mod apps;

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use apps::bench::histogram::Histogram;
use apps::chat::{self, BrokerOptions, ChatOptions, RateLimits, RedisHub};
use fullduplex::client::{connect, WebSocket};
use fullduplex::protocol::OwnedEvent;
use fullduplex::server::RunningServer;
use serde_json::{json, Value};

struct Args {
    redis: Option<String>,
    clients: usize,
    rate: u64,
    seconds: u64,
    senders: usize,
}

fn parse_args() -> Args {
    let mut args = Args {
        redis: None,
        clients: 4,
        rate: 200,
        seconds: 10,
        senders: 4,
    };
    let mut it = std::env::args().skip(1).filter(|a| a != "--bench");
    while let (Some(flag), Some(value)) = (it.next(), it.next()) {
        let number = || value.parse().expect("a number");
        match flag.as_str() {
            "--redis" => args.redis = Some(value.clone()),
            "--clients" => args.clients = number() as usize,
            "--rate" => args.rate = number(),
            "--seconds" => args.seconds = number(),
            "--senders" => args.senders = number() as usize,
            other => panic!("unknown option {other}"),
        }
    }
    args
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs bench targets without
    // it, and a 20-second measurement against Redis is no test.
    if !std::env::args().any(|a| a == "--bench") {
        println!("scale_out: a benchmark; run it with `cargo bench --bench scale_out`");
        return;
    }
    let args = parse_args();
    let (url, _redis) = match &args.redis {
        Some(url) => (url.clone(), None),
        None => start_redis(),
    };
    let (a, hub_a) = node(&url, "bench-a");
    let (b, hub_b) = node(&url, "bench-b");
    wait_until(|| hub_a.stats().is_up() && hub_b.stats().is_up());
    println!(
        "nodes up: A {} and B {} through {url}",
        a.local_addr(),
        b.local_addr()
    );
    latency(&args, a.local_addr(), b.local_addr());
    throughput(&args, a.local_addr(), b.local_addr(), &hub_a, &hub_b);
    a.stop();
    b.stop();
}

fn node(url: &str, id: &str) -> (RunningServer, Arc<RedisHub>) {
    let mut broker = BrokerOptions::new(url);
    broker.node_id = id.to_owned();
    broker.log = false;
    let hub = Arc::new(RedisHub::new(broker).expect("a Redis URL"));
    let options = ChatOptions {
        hub: hub.clone(),
        threads: 1,
        log: false,
        rate: RateLimits {
            messages_per_sec: 1e9,
            message_burst: 1e9,
            bytes_per_sec: 1e12,
            abuse_threshold: 1e12,
        },
        ..ChatOptions::default()
    };
    (chat::start("127.0.0.1:0", options).expect("binds"), hub)
}

fn start_redis() -> (String, Option<KillOnDrop>) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server is installed (or pass --redis URL)");
    let url = format!("redis://127.0.0.1:{port}");
    wait_until(|| std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
    (url, Some(KillOnDrop(child)))
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_until(mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ready() {
        assert!(Instant::now() < deadline, "not ready within 10 s");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn join(addr: SocketAddr, nick: &str, room: &str) -> WebSocket {
    let mut ws = connect(&format!("ws://{addr}/ws")).expect("connects");
    ws.set_read_timeout(Some(Duration::from_secs(2)))
        .expect("sets a timeout");
    let join = json!({"type": "join", "nick": nick, "room": room}).to_string();
    ws.send_text(&join).expect("sends");
    loop {
        if let OwnedEvent::Text(text) = ws.recv().expect("a welcome") {
            if text.contains("\"welcome\"") {
                return ws;
            }
        }
    }
}

/// Phase 1: send → receive latency within one node and across two.
fn latency(args: &Args, a: SocketAddr, b: SocketAddr) {
    let base = Instant::now();
    let total = args.rate * args.seconds;
    let mut receivers = Vec::new();
    for i in 0..args.clients {
        receivers.push(receive(join(a, &format!("ra{i}"), "bench"), base, total));
        receivers.push(receive(join(b, &format!("rb{i}"), "bench"), base, total));
    }
    // Let every node learn every other's users before measuring.
    std::thread::sleep(Duration::from_millis(500));
    let mut sender = join(a, "sender", "bench");
    let interval = Duration::from_nanos(1_000_000_000 / args.rate.max(1));
    let start = Instant::now();
    for seq in 0..total {
        let due = start + interval * u32::try_from(seq).unwrap_or(u32::MAX);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let sent = base.elapsed().as_nanos();
        let text = format!("bench {seq} {sent}");
        let message = json!({"type": "message", "text": text}).to_string();
        sender.send_text(&message).expect("sends");
        while let Ok(OwnedEvent::Text(_)) = recv_now(&mut sender) {}
    }
    let (mut local, mut remote) = (Histogram::default(), Histogram::default());
    for (i, receiver) in receivers.into_iter().enumerate() {
        let histogram = receiver.join().expect("a receiver");
        if i % 2 == 0 {
            local.merge(&histogram)
        } else {
            remote.merge(&histogram)
        }
    }
    println!(
        "latency, {} msg/s for {} s, {} receivers on each node:",
        args.rate, args.seconds, args.clients
    );
    report("within node A", &local, total * args.clients as u64);
    report("A -> Redis -> B", &remote, total * args.clients as u64);
}

fn recv_now(ws: &mut WebSocket) -> Result<OwnedEvent, ()> {
    ws.set_read_timeout(Some(Duration::from_micros(1)))
        .map_err(|_| ())?;
    ws.recv().map_err(|_| ())
}

fn report(label: &str, histogram: &Histogram, expected: u64) {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "  {label:<16} received {}/{expected}  p50 {:.3} ms  p99 {:.3} ms  max {:.3} ms",
        histogram.len(),
        ms(histogram.quantile(0.5)),
        ms(histogram.quantile(0.99)),
        ms(histogram.max()),
    );
}

/// A receiver: records the latency of each `bench` message until it has `total` or hears
/// nothing for two seconds.
fn receive(mut ws: WebSocket, base: Instant, total: u64) -> JoinHandle<Histogram> {
    std::thread::spawn(move || {
        let mut histogram = Histogram::default();
        while histogram.len() < total {
            let Ok(event) = ws.recv() else { break };
            let OwnedEvent::Text(text) = event else {
                continue;
            };
            let now = base.elapsed().as_nanos();
            let Ok(value) = serde_json::from_str::<Value>(&text) else {
                continue;
            };
            let Some(fields) = value["text"]
                .as_str()
                .and_then(|t| t.strip_prefix("bench "))
            else {
                continue;
            };
            if let Some(sent) = fields
                .split(' ')
                .nth(1)
                .and_then(|s| s.parse::<u128>().ok())
            {
                let nanos = u64::try_from(now.saturating_sub(sent)).unwrap_or(u64::MAX);
                histogram.record(Duration::from_nanos(nanos));
            }
        }
        histogram
    })
}

/// Phase 2: envelopes per second one node publishes through Redis, senders flat out.
fn throughput(args: &Args, a: SocketAddr, b: SocketAddr, hub_a: &RedisHub, hub_b: &RedisHub) {
    let listener = receive(join(b, "counter", "flood"), Instant::now(), u64::MAX);
    let seconds = args.seconds.min(5);
    let published = hub_a
        .stats()
        .published
        .load(std::sync::atomic::Ordering::Relaxed);
    let received = hub_b
        .stats()
        .received
        .load(std::sync::atomic::Ordering::Relaxed);
    let start = Instant::now();
    let senders: Vec<_> = (0..args.senders)
        .map(|i| {
            let mut ws = join(a, &format!("flood{i}"), "flood");
            std::thread::spawn(move || {
                let deadline = Instant::now() + Duration::from_secs(seconds);
                let message = json!({"type": "message", "text": "flood"}).to_string();
                while Instant::now() < deadline {
                    for _ in 0..32 {
                        if ws.send_text(&message).is_err() {
                            return;
                        }
                    }
                    while let Ok(OwnedEvent::Text(_)) = recv_now(&mut ws) {}
                }
            })
        })
        .collect();
    for sender in senders {
        let _ = sender.join();
    }
    let elapsed = start.elapsed().as_secs_f64();
    let load =
        |counter: &std::sync::atomic::AtomicU64| counter.load(std::sync::atomic::Ordering::Relaxed);
    // Give B a moment to drain what is in flight, then count.
    std::thread::sleep(Duration::from_millis(500));
    let published = load(&hub_a.stats().published) - published;
    let received = load(&hub_b.stats().received) - received;
    let failed = load(&hub_a.stats().local_only);
    println!(
        "throughput, {} senders on A for {elapsed:.1} s: A published {:.0} envelopes/s, \
         B received {:.0}/s; local-only (queue full) {failed}",
        args.senders,
        published as f64 / elapsed,
        received as f64 / elapsed,
    );
    drop(listener);
}
