//! `fullduplex bench`: the load generator. Echo throughput and round-trip latency, broadcast
//! fan-out rate and latency, the demo chat's delivery and fan-out latency, and connection rate
//! with the server's memory per connection;
//! all on one thread and one event loop ([`MultiClient`]), so it
//! needs one core and leaves the other to the server under test.

use std::io::IsTerminal;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};

use fullduplex::client::{ClientError, ClientHandler, ClientId, ClientOptions, MultiClient};
use fullduplex::config::DeflateConfig;
use fullduplex::protocol::CloseCode;
use fullduplex::Config;

use super::tls::TrustArgs;

pub mod broadcast;
pub mod chat;
pub mod connect;
pub mod echo;
pub mod failures;
pub mod histogram;
pub mod payload;
pub mod raw;
pub mod slow;

pub(crate) use failures::Failures;
use histogram::Histogram;

/// `fullduplex bench` and its modes.
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// What to measure.
    #[command(subcommand)]
    pub mode: Mode,
}

/// The load generator's modes.
#[derive(Subcommand, Debug)]
pub enum Mode {
    /// Messages sent and echoed back: messages/s, MB/s, round-trip latency.
    Echo(echo::EchoArgs),
    /// One sender, every connection receives: deliveries/s and fan-out latency.
    Broadcast(broadcast::BroadcastArgs),
    /// Opens connections and holds them: connects/s, the server's memory per connection.
    Connect(connect::ConnectArgs),
    /// The demo chat: clients in one room (WebSocket or HTTP fallback), chat messages at a
    /// rate, delivery and fan-out latency.
    Chat(chat::ChatBenchArgs),
}

/// Options every mode shares.
#[derive(Args, Debug, Clone)]
pub struct Common {
    /// The server's URL (ws:// or wss://).
    pub url: String,
    /// Seconds measured, after the warm-up.
    #[arg(long, default_value_t = 10.0, value_parser = positive_seconds)]
    pub duration: f64,
    /// Seconds run before measuring (connections open, caches warm).
    #[arg(long, default_value_t = 1.0, value_parser = seconds)]
    pub warmup: f64,
    /// Offer permessage-deflate.
    #[arg(long)]
    pub deflate: bool,
    /// Print the result as one JSON object on stdout (the progress still goes to stderr).
    #[arg(long)]
    pub json: bool,
    /// The server's process id: `connect` reads its memory before and after, `echo`,
    /// `broadcast` and `chat` its CPU time (utime + stime, all threads) over the measured
    /// window.
    #[arg(long)]
    pub pid: Option<u32>,
    /// How to trust the server's certificate for wss://.
    #[command(flatten)]
    pub trust: TrustArgs,
}

fn seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(s) if s >= 0.0 && s.is_finite() => Ok(s),
        _ => Err(format!(
            "{text:?} is not a number of seconds (e.g. 10 or 2.5)"
        )),
    }
}

fn positive_seconds(text: &str) -> Result<f64, String> {
    match seconds(text)? {
        s if s > 0.0 => Ok(s),
        _ => Err("the measured duration must be more than 0 seconds".into()),
    }
}

/// A number of connections: at least one.
pub(crate) fn connections(text: &str) -> Result<usize, String> {
    at_least_one(
        text,
        "connections",
        "at least 1 connection is needed to measure anything",
    )
}

/// A count from 1 of `what`, or why `text` is not one (`zero` when it is 0).
pub(crate) fn at_least_one(text: &str, what: &str, zero: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err(zero.into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!(
            "{text:?} is not a number of {what} (a whole number from 1, e.g. 100)"
        )),
    }
}

/// Runs a benchmark mode.
pub fn run(args: &BenchArgs) -> Result<(), String> {
    raise_fd_limit();
    match &args.mode {
        Mode::Echo(a) => echo::run(a),
        Mode::Broadcast(a) => broadcast::run(a),
        Mode::Connect(a) => connect::run(a),
        Mode::Chat(a) => chat::run(a),
    }
}

impl Common {
    /// The clients' options: generous limits, deflate offered when asked, the certificates
    /// `--cacert` or `-k` trust.
    pub(crate) fn client_options(&self) -> Result<ClientOptions, String> {
        let deflate = self.deflate.then(|| DeflateConfig {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            ..DeflateConfig::default()
        });
        Ok(ClientOptions {
            config: Config {
                deflate,
                max_message_size: 64 << 20,
                max_frame_size: 64 << 20,
                max_outbound_queue: 256 << 20,
                ping_interval: None,
                ..Config::default()
            },
            tls: self.trust.client_config()?,
            ..ClientOptions::default()
        })
    }

