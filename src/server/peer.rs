//! One TCP connection held by a worker, through its phases: the opening handshake, a plain
//! HTTP response, the established WebSocket connection (open, then closing), and draining
//! before the socket is closed.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Instant;

use crate::protocol::close::CloseInfo;
use crate::protocol::{CloseCode, Connection, State, Timeout};
use crate::server::handler::ConnId;
use crate::server::shared_message::SharedMessage;
use crate::transport::{write_bytes, write_queue, Flushed, Transport};

/// Where a connection stands. Each phase's state is boxed (or a [`Stamp`]), so that the
/// slot every connection occupies stays small.
pub(crate) enum Phase<S> {
    /// Reading the HTTP request head (bounded by `max_handshake_size`).
    Handshake(Box<Handshaking>),
    /// Writing an HTTP response (a page, or a refused upgrade), then closing, or reading the
    /// next request on a persistent connection.
    Respond(Box<Responding>),
    /// A plain HTTP request the application answers later ([`Reply::Later`](super::Reply)).
    Deferred(Box<Deferred>),
    /// The WebSocket connection, from our 101 response (RFC 6455 §4.1: "_The WebSocket
    /// Connection is Established_") until it ends: its [`State`] is `Open`, then `Closing`,
    /// then `Closed` or `Failed` while its last frames are written.
    Established(Box<Established<S>>),
    /// Our side is done and shut for writing; reading until the peer closes or `until`
    /// (RFC 6455 §7.1.1: the server closes the TCP connection first, without losing the
    /// peer's last bytes to a reset).
    Draining { until: Stamp },
}

/// The request head (and a plain request's body) arriving.
pub(crate) struct Handshaking {
    pub(crate) buf: Vec<u8>,
    pub(crate) since: Instant,
    /// The bytes the request takes in all, once its head says it has a body (the reads may
    /// then pass `max_handshake_size`, up to this).
    pub(crate) need: usize,
    /// Requests answered before this one on the same connection.
    pub(crate) served: u32,
}

impl Handshaking {
    /// Waiting for request number `served` (counting from 0), which begins with `buf`, from
    /// `now`.
    pub(crate) fn new(buf: Vec<u8>, served: u32, now: Instant) -> Self {
        Self {
            buf,
            since: now,
            need: 0,
            served,
        }
    }
}

/// An HTTP response being written.
pub(crate) struct Responding {
    pub(crate) out: Vec<u8>,
    pub(crate) written: usize,
    pub(crate) since: Instant,
    /// On a persistent connection: the next request (the bytes that came after this one).
    pub(crate) then: Option<Box<Handshaking>>,
}

/// A plain HTTP request waiting for the application's answer.
pub(crate) struct Deferred {
    /// The request's number on its connection (see [`ResponseId`](super::ResponseId)).
    pub(crate) number: u32,
    pub(crate) since: Instant,
    /// On a persistent connection: the next request (the bytes that came after this one).
    pub(crate) then: Option<Box<Handshaking>>,
}

/// An established WebSocket connection (open or closing) and the application's state for it. Kept
/// small, since an idle server holds one per connection: what most connections never need is in
/// [`Rare`], allocated on first use. Its deadlines are the connection's own
/// ([`Connection::poll_timeout`]).
pub(crate) struct Established<S> {
    pub(crate) conn: Connection,
    /// Taken when the application is told the connection ended.
    pub(crate) session: Option<S>,
    pub(crate) rare: Option<Box<Rare>>,
}

/// The state of an established connection that most connections never need.
#[derive(Default)]
pub(crate) struct Rare {
    pub(crate) subprotocol: Option<Box<str>>,
    pub(crate) subscriptions: Vec<Arc<str>>,
    /// What the peer's Close frame, or its protocol error, said.
    pub(crate) ended: Option<CloseInfo>,
    /// Messages that arrived while the application was sending a fragmented message, in
    /// order, to queue after its last fragment.
    pub(crate) held: VecDeque<Arc<SharedMessage>>,
    /// Payload bytes in `held`.
    pub(crate) held_bytes: usize,
}

