//! Many client connections on one event loop, for programs that hold thousands of them (the
//! load generator): connect, send and close by [`ClientId`], receive through a
//! [`ClientHandler`]. The loop is mio's (epoll), or io_uring's on Linux (feature `io-uring`,
//! [`MultiClient::with_event_loop`]): the connections behave the same on both.
//!
//! Each connection goes through a non-blocking TCP connect, TLS for `wss://`, the opening
//! handshake (RFC 6455 §4.1), then the same sans-I/O [`Connection`](crate::protocol::Connection)
//! as the blocking client, in the client role. After the close handshake it waits for the
//! server to close TCP (RFC 6455 §7.1.1). Everything happens in [`MultiClient::poll`], on the
//! caller's thread: it waits for readiness, reads until each socket is drained and hands
//! messages to the handler as they arrive (borrowed from the read buffer, not copied), checks
//! the deadlines when due, and writes what was queued, at the start and at the end of each
//! turn, with vectored writes until a connection's queue is empty or its socket full.
//!
//! The deadlines are the client's own for connecting and for the server's closing of TCP;
//! keepalive, the idle timeout and the close deadline are each connection's, in the core
//! ([`Connection::poll_timeout`](crate::protocol::Connection::poll_timeout)): every sweep
//! interval (a quarter of the shortest timeout, from 5 ms to 1 s) the client sweeps its
//! connections and gives the time to those whose deadline came, and to each connection after
//! it read.
//!
//! Over mio, sockets are registered for both READABLE and WRITABLE once: readiness is
//! edge-triggered, so the kernel reports writability only after a write found the socket full,
//! and an idle connection costs no events. Read buffers are lent from a pool while a
//! connection reads, so an idle connection holds none. Over io_uring, receives complete into
//! a ring of buffers shared by the connections, and the bytes a turn wrote are sent with the
//! next turn's wait, in one system call (see `multi/uring.rs`).
//!
//! # Example
//!
//! ```no_run
//! use fullduplex::client::{ClientConn, ClientHandler, ClientOptions, MultiClient};
//! use fullduplex::protocol::{CloseCode, Message};
//!
//! /// Sends one message on each connection and closes when it comes back.
//! struct PingPong {
//!     echoes: usize,
//! }
//!
//! impl ClientHandler for PingPong {
//!     fn on_open(&mut self, conn: &mut ClientConn<'_>) {
//!         let _ = conn.send_text("hello");
//!     }
//!     fn on_message(&mut self, conn: &mut ClientConn<'_>, _: Message<'_>) {
//!         self.echoes += 1;
//!         let _ = conn.close(CloseCode::Normal, "");
//!     }
//! }
//!
//! let mut clients = MultiClient::new(ClientOptions::default())?;
//! for _ in 0..1000 {
//!     clients.connect("ws://127.0.0.1:9001/")?;
//! }
//! let mut app = PingPong { echoes: 0 };
//! while !clients.is_empty() {
//!     clients.poll(&mut app, None)?;
//! }
//! # Ok::<(), fullduplex::client::ClientError>(())
//! ```

