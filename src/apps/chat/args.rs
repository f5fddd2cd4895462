//! `fullduplex chat` (and `fullduplex` alone): the command-line options and the run loop.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use super::{access, handler::max_file_bytes, Chat, ChatOptions, RateLimits};
use super::{BrokerOptions, RedisHub};
use crate::apps::addr::reachable_hosts;
use crate::apps::cli::{parse_size, ListenArgs};

/// `fullduplex chat` options.
#[derive(Args, Debug, Clone)]
pub struct ChatArgs {
    /// Listening options (the chat's default address is 127.0.0.1:8080).
    #[command(flatten)]
    pub listen: ListenArgs,
    /// Require this token from clients, as `?token=` or the `token` cookie (else 401).
    #[arg(long, value_name = "SECRET", value_parser = parse_token)]
    pub token: Option<String>,
    /// Allow pages from this origin to connect, e.g. `https://chat.example.com` (repeatable).
    /// Default: only the server's own origin.
    #[arg(long = "allowed-origin", value_name = "ORIGIN", value_parser = parse_origin)]
    pub allowed_origins: Vec<String>,
    /// Messages per second one client may send (sustained; bursts of twice as many pass).
    #[arg(long, default_value_t = 10, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub rate_messages: u32,
    /// Bytes per second one client may send (sustained), e.g. 1M or 512K.
    #[arg(long, default_value = "1M", value_name = "BYTES", value_parser = message_size)]
    pub rate_bytes: usize,
    /// Largest message a client may send (files travel in one), e.g. 2M.
    #[arg(long, default_value = "2M", value_name = "BYTES", value_parser = message_size)]
    pub max_message_size: usize,
    /// Refuse permessage-deflate (it is accepted by default).
    #[arg(long)]
    pub no_deflate: bool,
    /// Seconds of silence before the server pings a client.
    #[arg(long, default_value_t = 20, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub ping_interval: u64,
    /// Seconds a client has to answer a ping before it is dropped from the chat.
    #[arg(long, default_value_t = 10, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub pong_timeout: u64,
    /// Do not log connects and disconnects.
    #[arg(long)]
    pub quiet: bool,
    /// Scale-out through Redis (see `docs/scale-out.md`); without `--redis`, one node.
    #[command(flatten)]
    pub broker: BrokerArgs,
}

/// The scale-out options of `fullduplex chat` (see `docs/scale-out.md`).
#[derive(Args, Debug, Clone)]
pub struct BrokerArgs {
    /// Share rooms with other nodes through this Redis, e.g. redis://127.0.0.1:6379.
    #[arg(long, value_name = "URL")]
    pub redis: Option<String>,
    /// This node's id among the nodes (default: hostname-pid-random).
    #[arg(long, value_name = "ID", requires = "redis", value_parser = parse_node_id)]
    pub node_id: Option<String>,
    /// Prefix of the Redis channel names (nodes with the same prefix share rooms).
    #[arg(
        long,
        value_name = "P",
        default_value = "fullduplex:",
        requires = "redis"
    )]
    pub redis_prefix: String,
    /// Milliseconds between heartbeats (for tests).
    #[arg(long, hide = true, default_value_t = 2000, value_parser = clap::value_parser!(u64).range(10..=60_000))]
    pub redis_heartbeat_ms: u64,
    /// Milliseconds of silence after which a node is taken for dead (for tests).
    #[arg(long, hide = true, default_value_t = 6000, value_parser = clap::value_parser!(u64).range(30..=600_000))]
    pub redis_node_timeout_ms: u64,
    /// Longest delay between reconnections, in milliseconds (for tests).
    #[arg(long, hide = true, default_value_t = 5000, value_parser = clap::value_parser!(u64).range(10..=600_000))]
    pub redis_backoff_max_ms: u64,
}

impl BrokerArgs {
    /// The broker options asked for, if any.
    pub fn options(&self, max_message_size: usize, log: bool) -> Option<BrokerOptions> {
        let url = self.redis.as_deref()?;
        let mut options = BrokerOptions::new(url);
        if let Some(id) = &self.node_id {
            options.node_id = id.clone();
        }
        options.prefix = self.redis_prefix.clone();
        options.heartbeat_interval = Duration::from_millis(self.redis_heartbeat_ms);
        options.node_timeout = Duration::from_millis(self.redis_node_timeout_ms);
        options.backoff_max = Duration::from_millis(self.redis_backoff_max_ms);
        options.max_envelope_bytes = max_message_size / 3 * 4 + (64 << 10);
        options.log = log;
        Some(options)
    }
}

impl ChatArgs {
    /// The chat options these arguments ask for.
    pub fn options(&self) -> ChatOptions {
        let defaults = RateLimits::default();
        let per_sec = f64::from(self.rate_messages);
        ChatOptions {
            token: self.token.clone(),
            allowed_origins: self.allowed_origins.clone(),
            rate: RateLimits {
                messages_per_sec: per_sec,
                message_burst: 2.0 * per_sec,
                bytes_per_sec: self.rate_bytes as f64,
                abuse_threshold: defaults.abuse_threshold.max(3.0 * per_sec),
            },
            max_message_size: self.max_message_size,
            deflate: !self.no_deflate,
            ping_interval: Duration::from_secs(self.ping_interval),
            pong_timeout: Duration::from_secs(self.pong_timeout),
            threads: self.listen.threads,
            log: !self.quiet,
            ..ChatOptions::default()
        }
    }
}

