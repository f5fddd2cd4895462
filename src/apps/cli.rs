//! The `fullduplex` command line: its subcommands and their options.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use fullduplex::config::DeflateConfig;
use fullduplex::server::{Handler, RunningServer, SendBuffer, Server, ServerConfig};
use fullduplex::Config;

use super::addr::{parse_listen_addr, ListenAddr};
use super::event_loop::{self, IoUringMode};
use super::tls::ServerTls;

/// A WebSocket stack written from the protocol up (RFC 6455, RFC 7692).
#[derive(Parser, Debug)]
#[command(name = "fullduplex", version, about)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// The demo chat: a web page and its WebSocket on one port (the default command).
    #[command(
        mut_arg("addr", |a| a.default_value(CHAT_ADDR)),
        override_usage = "fullduplex chat [--addr ADDR (default 127.0.0.1:8080)] [OPTIONS]"
    )]
    Chat(super::chat::args::ChatArgs),
    /// Echo every message back (the Autobahn testee and benchmark target).
    #[command(override_usage = "fullduplex echo [--addr ADDR (default 127.0.0.1:9001)] [OPTIONS]")]
    Echo(EchoArgs),
    /// Connect to a WebSocket URL: lines from stdin go out, messages received are printed.
    Client(super::client::ClientArgs),
    /// Relay every message to every connected client, the sender included (fan-out testee).
    #[command(
        override_usage = "fullduplex broadcast [--addr ADDR (default 127.0.0.1:9001)] [OPTIONS]"
    )]
    Broadcast(EchoArgs),
    /// The load generator: echo, broadcast, chat and connection benchmarks.
    Bench(super::bench::BenchArgs),
    /// Be the client testee of the Autobahn testsuite (`wstest -m fuzzingserver`).
    AutobahnClient(super::autobahn::AutobahnArgs),
}

/// Where the chat listens unless told otherwise.
pub const CHAT_ADDR: &str = "127.0.0.1:8080";

/// Where the echo and broadcast testees listen unless told otherwise.
pub const TESTEE_ADDR: &str = "127.0.0.1:9001";

/// The most worker threads a server may have: each is an event loop holding three open files,
/// and more loops than cores only add switching.
pub const MAX_THREADS: usize = 256;

impl Cli {
    /// The command to run: the one named, or the chat with its defaults when none is.
    pub fn command(self) -> Command {
        match self.command {
            Some(command) => command,
            None => Cli::parse_from(["fullduplex", "chat"])
                .command
                .expect("`chat` parses as a command"),
        }
    }
}

/// Where and how a server listens.
#[derive(Args, Debug, Clone)]
pub struct ListenArgs {
    /// Where to listen: PORT (on 127.0.0.1), HOST:PORT or IP:PORT; 0.0.0.0:PORT listens on
    /// every interface.
    #[arg(long, value_name = "ADDR", default_value = TESTEE_ADDR, value_parser = parse_listen_addr)]
    pub addr: ListenAddr,
    /// Worker threads, each an event loop: 1 to 256, or 0 for one per core.
    #[arg(long, value_name = "N", default_value_t = 0, value_parser = parse_threads)]
    pub threads: usize,
    /// Serve wss:// with a certificate generated at start (for development). The server writes
    /// it to a file and prints the file's name and the certificate's SHA-256 fingerprint at
    /// start: clients trust it with --cacert FILE.
    #[arg(long, conflicts_with_all = ["tls_cert", "tls_key"])]
    pub tls_self_signed: bool,
    /// Where --tls-self-signed writes its certificate (PEM), replacing the file [default:
    /// fullduplex-IP-PORT.pem in $XDG_RUNTIME_DIR, or else in the temporary directory].
    #[arg(long, requires = "tls_self_signed", value_name = "FILE")]
    pub tls_cert_out: Option<PathBuf>,
    /// Serve wss:// with this PEM certificate chain (needs --tls-key).
    #[arg(long, requires = "tls_key", value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key for --tls-cert.
    #[arg(long, requires = "tls_cert", value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
    /// Run the connections on io_uring (Linux) instead of epoll: `--io-uring` refuses to start
    /// where io_uring is missing or forbidden (old kernel, seccomp, kernel.io_uring_disabled),
    /// `--io-uring=fallback` runs on epoll there, saying why.
    #[arg(
        long,
        value_enum,
        value_name = "MODE",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "require"
    )]
    pub io_uring: Option<IoUringMode>,
    /// What each connection's socket may hold of its outgoing bytes: `kernel` (autotuned, up
    /// to net.ipv4.tcp_wmem's maximum), `lowat:BYTES` (TCP_NOTSENT_LOWAT) or `sndbuf:BYTES`
    /// (a capped SO_SNDBUF); BYTES may end in K or M. A slow reader's backlog beyond it waits in
    /// the server's bounded queue. [default: the library's, `SendBuffer::DEFAULT`]
    #[arg(long, value_name = "HOW", value_parser = parse_send_buffer)]
    pub send_buffer: Option<SendBuffer>,
}