    fn warmup(&self) -> Duration {
        Duration::from_secs_f64(self.warmup)
    }

    fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.duration)
    }
}

/// The clock of a run: warm-up, then the measured window, with a progress line per second.
pub(crate) struct Phases {
    started: Instant,
    measure_from: Instant,
    /// When the measured window actually began (the first tick past `measure_from`).
    window_start: Option<Instant>,
    until: Instant,
    next_progress: Instant,
    tty: bool,
    /// The server whose CPU time is read, and its CPU seconds when the window began.
    server: Option<u32>,
    cpu_at_start: Option<f64>,
}

impl Phases {
    pub(crate) fn start(common: &Common) -> Self {
        let now = Instant::now();
        Self {
            started: now,
            measure_from: now + common.warmup(),
            window_start: None,
            until: now + common.warmup() + common.duration(),
            next_progress: now + Duration::from_secs(1),
            tty: std::io::stderr().is_terminal(),
            server: common.pid,
            cpu_at_start: None,
        }
    }

    /// Whether the measured window has begun.
    pub(crate) fn measuring(&self, now: Instant) -> bool {
        now >= self.measure_from
    }

    /// Called at each tick: whether this tick is inside the measured window.
    pub(crate) fn tick(&mut self, now: Instant) -> bool {
        if self.measuring(now) && self.window_start.is_none() {
            self.window_start = Some(now);
            self.cpu_at_start = self.server.and_then(cpu_seconds);
        }
        self.window_start.is_some()
    }

    /// Events per second over the measured window so far.
    pub(crate) fn rate(&self, count: u64, now: Instant) -> f64 {
        let since = self.window_start.unwrap_or(now);
        count as f64 / now.duration_since(since).as_secs_f64().max(1e-9)
    }

    /// Seconds measured until now.
    pub(crate) fn measured_secs(&self) -> f64 {
        self.window_start.map_or(0.0, |s| s.elapsed().as_secs_f64())
    }

    /// The server's CPU seconds since the measured window began (with `--pid`).
    pub(crate) fn server_cpu(&self) -> Option<f64> {
        Some(cpu_seconds(self.server?)? - self.cpu_at_start?)
    }

    /// Whether the run is over.
    pub(crate) fn done(&self, now: Instant) -> bool {
        now >= self.until
    }

    /// The longest a poll may wait: until the next phase change or progress line.
    pub(crate) fn poll_timeout(&self, now: Instant) -> Duration {
        let next = if now < self.measure_from {
            self.measure_from.min(self.next_progress)
        } else {
            self.until.min(self.next_progress)
        };
        next.saturating_duration_since(now)
            .max(Duration::from_micros(100))
    }

    /// Prints the progress line when a second has passed: the connections' `state`, then
    /// the `rate` measured so far, or, during the warm-up, when measuring begins.
    pub(crate) fn progress(
        &mut self,
        now: Instant,
        state: impl FnOnce() -> String,
        rate: impl FnOnce() -> String,
    ) {
        if now < self.next_progress {
            return;
        }
        self.next_progress += Duration::from_secs(1);
        let elapsed = now.duration_since(self.started).as_secs_f64();
        let measured = self.window_start.map(|start| now.duration_since(start));
        let line = if measured.is_some_and(|m| m >= Duration::from_millis(500)) {
            format!("{elapsed:5.0} s  {}, {}", state(), rate())
        } else if self.measuring(now) {
            format!("{elapsed:5.0} s  measuring begins: {}", state())
        } else {
            let left = self.measure_from.duration_since(now).as_secs_f64().ceil();
            format!(
                "{elapsed:5.0} s  warming up, measuring in {left:.0} s: {}",
                state()
            )
        };
        if self.tty {
            eprint!("\r\x1b[K{line}");
        } else {
            eprintln!("{line}");
        }
    }

    /// Ends the progress line.
    pub(crate) fn finish(&self) {
        if self.tty {
            eprintln!();
        }
    }
}

/// A client with `n` connections to the URL under way.
pub(crate) fn connect_all(
    common: &Common,
    n: usize,
) -> Result<(MultiClient, Vec<ClientId>), String> {
    let mut clients = MultiClient::new(common.client_options()?).map_err(start_failed)?;
    let mut ids = Vec::with_capacity(n);
    for _ in 0..n {
        ids.push(start_connection(&mut clients, &common.url, ids.len())?);
    }
    Ok((clients, ids))
}

