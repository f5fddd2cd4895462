//! The worker's handling of a connection's input: the opening handshake, then frames.

use std::io;
use std::time::Instant;

use super::{Worker, MAX_READS};
use crate::error::HandshakeError;
use crate::protocol::close::CloseCode;
use crate::protocol::close::CloseInfo;
use crate::protocol::deflate::negotiate_server;
use crate::protocol::handshake::Upgrade;
use crate::protocol::handshake::{
    validate_request, write_accept_response, write_handshake_error, ClientOffer, Request,
};
use crate::protocol::{Connection, Event};
use crate::server::handler::{Conn, Context, Handler};
use crate::server::peer::{Established, Phase, Rare, Responding};
use crate::server::stats::Stats;

/// Bytes read at a time while the request head arrives.
const HANDSHAKE_READ: usize = 4096;

/// How a read of the socket ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Input {
    /// Everything the socket held was read.
    Drained,
    /// The buffer filled first: more may wait in the socket.
    Pending,
    /// The end of the stream: the peer closed its side (or the connection failed), as
    /// [`on_eof`](Worker::on_eof) handles it.
    Eof,
}

impl<H: Handler> Worker<H> {
    /// Reads the request head (at most `max_handshake_size` bytes) and acts on it once whole.
    ///
    /// `read_closed`: the event said the peer shut its side, so a short read does not prove
    /// the socket drained (the end of the stream is still to be read).
    pub(super) fn read_handshake(&mut self, slot: usize, read_closed: bool, now: Instant) {
        let head_limit = self.config.max_handshake_size;
        let Some(peer) = self.live_peer(slot) else {
            return;
        };
        let Phase::Handshake(handshake) = &mut peer.phase else {
            return;
        };
        // A plain request's body may take more than the head's limit (up to its own).
        let limit = handshake.need.max(head_limit);
        let buf = &mut handshake.buf;
        // Read on the stack and keep only what arrived: a connection in its handshake holds
        // the size of its request, not a whole read buffer (thousands may connect at once).
        let mut chunk = [0u8; HANDSHAKE_READ];
        let mut input = Input::Pending;
        while buf.len() < limit {
            let want = (limit - buf.len()).min(HANDSHAKE_READ);
            match peer.transport.read(&mut chunk[..want]) {
                Ok(0) => {
                    input = Input::Eof;
                    break;
                }
                Ok(n) => {
                    buf.extend_from_slice(&chunk[..n]);
                    if n < want && peer.transport.short_read_drains() && !read_closed {
                        input = Input::Drained;
                        break;
                    }
                }
                Err(e) => {
                    match e.kind() {
                        io::ErrorKind::WouldBlock => input = Input::Drained,
                        io::ErrorKind::Interrupted => continue,
                        _ => input = Input::Eof,
                    }
                    break;
                }
            }
        }
        if peer.transport.has_pending_output() {
            self.mark_dirty(slot);
        }
        self.try_handshake(slot, now);
        self.after_handshake_read(slot, input, read_closed);
    }

    /// What follows a read of the handshake once its head was acted on: a request that ends
    /// the stream is still answered; bytes left in the socket go to the established connection.
    fn after_handshake_read(&mut self, slot: usize, input: Input, read_closed: bool) {
        let Some(peer) = self.live_peer(slot) else {
            return;
        };
        match (&peer.phase, input) {
            (Phase::Handshake { .. }, Input::Eof) => self.kill(slot, None),
            (Phase::Established(_), Input::Eof) => self.on_eof(slot),
            // The head filled the buffer: frames may wait in the socket, and no new
            // readiness event will announce them.
            // The same for a plain request's body, read past the head's limit.
            (Phase::Established(_) | Phase::Handshake(_), Input::Pending) => {
                self.more_to_read.push((slot, read_closed))
            }
            _ => {}
        }
    }

