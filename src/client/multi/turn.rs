//! What one turn of a [`MultiClient`](super::MultiClient)'s loop does with each connection:
//! the handshake, reads and their events, deadlines, writes and the end of connections.

use std::io;
use std::time::Instant;

use super::conn::{ClientConn, ClientHandler};
use super::peer::{Ended, Established, Peer, Phase};
use super::{abnormal, MultiClient};
use crate::client::opening;
use crate::protocol::close::CloseInfo;
use crate::protocol::{Event, State};
use crate::transport::{discard_input, write_queue};

/// Reads per connection per turn before others get theirs.
const MAX_READS: usize = 16;

/// What an event (or a connection left with more to read) says about a socket.
#[derive(Clone, Copy)]
pub(super) struct Ready {
    /// There may be bytes, an end of stream or an error to read.
    pub(super) readable: bool,
    /// The server shut its side: a short read does not prove the socket drained, since the
    /// end of stream that follows the bytes raises no further edge-triggered event.
    pub(super) read_closed: bool,
    /// The socket takes writes again.
    pub(super) writable: bool,
}

impl Ready {
    /// What two reports about one socket say together.
    #[cfg(all(feature = "io-uring", target_os = "linux"))]
    pub(super) fn merge(&mut self, other: Ready) {
        self.readable |= other.readable;
        self.read_closed |= other.read_closed;
        self.writable |= other.writable;
    }
}

impl MultiClient {
    pub(super) fn on_event<H: ClientHandler>(
        &mut self,
        handler: &mut H,
        slot: usize,
        ready: Ready,
        now: Instant,
    ) {
        self.touch(slot);
        let Some(peer) = self.live_peer(slot) else {
            return;
        };
        match &peer.phase {
            Phase::Handshake(_) => self.advance_handshake(handler, slot, ready.read_closed, now),
            Phase::Established(_) => {
                if ready.readable {
                    self.read_frames(handler, slot, ready.read_closed, now);
                }
                if ready.writable {
                    self.mark_dirty(slot);
                }
            }
            Phase::Draining { .. } => {
                if ready.readable && !matches!(discard_input(&mut peer.transport), Ok(false)) {
                    self.kill(slot, Ended::Closed(abnormal("closed")));
                }
            }
        }
    }

    /// Moves a handshake on; opens the connection once the server accepted it.
    fn advance_handshake<H: ClientHandler>(
        &mut self,
        handler: &mut H,
        slot: usize,
        read_closed: bool,
        now: Instant,
    ) {
        let config = &self.options.config;
        let Some(peer) = self.slots[slot].peer.as_mut() else {
            return;
        };
        let (accepted, head_len) = match peer.advance_handshake(config) {
            Ok(Some(done)) => done,
            Ok(None) => return,
            Err(e) => return self.kill(slot, Ended::NotOpened(e)),
        };
        let Phase::Handshake(handshake) =
            std::mem::replace(&mut peer.phase, Phase::Draining { until: now })
        else {
            return;
        };
        let leftover = &handshake.buf[head_len..];
        let config = self.config.clone();
        match opening::open(
            &accepted,
            &self.options,
            config,
            handshake.opening.random,
            leftover,
        ) {
            Ok(mut conn) => {
                // The connection's clock starts now.
                conn.handle_timeout(now);
                peer.phase = Phase::Established(Box::new(Established { conn, accepted }));
            }
            Err(e) => return self.kill(slot, Ended::NotOpened(e)),
        }
        self.with_conn(slot, |conn| handler.on_open(conn));
        self.dispatch(handler, slot);
        // The server's first frames may have come with the response, or still wait.
        self.read_frames(handler, slot, read_closed, now);
    }

