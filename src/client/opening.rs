//! The client's opening handshake, shared by the blocking client and [`MultiClient`]: the
//! request (RFC 6455 §4.1), the TLS session, the server's answer (and what a failure means),
//! and the connection that the answer opens.
//!
//! [`MultiClient`]: super::MultiClient

use std::io;
use std::sync::Arc;

use super::url::{UrlError, WsUrl};
use super::{ClientError, ClientOptions};
use crate::protocol::deflate::{client_accept, client_offer, DeflateParams};
use crate::protocol::handshake::{Accepted, ClientHandshake, ClientRequest};
use crate::protocol::Connection;
use crate::random::OsRandom;
use crate::{Config, HandshakeError};

/// A request written and what the answer must match.
pub(crate) struct Opening {
    /// The request head to send.
    pub(crate) request: Vec<u8>,
    /// What the server's response is checked against.
    pub(crate) handshake: ClientHandshake,
    /// The random source, kept for the connection's masking keys.
    pub(crate) random: OsRandom,
    /// The URL is `wss://`.
    secure: bool,
}

impl Opening {
    /// The server's answer so far: the accepted response and its head's length once the head is
    /// complete. `ended`: the server closed the connection after these bytes.
    pub(crate) fn read_response(
        &self,
        answer: &[u8],
        config: &Config,
        ended: bool,
    ) -> Result<Option<(Accepted, usize)>, ClientError> {
        if !self.secure && is_tls_record(answer) {
            return Err(invalid(
                "the server speaks TLS: use wss:// instead of ws://",
            ));
        }
        match self.handshake.parse_response(answer, config) {
            Ok(None) if ended => Err(closed_before_answer()),
            Ok(parsed) => Ok(parsed),
            // A refusal: its status, headers and what came of the body that explains it.
            Err(HandshakeError::UnexpectedStatus(status)) => {
                Err(super::refusal::error(answer, config, status))
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// Whether a plaintext answer is a TLS record: an alert (content type 21) or a handshake
/// message (22), then the major version 3 of every TLS version (RFC 8446 §5.1). An HTTP
/// response begins with `HTTP/`.
fn is_tls_record(answer: &[u8]) -> bool {
    matches!(answer, [0x15 | 0x16] | [0x15 | 0x16, 0x03, ..])
}

/// A failed opening handshake, said so that a person knows what happened: the end of the
/// stream before the answer, a TLS failure explained (see [`TlsError`](super::tls::TlsError)).
pub(crate) fn explain(e: ClientError) -> ClientError {
    match e {
        ClientError::Io(e) if e.kind() == io::ErrorKind::UnexpectedEof => closed_before_answer(),
        #[cfg(any(feature = "tls", feature = "tokio-tls"))]
        ClientError::Io(e) => ClientError::Io(super::tls_error::explain(e)),
        other => other,
    }
}

fn closed_before_answer() -> ClientError {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "the server closed the connection before answering the opening handshake",
    )
    .into()
}

fn invalid(what: &str) -> ClientError {
    io::Error::new(io::ErrorKind::InvalidData, what).into()
}

/// Writes the opening request for `url` (RFC 6455 §4.1) with a fresh random key.
pub(crate) fn begin(url: &WsUrl, options: &ClientOptions) -> Opening {
    let mut random = OsRandom::new();
    let offer = options.config.deflate.as_ref().map(client_offer);
    let subprotocols: Vec<&str> = options.subprotocols.iter().map(String::as_str).collect();
    let headers: Vec<(&str, &str)> = options
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let host = url.host_header();
    let request = ClientRequest {
        host: &host,
        target: &url.target,
        key: random.handshake_key(),
        subprotocols: &subprotocols,
        extensions: offer.as_deref(),
        origin: options.origin.as_deref(),
        extra_headers: &headers,
    };
    let mut out = Vec::with_capacity(512);
    let handshake = request.write(&mut out);
    Opening {
        request: out,
        handshake,
        random,
        secure: url.secure,
    }
}

/// The error for a `wss://` URL in a build without TLS for this client: `feature` names the
/// one that brings it (`tls` for the mio runtime's clients, `tokio-tls` for the tokio adapter).
#[cfg(any(
    all(feature = "runtime", not(feature = "tls")),
    all(feature = "tokio", not(feature = "tokio-tls"))
))]
pub(crate) fn no_tls(feature: &str) -> ClientError {
    ClientError::Url(UrlError(format!(
        "wss:// needs TLS: build fullduplex with the `{feature}` feature"
    )))
}

/// The TLS configuration to use: the options' own, or one trusting the system's roots.
#[cfg(any(feature = "tls", feature = "tokio-tls"))]
pub(crate) fn tls_config(options: &ClientOptions) -> io::Result<Arc<rustls::ClientConfig>> {
    match &options.tls {
        Some(tls) => Ok(tls.clone()),
        None => super::tls::system_roots(),
    }
}

/// A TLS session for `url`'s host with this configuration.
#[cfg(feature = "tls")]
pub(crate) fn tls_session(
    url: &WsUrl,
    config: Arc<rustls::ClientConfig>,
) -> Result<rustls::ClientConnection, ClientError> {
    Ok(rustls::ClientConnection::new(config, server_name(url)?).map_err(io::Error::other)?)
}

/// The name a `wss://` server's certificate must carry: the URL's host.
#[cfg(any(feature = "tls", feature = "tokio-tls"))]
pub(crate) fn server_name(
    url: &WsUrl,
) -> Result<rustls::pki_types::ServerName<'static>, ClientError> {
    rustls::pki_types::ServerName::try_from(url.host.clone())
        .map_err(|e| ClientError::Url(UrlError(format!("{}: {e}", url.host))))
}

/// The client connection the accepted handshake opens, with permessage-deflate if the
/// server agreed to it, fed the bytes that followed the response head.
pub(crate) fn open(
    accepted: &Accepted,
    options: &ClientOptions,
    config: Arc<Config>,
    random: OsRandom,
    leftover: &[u8],
) -> Result<Connection, ClientError> {
    let mut conn = Connection::client(config, random);
    if let Some(params) = agreed_deflate(accepted, options)? {
        conn = conn.with_deflate(params);
    }
    conn.receive(leftover);
    Ok(conn)
}

/// The permessage-deflate parameters the server's response agreed to, if we offered it and
/// it accepted.
pub(crate) fn agreed_deflate(
    accepted: &Accepted,
    options: &ClientOptions,
) -> Result<Option<DeflateParams>, ClientError> {
    match &options.config.deflate {
        Some(deflate) => Ok(client_accept(&accepted.extensions, deflate)?),
        None => Ok(None),
    }
}