/// `fullduplex echo` and `fullduplex broadcast` options.
#[derive(Args, Debug)]
pub struct EchoArgs {
    /// Listening options.
    #[command(flatten)]
    pub listen: ListenArgs,
    /// Accept permessage-deflate offers (RFC 7692), honouring exactly what each asks.
    #[arg(long)]
    pub deflate: bool,
    /// The runtime that drives the connections (tokio: echo only, ws:// on one thread).
    #[arg(long, value_enum, default_value_t = Runtime::Mio)]
    pub runtime: Runtime,
    /// Most bytes queued for one connection before the slow-consumer policy (close with
    /// 1008) applies (`Config::max_outbound_queue`).
    #[arg(long, value_name = "BYTES", default_value_t = TESTEE_QUEUE)]
    pub max_outbound_queue: usize,
}

/// The runtimes a testee can run on.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runtime {
    /// The library's mio runtime (`fullduplex::server`, `fullduplex::client`).
    Mio,
    /// The tokio adapter (`fullduplex::tokio`), on a current-thread runtime.
    Tokio,
}

impl ListenArgs {
    /// Binds a server with these options, printing where it listens.
    pub fn bind<H: Handler>(
        &self,
        config: impl Into<ServerConfig>,
        handler: H,
        what: &str,
    ) -> Result<RunningServer, String> {
        let config: ServerConfig = config.into();
        let config = ServerConfig {
            threads: self.threads,
            event_loop: event_loop::wanted(self.io_uring),
            send_buffer: self.send_buffer.unwrap_or(config.send_buffer),
            ..config
        };
        let mut server = Server::new(config, handler);
        let tls = ServerTls::from_args(self)?;
        let scheme = match &tls {
            Some(tls) => {
                server = server.with_tls(tls.config());
                "wss"
            }
            None => "ws",
        };
        if let Some(choice) = &self.addr.choice {
            println!("fullduplex {what}: {choice}");
        }
        let running = server.bind(self.addr.socket).map_err(|e| {
            match self.io_uring.is_some() && event_loop::is_refusal(&e) {
                true => event_loop::refused(&e),
                false => bind_error(&self.addr, &e),
            }
        })?;
        let addr = running.local_addr();
        let every = match addr.ip().is_unspecified() {
            true => " (every interface)",
            false => "",
        };
        let on = event_loop::name(running.event_loop());
        println!("fullduplex {what} ({on}) listening on {scheme}://{addr}{every}");
        let announced = tls.map_or(Ok(()), |tls| {
            tls.announce(self.tls_cert_out.as_deref(), running.local_addr(), what)
        });
        if let Err(e) = announced {
            running.stop();
            return Err(e);
        }
        Ok(running)
    }

    /// Whether these options ask for TLS.
    pub fn is_tls(&self) -> bool {
        self.tls_self_signed || self.tls_cert.is_some()
    }
}

/// Why a server cannot listen on `addr`, and what to do about it.
pub fn bind_error(addr: &ListenAddr, e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::AddrInUse => format!(
            "{addr} is already in use: stop the program using it or choose another with --addr"
        ),
        std::io::ErrorKind::PermissionDenied => {
            format!("not allowed to listen on {addr}: choose a port above 1023 with --addr")
        }
        _ if e.raw_os_error() == Some(libc::EMFILE) => format!(
            "cannot listen on {addr}: too many open files: use fewer --threads or raise the \
             limit with `ulimit -n`"
        ),
        _ => format!("cannot listen on {addr}: {e}"),
    }
}

/// The testees' bound on each connection's output queue: 64 MiB, room for the Autobahn
/// testsuite's largest messages.
const TESTEE_QUEUE: usize = 64 << 20;

