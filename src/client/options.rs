//! How a client connects, for every client: the blocking one, the many-connection one (feature
//! `runtime`) and the tokio adapter's (feature `tokio`).
//!
//! What it sets is what [RFC 6455 §4.1](https://www.rfc-editor.org/rfc/rfc6455#section-4.1) lets
//! a client put in its opening handshake (subprotocols, `Origin`, other fields) and the limits of
//! the connection it opens.

use std::net::IpAddr;
#[cfg(any(feature = "tls", feature = "tokio-tls"))]
use std::sync::Arc;
use std::time::Duration;

use crate::Config;

/// How to connect.
///
/// `tls` is there with feature `tls` (the mio runtime's clients) or `tokio-tls` (the tokio
/// adapter's).
#[derive(Clone)]
pub struct ClientOptions {
    /// Limits and permessage-deflate (set `config.deflate` to offer it).
    pub config: Config,
    /// Subprotocols to offer, in order of preference.
    pub subprotocols: Vec<String>,
    /// Extra request headers (e.g. `Cookie`, `Authorization`).
    pub headers: Vec<(String, String)>,
    /// The `Origin` header to send.
    pub origin: Option<String>,
    /// TLS for `wss://` (see [`tls`](super::tls)); `None` trusts the operating system's
    /// roots.
    #[cfg(any(feature = "tls", feature = "tokio-tls"))]
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// Longest wait for the TCP connection and the handshake. Default: 10 s.
    pub connect_timeout: Duration,
    /// The local address to connect from: the socket is bound to it (its port left to the
    /// system) before it connects, e.g. to spread many connections over several source
    /// addresses (each has its own ephemeral ports). Default: `None`, the system's choice.
    /// `MultiClient::connect_from` chooses it per connection.
    pub local_addr: Option<IpAddr>,
    /// Bytes read from a socket at a time by a `MultiClient` (feature `runtime`), in buffers
    /// lent to connections while they read. Default: 64 KiB.
    pub read_buffer_size: usize,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            config: Config::default(),
            subprotocols: Vec::new(),
            headers: Vec::new(),
            origin: None,
            #[cfg(any(feature = "tls", feature = "tokio-tls"))]
            tls: None,
            connect_timeout: Duration::from_secs(10),
            local_addr: None,
            read_buffer_size: 64 << 10,
        }
    }
}
