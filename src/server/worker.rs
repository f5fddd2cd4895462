//! One worker thread: an event loop over its share of the connections, mio's (below) or
//! io_uring's (`uring_loop`, the same turn over completions), over the same handling of
//! connections (the other files of this module).
//!
//! Each tick: wait for events (at most until the next deadline sweep); read every readable
//! connection until its socket is drained (a short read proves it, so no extra `read` that would
//! only say `EAGAIN`), handing the events to the application and giving the connection the time;
//! run the commands of this tick's callbacks and of other threads (sends, publishes); every
//! [`sweep_interval`], sweep the deadlines (the worker's own for handshakes, HTTP responses and
//! draining sockets; for established connections, the core's, asked with
//! [`Connection::poll_timeout`](crate::protocol::Connection::poll_timeout)); then write every
//! connection that has output, with vectored writes until its queue is empty or its socket full;
//! then remove connections that ended. Callbacks may write earlier (see
//! [`handler`](super::handler)'s docs). A connection registers for WRITABLE only while its output
//! is stuck, and is removed only at the end of a tick, so no event of this tick can name a removed
//! or reused token (tokens carry a slot, and ids a generation besides).

// Without io_uring in the build, mio's is the only event loop: its patterns always match.
#![cfg_attr(
    not(all(feature = "io-uring", target_os = "linux")),
    allow(irrefutable_let_patterns, clippy::infallible_destructuring_match)
)]

use std::collections::HashMap;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::TcpListener;
use mio::{event::Event as MioEvent, Events, Interest, Poll, Token};

use crate::server::handler::{ConnId, Handler};
use crate::server::peer::{Handshaking, Peer, Phase, V6Addrs};
use crate::server::stats::Stats;
use crate::server::{Command, EventLoop, ServerHandle};
#[cfg(feature = "tls")]
use crate::transport::TlsStream;
use crate::transport::{discard_input, sweep_interval, LoopWaker, ReadBuffers, Transport};
#[cfg(all(feature = "io-uring", target_os = "linux"))]
use crate::uring::UringStream;
use crate::Config;

pub(crate) const LISTENER: Token = Token(0);
pub(crate) const WAKER: Token = Token(1);
const FIRST_PEER: usize = 2;
/// Reads per connection per tick before others get their turn.
const MAX_READS: usize = 16;
/// Read buffers kept for reuse per worker.
const POOLED_BUFFERS: usize = 256;

/// What a worker takes of the [`ServerConfig`](crate::server::ServerConfig) besides the
/// connections' config.
#[derive(Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) max_connections: usize,
    pub(crate) read_buffer_size: usize,
    pub(crate) max_request_body: usize,
    pub(crate) max_deferral: Duration,
    pub(crate) send_buffer: crate::server::SendBuffer,
}

/// What belongs to one event loop: mio's `Poll`, or the io_uring driver.
pub(crate) enum Io {
    Mio(Poll),
    #[cfg(all(feature = "io-uring", target_os = "linux"))]
    Uring(Box<uring::Driver>),
}

/// A worker's event loop before its thread starts it: mio's `Poll`, or the eventfd an
/// io_uring loop will poll (the ring itself is created on the worker's thread).
pub(crate) enum LoopToBe {
    Mio(Poll),
    #[cfg(all(feature = "io-uring", target_os = "linux"))]
    Uring(crate::uring::EventFd),
}

impl LoopToBe {
    /// A worker's event loop of this kind ([`EventLoop::IoUringOrMio`] was decided before),
    /// and the waker of its mailbox.
    pub(crate) fn new(event_loop: EventLoop) -> io::Result<(LoopToBe, LoopWaker)> {
        #[cfg(all(feature = "io-uring", target_os = "linux"))]
        if event_loop != EventLoop::Mio {
            let eventfd = crate::uring::EventFd::new()?;
            let waker = LoopWaker::EventFd(eventfd.try_clone()?);
            return Ok((LoopToBe::Uring(eventfd), waker));
        }
        let _ = event_loop;
        let poll = Poll::new()?;
        let waker = mio::Waker::new(poll.registry(), WAKER)?;
        Ok((LoopToBe::Mio(poll), LoopWaker::Mio(waker)))
    }

    /// The event loop, on the worker's thread. Creating a ring fails as the probe does, in
    /// one sentence.
    pub(crate) fn open(self) -> io::Result<Io> {
        match self {
            LoopToBe::Mio(poll) => Ok(Io::Mio(poll)),
            #[cfg(all(feature = "io-uring", target_os = "linux"))]
            LoopToBe::Uring(eventfd) => Ok(Io::Uring(Box::new(uring::Driver::new(eventfd)?))),
        }
    }
}