    /// Runs `f` with a [`ClientConn`] for an established connection.
    fn with_conn(&mut self, slot: usize, f: impl FnOnce(&mut ClientConn<'_>)) {
        let Some(peer) = self.live_peer(slot) else {
            return;
        };
        let Phase::Established(ws) = &mut peer.phase else {
            return;
        };
        let mut conn = ClientConn {
            id: peer.id,
            tx: ws.conn.sender(),
            accepted: &ws.accepted,
        };
        f(&mut conn);
    }

    /// Reads an established connection's frames until its socket is drained, handing events
    /// out.
    /// `read_closed`: the event said the server shut its side (see [`Ready::read_closed`]).
    fn read_frames<H: ClientHandler>(
        &mut self,
        handler: &mut H,
        slot: usize,
        read_closed: bool,
        now: Instant,
    ) {
        for round in 0..MAX_READS {
            let Some(peer) = self.slots[slot].peer.as_mut().filter(|p| !p.dead) else {
                return;
            };
            let Phase::Established(ws) = &mut peer.phase else {
                return;
            };
            self.buffers.lend(ws.conn.receiver());
            let space = ws.conn.read_space(self.buffers.size());
            let want = space.len();
            match peer.transport.read(space) {
                Ok(0) => return self.on_eof(slot),
                Ok(n) => {
                    ws.conn.commit_read(n);
                    let drained = n < want && peer.transport.short_read_drains() && !read_closed;
                    self.dispatch(handler, slot);
                    if drained {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return self.on_eof(slot),
            }
            if round + 1 == MAX_READS {
                self.more_to_read.push((slot, read_closed));
            }
        }
        if let Some(Peer {
            phase: Phase::Established(ws),
            ..
        }) = self.slots[slot].peer.as_mut()
        {
            self.buffers.take_back(ws.conn.receiver());
        }
        // The connection learns when the server was last heard (keepalive, idle timeout).
        self.handle_timeout(slot, now);
        self.mark_dirty(slot);
    }

    /// Gives an established connection the time: its keepalive Ping, idle close or deadlines
    /// ([`Connection::handle_timeout`](crate::protocol::Connection::handle_timeout)).
    fn handle_timeout(&mut self, slot: usize, now: Instant) {
        let Some(peer) = self.live_peer(slot) else {
            return;
        };
        let Phase::Established(ws) = &mut peer.phase else {
            return;
        };
        ws.conn.handle_timeout(now);
        if let State::TimedOut(timeout) = ws.conn.state() {
            self.kill(slot, Ended::Closed(abnormal(timeout.reason())));
        } else if ws.conn.wants_write() {
            self.mark_dirty(slot);
        }
    }

    /// Hands every event the connection has ready to the handler.
    fn dispatch<H: ClientHandler>(&mut self, handler: &mut H, slot: usize) {
        let Some(peer) = self.slots[slot].peer.as_mut() else {
            return;
        };
        let Phase::Established(ws) = &mut peer.phase else {
            return;
        };
        let (rx, tx) = ws.conn.split();
        loop {
            let event = match rx.poll_event(tx) {
                Ok(Some(event)) => event,
                Ok(None) => return,
                Err(err) => {
                    // Our Close frame with the error's code is queued.
                    let info = CloseInfo {
                        code: err.close_code(),
                        reason: err.to_string(),
                        clean: false,
                    };
                    peer.ended.get_or_insert(Ended::Closed(info));
                    return;
                }
            };
            let mut conn = ClientConn {
                id: peer.id,
                tx: &mut *tx,
                accepted: &ws.accepted,
            };
            match event {
                Event::Message(message) => handler.on_message(&mut conn, message),
                Event::Chunk(chunk) => handler.on_chunk(&mut conn, chunk),
                Event::Pong(payload) => handler.on_pong(&mut conn, payload),
                Event::Ping(_) => {}
                Event::Closed { code, reason } => {
                    let info = CloseInfo {
                        code,
                        reason: reason.to_owned(),
                        clean: true,
                    };
                    peer.ended.get_or_insert(Ended::Closed(info));
                }
            }
        }
    }

    /// The server closed TCP (or reset it).
    fn on_eof(&mut self, slot: usize) {
        let Some(peer) = self.live_peer(slot) else {
            return;
        };
        if let Phase::Established(ws) = &mut peer.phase {
            // A last attempt to send what is queued (the server may only have half-closed).
            let _ = write_queue(&mut peer.transport, ws.conn.sender());
        }
        self.kill(
            slot,
            Ended::Closed(abnormal("the server closed without a close frame")),
        );
    }

    /// Deadlines: handshakes and servers that never close TCP (the client's), and the
    /// established connections' own (keepalive, idle, closes without an answer) when due.
    pub(super) fn sweep_deadlines(&mut self, now: Instant) {
        for slot in 0..self.slots.len() {
            let Some(peer) = self.live_peer(slot) else {
                continue;
            };
            let ended = match &mut peer.phase {
                Phase::Handshake(handshake) if now >= handshake.deadline => {
                    let timeout =
                        io::Error::new(io::ErrorKind::TimedOut, "the opening handshake timed out");
                    Ended::NotOpened(timeout.into())
                }
                Phase::Established(ws) if ws.conn.poll_timeout().is_some_and(|at| at <= now) => {
                    self.handle_timeout(slot, now);
                    continue;
                }
                Phase::Draining { until } if now >= *until => {
                    Ended::Closed(abnormal("the server did not close the connection"))
                }
                _ => continue,
            };
            self.kill(slot, ended);
        }
    }

    /// Writes every connection with output; moves those that are done to draining.
    pub(super) fn flush_dirty(&mut self, now: Instant) {
        let close_timeout = self.options.config.close_timeout;
        for slot in std::mem::take(&mut self.dirty) {
            self.touch(slot);
            let Some(peer) = self.live_peer(slot) else {
                continue;
            };
            peer.dirty = false;
            let Phase::Established(ws) = &mut peer.phase else {
                continue;
            };
            if let Err(e) = write_queue(&mut peer.transport, ws.conn.sender()) {
                self.kill(slot, Ended::Closed(abnormal(&format!("write failed: {e}"))));
                continue;
            }
            if ws.conn.is_closed() && !ws.conn.wants_write() {
                peer.phase = Phase::Draining {
                    until: now + close_timeout,
                };
                // The server may have closed already; its end of stream raises no new event.
                if !matches!(discard_input(&mut peer.transport), Ok(false)) {
                    self.kill(slot, Ended::Closed(abnormal("closed")));
                }
            }
        }
    }
}
