//! `fullduplex bench broadcast`: one connection sends numbered messages to a server that
//! relays each to every connection (the sender included); the run counts deliveries and
//! times each message from its sending until the last receiver has it (the fan-out latency).

use std::collections::HashMap;
use std::fmt::Write;
use std::time::{Duration, Instant};

use clap::Args;

use super::histogram::Histogram;
use super::slow::SlowReaders;
use super::{
    close_all, connect_all, cpu_json, cpu_text, latency_json, latency_text, poll_failed, report,
    Common, Failures, Phases,
};
use fullduplex::client::{ClientConn, ClientHandler, ClientId, Ended, MultiClient};
use fullduplex::protocol::Message;

/// Bytes of a message's number, written in hex at its start.
const SEQ_LEN: usize = 16;

/// `fullduplex bench broadcast` options.
#[derive(Args, Debug)]
pub struct BroadcastArgs {
    /// The server, duration, deflate, output.
    #[command(flatten)]
    pub common: Common,
    /// Connections, each of them a receiver (the first one also sends).
    #[arg(short = 'c', long = "connections", default_value_t = 1000, value_parser = super::connections)]
    pub receivers: usize,
    /// Bytes per message (at least 16: the message's number).
    #[arg(short = 's', long = "size", default_value_t = 16, value_parser = clap::value_parser!(u32).range(16..))]
    pub size: u32,
    /// Messages sent per second (0: as fast as --inflight allows).
    #[arg(long, default_value_t = 0)]
    pub rate: u32,
    /// Most messages not yet delivered to every receiver.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..))]
    pub inflight: u32,
    /// Send binary messages (default: text).
    #[arg(long)]
    pub binary: bool,
    /// Connections besides --connections that open and then never read (ws:// only): their
    /// receive windows fill, and the server's slow-consumer policy meets them. The fan-out
    /// latency is the reading connections'.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub slow: usize,
}

/// A message on its way: when it was sent, how many receivers still lack it.
struct Pending {
    sent: Instant,
    missing: usize,
    measured: bool,
}

struct Load {
    pending: HashMap<u64, Pending>,
    open: Vec<ClientId>,
    /// Connections that opened (some may have ended since).
    opened: usize,
    measuring: bool,
    fanout: Histogram,
    deliveries: u64,
    completed: u64,
    ended: usize,
    failures: Failures,
    stopping: bool,
}

impl ClientHandler for Load {
    fn on_open(&mut self, conn: &mut ClientConn<'_>) {
        self.opened += 1;
        self.open.push(conn.id());
    }

    fn on_message(&mut self, _: &mut ClientConn<'_>, message: Message<'_>) {
        let bytes = match message {
            Message::Text(text) => text.as_bytes(),
            Message::Binary(data) => data,
        };
        let Some(seq) = bytes
            .get(..SEQ_LEN)
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u64::from_str_radix(hex, 16).ok())
        else {
            return;
        };
        let Some(pending) = self.pending.get_mut(&seq) else {
            return;
        };
        if pending.measured {
            self.deliveries += 1;
        }
        pending.missing = pending.missing.saturating_sub(1);
        if pending.missing == 0 {
            let pending = self.pending.remove(&seq).expect("present");
            if pending.measured {
                self.fanout.record(pending.sent.elapsed());
                self.completed += 1;
            }
        }
    }

    fn on_end(&mut self, id: ClientId, ended: &Ended) {
        self.ended += 1;
        self.open.retain(|&open| open != id);
        self.failures.note(ended);
    }
}