/// `--threads`: 0 (one per core) to [`MAX_THREADS`].
fn parse_threads(text: &str) -> Result<usize, String> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let bound = format!(
        "at most {MAX_THREADS} worker threads (more event loops than the {cores} cores here \
         only add switching); 0 means one per core"
    );
    let text = text.trim();
    match text.parse::<usize>() {
        Ok(threads) if threads <= MAX_THREADS => Ok(threads),
        Ok(_) => Err(bound),
        Err(_) if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) => Err(bound),
        Err(_) => Err(format!("not a number: {bound}")),
    }
}

/// `--send-buffer`: `kernel`, `lowat:BYTES` or `sndbuf:BYTES`.
fn parse_send_buffer(text: &str) -> Result<SendBuffer, String> {
    let usage = "expected kernel, lowat:BYTES or sndbuf:BYTES (BYTES: e.g. 65536, 64K or 1M)";
    let bytes = |text: &str| parse_size(text, 1..=u32::MAX as usize);
    match text.split_once(':') {
        None if text == "kernel" => Ok(SendBuffer::Kernel),
        Some(("lowat", n)) => bytes(n).map(|n| SendBuffer::NotSentLowat(n as u32)),
        Some(("sndbuf", n)) => bytes(n).map(SendBuffer::Capped),
        _ => Err(usage.into()),
    }
}

/// A byte count within `range`: digits with an optional K or M suffix (KiB, MiB; `k`, `KiB`
/// and `KB` too), as every size option of the commands takes it.
pub fn parse_size(text: &str, range: std::ops::RangeInclusive<usize>) -> Result<usize, String> {
    let upper = text.trim().to_ascii_uppercase();
    let (digits, unit) = match upper.trim_end_matches("IB").trim_end_matches('B') {
        s if s.ends_with('K') => (&s[..s.len() - 1], 1 << 10),
        s if s.ends_with('M') => (&s[..s.len() - 1], 1 << 20),
        s => (s, 1),
    };
    let size = digits
        .trim()
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(unit))
        .ok_or_else(|| format!("{text:?} is not a size: write e.g. 65536, 512K or 2M"))?;
    if range.contains(&size) {
        Ok(size)
    } else {
        let (low, high) = (size_name(*range.start()), size_name(*range.end()));
        Err(format!(
            "{text:?} is out of range: between {low} and {high}"
        ))
    }
}

/// A size as [`parse_size`] reads it: 64M, 1K, or the digits.
fn size_name(size: usize) -> String {
    match size {
        n if n >= 1 << 20 && n % (1 << 20) == 0 => format!("{}M", n >> 20),
        n if n >= 1 << 10 && n % (1 << 10) == 0 => format!("{}K", n >> 10),
        n => n.to_string(),
    }
}

/// The testees' configuration: deflate as each offer asks, limits large enough for the
/// Autobahn testsuite.
pub fn testee_config(deflate: bool) -> Config {
    let deflate = deflate.then(|| DeflateConfig {
        // The testee honours what each offer asks and imposes nothing of its own.
        server_no_context_takeover: false,
        client_no_context_takeover: false,
        min_message_size: 0,
        ..DeflateConfig::default()
    });
    // 16 MiB messages; the default fragment limit already admits Autobahn 9.3.1's 65 537
    // frames.
    Config {
        deflate,
        max_message_size: 16 << 20,
        max_frame_size: 16 << 20,
        max_outbound_queue: TESTEE_QUEUE,
        ..Config::default()
    }
}

/// Runs a testee until SIGINT/SIGTERM.
fn run_testee<H: Handler>(args: &EchoArgs, handler: H, what: &str) -> Result<(), String> {
    let config = Config {
        max_outbound_queue: args.max_outbound_queue,
        ..testee_config(args.deflate)
    };
    let running = args.listen.bind(config, handler, what)?;
    shutdown_on_signals(&running).map_err(|e| e.to_string())?;
    running.join();
    Ok(())
}

/// Shuts the server down gracefully on SIGINT or SIGTERM (see
/// [`ServerHandle::shutdown`](fullduplex::server::ServerHandle::shutdown)).
pub fn shutdown_on_signals(running: &RunningServer) -> std::io::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])?;
    let handle = running.handle();
    std::thread::Builder::new()
        .name("fullduplex-signals".into())
        .spawn(move || {
            if signals.forever().next().is_some() {
                handle.shutdown();
            }
        })?;
    Ok(())
}