/// A place for a connection. Its id is not stored: it is the worker's index, the slot's
/// position and the occupant's generation (see [`Peer::id`]).
struct Slot<S> {
    peer: Option<Peer<S>>,
}

/// A worker's state. Fields are split so that callbacks can borrow a connection, the
/// handler and the outbox at once.
pub(crate) struct Worker<H: Handler> {
    index: usize,
    io: Io,
    listener: Option<TcpListener>,
    handle: ServerHandle,
    /// [`ServerConfig::max_connections`](crate::server::ServerConfig::max_connections).
    max_connections: usize,
    /// [`ServerConfig::max_request_body`](crate::server::ServerConfig::max_request_body).
    max_request_body: usize,
    /// [`ServerConfig::max_deferral`](crate::server::ServerConfig::max_deferral).
    max_deferral: Duration,
    /// [`ServerConfig::send_buffer`](crate::server::ServerConfig::send_buffer).
    send_buffer: crate::server::SendBuffer,
    handler: H,
    #[cfg(feature = "tls")]
    tls: Option<Arc<rustls::ServerConfig>>,
    config: Arc<Config>,
    stats: Arc<Stats>,
    slots: Vec<Slot<H::Session>>,
    /// Free slots, each with the generation its next occupant takes.
    free: Vec<(usize, u32)>,
    /// The addresses of IPv6 peers (IPv4 ones are kept inline).
    v6_addrs: V6Addrs,
    dirty: Vec<usize>,
    dead: Vec<usize>,
    /// Connections whose reads stopped before the socket drained (and whether it was read-closed).
    more_to_read: Vec<(usize, bool)>,
    buffers: ReadBuffers,
    topics: HashMap<Arc<str>, Vec<ConnId>>,
    outbox: Vec<Command>,
    /// Emptied vectors kept for their capacity: each tick swaps its work lists (`dirty`,
    /// `dead`, `more_to_read`, `outbox`) with these instead of allocating new ones.
    spare_slots: Vec<usize>,
    spare_reads: Vec<(usize, bool)>,
    spare_commands: Vec<Command>,
    /// A run of messages with the same receivers and their counts of receivers (see
    /// `fanout`), kept for its capacity.
    spare_messages: Vec<(Arc<crate::server::shared_message::SharedMessage>, u64)>,
    shutdown_deadline: Option<Instant>,
    accept_paused_until: Option<Instant>,
    /// Whether the last accept ran out of a resource (said once, until one succeeds). Until
    /// then, io_uring accepts as mio does, gated (`shed`), rather than in the kernel.
    exhausted: bool,
    /// A descriptor given up to refuse waiting connections when the others ran out (`shed`).
    reserve: Option<std::fs::File>,
    /// What connections' [`Stamp`](crate::server::peer::Stamp)s count from.
    epoch: Instant,
}

impl<H: Handler> Worker<H> {
    pub(crate) fn new(
        index: usize,
        io: Io,
        mut listener: TcpListener,
        handle: ServerHandle,
        limits: Limits,
        handler: H,
        #[cfg(feature = "tls")] tls: Option<Arc<rustls::ServerConfig>>,
    ) -> io::Result<Self> {
        if let Io::Mio(poll) = &io {
            poll.registry()
                .register(&mut listener, LISTENER, Interest::READABLE)?;
        }
        let config = handle.shared.config.clone();
        let stats = handle.shared.stats.clone();
        let buffers = ReadBuffers::new(limits.read_buffer_size, POOLED_BUFFERS);
        Ok(Self {
            index,
            io,
            listener: Some(listener),
            handle,
            max_connections: limits.max_connections,
            max_request_body: limits.max_request_body,
            max_deferral: limits.max_deferral,
            send_buffer: limits.send_buffer,
            handler,
            #[cfg(feature = "tls")]
            tls,
            config,
            stats,
            slots: Vec::new(),
            free: Vec::new(),
            v6_addrs: V6Addrs::default(),
            dirty: Vec::new(),
            dead: Vec::new(),
            more_to_read: Vec::new(),
            buffers,
            topics: HashMap::new(),
            outbox: Vec::new(),
            spare_slots: Vec::new(),
            spare_reads: Vec::new(),
            spare_commands: Vec::new(),
            spare_messages: Vec::new(),
            shutdown_deadline: None,
            accept_paused_until: None,
            exhausted: false,
            reserve: shed::reserve(),
            epoch: Instant::now(),
        })
    }