/// Starts one more connection to `url`, `started` being already under way.
pub(crate) fn start_connection(
    clients: &mut MultiClient,
    url: &str,
    started: usize,
) -> Result<ClientId, String> {
    start_connection_from(clients, url, started, None)
}

/// As [`start_connection`], from local address `from` if given.
pub(crate) fn start_connection_from(
    clients: &mut MultiClient,
    url: &str,
    started: usize,
    from: Option<IpAddr>,
) -> Result<ClientId, String> {
    let connected = match from {
        Some(local) => clients.connect_from(url, local),
        None => clients.connect(url),
    };
    connected.map_err(|e| {
        let sentence = match (&e, started) {
            (ClientError::Url(_), _) => e.to_string(),
            (_, 0) => format!("could not connect to {url}: {e}"),
            (_, n) => format!("could not connect to {url} after {n} connections: {e}"),
        };
        failures::with_hint(sentence, &e)
    })
}

/// The sentence for an event loop that could not start.
pub(crate) fn start_failed(e: std::io::Error) -> String {
    format!("could not start the event loop: {e}")
}

/// The sentence for a turn of the event loop that failed.
pub(crate) fn poll_failed(e: std::io::Error) -> String {
    format!("the event loop failed: {e}")
}

/// Closes these connections and polls (at most `within`) until the close handshakes end.
pub(crate) fn close_all<H: ClientHandler>(
    clients: &mut MultiClient,
    handler: &mut H,
    ids: impl IntoIterator<Item = ClientId>,
    within: Duration,
) {
    for id in ids {
        let _ = clients.close(id, CloseCode::Normal, "");
    }
    let deadline = Instant::now() + within;
    while !clients.is_empty() && Instant::now() < deadline {
        if clients
            .poll(handler, Some(Duration::from_millis(100)))
            .is_err()
        {
            break;
        }
    }
}

/// Latency quantiles as JSON, in microseconds.
pub(crate) fn latency_json(h: &Histogram) -> serde_json::Value {
    let us = |d: Duration| (d.as_nanos() as f64 / 1000.0 * 10.0).round() / 10.0;
    serde_json::json!({
        "p50": us(h.quantile(0.50)),
        "p99": us(h.quantile(0.99)),
        "p999": us(h.quantile(0.999)),
        "max": us(h.max()),
    })
}

/// Latency quantiles for people.
pub(crate) fn latency_text(h: &Histogram) -> String {
    let us = |d: Duration| d.as_nanos() as f64 / 1000.0;
    format!(
        "p50 {:.1} µs, p99 {:.1} µs, p99.9 {:.1} µs, max {:.1} µs",
        us(h.quantile(0.50)),
        us(h.quantile(0.99)),
        us(h.quantile(0.999)),
        us(h.max())
    )
}

/// The CPU time a process has used, all its threads, in seconds (utime + stime, fields 14
/// and 15 of /proc/PID/stat, counted after the command name's closing parenthesis).
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut fields = stat.get(stat.rfind(')')? + 1..)?.split_whitespace();
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    // SAFETY: sysconf only reads a configuration value.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    (ticks > 0).then(|| (utime + stime) as f64 / ticks as f64)
}

/// The server's CPU time as JSON: seconds and microseconds per counted event.
pub(crate) fn cpu_json(cpu: Option<f64>, events: u64) -> (serde_json::Value, serde_json::Value) {
    let per = cpu.filter(|_| events > 0).map(|c| {
        let us = c * 1e6 / events as f64;
        (us * 1000.0).round() / 1000.0
    });
    (serde_json::json!(cpu), serde_json::json!(per))
}

/// The server's CPU time over the measured window, for people: total and per `unit` (given
/// `--pid`; `None` without it).
pub(crate) fn cpu_text(cpu: Option<f64>, events: u64, unit: &str) -> Option<String> {
    let secs = cpu?;
    let per = if events > 0 {
        format!("{:.3} µs per {unit}", secs * 1e6 / events as f64)
    } else {
        format!("no {unit} to divide by")
    };
    Some(format!("  server CPU (utime + stime): {secs:.2} s, {per}"))
}

/// Prints a result: JSON on stdout, or the lines for people.
pub(crate) fn report(json: bool, value: &serde_json::Value, lines: &[String]) {
    if json {
        println!("{value}");
    } else {
        for line in lines {
            println!("{line}");
        }
    }
}

/// Lets this process hold as many sockets as the hard limit allows.
fn raise_fd_limit() {
    // SAFETY: getrlimit/setrlimit only read and write the struct passed to them.
    unsafe {
        let mut limit = std::mem::zeroed::<libc::rlimit>();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max
        {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}
