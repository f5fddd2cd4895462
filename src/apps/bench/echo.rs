//! `fullduplex bench echo`: each connection keeps `--inflight` messages on their way to an
//! echo server; every echo is timed and answered with the next message.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};

use super::histogram::Histogram;
use super::payload::Payload;
use super::{
    close_all, connect_all, cpu_json, cpu_text, latency_json, latency_text, poll_failed, report,
    Common, Failures, Phases,
};
use fullduplex::client::{ClientConn, ClientHandler, ClientId, Ended};
use fullduplex::protocol::Message;

/// `fullduplex bench echo` options.
#[derive(Args, Debug)]
pub struct EchoArgs {
    /// The server, duration, deflate, output.
    #[command(flatten)]
    pub common: Common,
    /// Connections.
    #[arg(short = 'c', long = "connections", default_value_t = 100, value_parser = super::connections)]
    pub connections: usize,
    /// Bytes per message.
    #[arg(short = 's', long = "size", default_value_t = 1024)]
    pub size: usize,
    /// Messages each connection keeps on their way (sent, not yet echoed).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub inflight: u32,
    /// Send binary messages (default: text).
    #[arg(long)]
    pub binary: bool,
    /// The messages' content (chat-json: different JSON chat messages of about --size bytes).
    #[arg(long, value_enum, default_value_t = Payload::X)]
    pub payload: Payload,
    /// Plain TCP, no WebSocket: --size bytes sent, the same number awaited back (the ceiling
    /// of a raw echo server); the URL's host and port are used.
    #[arg(long)]
    pub raw: bool,
}

/// The load and what it measured.
struct Load {
    payloads: Vec<String>,
    next: usize,
    binary: bool,
    inflight: u32,
    /// Each connection's messages awaiting their echo: when each was sent, and which.
    sent_at: HashMap<ClientId, VecDeque<(Instant, usize)>>,
    measuring: bool,
    stopping: bool,
    latency: Histogram,
    messages: u64,
    /// Messages received (warm-up included) that were not the echo awaited.
    strays: u64,
    opened: usize,
    ended: usize,
    failures: Failures,
}

impl Load {
    fn send(&mut self, conn: &mut ClientConn<'_>) {
        let which = self.next % self.payloads.len();
        let text = &self.payloads[which];
        self.next = self.next.wrapping_add(1);
        let message = if self.binary {
            Message::Binary(text.as_bytes())
        } else {
            Message::Text(text)
        };
        if conn.send(message).is_ok() {
            let queue = self.sent_at.entry(conn.id()).or_default();
            queue.push_back((Instant::now(), which));
        }
    }
}

impl ClientHandler for Load {
    fn on_open(&mut self, conn: &mut ClientConn<'_>) {
        self.opened += 1;
        for _ in 0..self.inflight {
            self.send(conn);
        }
    }

    /// An echo is timed and answered with the next message; anything else is counted as a
    /// stray, and the echo still awaited.
    fn on_message(&mut self, conn: &mut ClientConn<'_>, message: Message<'_>) {
        let now = Instant::now();
        let queue = self.sent_at.entry(conn.id()).or_default();
        let awaited = queue
            .front()
            .map(|&(_, which)| self.payloads[which].as_bytes());
        if awaited != Some(message.as_bytes()) {
            self.strays += 1;
            return;
        }
        if let Some((sent, _)) = queue.pop_front() {
            if self.measuring {
                self.latency.record(now - sent);
                self.messages += 1;
            }
        }
        if !self.stopping {
            self.send(conn);
        }
    }

    fn on_end(&mut self, id: ClientId, ended: &Ended) {
        self.ended += 1;
        self.sent_at.remove(&id);
        self.failures.note(ended);
    }
}

