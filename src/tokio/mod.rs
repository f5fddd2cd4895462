//! The tokio adapter (feature `tokio`): the same sans-I/O core under async Rust, for tokio
//! programs and HTTP servers such as axum and hyper, without the mio runtime.
//!
//! It implements no protocol of its own: the opening handshake
//! ([RFC 6455 §4](https://www.rfc-editor.org/rfc/rfc6455#section-4)), frames, messages and
//! the close handshake ([RFC 6455 §5](https://www.rfc-editor.org/rfc/rfc6455#section-5),
//! [§7](https://www.rfc-editor.org/rfc/rfc6455#section-7)) and permessage-deflate
//! ([RFC 7692](https://www.rfc-editor.org/rfc/rfc7692)) are the core's
//! ([`protocol`](crate::protocol)); this module moves bytes between it and any
//! `AsyncRead + AsyncWrite`, and gives it tokio's time. So everything the mio runtime
//! guarantees holds here too:
//!
//! - every limit of [`Config`](crate::Config) (frame and message size, fragments, handshake
//!   size and time; strict UTF-8; 1009, 1007, 1002 for what breaks them);
//! - Pings answered, keepalive Pings, the pong deadline, the idle timeout and the close
//!   deadline ([`Config::ping_interval`](crate::Config::ping_interval) …), all decided by
//!   the core on one tokio timer; they run while the connection is read, and while a sender
//!   waits on the transport; the timer's firing wakes both the reading and the sending task
//!   (the halves of `StreamExt::split` included), and a sender waiting on a peer that does
//!   not read gets the error that ended the connection;
//! - the close handshake, then the TCP connection ended as RFC 6455 §7.1.1 says (the server
//!   first; the client after the server, within [`Config::close_timeout`](crate::Config::close_timeout));
//! - a bounded output queue: sending waits while more than
//!   [`Config::max_outbound_queue`](crate::Config::max_outbound_queue) bytes are queued (the
//!   sink's back-pressure), so a peer that does not read holds at most that plus one
//!   message; [`Config::slow_consumer`](crate::Config::slow_consumer) is the mio server's
//!   policy for messages it fans out and does not apply here: a sender here waits;
//! - permessage-deflate with every parameter, offered by the client and accepted by the
//!   server when [`Config::deflate`](crate::Config::deflate) is set.
//!
//! # Entry points
//!
//! | you have | call | you get |
//! | --- | --- | --- |
//! | an accepted TCP (or TLS) stream | [`accept`], or [`accept_with`] to look at the request, pick a subprotocol, add headers or refuse | [`WebSocketStream`] |
//! | an HTTP server (hyper, axum) that answers the upgrade itself | [`Negotiation::from_headers`] for the response headers, then [`from_upgraded`] on the upgraded I/O | [`WebSocketStream`] |
//! | a `ws://` or `wss://` URL (`wss://` with feature `tokio-tls`) | [`connect`] with [`ClientOptions`](crate::client::ClientOptions) | [`WebSocketStream<ClientStream>`] |
//! | a connected stream to run a client handshake over | [`client`] | [`WebSocketStream`] |
//!
//! A [`WebSocketStream`] is a `Stream<Item = Result<Message, Error>>` and a `Sink<Message>`
//! (futures-core and futures-sink), and has the methods [`recv`](WebSocketStream::recv),
//! [`send`](WebSocketStream::send), [`feed`](WebSocketStream::feed) +
//! [`flush`](WebSocketStream::flush) and [`close`](WebSocketStream::close);
//! [`recv_with`](WebSocketStream::recv_with) hands an event over without copying it out of
//! the receive buffer (what the echo testee uses). [`Message`] is
//! owned, with the variants users of tokio-tungstenite know (`Text`, `Binary`, `Ping`,
//! `Pong`, `Close`) and `Fragment` for messages streamed in pieces.
//!
//! # Example
//!
//! An echo server and a client, on one current-thread runtime:
//!
//! ```
//! use fullduplex::client::ClientOptions;
//! use fullduplex::protocol::CloseCode;
//! use fullduplex::tokio::{accept, connect, Message};
//! use fullduplex::Config;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
//! # runtime.block_on(async {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let url = format!("ws://{}/", listener.local_addr()?);
//! let server = async move {
//!     let (tcp, _) = listener.accept().await?;
//!     let mut ws = accept(tcp, Config::default()).await?;
//!     while let Some(message) = ws.recv().await? {
//!         if message.is_data() {
//!             ws.send(message).await?;
//!         }
//!     }
//!     Ok::<_, Box<dyn std::error::Error>>(())
//! };
//! let client = async {
//!     let mut ws = connect(&url, &ClientOptions::default()).await?;
//!     ws.send(Message::text("hello")).await?;
//!     assert_eq!(ws.recv().await?, Some(Message::text("hello")));
//!     ws.close(CloseCode::Normal, "done").await?;
//!     Ok::<_, Box<dyn std::error::Error>>(())
//! };
//! let (served, ran) = tokio::join!(server, client);
//! served?;
//! ran?;
//! # Ok::<_, Box<dyn std::error::Error>>(())
//! # })
//! # }
//! ```
//!
//! # Broadcast
//!
//! A message for many connections is encoded once, as a
//! [`SharedFrame`](crate::protocol::SharedFrame), and queued on each server stream with
//! [`send_shared`](WebSocketStream::send_shared) (or [`feed_shared`](WebSocketStream::feed_shared)
//! then [`flush`](WebSocketStream::flush)): the receivers share its bytes, where an owned
//! [`Message`] per receiver would copy the payload for each. A connection's task can wait on
//! both its stream and a `tokio::sync::broadcast::channel::<SharedFrame>` (a frame clones as
//! a reference count) with `tokio::select!`: [`recv`](WebSocketStream::recv) is cancel-safe.
//! The sink of [`Message`]s stays the only `Sink` (a second would leave `poll_ready` calls
//! and `split()` without an item type). A client stream refuses a shared frame (it masks
//! each frame with a key of its own): [`Error::Usage`].
//!
//! ```
//! use fullduplex::protocol::{DataKind, SharedFrame};
//! use fullduplex::tokio::{Error, WebSocketStream};
//! use tokio::net::TcpStream;
//!
//! async fn broadcast(clients: &mut [WebSocketStream<TcpStream>], text: &str) -> Result<(), Error> {
//!     let frame = SharedFrame::new(DataKind::Text, text.as_bytes());
//!     for ws in clients {
//!         ws.send_shared(&frame).await?;
//!     }
//!     Ok(())
//! }
//! ```
//!
//! # With hyper or axum
//!
//! The HTTP server reads the request and sends the `101` response; the adapter takes the
//! upgraded connection. In outline, with hyper 1 (`req: Request<Incoming>`):
//!
//! ```text
//! let headers = req.headers().iter().map(|(n, v)| (n.as_str(), v.as_bytes()));
//! let negotiation = Negotiation::from_headers(req.method().as_str(), headers, &config)?
//!     .with_subprotocol(Some("chat"));              // if the client offered it
//! let mut response = Response::builder().status(101);
//! for (name, value) in negotiation.response_headers() {
//!     response = response.header(name, value);
//! }
//! tokio::spawn(async move {
//!     let upgraded = TokioIo::new(hyper::upgrade::on(req).await?);
//!     let ws = from_upgraded(upgraded, Role::Server, config,
//!                            negotiation.deflate(), negotiation.subprotocol().map(Into::into));
//!     serve(ws).await
//! });
//! response.body(Empty::new())
//! ```
//!
//! A [`HandshakeError`](crate::HandshakeError) from `from_headers` carries the status to
//! refuse with ([`status`](crate::HandshakeError::status)).

mod client;
mod error;
mod io;
mod message;
mod negotiation;
mod send;
mod server;
mod shared;
mod stream;
mod traits;
mod transport;
mod wake;

pub use client::{client, connect};
pub use error::Error;
pub use message::{CloseFrame, Message};
pub use negotiation::Negotiation;
pub use server::{accept, accept_with, from_upgraded};
pub use stream::WebSocketStream;
pub use transport::ClientStream;

pub use crate::protocol::handshake::{HttpResponse, Upgrade};
pub use crate::protocol::Role;
