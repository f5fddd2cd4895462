//! The server side of the tokio adapter: the opening handshake read and answered over any
//! byte stream ([`accept`], [`accept_with`]), or answered by another HTTP server
//! ([`from_upgraded`]).
//!
//! Implements the server's part of [RFC 6455 §4.2](https://www.rfc-editor.org/rfc/rfc6455#section-4.2):
//! reading the request within [`Config::max_handshake_size`] and
//! [`Config::handshake_timeout`], refusing with a status (§4.2.1, §4.4) or accepting (§4.2.2).

use std::io;
use std::sync::Arc;

use ::tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::negotiation::Negotiation;
use super::{Error, WebSocketStream};
use crate::protocol::deflate::DeflateParams;
use crate::protocol::handshake::{write_handshake_error, ClientOffer, Request, Upgrade};
use crate::protocol::{Connection, Role};
use crate::random::OsRandom;
use crate::Config;

/// Bytes read at a time while the request head arrives.
const HANDSHAKE_READ: usize = 4096;

/// Accepts a WebSocket connection on `io` (a TCP stream, a TLS stream …): reads the opening
/// handshake, answers `101 Switching Protocols` (with permessage-deflate when
/// [`Config::deflate`] is set and the client offers it), and returns the connection.
///
/// A request that is not a valid handshake is answered with its status (400, 405, 426 …)
/// and is [`Error::Handshake`]; one that does not arrive within
/// [`Config::handshake_timeout`] is an [`Error::Io`] of kind `TimedOut`.
pub async fn accept<S>(io: S, config: impl Into<Arc<Config>>) -> Result<WebSocketStream<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (ws, ()) = accept_with(io, config, |_, _| Upgrade::accept(())).await?;
    Ok(ws)
}

/// Accepts as [`accept`] does, after asking `decide`, as the mio server asks
/// [`Handler::upgrade`](https://docs.rs/fullduplex/latest/fullduplex/server/trait.Handler.html#tymethod.upgrade):
/// with the request (path, query, headers, cookies, `Origin`) and the client's offer, it
/// accepts with a session value of its own (returned beside the connection), a subprotocol
/// ([`Upgrade::with_subprotocol`]; one the client did not offer is dropped) and extra
/// headers, or refuses with an HTTP response ([`Upgrade::reject`]), which is sent before
/// this returns [`Error::Refused`] with its status.
pub async fn accept_with<S, T>(
    mut io: S,
    config: impl Into<Arc<Config>>,
    decide: impl FnOnce(&Request, &ClientOffer) -> Upgrade<T>,
) -> Result<(WebSocketStream<S>, T), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let config: Arc<Config> = config.into();
    let answering = answer(&mut io, &config, decide);
    let (session, response, leftover, negotiation) =
        match ::tokio::time::timeout(config.handshake_timeout, answering).await {
            Ok(answered) => answered?,
            Err(_) => return Err(timed_out().into()),
        };
    let ws = open_server(io, config, &negotiation, &response, &leftover);
    Ok((ws, session))
}

/// What an accepted handshake leaves: the session, the 101 response to send, the bytes after
/// the request head, and what was agreed.
type Answered<T> = (T, Vec<u8>, Vec<u8>, Negotiation);

/// Reads the request and asks `decide`; a refusal is sent here.
async fn answer<S, T>(
    io: &mut S,
    config: &Config,
    decide: impl FnOnce(&Request, &ClientOffer) -> Upgrade<T>,
) -> Result<Answered<T>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (request, leftover) = read_request(io, config).await?;
    let negotiation = match Negotiation::new(&request, config) {
        Ok(negotiation) => negotiation,
        Err(e) => return refuse(io, &e).await,
    };
    match decide(&request, negotiation.offer()) {
        Upgrade::Reject(response) => {
            let mut out = Vec::with_capacity(response.body.len() + 128);
            response.encode(&mut out);
            answer_and_close(io, &out).await;
            Err(Error::Refused(response.status))
        }
        Upgrade::Accept {
            session,
            subprotocol,
            headers,
        } => {
            let negotiation = negotiation.with_subprotocol(subprotocol.as_deref());
            let extra: Vec<(&str, &str)> = headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect();
            let mut response = Vec::with_capacity(256);
            negotiation.write_response(&mut response, &extra);
            Ok((session, response, leftover, negotiation))
        }
    }
}

/// A WebSocket connection on a transport whose opening handshake was done elsewhere: by an
/// HTTP server such as hyper (`hyper::upgrade::on`, with the response headers from
/// [`Negotiation::response_headers`]) or by a client of your own. `deflate` and
/// `subprotocol` are what the handshake agreed ([`Negotiation::deflate`],
/// [`Negotiation::subprotocol`]); a client's masking keys come from the operating system.
pub fn from_upgraded<S>(
    io: S,
    role: Role,
    config: impl Into<Arc<Config>>,
    deflate: Option<DeflateParams>,
    subprotocol: Option<String>,
) -> WebSocketStream<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut conn = match role {
        Role::Server => Connection::server(config),
        Role::Client => Connection::client(config, OsRandom::new()),
    };
    if let Some(params) = deflate {
        conn = conn.with_deflate(params);
    }
    WebSocketStream::new(io, conn, subprotocol, deflate)
}

/// The connection the accepted handshake opens: the 101 response queued ahead of the first
/// frames (they leave in one write), the bytes after the request head fed in.
fn open_server<S: AsyncRead + AsyncWrite + Unpin>(
    io: S,
    config: Arc<Config>,
    negotiation: &Negotiation,
    response: &[u8],
    leftover: &[u8],
) -> WebSocketStream<S> {
    let mut conn = Connection::server(config);
    if let Some(params) = negotiation.deflate() {
        conn = conn.with_deflate(params);
    }
    conn.queue_raw(response);
    conn.receive(leftover);
    let subprotocol = negotiation.subprotocol().map(str::to_owned);
    WebSocketStream::new(io, conn, subprotocol, negotiation.deflate())
}

/// Reads until the request head is complete: the request and the bytes after its head. A
/// head that breaks the rules is answered with its status here.
async fn read_request<S>(io: &mut S, config: &Config) -> Result<(Request, Vec<u8>), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut buf = Vec::with_capacity(HANDSHAKE_READ);
    loop {
        match Request::parse(&buf, config) {
            Ok(Some((request, head_len))) => return Ok((request, buf.split_off(head_len))),
            Ok(None) => {}
            Err(e) => return refuse(io, &e).await,
        }
        let len = buf.len();
        buf.resize(len + HANDSHAKE_READ, 0);
        let n = io.read(&mut buf[len..]).await?;
        buf.truncate(len + n);
        if n == 0 {
            let eof = "the client closed the connection before its opening handshake was complete";
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, eof).into());
        }
    }
}

/// Answers a request that is not a valid handshake with its status, then closes.
async fn refuse<S, R>(mut io: S, error: &crate::HandshakeError) -> Result<R, Error>
where
    S: AsyncWrite + Unpin,
{
    let mut out = Vec::with_capacity(256);
    write_handshake_error(&mut out, error);
    answer_and_close(&mut io, &out).await;
    Err(Error::Handshake(error.clone()))
}

/// Writes a refusal and shuts the write side; the peer may have gone, which changes nothing.
async fn answer_and_close<S: AsyncWrite + Unpin>(io: &mut S, out: &[u8]) {
    if io.write_all(out).await.is_ok() {
        let _ = io.shutdown().await;
    }
}

fn timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "the opening handshake timed out")
}