impl<S> Established<S> {
    /// The rarely used state, allocated now if it was not.
    pub(crate) fn rare(&mut self) -> &mut Rare {
        self.rare.get_or_insert_with(Box::default)
    }

    /// Takes what the peer's Close frame (or its protocol error) said, if recorded.
    pub(crate) fn take_ended(&mut self) -> Option<CloseInfo> {
        self.rare.as_mut()?.ended.take()
    }

    /// Gives the connection the time (see [`Connection::handle_timeout`]); if a deadline
    /// passed, how it ended, for the application.
    pub(crate) fn handle_timeout(&mut self, now: Instant) -> Option<(Timeout, CloseInfo)> {
        self.conn.handle_timeout(now);
        let State::TimedOut(timeout) = self.conn.state() else {
            return None;
        };
        let info = self.take_ended().unwrap_or_else(|| CloseInfo {
            code: CloseCode::Abnormal,
            reason: timeout.reason().into(),
            clean: false,
        });
        Some((timeout, info))
    }

    /// Records how the connection ended unless that is known already.
    pub(crate) fn record_end(&mut self, info: CloseInfo) {
        let rare = self.rare();
        if rare.ended.is_none() {
            rare.ended = Some(info);
        }
    }
}

/// A moment as whole milliseconds since the worker's epoch, wrapping after 49 days: 4 bytes
/// where an `Instant` takes 16 (the deadline of a draining socket, in every slot's phase).
/// Spans under 24 days compare correctly. Never zero (the count 0 reads as 1, a millisecond
/// off), so that an `Option<Stamp>` takes 4 bytes too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp(NonZeroU32);

impl Stamp {
    /// `now`, counted from `epoch`.
    pub(crate) fn at(now: Instant, epoch: Instant) -> Self {
        let millis = now.saturating_duration_since(epoch).as_millis() as u32;
        Self(NonZeroU32::new(millis).unwrap_or(NonZeroU32::MIN))
    }

    /// Milliseconds from `earlier` to this moment, wrapping.
    fn after(self, earlier: Stamp) -> u32 {
        self.0.get().wrapping_sub(earlier.0.get())
    }

    /// Whether this moment is `other` or later.
    pub(crate) fn not_before(self, other: Stamp) -> bool {
        self.after(other) < 1 << 31
    }
}

/// A peer's address in 8 bytes where a [`SocketAddr`] takes 32: IPv4 inline; IPv6 (28
/// bytes with its flow label and scope) in the worker's [`V6Addrs`], by slot, so that the
/// slot every connection occupies need not make room for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PeerAddr {
    V4(SocketAddrV4),
    V6,
}

/// The IPv6 addresses of a worker's peers, by slot.
#[derive(Default)]
pub(crate) struct V6Addrs(HashMap<usize, SocketAddrV6>);

impl V6Addrs {
    /// Keeps `addr` for the peer in `slot` if it does not fit inline.
    pub(crate) fn insert(&mut self, slot: usize, addr: SocketAddr) -> PeerAddr {
        match addr {
            SocketAddr::V4(addr) => PeerAddr::V4(addr),
            SocketAddr::V6(addr) => {
                self.0.insert(slot, addr);
                PeerAddr::V6
            }
        }
    }

    /// The address of the peer in `slot`.
    pub(crate) fn get(&self, slot: usize, addr: PeerAddr) -> SocketAddr {
        match addr {
            PeerAddr::V4(addr) => SocketAddr::V4(addr),
            PeerAddr::V6 => {
                // Kept from `insert` until `remove`; should that ever fail, an unspecified
                // address is a better answer than a panic that ends the worker.
                debug_assert!(
                    self.0.contains_key(&slot),
                    "no IPv6 address for slot {slot}"
                );
                let unknown = SocketAddrV6::new(std::net::Ipv6Addr::UNSPECIFIED, 0, 0, 0);
                SocketAddr::V6(self.0.get(&slot).copied().unwrap_or(unknown))
            }
        }
    }