    /// Answers the request once its head is complete: a page, a refusal, or an upgrade.
    fn try_handshake(&mut self, slot: usize, now: Instant) {
        let Some(peer) = super::live(&mut self.slots, slot) else {
            return;
        };
        let Phase::Handshake(handshake) = &peer.phase else {
            return;
        };
        let buf = &handshake.buf;
        let (request, head_len) = match Request::parse(buf, &self.config) {
            Ok(None) => return,
            Ok(Some(parsed)) => parsed,
            Err(err) => return self.refuse_handshake(slot, &err, now),
        };
        // Bytes after the head belong to the WebSocket connection (RFC 6455 §4.1: the client
        // may send frames right after its handshake).
        let leftover = buf[head_len..].to_vec();
        if !request.is_websocket_upgrade() {
            return self.serve_http(slot, request, head_len, now);
        }
        let offer = match validate_request(&request) {
            Ok(offer) => offer,
            Err(err) => return self.refuse_handshake(slot, &err, now),
        };
        match self.handler.upgrade(&request, &offer) {
            Upgrade::Reject(response) => {
                self.stats
                    .reject(response.status, "refused by the application");
                let mut out = Vec::new();
                response.encode(&mut out);
                self.respond(slot, out, now);
            }
            Upgrade::Accept {
                session,
                subprotocol,
                headers,
            } => {
                self.open(slot, &offer, session, subprotocol, &headers, &leftover, now);
            }
        }
    }

    fn refuse_handshake(&mut self, slot: usize, err: &HandshakeError, now: Instant) {
        self.stats.reject(err.status(), err.reason());
        let mut out = Vec::new();
        write_handshake_error(&mut out, err);
        self.respond(slot, out, now);
    }

    fn respond(&mut self, slot: usize, out: Vec<u8>, now: Instant) {
        if let Some(peer) = self.live_peer(slot) {
            peer.phase = Phase::Respond(Box::new(Responding {
                out,
                written: 0,
                since: now,
                then: None,
            }));
            self.mark_dirty(slot);
        }
    }

    /// Writes the 101 response and opens the connection (RFC 6455 §4.2.2).
    #[allow(clippy::too_many_arguments)]
    fn open(
        &mut self,
        slot: usize,
        offer: &ClientOffer,
        session: H::Session,
        subprotocol: Option<String>,
        headers: &[(String, String)],
        leftover: &[u8],
        now: Instant,
    ) {
        // §4.2.2 /subprotocol/: "the value chosen MUST be derived from the client's handshake".
        let subprotocol = subprotocol.filter(|p| offer.subprotocols.iter().any(|o| o == p));
        let deflate = self
            .config
            .deflate
            .as_ref()
            .and_then(|d| negotiate_server(&offer.extensions, d));
        let extra: Vec<(&str, &str)> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let mut response = Vec::with_capacity(256);
        write_accept_response(
            &mut response,
            &offer.key,
            subprotocol.as_deref(),
            deflate.as_ref().map(|(_, header)| header.as_str()),
            &extra,
        );
        let mut conn = Connection::server(self.config.clone());
        if let Some((params, _)) = deflate {
            conn = conn.with_deflate(params);
        }
        conn.queue_raw(&response);
        conn.receive(leftover);
        // The connection's clock starts now (its keepalive and idle deadlines count from here).
        conn.handle_timeout(now);
        let Some(peer) = self.live_peer(slot) else {
            return;
        };
        let rare = subprotocol.map(|p| {
            Box::new(Rare {
                subprotocol: Some(p.into()),
                ..Rare::default()
            })
        });
        peer.phase = Phase::Established(Box::new(Established {
            conn,
            session: Some(session),
            rare,
        }));
        Stats::add(&self.stats.open, 1);
        self.with_conn(slot, now, |handler, conn| handler.on_open(conn));
        self.dispatch(slot, now);
        self.mark_dirty(slot);
    }

