//! `fullduplex autobahn-client`: the project's client as the testee of the Autobahn
//! testsuite's `wstest -m fuzzingserver` (the client role of the compliance report).
//!
//! The fuzzing server is driven over three URLs: `/getCaseCount` answers with one text
//! message, the number of cases; `/runCase?case=N&agent=A` plays case N, in which the testee
//! echoes every message back with its opcode; `/updateReports?agent=A` writes the reports.

use std::time::Duration;

use clap::Args;

use fullduplex::client::{connect_with, ClientError, ClientOptions, WebSocket};
use fullduplex::config::DeflateConfig;
use fullduplex::protocol::{CloseCode, Message, OwnedEvent};
use fullduplex::Config;

use clap::ValueEnum;
use fullduplex::server::EventLoop;

/// `fullduplex autobahn-client` options.
#[derive(Args, Debug)]
pub struct AutobahnArgs {
    /// The fuzzing server's URL (`wstest -m fuzzingserver`).
    #[arg(long, default_value = "ws://127.0.0.1:9002")]
    pub url: String,
    /// The agent name the reports list the results under.
    #[arg(long, default_value = "fullduplex")]
    pub agent: String,
    /// Run only these cases (1-based case numbers, repeatable); default: all.
    #[arg(long = "case", value_name = "N")]
    pub cases: Vec<usize>,
    /// Longest a single case may take, in seconds, before the client gives up on it.
    #[arg(long, default_value_t = 120)]
    pub case_timeout: u64,
    /// Print how each case that failed the connection ended (many cases exist to make the
    /// testee fail it: a protocol error is their expected outcome).
    #[arg(long)]
    pub verbose: bool,
    /// The runtime whose client plays the cases.
    #[arg(long, value_enum, default_value_t = ClientRuntime::Mio)]
    pub runtime: ClientRuntime,
}

/// The clients that can play the cases.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientRuntime {
    /// The mio runtime's blocking client (`fullduplex::client::connect`).
    Mio,
    /// The tokio adapter's client, on a current-thread runtime.
    Tokio,
    /// The many-connection client (`MultiClient`) on the io_uring event loop (Linux).
    IoUring,
}

/// The client's options: deflate offered and honoured as the server answers, limits as large
/// as the testsuite's biggest cases (16 MiB messages; the default fragment limit).
fn options(case_timeout: Duration) -> ClientOptions {
    let deflate = DeflateConfig {
        // Offer no restriction: the fuzzing server chooses per case what it imposes.
        server_no_context_takeover: false,
        client_no_context_takeover: false,
        min_message_size: 0,
        ..DeflateConfig::default()
    };
    ClientOptions {
        config: Config {
            deflate: Some(deflate),
            max_message_size: 16 << 20,
            max_frame_size: 16 << 20,
            ..Config::default()
        },
        connect_timeout: case_timeout.min(Duration::from_secs(10)),
        ..ClientOptions::default()
    }
}

/// Runs every case (or those chosen), then asks the fuzzing server to write its reports.
pub fn run(args: &AutobahnArgs) -> Result<(), String> {
    let base = args.url.trim_end_matches('/');
    let timeout = Duration::from_secs(args.case_timeout.max(1));
    let options = options(timeout);
    match args.runtime {
        ClientRuntime::Tokio => return super::autobahn_tokio::run(args, &options, timeout),
        ClientRuntime::IoUring => {
            return super::autobahn_multi::run(args, &options, timeout, EventLoop::IoUring)
        }
        ClientRuntime::Mio => {}
    }
    let count = case_count(base, &options)?;
    let cases = chosen_cases(&args.cases, count)?;
    let mut tally = Tally::new(cases.len(), args.verbose);
    for &case in &cases {
        let url = format!("{base}/runCase?case={case}&agent={}", args.agent);
        tally.record(case, run_case(&url, &options, timeout));
    }
    tally.finish();
    let url = format!("{base}/updateReports?agent={}", args.agent);
    let mut ws = connect_with(&url, &options).map_err(|e| format!("{url}: {e}"))?;
    drain(&mut ws, timeout);
    Ok(())
}