    /// Runs the event loop until the server shuts down.
    pub(crate) fn run(self) {
        match &self.io {
            Io::Mio(_) => self.run_mio(),
            #[cfg(all(feature = "io-uring", target_os = "linux"))]
            Io::Uring(_) => self.run_uring(),
        }
    }

    /// Runs mio's event loop until the server shuts down.
    fn run_mio(mut self) {
        self.handler.on_start(&self.handle);
        let mut events = Events::with_capacity(1024);
        let sweep_every = sweep_interval(self.config.shortest_timeout());
        let mut next_sweep = Instant::now() + sweep_every;
        loop {
            let now = Instant::now();
            let timeout = if self.more_to_read.is_empty() {
                self.wake_at(next_sweep).saturating_duration_since(now)
            } else {
                Duration::ZERO
            };
            let Io::Mio(poll) = &mut self.io else {
                return;
            };
            if let Err(err) = poll.poll(&mut events, Some(timeout)) {
                if err.kind() != io::ErrorKind::Interrupted {
                    eprintln!("fullduplex: worker {}: poll failed: {err}", self.index);
                    break;
                }
            }
            let now = Instant::now();
            for event in events.iter() {
                match event.token() {
                    LISTENER => self.accept(now),
                    WAKER => self.take_mail(),
                    Token(token) => self.on_event(token - FIRST_PEER, event, now),
                }
            }
            self.read_more(now);
            self.run_commands(now);
            self.resume_accepting(now);
            if now >= next_sweep {
                self.sweep_deadlines(now);
                next_sweep = now + sweep_every;
            }
            self.flush_dirty(now);
            self.remove_dead();
            if self.shutdown_done(now) {
                break;
            }
        }
        self.kill_all();
    }

    fn live_peer(&mut self, slot: usize) -> Option<&mut Peer<H::Session>> {
        live(&mut self.slots, slot)
    }

    fn peer_by_id(&mut self, id: ConnId) -> Option<usize> {
        let slot = id.slot();
        let peer = self.slots.get(slot)?.peer.as_ref()?;
        (peer.id(self.index, slot) == id && !peer.dead).then_some(slot)
    }

    fn mark_dirty(&mut self, slot: usize) {
        if let Some(peer) = self.live_peer(slot) {
            if !peer.dirty {
                peer.dirty = true;
                self.dirty.push(slot);
            }
        }
    }

    /// Accepts connections from the listening socket until it has none (`WouldBlock`), each
    /// taken in by [`take_connection`](Self::take_connection).
    fn accept(&mut self, now: Instant) {
        if self.accept_paused_until.is_some_and(|until| now < until) {
            return;
        }
        self.accept_paused_until = None;
        // A reserve another worker's accept took while this one shed is taken back first.
        if self.reserve.is_none() {
            self.reserve = shed::reserve();
        }
        if !matches!(self.io, Io::Mio(_)) && !self.exhausted {
            // io_uring's multishot accept is armed again at the end of the turn. Out of
            // descriptors, it accepts here as mio's loop does, when its listener poll says.
            return;
        }
        loop {
            let Some(listener) = self.listener.as_ref() else {
                return;
            };
            // Not while another worker sheds (see `shed`); a poisoned gate guards nothing.
            let gate = self.handle.shared.accept_gate.read();
            let accepted = listener.accept();
            drop(gate);
            match accepted {
                Ok((stream, addr)) => self.take_connection(stream, addr, now),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if shed::is_resource_exhausted(&e) => {
                    // Retried when the pause is over rather than in a busy loop.
                    self.on_accept_exhausted(&e, now);
                    return;
                }
                Err(_) => {}
            }
        }
    }

    /// Takes an accepted TCP connection in: counts it against `max_connections` and gives it
    /// a slot, or refuses it over the limit.
    fn take_connection(
        &mut self,
        stream: mio::net::TcpStream,
        addr: std::net::SocketAddr,
        now: Instant,
    ) {
        self.exhausted = false;
        // The count is reserved before anything else, atomically across workers, so that
        // two workers accepting at once cannot both take the last place.
        if !self.stats.reserve_connection(self.max_connections) {
            self.refuse_over_limit(stream);
            return;
        }
        if !self.register(stream, addr, now) {
            Stats::sub(&self.stats.connections, 1);
        }
    }

