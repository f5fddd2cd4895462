//! The application's side of the server: a [`Handler`] with upgrade, open, message and close
//! callbacks, and the [`Conn`] and [`Context`] it acts through.
//!
//! Each worker thread has its own clone of the handler, so callbacks take `&mut self` without
//! locks; state shared between workers goes behind an `Arc` inside it. Sends from a callback
//! are queued on the connection and written at the end of the event loop's tick, together
//! with everything else queued for it in that tick. Two sends write earlier, from the
//! callback: a message of at least [`DIRECT_MIN`](crate::protocol::sender::DIRECT_MIN)
//! bytes that finds nothing queued goes straight to the socket
//! ([`Sender::send_through`]), and a send that finds the queue over
//! [`Config::max_outbound_queue`] first writes what the socket takes of it, before the
//! slow-consumer policy judges ([`Sender::make_room`]).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use crate::error::SendError;
use crate::protocol::close::{CloseCode, CloseInfo};
use crate::protocol::handshake::{ClientOffer, HttpResponse, Request, Upgrade};
use crate::protocol::{Chunk, DataKind, Message, Sender};
use crate::server::http::{HttpRequest, Reply, ResponseId};
use crate::server::peer::Rare;
use crate::server::shared_message::SharedMessage;
use crate::server::slow_consumer::{make_room, make_room_for_fragment};
use crate::server::stats::Stats;
use crate::server::{Command, ServerHandle};
use crate::transport::Transport;
use crate::Config;

/// A connection's identity, unique for the server's lifetime (never reused).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub(crate) u64);

impl ConnId {
    pub(crate) fn new(worker: usize, generation: u32, slot: usize) -> Self {
        Self((worker as u64) << 56 | ((generation as u64) & 0xFF_FFFF) << 32 | slot as u64)
    }

    pub(crate) fn worker(self) -> usize {
        (self.0 >> 56) as usize
    }

    pub(crate) fn slot(self) -> usize {
        (self.0 & 0xFFFF_FFFF) as usize
    }

    /// The id as a number (for logs and maps).
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

impl std::fmt::Display for ConnId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.worker(), self.0 & 0x00FF_FFFF_FFFF_FFFF)
    }
}

/// The application: what the server does with requests, connections and messages.
pub trait Handler: Clone + Send + 'static {
    /// Per-connection state, created by [`upgrade`](Handler::upgrade).
    type Session: Send + 'static;

    /// The worker thread that owns this clone of the handler is starting, before it accepts
    /// or serves anything. Keep the handle to act on the server later, e.g. to read its
    /// [`stats`](ServerHandle::stats) in [`on_http`](Handler::on_http) for a metrics page.
    /// Called once per worker.
    fn on_start(&mut self, handle: &ServerHandle) {
        let _ = handle;
    }

    /// Decides on an upgrade request: accept (with a session and maybe a subprotocol) or
    /// reject with an HTTP status. The request gives the path, query, headers, cookies and
    /// `Origin`; the offer gives the subprotocols and extensions the client asked for.
    fn upgrade(&mut self, request: &Request, offer: &ClientOffer) -> Upgrade<Self::Session>;

    /// The connection is open.
    fn on_open(&mut self, conn: &mut Conn<'_, Self::Session>) {
        let _ = conn;
    }

    /// A whole message arrived.
    fn on_message(&mut self, conn: &mut Conn<'_, Self::Session>, message: Message<'_>);

    /// Part of a message arrived ([`MessageDelivery::Streamed`](crate::config::MessageDelivery)).
    fn on_chunk(&mut self, conn: &mut Conn<'_, Self::Session>, chunk: Chunk<'_>) {
        let _ = (conn, chunk);
    }

    /// The connection ended; its session is handed back. Called once per opened connection.
    fn on_close(
        &mut self,
        ctx: &mut Context<'_>,
        id: ConnId,
        session: Self::Session,
        info: &CloseInfo,
    ) {
        let _ = (ctx, id, session, info);
    }

    /// A plain HTTP request (not an upgrade): serve a page, a health check, metrics. Default:
    /// 404. Called by the default [`on_request`](Handler::on_request).
    fn on_http(&mut self, request: &Request) -> HttpResponse {
        let _ = request;
        HttpResponse::not_found()
    }

    /// A plain HTTP request with its body (at most
    /// [`ServerConfig::max_request_body`](super::ServerConfig::max_request_body)): answer it now,
    /// or later ([`Reply::Later`], e.g. a long poll) through [`Context::respond`] or
    /// [`ServerHandle::respond`] with the request's [`id`](HttpRequest::id). An HTTP/1.1
    /// connection stays open for the next request after the answer, unless the client said
    /// `Connection: close`. Default: [`on_http`](Handler::on_http)'s answer, now.
    fn on_request(&mut self, ctx: &mut Context<'_>, request: &HttpRequest<'_>) -> Reply {
        let _ = ctx;
        Reply::Now(self.on_http(request.head()))
    }
}