/// The cases to run: those given (each checked against the count), or all.
pub fn chosen_cases(given: &[usize], count: usize) -> Result<Vec<usize>, String> {
    if let Some(bad) = given.iter().find(|&&n| n == 0 || n > count) {
        return Err(format!(
            "--case {bad}: the fuzzing server has cases 1 to {count}"
        ));
    }
    Ok(match given.is_empty() {
        true => (1..=count).collect(),
        false => given.to_vec(),
    })
}

/// A run's bookkeeping, the same on every runtime: how far it is (every 50 cases and at the
/// end) and how many cases ended in an error (listed with `--verbose`).
pub struct Tally {
    total: usize,
    done: usize,
    failed: usize,
    verbose: bool,
}

impl Tally {
    /// For a run of `total` cases.
    pub fn new(total: usize, verbose: bool) -> Self {
        Self {
            total,
            done: 0,
            failed: 0,
            verbose,
        }
    }

    /// Counts case `case` as played, ending as `outcome` says.
    pub fn record<E: std::fmt::Display>(&mut self, case: usize, outcome: Result<(), E>) {
        if let Err(why) = outcome {
            self.failed += 1;
            if self.verbose {
                eprintln!("case {case}: {why}");
            }
        }
        self.done += 1;
        if self.done % 50 == 0 || self.done == self.total {
            eprintln!("autobahn-client: {}/{} cases run", self.done, self.total);
        }
    }

    /// Says how many cases ended in an error, and why that is not a verdict.
    pub fn finish(self) {
        eprintln!(
            "autobahn-client: {} cases ended in an error (a protocol error is what many \
             cases test; --verbose lists them); the report tells which were right",
            self.failed
        );
    }
}

fn case_count(base: &str, options: &ClientOptions) -> Result<usize, String> {
    let url = format!("{base}/getCaseCount");
    let mut ws = connect_with(&url, options).map_err(|e| {
        format!(
            "cannot reach the fuzzing server at {url}: {e} (is `wstest -m fuzzingserver` running?)"
        )
    })?;
    ws.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    loop {
        match ws.recv() {
            Ok(OwnedEvent::Text(text)) => {
                let count = text
                    .trim()
                    .parse()
                    .map_err(|_| format!("{url} answered {text:?}, not a case count"))?;
                drain(&mut ws, Duration::from_secs(5));
                return Ok(count);
            }
            Ok(_) => {}
            Err(e) => return Err(format!("{url}: {e} before the case count arrived")),
        }
    }
}

/// Plays one case: echo every message (and streamed chunk) back with its opcode until the
/// close handshake ends.
fn run_case(url: &str, options: &ClientOptions, timeout: Duration) -> Result<(), ClientError> {
    let mut ws = connect_with(url, options)?;
    ws.set_read_timeout(Some(timeout))?;
    loop {
        let echoed = match ws.recv() {
            Ok(OwnedEvent::Text(text)) => ws.send(Message::Text(&text)),
            Ok(OwnedEvent::Binary(data)) => ws.send(Message::Binary(&data)),
            Ok(OwnedEvent::Chunk {
                kind, data, last, ..
            }) => ws.send_fragment(kind, &data, last),
            Ok(OwnedEvent::Ping(_) | OwnedEvent::Pong(_)) => Ok(()),
            Ok(OwnedEvent::Closed { .. }) => Ok(()),
            Err(ClientError::Closed) => break,
            Err(e) => {
                // Our close frame (with the failure's code) has been sent; let the server
                // close the TCP connection as RFC 6455 §7.1.1 asks.
                drain(&mut ws, Duration::from_secs(2));
                return Err(e);
            }
        };
        if let Err(e) = echoed {
            // The peer may have closed while we echoed (e.g. after a protocol failure).
            if !matches!(e, ClientError::Closed) {
                let _ = ws.start_close(CloseCode::Normal, "");
            }
        }
    }
    drain(&mut ws, Duration::from_secs(2));
    Ok(())
}

/// Ends a connection politely: answer what remains, then wait (bounded) for the server to
/// close TCP first, as RFC 6455 §7.1.1 says the client should.
fn drain(ws: &mut WebSocket, timeout: Duration) {
    if ws.set_read_timeout(Some(timeout)).is_err() {
        return;
    }
    while ws.recv().is_ok() {}
    ws.wait_for_server_close(timeout);
}