use std::io;
use std::net::{IpAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::url::{UrlError, WsUrl};
use super::{opening, ClientError, ClientOptions};
use crate::protocol::close::CloseCode;
use crate::protocol::Message;
use crate::server::EventLoop;
#[cfg(feature = "tls")]
use crate::transport::TlsStream;
use crate::transport::{sweep_interval, ReadBuffers, Transport};
use crate::Config;

mod conn;
mod driver;
mod peer;
mod turn;
#[cfg(all(feature = "io-uring", target_os = "linux"))]
mod uring;

pub use conn::{ClientConn, ClientHandler};
pub use peer::Ended;

use driver::Driver;
use peer::{Handshaking, Peer, Phase};
use turn::Ready;

/// Read buffers kept for reuse.
const POOLED_BUFFERS: usize = 256;

/// A connection's identity in its [`MultiClient`], never reused while the client lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientId(u64);

impl ClientId {
    fn new(generation: u32, slot: usize) -> Self {
        Self((generation as u64) << 32 | slot as u64)
    }

    fn slot(self) -> usize {
        (self.0 & 0xFFFF_FFFF) as usize
    }

    /// The id as a number (for logs and maps).
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

struct Slot {
    generation: u32,
    peer: Option<Peer>,
}

/// Many WebSocket client connections driven by one event loop on the caller's thread.
pub struct MultiClient {
    driver: Driver,
    /// The connections the last wait found ready.
    ready: Vec<(usize, Ready)>,
    options: ClientOptions,
    /// `options.config`, shared by every connection.
    config: Arc<Config>,
    /// The TLS configuration for `wss://` (the options' own, or the system's roots).
    #[cfg(feature = "tls")]
    tls: Option<Arc<rustls::ClientConfig>>,
    slots: Vec<Slot>,
    free: Vec<usize>,
    dirty: Vec<usize>,
    dead: Vec<usize>,
    /// Connections whose reads stopped before their socket drained.
    more_to_read: Vec<(usize, bool)>,
    buffers: ReadBuffers,
    next_sweep: Instant,
}

impl MultiClient {
    /// A client whose connections all use these options (limits, deflate offer,
    /// subprotocols, headers, TLS roots, the connect timeout), on mio.
    pub fn new(options: ClientOptions) -> io::Result<Self> {
        Self::with_event_loop(options, EventLoop::Mio)
    }

    /// [`new`](Self::new) on the event loop asked for: [`EventLoop::IoUring`] fails, saying
    /// why, where io_uring is missing or forbidden (an old kernel, a seccomp filter,
    /// `kernel.io_uring_disabled`) or the build lacks the feature `io-uring`;
    /// [`EventLoop::IoUringOrMio`] runs on mio there (the reason is printed on standard
    /// error). [`event_loop`](Self::event_loop) says which one runs.
    pub fn with_event_loop(options: ClientOptions, event_loop: EventLoop) -> io::Result<Self> {
        let buffers = ReadBuffers::new(options.read_buffer_size, POOLED_BUFFERS);
        Ok(Self {
            driver: Driver::new(event_loop)?,
            ready: Vec::new(),
            config: Arc::new(options.config.clone()),
            options,
            #[cfg(feature = "tls")]
            tls: None,
            slots: Vec::new(),
            free: Vec::new(),
            dirty: Vec::new(),
            dead: Vec::new(),
            more_to_read: Vec::new(),
            buffers,
            next_sweep: Instant::now(),
        })
    }

    /// Starts connecting to a `ws://` or `wss://` URL; the handshake goes on in
    /// [`poll`](Self::poll), which reports the outcome to the handler. The host name is
    /// resolved here (blocking), and its first address used. The connection comes from
    /// [`ClientOptions::local_addr`] if set.
    pub fn connect(&mut self, url: &str) -> Result<ClientId, ClientError> {
        self.start(url, self.options.local_addr)
    }

    /// As [`connect`](Self::connect), from local address `local` (its port left to the
    /// system): e.g. connections spread over 127.0.0.0/8 to have more ephemeral ports.
    pub fn connect_from(&mut self, url: &str, local: IpAddr) -> Result<ClientId, ClientError> {
        self.start(url, Some(local))
    }

    fn start(&mut self, url: &str, local: Option<IpAddr>) -> Result<ClientId, ClientError> {
        let url = WsUrl::parse(url)?;
        let addr = url
            .socket_addr_text()
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| UrlError(format!("{} did not resolve", url.host)))?;
        let tcp = match local {
            Some(local) => {
                mio::net::TcpStream::from_std(super::bind::connect_nonblocking(addr, local)?)
            }
            None => mio::net::TcpStream::connect(addr)?,
        };
        let _ = tcp.set_nodelay(true);
        let slot = self.free.pop().unwrap_or_else(|| {
            self.slots.push(Slot {
                generation: 0,
                peer: None,
            });
            self.slots.len() - 1
        });
        let transport = match self.transport(&url, tcp, slot) {
            Ok(transport) => transport,
            Err(e) => {
                self.free.push(slot);
                return Err(e);
            }
        };
        let generation = self.slots[slot].generation;
        let id = ClientId::new(generation, slot);
        let handshake = Handshaking {
            opening: opening::begin(&url, &self.options),
            written: 0,
            buf: Vec::new(),
            connected: false,
            deadline: Instant::now() + self.options.connect_timeout,
        };
        let peer = self.slots[slot].peer.insert(Peer {
            id,
            transport,
            phase: Phase::Handshake(Box::new(handshake)),
            ended: None,
            dirty: false,
            dead: false,
        });
        #[cfg(all(feature = "io-uring", target_os = "linux"))]
        if let (Driver::IoUring(ring), Some(stream)) = (&mut self.driver, peer.transport.uring()) {
            ring.start_connect(slot, generation, stream);
        }
        #[cfg(not(all(feature = "io-uring", target_os = "linux")))]
        let _ = peer;
        Ok(id)
    }

    /// The event loop the connections run on: [`EventLoop::Mio`] or [`EventLoop::IoUring`].
    pub fn event_loop(&self) -> EventLoop {
        self.driver.event_loop()
    }

    fn transport(
        &mut self,
        url: &WsUrl,
        tcp: mio::net::TcpStream,
        slot: usize,
    ) -> Result<Transport, ClientError> {
        if !url.secure {
            return Ok(self.driver.plain(tcp, slot)?);
        }
        #[cfg(feature = "tls")]
        {
            let config = match &self.tls {
                Some(config) => config.clone(),
                None => self.tls.insert(opening::tls_config(&self.options)?).clone(),
            };
            let session = opening::tls_session(url, config)?;
            let tls = session.into();
            #[cfg(all(feature = "io-uring", target_os = "linux"))]
            if let Driver::IoUring(_) = self.driver {
                return Ok(uring::UringLoop::tls(tcp, tls));
            }
            let Transport::Plain(tcp) = self.driver.plain(tcp, slot)? else {
                unreachable!("mio's plain transport");
            };
            Ok(Transport::Tls(Box::new(TlsStream { tcp, tls })))
        }
        #[cfg(not(feature = "tls"))]
        {
            drop(tcp);
            Err(opening::no_tls("tls"))
        }
    }

    /// Connections not yet ended (connecting, open or closing).
    pub fn len(&self) -> usize {
        self.slots.iter().filter(|s| s.peer.is_some()).count()
    }

    /// Whether every connection has ended (and been reported).
    pub fn is_empty(&self) -> bool {
        self.slots.iter().all(|s| s.peer.is_none())
    }

    /// Sends a message on an open connection (written in the next [`poll`](Self::poll)).
    /// [`ClientError::Closed`] when it is not open: still connecting, closing, or ended.
    pub fn send(&mut self, id: ClientId, message: Message<'_>) -> Result<(), ClientError> {
        self.with_established(id, |conn| conn.send(message))
    }

    /// Sends a Ping on an open connection.
    pub fn ping(&mut self, id: ClientId, payload: &[u8]) -> Result<(), ClientError> {
        self.with_established(id, |conn| conn.ping(payload))
    }

    /// Begins the close handshake of an open connection, or abandons one still connecting
    /// (reported as [`Ended::NotOpened`] with [`ClientError::Closed`]).
    pub fn close(
        &mut self,
        id: ClientId,
        code: CloseCode,
        reason: &str,
    ) -> Result<(), ClientError> {
        let slot = self.slot_of(id).ok_or(ClientError::Closed)?;
        let connecting = matches!(
            self.slots[slot].peer.as_ref().map(|p| &p.phase),
            Some(Phase::Handshake(_))
        );
        if connecting {
            self.kill(slot, Ended::NotOpened(ClientError::Closed));
            return Ok(());
        }
        self.with_established(id, |conn| conn.close(code, reason))
    }

    /// Bytes queued on a connection and not yet written (0 when it is not open).
    pub fn buffered_amount(&self, id: ClientId) -> usize {
        match self.slot_of(id).and_then(|s| self.slots[s].peer.as_ref()) {
            Some(Peer {
                phase: Phase::Established(ws),
                ..
            }) => ws.conn.buffered_amount(),
            _ => 0,
        }
    }

    fn with_established(
        &mut self,
        id: ClientId,
        f: impl FnOnce(&mut crate::protocol::Connection) -> Result<(), crate::UsageError>,
    ) -> Result<(), ClientError> {
        let slot = self.slot_of(id).ok_or(ClientError::Closed)?;
        let Some(Peer {
            phase: Phase::Established(ws),
            ..
        }) = self.slots[slot].peer.as_mut()
        else {
            return Err(ClientError::Closed);
        };
        f(&mut ws.conn)?;
        self.mark_dirty(slot);
        Ok(())
    }

    /// The slot of a live connection with this id.
    fn slot_of(&self, id: ClientId) -> Option<usize> {
        let peer = self.slots.get(id.slot())?.peer.as_ref()?;
        (peer.id == id && !peer.dead).then_some(id.slot())
    }

    /// One turn of the event loop: writes what was queued, waits for readiness (at most
    /// `timeout`, and never past the next deadline sweep), reads and hands events to
    /// `handler`, sweeps the deadlines if that is due, writes, and reports the connections
    /// that ended.
    pub fn poll<H: ClientHandler>(
        &mut self,
        handler: &mut H,
        timeout: Option<Duration>,
    ) -> io::Result<()> {
        let now = Instant::now();
        self.flush_dirty(now);
        self.remove_dead(handler);
        let mut wait = self.next_sweep.saturating_duration_since(now);
        if let Some(timeout) = timeout {
            wait = wait.min(timeout);
        }
        if !self.more_to_read.is_empty() {
            wait = Duration::ZERO;
        }
        let waited = self.wait(wait);
        let now = Instant::now();
        let mut ready = std::mem::take(&mut self.ready);
        for (slot, state) in ready.drain(..) {
            self.on_event(handler, slot, state, now);
        }
        self.ready = ready;
        waited?;
        for (slot, read_closed) in std::mem::take(&mut self.more_to_read) {
            let ready = Ready {
                readable: true,
                read_closed,
                writable: false,
            };
            self.on_event(handler, slot, ready, now);
        }
        if now >= self.next_sweep {
            self.sweep_deadlines(now);
            self.next_sweep = now + self.sweep_interval();
        }
        self.flush_dirty(now);
        self.remove_dead(handler);
        Ok(())
    }

    /// How often deadlines are checked (see [`sweep_interval`]).
    fn sweep_interval(&self) -> Duration {
        let shortest = self.options.config.shortest_timeout();
        sweep_interval(shortest.min(self.options.connect_timeout))
    }

    fn mark_dirty(&mut self, slot: usize) {
        if let Some(peer) = self.live_peer(slot) {
            if !peer.dirty {
                peer.dirty = true;
                self.dirty.push(slot);
            }
        }
    }

    fn live_peer(&mut self, slot: usize) -> Option<&mut Peer> {
        self.slots.get_mut(slot)?.peer.as_mut().filter(|p| !p.dead)
    }

    /// Ends a connection now; it is removed and reported at the end of the turn.
    fn kill(&mut self, slot: usize, ended: Ended) {
        if let Some(peer) = self.live_peer(slot) {
            peer.end(ended);
            peer.dead = true;
            self.dead.push(slot);
        }
    }

    fn remove_dead<H: ClientHandler>(&mut self, handler: &mut H) {
        for slot in std::mem::take(&mut self.dead) {
            let entry = &mut self.slots[slot];
            let Some(peer) = entry.peer.take() else {
                continue;
            };
            let generation = entry.generation;
            entry.generation = generation.wrapping_add(1);
            self.free.push(slot);
            // Before the handler runs: it may connect again, into this slot.
            self.driver.release(slot, generation, peer.transport);
            let ended = peer.ended.unwrap_or_else(|| {
                Ended::Closed(abnormal("the connection ended without a close frame"))
            });
            handler.on_end(peer.id, &ended);
        }
    }
}

/// How a connection that ended without a Close frame is reported.
fn abnormal(reason: &str) -> crate::protocol::close::CloseInfo {
    crate::protocol::close::CloseInfo {
        code: CloseCode::Abnormal,
        reason: reason.into(),
        clean: false,
    }
}