    /// Runs `f` with the handler and a [`Conn`] for an established connection.
    pub(super) fn with_conn(
        &mut self,
        slot: usize,
        now: Instant,
        f: impl FnOnce(&mut H, &mut Conn<'_, H::Session>),
    ) {
        let Some(peer) = self.slots.get_mut(slot).and_then(|s| s.peer.as_mut()) else {
            return;
        };
        let id = peer.id(self.index, slot);
        let peer_addr = self.v6_addrs.get(slot, peer.addr);
        let Phase::Established(ws) = &mut peer.phase else {
            return;
        };
        let ws = &mut **ws;
        let Some(session) = ws.session.as_mut() else {
            return;
        };
        let mut conn = Conn {
            id,
            tx: ws.conn.sender(),
            transport: &mut peer.transport,
            session,
            rare: &mut ws.rare,
            peer_addr,
            ctx: Context {
                handle: &self.handle,
                outbox: &mut self.outbox,
            },
            config: &self.config,
            stats: &self.stats,
            now,
        };
        f(&mut self.handler, &mut conn);
    }

    /// Reads an established connection's frames until its socket is drained, handing events out
    /// as they come.
    pub(super) fn read_frames(&mut self, slot: usize, read_closed: bool, now: Instant) {
        for round in 0..MAX_READS {
            let Some(peer) = super::live(&mut self.slots, slot) else {
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
                    self.dispatch(slot, now);
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
        if let Some(peer) = super::live(&mut self.slots, slot) {
            if let Phase::Established(ws) = &mut peer.phase {
                self.buffers.take_back(ws.conn.receiver());
            }
        }
        // The connection learns when the peer was last heard (keepalive, idle timeout).
        self.handle_timeout(slot, now);
        self.mark_dirty(slot);
    }

    /// Hands every event the connection has ready to the application.
    pub(super) fn dispatch(&mut self, slot: usize, now: Instant) {
        let Some(peer) = self.slots.get_mut(slot).and_then(|s| s.peer.as_mut()) else {
            return;
        };
        let id = peer.id(self.index, slot);
        let peer_addr = self.v6_addrs.get(slot, peer.addr);
        let Phase::Established(ws) = &mut peer.phase else {
            return;
        };
        let ws = &mut **ws;
        let Some(session) = ws.session.as_mut() else {
            return;
        };
        let (rx, tx) = ws.conn.split();
        loop {
            let event = match rx.poll_event(tx) {
                Ok(Some(event)) => event,
                Ok(None) => break,
                Err(err) => {
                    Stats::add(&self.stats.protocol_errors, 1);
                    let reason = err.to_string();
                    ws.rare.get_or_insert_with(Box::default).ended = Some(CloseInfo {
                        code: err.close_code(),
                        reason,
                        clean: false,
                    });
                    break;
                }
            };
            let mut conn = Conn {
                id,
                tx: &mut *tx,
                transport: &mut peer.transport,
                session: &mut *session,
                rare: &mut ws.rare,
                peer_addr,
                ctx: Context {
                    handle: &self.handle,
                    outbox: &mut self.outbox,
                },
                config: &self.config,
                stats: &self.stats,
                now,
            };
            match event {
                Event::Message(message) => {
                    Stats::add(&self.stats.messages_in, 1);
                    Stats::add(&self.stats.bytes_in, message.as_bytes().len() as u64);
                    self.handler.on_message(&mut conn, message);
                }
                Event::Chunk(chunk) => {
                    if chunk.last {
                        Stats::add(&self.stats.messages_in, 1);
                    }
                    Stats::add(&self.stats.bytes_in, chunk.data.len() as u64);
                    self.handler.on_chunk(&mut conn, chunk);
                }
                Event::Ping(_) | Event::Pong(_) => {}
                Event::Closed { code, reason } => {
                    let reason = reason.to_owned();
                    ws.rare.get_or_insert_with(Box::default).ended = Some(CloseInfo {
                        code,
                        reason,
                        clean: true,
                    });
                }
            }
        }
    }

    /// The peer closed its side (or reset the connection).
    fn on_eof(&mut self, slot: usize) {
        let Some(peer) = self.live_peer(slot) else {
            return;
        };
        if !matches!(peer.phase, Phase::Established(_)) {
            return self.kill(slot, None);
        }
        // A last attempt to send what is queued (the peer may only have half-closed).
        let _ = peer.flush();
        let Phase::Established(ws) = &mut peer.phase else {
            return;
        };
        let info = ws.take_ended().unwrap_or_else(|| CloseInfo {
            code: CloseCode::Abnormal,
            reason: "the connection closed without a close frame".into(),
            clean: false,
        });
        self.kill(slot, Some(info));
    }
}