    /// Forgets the address of the peer leaving `slot`.
    pub(crate) fn remove(&mut self, slot: usize, addr: PeerAddr) {
        if addr == PeerAddr::V6 {
            self.0.remove(&slot);
        }
    }
}

/// A connection held by a worker.
pub(crate) struct Peer<S> {
    pub(crate) transport: Transport,
    pub(crate) phase: Phase<S>,
    pub(crate) addr: PeerAddr,
    /// Counts the slot's occupants: part of the connection's [`ConnId`], so that an id
    /// never names a later connection in the same slot.
    pub(crate) generation: u32,
    /// Registered for WRITABLE (only while output is stuck).
    pub(crate) writable: bool,
    /// In the worker's list of connections to write at the end of the tick.
    pub(crate) dirty: bool,
    /// In the worker's list of connections to remove at the end of the tick.
    pub(crate) dead: bool,
    /// Messages are held back behind a fragmented message (see [`Rare::held`]): kept here,
    /// beside the slot a broadcast reads anyway, so that it need not reach into [`Established`].
    pub(crate) holding: bool,
}

impl<S> Peer<S> {
    /// This connection's id, in slot `slot` of worker `worker`.
    pub(crate) fn id(&self, worker: usize, slot: usize) -> ConnId {
        ConnId::new(worker, self.generation, slot)
    }

    /// Writes whatever this connection has queued, until done or the socket is full.
    pub(crate) fn flush(&mut self) -> io::Result<Flushed> {
        let flushed = match &mut self.phase {
            Phase::Respond(r) => write_bytes(&mut self.transport, &r.out, &mut r.written)?,
            Phase::Established(ws) => write_queue(&mut self.transport, ws.conn.sender())?,
            Phase::Handshake { .. } | Phase::Deferred(_) | Phase::Draining { .. } => Flushed::All,
        };
        if flushed == Flushed::All && !self.transport.flush()? {
            return Ok(Flushed::Blocked);
        }
        Ok(flushed)
    }

    /// Whether everything of ours has been said: time to shut the write side and drain.
    pub(crate) fn finished(&self) -> bool {
        match &self.phase {
            Phase::Respond(r) => r.written == r.out.len(),
            Phase::Established(ws) => ws.conn.is_closed() && !ws.conn.wants_write(),
            _ => false,
        }
    }

    /// Shuts our direction and waits (until `until`) for the peer to close its own.
    pub(crate) fn begin_draining(&mut self, until: Stamp) {
        self.transport.shutdown_write();
        self.phase = Phase::Draining { until };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_peer_address_keeps_every_field() {
        let v4: SocketAddr = "192.0.2.7:443".parse().unwrap();
        let v6 = SocketAddr::V6(SocketAddrV6::new(
            "2001:db8::1".parse().unwrap(),
            8080,
            7,
            3,
        ));
        let mut v6_addrs = V6Addrs::default();
        let peers = [(3, v4), (4, v6)].map(|(slot, addr)| (slot, v6_addrs.insert(slot, addr)));
        assert_eq!(peers[1].1, PeerAddr::V6);
        for ((slot, addr), expected) in peers.into_iter().zip([v4, v6]) {
            assert_eq!(v6_addrs.get(slot, addr), expected);
            v6_addrs.remove(slot, addr);
        }
        assert!(v6_addrs.0.is_empty());
        assert_eq!(std::mem::size_of::<PeerAddr>(), 8);
    }

    #[test]
    fn stamps_measure_spans_across_the_start_and_the_wrap() {
        let epoch = Instant::now();
        let start = Stamp::at(epoch, epoch);
        let later = Stamp::at(epoch + Duration::from_millis(1500), epoch);
        assert!(later.not_before(start) && !start.not_before(later));
        assert!(later.after(start) >= 1499);
        let wrapped = Stamp(NonZeroU32::new(5).unwrap());
        let before_wrap = Stamp(NonZeroU32::new(u32::MAX - 4).unwrap());
        assert_eq!(wrapped.after(before_wrap), 10);
        assert!(wrapped.not_before(before_wrap));
        assert_eq!(std::mem::size_of::<Option<Stamp>>(), 4);
    }
}