/// Runs the broadcast load and prints the result.
pub fn run(args: &BroadcastArgs) -> Result<(), String> {
    let common = &args.common;
    let (mut clients, ids) = connect_all(common, args.receivers)?;
    let mut load = Load {
        pending: HashMap::new(),
        open: Vec::with_capacity(args.receivers),
        opened: 0,
        measuring: false,
        fanout: Histogram::default(),
        deliveries: 0,
        completed: 0,
        ended: 0,
        failures: Failures::default(),
        stopping: false,
    };
    wait_until_open(&mut clients, &mut load, &common.url, args.receivers)?;
    let slow = SlowReaders::open(&common.url, args.slow)?;
    let mut phases = Phases::start(common);
    let mut sent_total = 0u64;
    let mut sent_measured = 0u64;
    let mut payload = String::with_capacity(args.size as usize);
    let interval = (args.rate > 0).then(|| Duration::from_secs_f64(1.0 / f64::from(args.rate)));
    let mut next_send = Instant::now();
    loop {
        let now = Instant::now();
        load.measuring = phases.tick(now);
        if phases.done(now) {
            break;
        }
        let Some(&sender) = load.open.first() else {
            let all = load
                .failures
                .all_ended(&common.url, args.receivers, load.opened);
            return Err(all);
        };
        while load.pending.len() < args.inflight as usize && now >= next_send {
            fill(&mut payload, sent_total, args.size as usize);
            let message = if args.binary {
                Message::Binary(payload.as_bytes())
            } else {
                Message::Text(&payload)
            };
            clients
                .send(sender, message)
                .map_err(|e| format!("could not send on the sending connection: {e}"))?;
            load.pending.insert(
                sent_total,
                Pending {
                    sent: Instant::now(),
                    missing: load.open.len(),
                    measured: load.measuring,
                },
            );
            sent_total += 1;
            sent_measured += u64::from(load.measuring);
            if let Some(interval) = interval {
                next_send += interval;
            }
        }
        let rate = phases.rate(load.deliveries, now);
        let open = load.open.len();
        phases.progress(
            now,
            || format!("{open} receivers"),
            || format!("{rate:.0} deliveries/s"),
        );
        let mut timeout = phases.poll_timeout(now);
        if interval.is_some() && load.pending.len() < args.inflight as usize {
            timeout = timeout.min(next_send.saturating_duration_since(now));
        }
        clients
            .poll(&mut load, Some(timeout))
            .map_err(poll_failed)?;
    }
    let seconds = phases.measured_secs();
    let cpu = phases.server_cpu();
    let receivers = load.open.len();
    load.stopping = true;
    load.failures.closing = true;
    phases.finish();
    close_all(&mut clients, &mut load, ids, Duration::from_secs(5));
    if load.completed == 0 {
        return Err(format!(
            "no message reached every receiver in the {seconds:.1} s measured \
             ({} deliveries to {receivers} receivers): does the server at {} relay each \
             message to every connection (as `fullduplex broadcast` does)?",
            load.deliveries, common.url
        ));
    }
    print_result(args, &load, (receivers, sent_measured), seconds, cpu);
    drop(slow);
    Ok(())
}

/// Polls until every connection opened or ended (bounded by the connect timeout).
fn wait_until_open(
    clients: &mut MultiClient,
    load: &mut Load,
    url: &str,
    wanted: usize,
) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while load.open.len() + load.ended < wanted {
        if Instant::now() >= deadline {
            return Err(format!(
                "only {} of {wanted} connections to {url} opened within 30 s{}: \
                 is the server overloaded? (fewer connections may do)",
                load.open.len(),
                failed(&load.failures),
            ));
        }
        clients
            .poll(load, Some(Duration::from_millis(100)))
            .map_err(poll_failed)?;
    }
    if load.open.is_empty() {
        return Err(load.failures.all_ended(url, wanted, 0));
    }
    Ok(())
}

/// The failures, if any, as a clause to go before a colon.
fn failed(failures: &Failures) -> String {
    if failures.is_empty() {
        String::new()
    } else {
        format!(" (failures: {failures})")
    }
}

/// The message numbered `seq`: its number in hex, then filler up to `size` bytes.
fn fill(payload: &mut String, seq: u64, size: usize) {
    payload.clear();
    let _ = write!(payload, "{seq:016x}");
    payload.extend(std::iter::repeat_n('x', size - SEQ_LEN));
}

fn print_result(
    args: &BroadcastArgs,
    load: &Load,
    (receivers, sent): (usize, u64),
    seconds: f64,
    cpu: Option<f64>,
) {
    let rate = load.deliveries as f64 / seconds.max(1e-9);
    let (cpu_secs, cpu_per) = cpu_json(cpu, load.deliveries);
    let value = serde_json::json!({
        "mode": "broadcast",
        "url": args.common.url,
        "receivers": receivers,
        "slow": args.slow,
        "size": args.size,
        "rate": args.rate,
        "inflight": args.inflight,
        "sent": sent,
        "completed": load.completed,
        "deliveries": load.deliveries,
        "seconds": seconds,
        "deliveries_per_sec": rate.round(),
        "fanout_latency_us": latency_json(&load.fanout),
        "server_cpu_secs": cpu_secs,
        "server_cpu_us_per_delivery": cpu_per,
    });
    let lines = [
        format!(
            "broadcast {}: {} receivers{} × {} B, {} in flight, {:.1} s measured",
            args.common.url,
            receivers,
            match args.slow {
                0 => String::new(),
                n => format!(" (and {n} never reading)"),
            },
            args.size,
            args.inflight,
            seconds
        ),
        format!(
            "  {:.0} deliveries/s; {} messages sent, {} reached every receiver",
            rate, sent, load.completed
        ),
        format!("  fan-out latency: {}", latency_text(&load.fanout)),
    ];
    let failures = (!load.failures.is_empty()).then(|| format!("  failures: {}", load.failures));
    let lines: Vec<String> = lines
        .into_iter()
        .chain(failures)
        .chain(cpu_text(cpu, load.deliveries, "delivery"))
        .collect();
    report(args.common.json, &value, &lines);
}