/// The entry point of the `fullduplex` binary.
pub fn main() -> ExitCode {
    let result = match Cli::parse().command() {
        Command::Chat(args) => super::chat::args::run(&args),
        Command::Echo(args) | Command::Broadcast(args)
            if args.runtime == Runtime::Tokio && args.listen.io_uring.is_some() =>
        {
            Err(event_loop::NOT_WITH_TOKIO.into())
        }
        Command::Echo(args) if args.runtime == Runtime::Tokio => {
            super::tokio_echo::run(&args, testee_config(args.deflate))
        }
        Command::Echo(args) => run_testee(&args, super::echo::Echo, "echo"),
        Command::Broadcast(args) if args.runtime == Runtime::Tokio => {
            Err("broadcast runs on the mio runtime only: leave out --runtime tokio".into())
        }
        Command::Broadcast(args) => run_testee(&args, super::broadcast::Broadcast, "broadcast"),
        Command::Client(args) => super::client::run(&args),
        Command::AutobahnClient(args) => super::autobahn::run(&args),
        Command::Bench(args) => super::bench::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("fullduplex: {message}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_subcommand_runs_the_chat_on_port_8080() {
        let Command::Chat(args) = Cli::try_parse_from(["fullduplex"]).unwrap().command() else {
            panic!("the default command is the chat");
        };
        assert_eq!(args.listen.addr.to_string(), CHAT_ADDR);
        assert!(!args.listen.is_tls());
        let Command::Echo(args) = Cli::try_parse_from(["fullduplex", "echo"])
            .unwrap()
            .command()
        else {
            panic!("echo parses");
        };
        assert_eq!(args.listen.addr.to_string(), TESTEE_ADDR);
    }

    #[test]
    fn threads_are_bounded_and_the_bound_said() {
        assert_eq!(parse_threads("0"), Ok(0));
        assert_eq!(parse_threads("256"), Ok(MAX_THREADS));
        for too_many in ["257", "100000", "99999999999999999999999"] {
            let message = parse_threads(too_many).unwrap_err();
            assert!(
                message.starts_with("at most 256 worker threads"),
                "{message}"
            );
        }
        assert!(parse_threads("many")
            .unwrap_err()
            .starts_with("not a number"));
    }

    #[test]
    fn sizes_and_send_buffers() {
        let chat = 1 << 10..=64 << 20;
        assert_eq!(parse_size("65536", chat.clone()), Ok(65536));
        assert_eq!(parse_size("512k", chat.clone()), Ok(512 << 10));
        assert_eq!(parse_size("2M", chat.clone()), Ok(2 << 20));
        assert_eq!(parse_size("2MiB", chat.clone()), Ok(2 << 20));
        let small = parse_size("12", chat.clone()).unwrap_err();
        assert!(small.contains("between 1K and 64M"), "{small}");
        assert!(parse_size("lots", chat.clone())
            .unwrap_err()
            .contains("not a size"));
        assert!(parse_size("99999999999999999999M", chat).is_err());
        assert_eq!(
            parse_send_buffer("lowat:64k"),
            Ok(SendBuffer::NotSentLowat(64 << 10))
        );
        assert_eq!(
            parse_send_buffer("sndbuf:1M"),
            Ok(SendBuffer::Capped(1 << 20))
        );
        assert_eq!(parse_send_buffer("kernel"), Ok(SendBuffer::Kernel));
        let zero = parse_send_buffer("lowat:0").unwrap_err();
        assert!(zero.contains("between 1 and 4294967295"), "{zero}");
        assert!(parse_send_buffer("lowat:4096M").is_err());
        assert!(parse_send_buffer("fast")
            .unwrap_err()
            .starts_with("expected kernel"));
    }

    #[test]
    fn usage_lines_show_the_address_as_optional_with_its_default() {
        let mut cli = <Cli as clap::CommandFactory>::command();
        for (name, default) in [
            ("chat", CHAT_ADDR),
            ("echo", TESTEE_ADDR),
            ("broadcast", TESTEE_ADDR),
        ] {
            let usage = cli.find_subcommand_mut(name).unwrap().render_usage();
            let expected = format!("fullduplex {name} [--addr ADDR (default {default})] [OPTIONS]");
            assert!(usage.to_string().ends_with(&expected), "{usage}");
        }
    }
}