/// What a callback can do beyond its own connection: publish to topics, send to others.
///
/// Its commands are delivered, in the order given, when the worker has handled this tick's
/// input: after anything sent directly with [`Conn::send`] in the same tick.
pub struct Context<'a> {
    pub(crate) handle: &'a ServerHandle,
    pub(crate) outbox: &'a mut Vec<Command>,
}

impl Context<'_> {
    /// Sends a message to every connection subscribed to `topic`, on every worker. Workers whose
    /// mailbox is full ([`ServerConfig::max_mailbox`](super::ServerConfig::max_mailbox)) drop it
    /// and count it in [`StatsSnapshot::mailbox_drops`](super::StatsSnapshot::mailbox_drops).
    pub fn publish(&mut self, topic: &str, kind: DataKind, payload: &[u8]) {
        self.publish_except(topic, kind, payload, None);
    }

    /// Like [`publish`](Self::publish), leaving out one connection (e.g. the sender).
    pub fn publish_except(
        &mut self,
        topic: &str,
        kind: DataKind,
        payload: &[u8],
        except: Option<ConnId>,
    ) {
        let message = SharedMessage::new(kind, payload.to_vec(), &self.handle.shared.config);
        Stats::add(&self.handle.shared.stats.broadcasts, 1);
        let topic: Arc<str> = topic.into();
        self.outbox.push(Command::Publish {
            topic: topic.clone(),
            message: message.clone(),
            except,
        });
        // A full mailbox drops the command and counts it (see `ServerConfig::max_mailbox`).
        let _ = self
            .handle
            .to_other_workers(self.worker(), |_| Command::Publish {
                topic: topic.clone(),
                message: message.clone(),
                except,
            });
    }

    /// Sends a message to one connection (on any worker). On another worker whose mailbox
    /// is full ([`ServerConfig::max_mailbox`](super::ServerConfig::max_mailbox)), the message
    /// is dropped and counted in
    /// [`StatsSnapshot::mailbox_drops`](super::StatsSnapshot::mailbox_drops).
    pub fn send_to(&mut self, to: ConnId, kind: DataKind, payload: &[u8]) {
        let message = SharedMessage::new(kind, payload.to_vec(), &self.handle.shared.config);
        let command = Command::Send { to, message };
        if to.worker() == self.worker() {
            self.outbox.push(command);
        } else {
            let _ = self.handle.to_worker(to.worker(), command);
        }
    }

    /// Answers a plain HTTP request that was deferred ([`Reply::Later`]); a request answered
    /// already, or whose connection ended, is left alone. On another worker whose mailbox is
    /// full the answer is dropped, as for [`send_to`](Self::send_to) (the request is then
    /// answered 503 after [`ServerConfig::max_deferral`](super::ServerConfig::max_deferral)).
    pub fn respond(&mut self, id: ResponseId, response: HttpResponse) {
        let command = Command::Respond { id, response };
        if id.conn.worker() == self.worker() {
            self.outbox.push(command);
        } else {
            let _ = self.handle.to_worker(id.conn.worker(), command);
        }
    }

    /// The server's handle, to keep for use from other threads.
    pub fn handle(&self) -> &ServerHandle {
        self.handle
    }

    fn worker(&self) -> usize {
        self.handle.worker.unwrap_or(usize::MAX)
    }
}

/// One established connection, as a callback sees it: open, or closing (after our Close the
/// peer's messages still arrive, RFC 6455 §7.1.2, but sends fail with [`SendError::Closed`]).
pub struct Conn<'a, S> {
    pub(crate) id: ConnId,
    pub(crate) tx: &'a mut Sender,
    pub(crate) transport: &'a mut Transport,
    pub(crate) session: &'a mut S,
    pub(crate) rare: &'a mut Option<Box<Rare>>,
    pub(crate) peer_addr: SocketAddr,
    pub(crate) ctx: Context<'a>,
    pub(crate) config: &'a Config,
    pub(crate) stats: &'a Stats,
    pub(crate) now: Instant,
}

impl<'a, S> Conn<'a, S> {
    /// This connection's id.
    pub fn id(&self) -> ConnId {
        self.id
    }

    /// The time of the event loop's tick that delivered this event (read once per tick, so
    /// an application needs no clock of its own for rate limits and timeouts).
    pub fn now(&self) -> Instant {
        self.now
    }

    /// The application's state for this connection.
    pub fn session(&mut self) -> &mut S {
        self.session
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.peer_addr
    }

    /// The subprotocol agreed in the handshake.
    pub fn subprotocol(&self) -> Option<&str> {
        self.rare.as_ref()?.subprotocol.as_deref()
    }

