//! The demo chat: a real-time chat served with its own page, the thin broadcast server on
//! top of the library (policy only: rooms, nicknames, limits, the page).
//!
//! One port serves the page (`/`, `/app.js`, `/transport.js`, `/style.css`), the WebSocket
//! endpoint (`/ws`), its HTTP fallback (`/fallback/…`, see [`fallback`]), `/healthz` and
//! `/metrics`. The protocol between page and server is documented in
//! `docs/chat-protocol.md`. Start it in-process with [`start`]:
//!
//! ```no_run
//! use fullduplex::apps::chat::{start, ChatOptions};
//!
//! let server = start("127.0.0.1:0", ChatOptions::default())?;
//! println!("open http://{}/", server.local_addr());
//! server.join();
//! # Ok::<(), std::io::Error>(())
//! ```

use std::sync::Arc;
use std::time::Duration;

use fullduplex::config::DeflateConfig;
use fullduplex::server::{RunningServer, Server, ServerConfig};
use fullduplex::Config;

pub mod access;
pub mod args;
pub mod broker;
pub(crate) mod counters;
pub mod fallback;
pub mod files;
pub mod handler;
pub mod hub;
pub mod limit;
pub mod member;
pub mod protocol;
pub mod routes;
pub mod validate;

pub use broker::{BrokerOptions, RedisHub};
pub use fallback::FallbackOptions;
pub use handler::Chat;
#[allow(unused_imports)] // for the tests, which include these modules (tests/apps.rs)
pub use hub::{Health, Hub, LocalHub, Reach};
pub use limit::RateLimits;

/// How the chat behaves.
#[derive(Clone)]
pub struct ChatOptions {
    /// Clients must present this token (query parameter or cookie `token`) or get 401.
    /// Default: none.
    pub token: Option<String>,
    /// Origins (`scheme://host[:port]`) whose pages may connect; empty (the default) allows
    /// only the server's own.
    pub allowed_origins: Vec<String>,
    /// Per-client rate limits.
    pub rate: RateLimits,
    /// Largest message a client may send (a file travels in one). Default: 2 MiB.
    pub max_message_size: usize,
    /// Accept permessage-deflate (RFC 7692). Default: true.
    pub deflate: bool,
    /// Ping a client after this long without hearing from it. Default: 20 s.
    pub ping_interval: Duration,
    /// A client that does not answer a ping within this long is dropped (and leaves the user
    /// list). Default: 10 s.
    pub pong_timeout: Duration,
    /// Worker threads (0: one per core). Default: 0.
    pub threads: usize,
    /// Log connects and disconnects on stderr. Default: true.
    pub log: bool,
    /// Where presence and room delivery live. Default: this process ([`LocalHub`]).
    pub hub: Arc<dyn Hub>,
    /// The HTTP fallback's poll hold, expiry and bounds.
    pub fallback: FallbackOptions,
}

impl Default for ChatOptions {
    fn default() -> Self {
        Self {
            token: None,
            allowed_origins: Vec::new(),
            rate: RateLimits::default(),
            max_message_size: 2 << 20,
            deflate: true,
            ping_interval: Duration::from_secs(20),
            pong_timeout: Duration::from_secs(10),
            threads: 0,
            log: true,
            hub: Arc::new(LocalHub::default()),
            fallback: FallbackOptions::default(),
        }
    }
}

impl std::fmt::Debug for ChatOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatOptions")
            .field("token", &self.token.as_ref().map(|_| "<set>"))
            .field("allowed_origins", &self.allowed_origins)
            .field("rate", &self.rate)
            .field("max_message_size", &self.max_message_size)
            .field("deflate", &self.deflate)
            .field("ping_interval", &self.ping_interval)
            .field("pong_timeout", &self.pong_timeout)
            .field("threads", &self.threads)
            .field("log", &self.log)
            .field("fallback", &self.fallback)
            .finish_non_exhaustive()
    }
}

impl ChatOptions {
    /// The server configuration these options call for.
    pub fn config(&self) -> ServerConfig {
        let connection = Config {
            max_message_size: self.max_message_size,
            max_frame_size: self.max_message_size,
            max_fragments: 1024,
            deflate: self.deflate.then(DeflateConfig::default),
            ping_interval: Some(self.ping_interval),
            pong_timeout: self.pong_timeout,
            ..Config::default()
        };
        ServerConfig {
            connection,
            threads: self.threads,
            max_request_body: fallback::max_body(self.max_message_size),
            // A held poll is answered by the fallback's sweeper after `poll_timeout`; the
            // server's own bound only matters if that failed.
            max_deferral: self.fallback.poll_timeout + Duration::from_secs(30),
            ..ServerConfig::default()
        }
    }
}

/// Starts the chat on `addr` (plain HTTP and `ws://`; port 0 picks a free port): how the
/// tests and benches/scale_out.rs run it in their own process.
#[allow(dead_code)]
pub fn start(
    addr: impl std::net::ToSocketAddrs,
    options: ChatOptions,
) -> std::io::Result<RunningServer> {
    let config = options.config();
    Server::new(config, Chat::new(options)).bind(addr)
}