    /// Takes an accepted connection into a slot; `false` when it could not be.
    fn register(
        &mut self,
        mut stream: mio::net::TcpStream,
        addr: std::net::SocketAddr,
        now: Instant,
    ) -> bool {
        let _ = stream.set_nodelay(true);
        // Like TCP_NODELAY, these options only fail on a socket that is not TCP.
        let _ = crate::server::send_buffer::apply(&stream, self.send_buffer);
        let (slot, generation) = self.free.pop().unwrap_or_else(|| {
            self.slots.push(Slot { peer: None });
            (self.slots.len() - 1, 0)
        });
        let token = Token(slot + FIRST_PEER);
        if let Io::Mio(poll) = &self.io {
            if poll
                .registry()
                .register(&mut stream, token, Interest::READABLE)
                .is_err()
            {
                self.free.push((slot, generation));
                return false;
            }
        }
        let Some(transport) = self.transport(stream) else {
            self.free.push((slot, generation));
            return false;
        };
        self.slots[slot].peer = Some(Peer {
            transport,
            addr: self.v6_addrs.insert(slot, addr),
            generation,
            phase: Phase::Handshake(Box::new(Handshaking::new(Vec::new(), 0, now))),
            writable: false,
            dirty: false,
            holding: false,
            dead: false,
        });
        #[cfg(all(feature = "io-uring", target_os = "linux"))]
        if let Io::Uring(driver) = &mut self.io {
            driver.arm.push(slot);
        }
        Stats::add(&self.stats.accepted, 1);
        true
    }

    /// The byte stream for an accepted socket: plain, or a new TLS session over it; through
    /// mio or the ring.
    fn transport(&self, stream: mio::net::TcpStream) -> Option<Transport> {
        #[cfg(feature = "tls")]
        if let Some(tls) = &self.tls {
            let tls = rustls::ServerConnection::new(tls.clone()).ok()?.into();
            #[cfg(all(feature = "io-uring", target_os = "linux"))]
            if let Io::Uring(_) = self.io {
                let tcp = UringStream::new(stream);
                return Some(Transport::UringTls(Box::new(TlsStream { tcp, tls })));
            }
            return Some(Transport::Tls(Box::new(TlsStream { tcp: stream, tls })));
        }
        #[cfg(all(feature = "io-uring", target_os = "linux"))]
        if let Io::Uring(_) = self.io {
            return Some(Transport::Uring(Box::new(UringStream::new(stream))));
        }
        Some(Transport::Plain(stream))
    }

    /// Whether this server speaks TLS.
    fn is_tls(&self) -> bool {
        #[cfg(feature = "tls")]
        return self.tls.is_some();
        #[cfg(not(feature = "tls"))]
        false
    }

    fn on_event(&mut self, slot: usize, event: &MioEvent, now: Instant) {
        if self.live_peer(slot).is_none() {
            return;
        }
        if event.is_readable() || event.is_read_closed() || event.is_error() {
            self.on_readable(slot, event.is_read_closed(), now);
        }
        if event.is_writable() {
            self.mark_dirty(slot);
        }
    }

    fn on_readable(&mut self, slot: usize, read_closed: bool, now: Instant) {
        let Some(peer) = self.live_peer(slot) else {
            return;
        };
        let read_closed = read_closed || peer.transport.is_read_ended();
        match &peer.phase {
            Phase::Handshake { .. } => self.read_handshake(slot, read_closed, now),
            Phase::Established(_) => self.read_frames(slot, read_closed, now),
            // A persistent connection's next request waits in the socket until this one is
            // answered (see `http`).
            Phase::Respond(r) if r.then.is_some() => {}
            Phase::Deferred(d) if d.then.is_some() => {}
            Phase::Respond { .. } | Phase::Deferred(_) | Phase::Draining { .. } => {
                match discard_input(&mut peer.transport) {
                    Ok(false) => {}
                    Ok(true) | Err(_) => self.kill(slot, None),
                }
            }
        }
    }

    fn read_more(&mut self, now: Instant) {
        let mut pending = std::mem::replace(
            &mut self.more_to_read,
            std::mem::take(&mut self.spare_reads),
        );
        for (slot, read_closed) in pending.drain(..) {
            self.on_readable(slot, read_closed, now);
        }
        self.spare_reads = pending;
    }

    fn take_mail(&mut self) {
        let mailbox = &self.handle.shared.mailboxes[self.index];
        if let Ok(mut queue) = mailbox.queue.lock() {
            self.outbox.append(&mut queue);
        }
    }
}

/// The connection in `slot`, unless it is gone or ending (borrows only the slots).
fn live<S>(slots: &mut [Slot<S>], slot: usize) -> Option<&mut Peer<S>> {
    slots.get_mut(slot)?.peer.as_mut().filter(|p| !p.dead)
}

mod fanout;
mod http;
mod input;
mod lifecycle;
mod shed;
#[cfg(all(feature = "io-uring", target_os = "linux"))]
mod uring;
#[cfg(all(feature = "io-uring", target_os = "linux"))]
mod uring_loop;

#[cfg(test)]
mod tests;
