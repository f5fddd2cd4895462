//! `fullduplex bench connect`: opens `-n` connections (at most `--concurrency` handshakes at
//! a time), holds them idle, and, given the server's process id, reads how much its resident
//! memory grew per connection.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use clap::Args;

use super::{close_all, poll_failed, report, start_connection, start_failed, Common, Failures};
use fullduplex::client::{ClientConn, ClientHandler, ClientId, Ended, MultiClient};
use fullduplex::protocol::Message;

/// `fullduplex bench connect` options.
#[derive(Args, Debug)]
pub struct ConnectArgs {
    /// The server, deflate, output (`--duration` is how long the connections are held).
    #[command(flatten)]
    pub common: Common,
    /// Connections to open.
    #[arg(short = 'n', long = "connections", default_value_t = 10_000, value_parser = super::connections)]
    pub connections: usize,
    /// Most handshakes under way at once.
    #[arg(long, default_value_t = 256, value_parser = handshakes)]
    pub concurrency: usize,
}

fn handshakes(text: &str) -> Result<usize, String> {
    let zero = "at least 1 handshake must be under way at a time for any to open";
    super::at_least_one(text, "handshakes", zero)
}

#[derive(Default)]
struct Load {
    /// Connections that opened (some may have ended since).
    opened: usize,
    /// Connections that ended before opening.
    failed: usize,
    /// Connections that ended after opening.
    dropped: usize,
    failures: Failures,
    open: HashSet<ClientId>,
}

impl ClientHandler for Load {
    fn on_open(&mut self, conn: &mut ClientConn<'_>) {
        self.opened += 1;
        self.open.insert(conn.id());
    }

    fn on_message(&mut self, _: &mut ClientConn<'_>, _: Message<'_>) {}

    fn on_end(&mut self, id: ClientId, ended: &Ended) {
        if self.open.remove(&id) {
            self.dropped += 1;
        } else {
            self.failed += 1;
        }
        self.failures.note(ended);
    }
}

/// A process's memory, in bytes: resident in all (`VmRSS` of /proc/PID/status), and the
/// anonymous part of it (`RssAnon`: heap, stacks; not the program's code and files, whose
/// pages a first connection maps in once for all).
#[derive(Debug, Clone, Copy)]
pub struct Usage {
    /// Resident memory.
    pub resident: u64,
    /// Resident anonymous memory.
    pub anonymous: u64,
}

/// The memory of process `pid`, if /proc can tell.
pub fn memory_of(pid: u32) -> Option<Usage> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    };
    Some(Usage {
        resident: field("VmRSS:")?,
        anonymous: field("RssAnon:")?,
    })
}

/// Opens the connections, holds them, reports, and closes them.
pub fn run(args: &ConnectArgs) -> Result<(), String> {
    let common = &args.common;
    let before = common.pid.map(|pid| {
        memory_of(pid).ok_or_else(|| format!("cannot read /proc/{pid}/status: is it running?"))
    });
    let before = before.transpose()?;
    let mut clients = MultiClient::new(common.client_options()?).map_err(start_failed)?;
    let mut load = Load::default();
    let started = Instant::now();
    let mut requested = 0;
    while load.opened + load.failed < args.connections {
        while requested < args.connections
            && requested - load.opened - load.failed < args.concurrency
        {
            start_connection(&mut clients, &common.url, requested)?;
            requested += 1;
        }
        clients
            .poll(&mut load, Some(Duration::from_millis(100)))
            .map_err(poll_failed)?;
        if started.elapsed() > Duration::from_secs(120) {
            return Err(format!(
                "only {} of {} connections to {} opened in 120 s: is the server overloaded? \
                 (a lower --concurrency may do)",
                load.opened, args.connections, common.url
            ));
        }
    }
    if load.opened == 0 {
        return Err(load.failures.all_ended(&common.url, args.connections, 0));
    }
    let connect_secs = started.elapsed().as_secs_f64();
    // Hold the connections idle; the server settles (buffers returned to its pools).
    let hold_until = Instant::now() + Duration::from_secs_f64(common.duration.min(3600.0));
    while Instant::now() < hold_until {
        clients
            .poll(&mut load, Some(Duration::from_millis(200)))
            .map_err(poll_failed)?;
    }
    let after = common.pid.and_then(memory_of);
    let still_open = load.open.len();
    let per_conn = |field: fn(&Usage) -> u64| match (before, after) {
        (Some(b), Some(a)) if still_open > 0 => {
            Some(field(&a).saturating_sub(field(&b)) as f64 / still_open as f64)
        }
        _ => None,
    };
    load.failures.closing = true;
    if still_open == 0 {
        return Err(format!(
            "the server closed all {} connections while they were held, so its memory per \
             connection could not be read: {}",
            load.opened, load.failures
        ));
    }
    let ids: Vec<ClientId> = load.open.iter().copied().collect();
    close_all(&mut clients, &mut load, ids, Duration::from_secs(10));
    let memory = Memory {
        before,
        after,
        per_conn: per_conn(|u| u.resident),
        anon_per_conn: per_conn(|u| u.anonymous),
        held: still_open,
    };
    print_result(args, &load, connect_secs, &memory);
    Ok(())
}

/// The server's memory before and after, and the growth per connection held: resident in
/// all, and anonymous.
struct Memory {
    before: Option<Usage>,
    after: Option<Usage>,
    per_conn: Option<f64>,
    anon_per_conn: Option<f64>,
    held: usize,
}

fn print_result(args: &ConnectArgs, load: &Load, seconds: f64, memory: &Memory) {
    let Memory {
        before,
        after,
        per_conn,
        anon_per_conn,
        held,
    } = *memory;
    let rate = load.opened as f64 / seconds.max(1e-9);
    let value = serde_json::json!({
        "mode": "connect",
        "url": args.common.url,
        "connections": load.opened,
        "failed": load.failed,
        "dropped": load.dropped,
        "held": held,
        "seconds": seconds,
        "connects_per_sec": rate.round(),
        "deflate": args.common.deflate,
        "server_rss_before": before.map(|u| u.resident),
        "server_rss_after": after.map(|u| u.resident),
        "server_rss_bytes_per_conn": per_conn.map(f64::round),
        "server_anon_before": before.map(|u| u.anonymous),
        "server_anon_after": after.map(|u| u.anonymous),
        "server_anon_bytes_per_conn": anon_per_conn.map(f64::round),
    });
    let mut lines = vec![format!(
        "connect {}: {} of {} connections opened in {:.2} s ({:.0}/s)",
        args.common.url, load.opened, args.connections, seconds, rate
    )];
    if let (Some(b), Some(a), Some(per), Some(anon)) = (before, after, per_conn, anon_per_conn) {
        lines.push(format!(
            "  server resident memory {:.1} MiB -> {:.1} MiB: {:.0} bytes per idle connection",
            b.resident as f64 / 1048576.0,
            a.resident as f64 / 1048576.0,
            per
        ));
        lines.push(format!(
            "  of which anonymous (heap, stacks) {:.1} MiB -> {:.1} MiB: {:.0} bytes per idle connection",
            b.anonymous as f64 / 1048576.0,
            a.anonymous as f64 / 1048576.0,
            anon
        ));
    }
    if !load.failures.is_empty() {
        lines.push(format!("  failures: {}", load.failures));
    }
    report(args.common.json, &value, &lines);
}