    /// Server-wide actions (publish, send to others).
    pub fn ctx(&mut self) -> &mut Context<'a> {
        &mut self.ctx
    }

    /// Sends a text message (subject to the slow-consumer policy), as [`send`](Self::send).
    pub fn send_text(&mut self, text: &str) -> Result<(), SendError> {
        self.send(Message::Text(text))
    }

    /// Sends a binary message (subject to the slow-consumer policy), as [`send`](Self::send).
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), SendError> {
        self.send(Message::Binary(data))
    }

    /// Sends a message (e.g. echoes one), subject to the slow-consumer policy.
    ///
    /// Errors: [`SendError::Closed`] once a Close was sent (by the application or by the
    /// server: its shutdown, the idle timeout, the slow-consumer policy) or the connection
    /// failed; [`SendError::SlowConsumer`] when the peer's output queue stayed over
    /// [`Config::max_outbound_queue`] after a write, with what was done (the message dropped,
    /// or the connection closing with 1008, as [`Config::slow_consumer`] says);
    /// [`SendError::Usage`] for a whole message while a fragmented one is unfinished.
    ///
    /// The message is queued at once (a large one may even be written at once), whereas what
    /// goes through [`Context`] (publish, broadcast, `send_to`) is delivered when the worker
    /// has handled this tick's input. A callback that publishes and then sends here has its
    /// own connection receive the send first; to keep that order, send through
    /// [`Context::send_to`] with [`id`](Self::id) instead.
    pub fn send(&mut self, message: Message<'_>) -> Result<(), SendError> {
        make_room(self.tx, self.transport, self.config, self.stats)?;
        // A large message finding the queue empty goes straight from the receive buffer to
        // the socket; only what the socket did not take is copied into the queue.
        let transport = &mut *self.transport;
        self.tx.send_through(message, |parts| {
            transport.write_vectored(parts).unwrap_or(0)
        })?;
        Stats::add(&self.stats.messages_out, 1);
        Stats::add(&self.stats.bytes_out, message.as_bytes().len() as u64);
        Ok(())
    }

    /// Sends one fragment of a streamed message (see [`Sender::send_fragment`]), subject to
    /// the output queue limit ([`Config::max_outbound_queue`]): a fragment that finds the
    /// queue over it closes the connection with 1008 under either
    /// [`SlowConsumer`](crate::config::SlowConsumer) policy, since part of a message cannot be
    /// dropped (the error is then `SendError::SlowConsumer(SlowConsumer::Close)`).
    pub fn send_fragment(
        &mut self,
        kind: DataKind,
        data: &[u8],
        fin: bool,
    ) -> Result<(), SendError> {
        make_room_for_fragment(self.tx, self.transport, self.config, self.stats)?;
        self.tx.send_fragment(kind, data, fin)?;
        if fin {
            Stats::add(&self.stats.messages_out, 1);
        }
        Stats::add(&self.stats.bytes_out, data.len() as u64);
        Ok(())
    }

    /// Sends a Ping. [`SendError::Closed`] once a Close was sent; [`SendError::Usage`] for a
    /// payload over 125 bytes.
    pub fn ping(&mut self, payload: &[u8]) -> Result<(), SendError> {
        Ok(self.tx.ping(payload)?)
    }

    /// Begins the close handshake. [`SendError::Closed`] if a Close was sent already (by the
    /// application or by the server); [`SendError::Usage`] for a code that must not be sent or
    /// a reason over 123 bytes.
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), SendError> {
        Ok(self.tx.close(code, reason)?)
    }

    /// Bytes queued for this connection and not yet written.
    pub fn buffered_amount(&self) -> usize {
        self.tx.buffered_amount()
    }

    /// Subscribes this connection to a topic (see [`Context::publish`]).
    pub fn subscribe(&mut self, topic: &str) {
        let subscriptions = &mut self.rare.get_or_insert_with(Box::default).subscriptions;
        if !subscriptions.iter().any(|t| &**t == topic) {
            let topic: Arc<str> = topic.into();
            subscriptions.push(topic.clone());
            self.ctx
                .outbox
                .push(Command::Subscribe { id: self.id, topic });
        }
    }

    /// Unsubscribes this connection from a topic.
    pub fn unsubscribe(&mut self, topic: &str) {
        let Some(rare) = self.rare.as_mut() else {
            return;
        };
        if let Some(at) = rare.subscriptions.iter().position(|t| &**t == topic) {
            let topic = rare.subscriptions.swap_remove(at);
            self.ctx
                .outbox
                .push(Command::Unsubscribe { id: self.id, topic });
        }
    }

    /// The topics this connection is subscribed to.
    pub fn subscriptions(&self) -> &[Arc<str>] {
        self.rare.as_ref().map_or(&[], |r| &r.subscriptions)
    }
}