/// Runs the chat until SIGINT or SIGTERM, then closes every client with 1001.
pub fn run(args: &ChatArgs) -> Result<(), String> {
    let mut options = args.options();
    let broker = match args.broker.options(options.max_message_size, options.log) {
        Some(broker) => {
            let node = broker.node_id.clone();
            let hub = Arc::new(RedisHub::new(broker)?);
            options.hub = hub.clone();
            println!("fullduplex chat: node {node}, rooms shared through Redis");
            Some(hub)
        }
        None => None,
    };
    let config = options.config();
    let max_file = max_file_bytes(options.max_message_size);
    let running = args.listen.bind(config, Chat::new(options), "chat")?;
    // Before the address is printed: whoever waits for it may send SIGTERM at once.
    crate::apps::cli::shutdown_on_signals(&running).map_err(|e| e.to_string())?;
    let scheme = if args.listen.is_tls() {
        "https"
    } else {
        "http"
    };
    let open = where_to_open(scheme, running.local_addr(), args.token.is_some());
    println!("fullduplex chat: {open}");
    println!("fullduplex chat: files up to {max_file} bytes; Ctrl-C stops the server");
    running.join();
    if let Some(hub) = broker {
        hub.close();
    }
    println!("fullduplex chat: stopped");
    Ok(())
}

/// The banner's "open …" sentence: the page's URL on the address the server listens on, or
/// when that is every interface, on loopback and on this machine's own address.
fn where_to_open(scheme: &str, addr: SocketAddr, token: bool) -> String {
    let query = if token { "?token=SECRET" } else { "" };
    let port = addr.port();
    let urls: Vec<String> = reachable_hosts(addr)
        .iter()
        .map(|host| format!("{scheme}://{host}:{port}/{query}"))
        .collect();
    let mut open = format!("open {} in a browser", urls[0]);
    if urls.len() > 1 {
        open += &format!(", or {} from another machine", urls[1..].join(" or "));
    }
    if token {
        open += " (SECRET: the --token value)";
    }
    open
}

/// A token: 1 to 256 visible ASCII characters that need no quoting in a cookie or a URL.
fn parse_token(text: &str) -> Result<String, String> {
    let allowed = |b: u8| b.is_ascii_alphanumeric() || b"-._~".contains(&b);
    if (1..=256).contains(&text.len()) && text.bytes().all(allowed) {
        Ok(text.to_owned())
    } else {
        Err("a token is 1 to 256 letters, digits, '-', '.', '_' or '~'".into())
    }
}

/// A node id: 1 to 64 letters, digits, '-', '.', '_' (it names the node in logs and ids).
fn parse_node_id(text: &str) -> Result<String, String> {
    let allowed = |b: u8| b.is_ascii_alphanumeric() || b"-._".contains(&b);
    if (1..=64).contains(&text.len()) && text.bytes().all(allowed) {
        Ok(text.to_owned())
    } else {
        Err("a node id is 1 to 64 letters, digits, '-', '.' or '_'".into())
    }
}

fn parse_origin(text: &str) -> Result<String, String> {
    access::normalize_origin(text).ok_or_else(|| {
        format!("{text:?} is not an origin: write it as http(s)://host[:port], without a path")
    })
}

/// A byte count between 1 KiB and 64 MiB ([`parse_size`]).
fn message_size(text: &str) -> Result<usize, String> {
    parse_size(text, 1 << 10..=64 << 20)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_sizes_are_bounded() {
        assert_eq!(message_size("2M"), Ok(2 << 20));
        assert!(message_size("12")
            .unwrap_err()
            .contains("between 1K and 64M"));
        assert!(message_size("65M")
            .unwrap_err()
            .contains("between 1K and 64M"));
    }

    #[test]
    fn the_banner_names_an_address_a_browser_can_open() {
        let at = |addr: &str| addr.parse().unwrap();
        assert_eq!(
            where_to_open("http", at("127.0.0.1:8080"), false),
            "open http://127.0.0.1:8080/ in a browser"
        );
        assert_eq!(
            where_to_open("https", at("[::1]:8443"), true),
            "open https://[::1]:8443/?token=SECRET in a browser (SECRET: the --token value)"
        );
        let every = where_to_open("http", at("0.0.0.0:80"), false);
        assert!(
            every.starts_with("open http://127.0.0.1:80/ in a browser"),
            "{every}"
        );
        assert!(!every.contains("0.0.0.0"), "{every}");
    }

    #[test]
    fn tokens_and_origins() {
        assert!(parse_token("s3cret-token_1.0~").is_ok());
        assert!(parse_token("").is_err());
        assert!(parse_token("a;b").is_err());
        assert_eq!(
            parse_origin("HTTPS://Chat.Example:443"),
            Ok("https://chat.example".into())
        );
        assert!(parse_origin("chat.example").is_err());
        assert!(parse_origin("http://chat.example/path").is_err());
    }
}