/// Runs the echo load and prints the result.
pub fn run(args: &EchoArgs) -> Result<(), String> {
    if args.raw {
        return super::raw::run(args);
    }
    let common = &args.common;
    let (mut clients, ids) = connect_all(common, args.connections)?;
    let mut load = Load {
        payloads: args.payload.messages(args.size),
        next: 0,
        binary: args.binary,
        inflight: args.inflight,
        sent_at: HashMap::with_capacity(args.connections),
        measuring: false,
        stopping: false,
        latency: Histogram::default(),
        messages: 0,
        strays: 0,
        opened: 0,
        ended: 0,
        failures: Failures::default(),
    };
    let mut phases = Phases::start(common);
    loop {
        let now = Instant::now();
        load.measuring = phases.tick(now);
        if phases.done(now) {
            break;
        }
        if load.ended == args.connections {
            let url = &common.url;
            return Err(load.failures.all_ended(url, args.connections, load.opened));
        }
        let rate = phases.rate(load.messages, now);
        let open = load.opened - load.ended.min(load.opened);
        phases.progress(
            now,
            || format!("{open} open"),
            || format!("{rate:.0} msg/s"),
        );
        clients
            .poll(&mut load, Some(phases.poll_timeout(now)))
            .map_err(poll_failed)?;
    }
    let seconds = phases.measured_secs();
    let cpu = phases.server_cpu();
    load.measuring = false;
    load.stopping = true;
    load.failures.closing = true;
    phases.finish();
    close_all(&mut clients, &mut load, ids, Duration::from_secs(5));
    let outcome = Outcome {
        opened: load.opened,
        messages: load.messages,
        strays: load.strays,
        failures: Some(&load.failures),
        latency: &load.latency,
        seconds,
        cpu,
    };
    finish(args, &outcome)
}

/// What an echo run measured.
pub(crate) struct Outcome<'a> {
    pub(crate) opened: usize,
    pub(crate) messages: u64,
    /// Messages received (warm-up included) that were not the echo awaited.
    pub(crate) strays: u64,
    /// Why connections failed, when the run knows.
    pub(crate) failures: Option<&'a Failures>,
    pub(crate) latency: &'a Histogram,
    pub(crate) seconds: f64,
    /// The server's CPU seconds over the measured window (with `--pid`).
    pub(crate) cpu: Option<f64>,
}

/// Prints what the run measured, or says why it measured nothing.
pub(crate) fn finish(args: &EchoArgs, outcome: &Outcome<'_>) -> Result<(), String> {
    let url = &args.common.url;
    let seconds = outcome.seconds;
    if outcome.opened == 0 {
        return Err(format!(
            "none of the {} connections to {url} opened before the run ended: \
             is the server answering WebSocket handshakes?",
            args.connections
        ));
    }
    if outcome.messages == 0 {
        let others = match outcome.strays {
            0 => String::new(),
            n => format!(" ({n} messages that were not echoes came back during the run)"),
        };
        return Err(format!(
            "no echo came back in the {seconds:.1} s measured, on {} connections{others}: \
             does the server at {url} echo each message back (as `fullduplex echo` does)?",
            outcome.opened
        ));
    }
    print_result(args, outcome);
    Ok(())
}

fn print_result(args: &EchoArgs, load: &Outcome<'_>) {
    let seconds = load.seconds;
    let rate = load.messages as f64 / seconds.max(1e-9);
    let mb = rate * args.size as f64 / 1e6;
    let (cpu_secs, cpu_per) = cpu_json(load.cpu, load.messages);
    let value = serde_json::json!({
        "mode": "echo",
        "url": args.common.url,
        "connections": args.connections,
        "opened": load.opened,
        "size": args.size,
        "inflight": args.inflight,
        "binary": args.binary,
        "deflate": args.common.deflate,
        "raw": args.raw,
        "payload": args.payload.to_possible_value().map(|v| v.get_name().to_owned()),
        "messages": load.messages,
        "strays": load.strays,
        "seconds": seconds,
        "msgs_per_sec": rate.round(),
        "mb_per_sec": (mb * 100.0).round() / 100.0,
        "latency_us": latency_json(load.latency),
        "server_cpu_secs": cpu_secs,
        "server_cpu_us_per_msg": cpu_per,
    });
    let lines = [
        format!(
            "echo {}: {} connections × {} B, {} in flight each, {:.1} s measured",
            args.common.url, load.opened, args.size, args.inflight, seconds
        ),
        format!(
            "  {:.0} messages/s, {:.1} MB/s each way, {} messages",
            rate, mb, load.messages
        ),
        format!("  round trip: {}", latency_text(load.latency)),
    ];
    let strays = (load.strays > 0).then(|| {
        format!(
            "  {} messages received were not the echo awaited (not counted; warm-up included)",
            load.strays
        )
    });
    let failures = load
        .failures
        .filter(|f| !f.is_empty())
        .map(|f| format!("  failures: {f}"));
    let lines: Vec<String> = lines
        .into_iter()
        .chain(strays)
        .chain(failures)
        .chain(cpu_text(load.cpu, load.messages, "message"))
        .collect();
    report(args.common.json, &value, &lines);
}
