//! The client side of the tokio adapter: [`connect`] to a `ws://` or (feature `tokio-tls`)
//! `wss://` URL, or [`client`] over a stream of your own.
//!
//! Implements the client's part of [RFC 6455 §4.1](https://www.rfc-editor.org/rfc/rfc6455#section-4.1)
//! with the same request, checks and error sentences as the mio runtime's clients
//! ([`ClientError`]; a refusal keeps its status, headers and the start of its body).

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ::tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use ::tokio::net::{TcpSocket, TcpStream};

use super::transport::ClientStream;
use super::WebSocketStream;
use crate::client::opening::{self, Opening};
use crate::client::refusal::Refusal;
use crate::client::{ClientError, ClientOptions, WsUrl};
use crate::protocol::handshake::Accepted;
use crate::Config;

/// Connects to a `ws://` or `wss://` URL: TCP (and TLS, feature `tokio-tls`, with
/// [`ClientOptions::tls`](crate::client::ClientOptions) or the system's roots), then the
/// opening handshake, all within [`ClientOptions::connect_timeout`]. Offers
/// permessage-deflate when `options.config.deflate` is set.
pub async fn connect(
    url: &str,
    options: &ClientOptions,
) -> Result<WebSocketStream<ClientStream>, ClientError> {
    let url = WsUrl::parse(url)?;
    let connecting = async {
        let tcp = connect_tcp(&url, options).await?;
        tcp.set_nodelay(true)?;
        let stream = secure(&url, options, tcp).await?;
        handshake(stream, &url, options).await
    };
    match ::tokio::time::timeout(options.connect_timeout, connecting).await {
        Ok(connected) => connected,
        Err(_) => Err(timed_out(options.connect_timeout)),
    }
}

/// The TCP connection to `url`'s first address that answers, from
/// [`ClientOptions::local_addr`] if set.
async fn connect_tcp(url: &WsUrl, options: &ClientOptions) -> io::Result<TcpStream> {
    let Some(local) = options.local_addr else {
        return TcpStream::connect(url.socket_addr_text()).await;
    };
    let mut last = io::Error::new(
        io::ErrorKind::NotFound,
        format!("{} did not resolve", url.host),
    );
    for peer in ::tokio::net::lookup_host(url.socket_addr_text()).await? {
        let socket = match peer {
            SocketAddr::V4(_) => TcpSocket::new_v4()?,
            SocketAddr::V6(_) => TcpSocket::new_v6()?,
        };
        let connected = match socket.bind(SocketAddr::new(local, 0)) {
            Ok(()) => socket.connect(peer).await,
            Err(e) => Err(e),
        };
        match connected {
            Ok(tcp) => return Ok(tcp),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// The opening handshake for `url` over a stream already connected (a proxy's tunnel, a
/// TLS stream of your own …), within [`ClientOptions::connect_timeout`].
pub async fn client<S>(
    io: S,
    url: &str,
    options: &ClientOptions,
) -> Result<WebSocketStream<S>, ClientError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let url = WsUrl::parse(url)?;
    let handshaking = handshake(io, &url, options);
    match ::tokio::time::timeout(options.connect_timeout, handshaking).await {
        Ok(done) => done,
        Err(_) => Err(timed_out(options.connect_timeout)),
    }
}

/// Sends the request and reads the answer; opens the connection it accepts.
async fn handshake<S>(
    mut io: S,
    url: &WsUrl,
    options: &ClientOptions,
) -> Result<WebSocketStream<S>, ClientError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let opening = opening::begin(url, options);
    let (accepted, leftover) = shake_hands(&mut io, &opening, &options.config)
        .await
        .map_err(opening::explain)?;
    let deflate = opening::agreed_deflate(&accepted, options)?;
    let config = Arc::new(options.config.clone());
    let conn = opening::open(&accepted, options, config, opening.random, &leftover)?;
    Ok(WebSocketStream::new(
        io,
        conn,
        accepted.subprotocol.clone(),
        deflate,
    ))
}

/// Writes the request and reads until the response head is complete: the accepted response
/// and the bytes after its head, or the refusal with what came of its body.
async fn shake_hands<S>(
    io: &mut S,
    opening: &Opening,
    config: &Config,
) -> Result<(Accepted, Vec<u8>), ClientError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    io.write_all(&opening.request).await?;
    io.flush().await?;
    let mut answer = Vec::with_capacity(1024);
    let mut ended = false;
    loop {
        match opening.read_response(&answer, config, ended) {
            Ok(Some((accepted, head_len))) => return Ok((accepted, answer.split_off(head_len))),
            Ok(None) => {}
            Err(ClientError::Refused(mut refusal)) => {
                read_body(&mut refusal, io).await;
                return Err(ClientError::Refused(refusal));
            }
            Err(e) => return Err(e),
        }
        let len = answer.len();
        answer.resize(len + 4096, 0);
        let read = io.read(&mut answer[len..]).await;
        answer.truncate(len + *read.as_ref().unwrap_or(&0));
        ended = read? == 0;
    }
}

/// Reads the rest of a refusal's body, up to what [`Refusal::body`] keeps, until the server
/// closes or a read fails (the connect timeout bounds the wait).
async fn read_body<S: AsyncRead + Unpin>(refusal: &mut Refusal, io: &mut S) {
    let wanted = refusal.body_wanted();
    let mut chunk = [0u8; 1024];
    while refusal.body.len() < wanted {
        let space = (wanted - refusal.body.len()).min(chunk.len());
        match io.read(&mut chunk[..space]).await {
            Ok(0) | Err(_) => break,
            Ok(n) => refusal.body.extend_from_slice(&chunk[..n]),
        }
    }
}

/// The stream for `url`: the TCP connection, or TLS over it for `wss://`.
async fn secure(
    url: &WsUrl,
    options: &ClientOptions,
    tcp: TcpStream,
) -> Result<ClientStream, ClientError> {
    if !url.secure {
        return Ok(ClientStream::Plain(tcp));
    }
    #[cfg(feature = "tokio-tls")]
    {
        let connector = tokio_rustls::TlsConnector::from(opening::tls_config(options)?);
        let name = opening::server_name(url)?;
        let tls = connector.connect(name, tcp).await.map_err(ClientError::Io);
        Ok(ClientStream::Tls(Box::new(tls.map_err(opening::explain)?)))
    }
    #[cfg(not(feature = "tokio-tls"))]
    {
        let _ = options;
        Err(opening::no_tls("tokio-tls"))
    }
}

fn timed_out(after: Duration) -> ClientError {
    let what = format!("the connection and its opening handshake took over {after:?}");
    ClientError::Io(io::Error::new(io::ErrorKind::TimedOut, what))
}
