//! The worker's handling of everything but input: commands (from callbacks and other
//! threads), deadlines, writing, and the end of connections.

use std::sync::Arc;
use std::time::Instant;

use mio::{Interest, Token};

use super::{Io, Worker, FIRST_PEER};
use crate::protocol::close::CloseCode;
use crate::protocol::close::CloseInfo;
use crate::protocol::{State, Timeout};
use crate::server::handler::{ConnId, Context, Handler};
use crate::server::peer::{Phase, Stamp};
use crate::server::shared_message::{count_queued, Delivery, SharedMessage};
use crate::server::slow_consumer::count_slow_consumer;
use crate::server::stats::Stats;
use crate::server::Command;
use crate::transport::{discard_input, Flushed};

impl<H: Handler> Worker<H> {
    /// Runs queued commands: this worker's own (from callbacks) and other threads'.
    pub(super) fn run_commands(&mut self, now: Instant) {
        let mut batch = std::mem::take(&mut self.spare_commands);
        while !self.outbox.is_empty() {
            std::mem::swap(&mut batch, &mut self.outbox);
            self.run_batch(&mut batch, now);
        }
        self.spare_commands = batch;
    }

    pub(super) fn run_command(&mut self, command: Command, now: Instant) {
        match command {
            Command::Send { to, message } => {
                if let Some(slot) = self.peer_by_id(to) {
                    let queued = self.deliver(slot, &message);
                    count_queued(&self.stats, &message, u64::from(queued));
                }
            }
            command @ (Command::Publish { .. } | Command::Broadcast { .. }) => {
                self.fan_out_one(command);
            }
            Command::Close { to, code, reason } => {
                if let Some(slot) = self.peer_by_id(to) {
                    if let Some(Phase::Established(ws)) = self.live_peer(slot).map(|p| &mut p.phase)
                    {
                        let _ = ws.conn.close(code, &reason);
                    }
                    self.mark_dirty(slot);
                }
            }
            Command::Subscribe { id, topic } => {
                if self.peer_by_id(id).is_some() {
                    let members = self.topics.entry(topic).or_default();
                    if !members.contains(&id) {
                        members.push(id);
                    }
                }
            }
            Command::Unsubscribe { id, topic } => self.leave_topic(id, &topic),
            Command::Respond { id, response } => self.answer_deferred(id, &response, now),
            Command::Shutdown => self.begin_shutdown(now),
        }
    }

    /// Offers a message to a connection; one that finds a fragmented message being sent
    /// (or messages held already) is held until that message ends, bounded like the queue.
    /// Whether it was queued now (the caller counts it).
    pub(super) fn deliver(&mut self, slot: usize, message: &Arc<SharedMessage>) -> bool {
        let Some(peer) = super::live(&mut self.slots, slot) else {
            return false;
        };
        let Phase::Established(ws) = &mut peer.phase else {
            return false;
        };
        let delivery = if peer.holding {
            Delivery::InProgress
        } else {
            message.deliver(
                ws.conn.sender(),
                &mut peer.transport,
                &self.config,
                &self.stats,
            )
        };
        if delivery == Delivery::InProgress {
            let held = ws.rare.as_ref().map_or(0, |r| r.held_bytes);
            let made = ws.conn.sender().check_room(&self.config, held);
            if count_slow_consumer(&self.stats, made).is_ok() {
                let rare = ws.rare();
                rare.held.push_back(message.clone());
                rare.held_bytes += message.len();
                peer.holding = true;
                Stats::add(&self.stats.held_back, 1);
            }
        }
        self.mark_dirty(slot);
        delivery == Delivery::Queued
    }

    /// Queues the messages held behind a fragmented message, if it has ended.
    fn release_held(&mut self, slot: usize) {
        let Some(peer) = super::live(&mut self.slots, slot).filter(|p| p.holding) else {
            return;
        };
        let Phase::Established(ws) = &mut peer.phase else {
            return;
        };
        let Some(rare) = ws.rare.as_mut() else {
            return;
        };
        while let Some(message) = rare.held.front().cloned() {
            let tx = ws.conn.sender();
            match message.deliver(tx, &mut peer.transport, &self.config, &self.stats) {
                Delivery::InProgress => return,
                Delivery::Queued => count_queued(&self.stats, &message, 1),
                Delivery::Refused => {}
            }
            rare.held_bytes -= message.len();
            rare.held.pop_front();
        }
        peer.holding = false;
    }

    fn leave_topic(&mut self, id: ConnId, topic: &Arc<str>) {
        if let Some(members) = self.topics.get_mut(topic) {
            members.retain(|m| *m != id);
            if members.is_empty() {
                self.topics.remove(topic);
            }
        }
    }

    /// Deadlines: handshakes and HTTP responses (the worker's), draining sockets, and the
    /// established connections' own (keepalive, idle, closes that get no answer) when due.
    pub(super) fn sweep_deadlines(&mut self, now: Instant) {
        for slot in 0..self.slots.len() {
            match self.check_deadline(slot, now) {
                Due::Nothing => {}
                Due::HandleTimeout => self.handle_timeout(slot, now),
                Due::Kill(info) => self.kill(slot, info),
                Due::Unanswered => {
                    self.give_up_deferred(slot, "the application did not answer in time", now);
                }
            }
        }
    }

    fn check_deadline(&mut self, slot: usize, now: Instant) -> Due {
        let config = &self.config;
        let stamp = Stamp::at(now, self.epoch);
        let Some(peer) = super::live(&mut self.slots, slot) else {
            return Due::Nothing;
        };
        match &mut peer.phase {
            Phase::Handshake(h) if now - h.since >= config.handshake_timeout => Due::Kill(None),
            Phase::Respond(r) if now - r.since >= config.close_timeout => Due::Kill(None),
            Phase::Deferred(d) if now - d.since >= self.max_deferral => Due::Unanswered,
            Phase::Draining { until } if stamp.not_before(*until) => Due::Kill(None),
            Phase::Established(ws) if ws.conn.poll_timeout().is_some_and(|at| at <= now) => {
                Due::HandleTimeout
            }
            _ => Due::Nothing,
        }
    }

    /// Gives an established connection the time: its keepalive Ping, idle close or deadlines
    /// ([`Connection::handle_timeout`](crate::protocol::Connection::handle_timeout)).
    pub(super) fn handle_timeout(&mut self, slot: usize, now: Instant) {
        let Some(Phase::Established(ws)) = self.live_peer(slot).map(|p| &mut p.phase) else {
            return;
        };
        match ws.handle_timeout(now) {
            Some((timeout, info)) => {
                if timeout == Timeout::Pong {
                    Stats::add(&self.stats.keepalive_timeouts, 1);
                }
                self.kill(slot, Some(info));
            }
            None if ws.conn.wants_write() => self.mark_dirty(slot),
            None => {}
        }
    }

    /// Writes every connection with output, once; shuts the ones that are done. The list
    /// swaps with a kept spare, like the other per-tick lists (freeing it each tick let glibc
    /// trim the heap); connections marked while flushing wait in the new list for the next
    /// tick.
    pub(super) fn flush_dirty(&mut self, now: Instant) {
        let mut dirty = std::mem::replace(&mut self.dirty, std::mem::take(&mut self.spare_slots));
        for slot in dirty.drain(..) {
            self.flush_one(slot, now);
        }
        self.spare_slots = dirty;
    }

    /// Writes one connection's output; shuts it if it is done.
    fn flush_one(&mut self, slot: usize, now: Instant) {
        let close_timeout = self.config.close_timeout;
        self.release_held(slot);
        let Some(peer) = self.live_peer(slot) else {
            return;
        };
        peer.dirty = false;
        let result = peer.flush();
        match result {
            Err(_) => {
                let info = match &mut peer.phase {
                    Phase::Established(ws) => {
                        Some(ws.take_ended().unwrap_or_else(|| abnormal("write failed")))
                    }
                    _ => None,
                };
                self.kill(slot, info);
            }
            Ok(Flushed::Blocked) => self.set_writable(slot, true),
            Ok(Flushed::All) => {
                self.set_writable(slot, false);
                let Some(peer) = self.live_peer(slot) else {
                    return;
                };
                if peer.finished() && !self.next_request(slot, now) {
                    self.end_session(slot);
                    let until = Stamp::at(now + close_timeout, self.epoch);
                    self.begin_draining(slot, until);
                }
            }
        }
    }

    /// Shuts our side and reads until the peer closes its own, which it may have done
    /// already: an end of stream seen by an earlier read raises no new event.
    fn begin_draining(&mut self, slot: usize, until: Stamp) {
        let Some(peer) = self.live_peer(slot) else {
            return;
        };
        peer.begin_draining(until);
        if !matches!(discard_input(&mut peer.transport), Ok(false)) {
            self.kill(slot, None);
        }
    }

    /// Notes whether a connection's output is stuck: mio then waits for WRITABLE; io_uring
    /// submits what was written at the end of the turn and, while stuck, writes again when a
    /// send completes.
    fn set_writable(&mut self, slot: usize, writable: bool) {
        let Some(peer) = self.slots.get_mut(slot).and_then(|s| s.peer.as_mut()) else {
            return;
        };
        let poll = match &mut self.io {
            Io::Mio(poll) => poll,
            #[cfg(all(feature = "io-uring", target_os = "linux"))]
            Io::Uring(driver) => {
                peer.writable = writable;
                return driver.touched.push(slot);
            }
        };
        if peer.writable == writable || peer.dead {
            return;
        }
        let interest = if writable {
            Interest::READABLE | Interest::WRITABLE
        } else {
            Interest::READABLE
        };
        let token = Token(slot + FIRST_PEER);
        if poll
            .registry()
            .reregister(peer.transport.tcp(), token, interest)
            .is_ok()
        {
            peer.writable = writable;
        }
    }

    /// Tells the application the connection ended (once), and leaves its topics.
    fn end_session(&mut self, slot: usize) {
        let Some(peer) = self.slots.get_mut(slot).and_then(|s| s.peer.as_mut()) else {
            return;
        };
        let id = peer.id(self.index, slot);
        let Phase::Established(ws) = &mut peer.phase else {
            return;
        };
        let Some(session) = ws.session.take() else {
            return;
        };
        let info = ws.take_ended().unwrap_or_else(|| match ws.conn.state() {
            State::Failed(err) => CloseInfo {
                code: err.close_code(),
                reason: err.to_string(),
                clean: false,
            },
            _ => abnormal("closed"),
        });
        let topics = ws
            .rare
            .as_mut()
            .map(|r| std::mem::take(&mut r.subscriptions))
            .unwrap_or_default();
        Stats::sub(&self.stats.open, 1);
        for topic in &topics {
            self.leave_topic(id, topic);
        }
        let mut ctx = Context {
            handle: &self.handle,
            outbox: &mut self.outbox,
        };
        self.handler.on_close(&mut ctx, id, session, &info);
    }

    /// Ends a connection now; it is removed at the end of the tick.
    pub(super) fn kill(&mut self, slot: usize, info: Option<CloseInfo>) {
        if let Some(Phase::Established(ws)) = self.live_peer(slot).map(|p| &mut p.phase) {
            if let Some(info) = info {
                ws.record_end(info);
            }
        }
        self.end_session(slot);
        if let Some(peer) = self.live_peer(slot) {
            peer.dead = true;
            self.dead.push(slot);
        }
    }

    /// Removes the connections that ended this tick (their tokens can be reused from now on).
    pub(super) fn remove_dead(&mut self) {
        let mut dead = std::mem::replace(&mut self.dead, std::mem::take(&mut self.spare_slots));
        for slot in dead.drain(..) {
            if let Some(mut peer) = self.slots[slot].peer.take() {
                Stats::sub(&self.stats.connections, 1);
                self.v6_addrs.remove(slot, peer.addr);
                self.free.push((slot, peer.generation.wrapping_add(1)));
                match &mut self.io {
                    Io::Mio(poll) => {
                        let _ = poll.registry().deregister(peer.transport.tcp());
                    }
                    #[cfg(all(feature = "io-uring", target_os = "linux"))]
                    Io::Uring(driver) => driver.retire(peer.transport, slot, peer.generation),
                }
            }
        }
        self.spare_slots = dead;
    }

    /// Stops accepting and sends every established connection a Close with 1001 (RFC 6455 §7.4.1:
    /// "an endpoint is "going away", such as a server going down").
    fn begin_shutdown(&mut self, now: Instant) {
        if self.shutdown_deadline.is_some() {
            return;
        }
        self.shutdown_deadline = Some(now + self.config.close_timeout);
        if let Some(mut listener) = self.listener.take() {
            match &mut self.io {
                Io::Mio(poll) => {
                    let _ = poll.registry().deregister(&mut listener);
                }
                #[cfg(all(feature = "io-uring", target_os = "linux"))]
                Io::Uring(driver) => driver.cancel_accept(),
            }
        }
        for slot in 0..self.slots.len() {
            let Some(peer) = self.live_peer(slot) else {
                continue;
            };
            match &mut peer.phase {
                Phase::Established(ws) => {
                    let _ = ws.conn.close(CloseCode::GoingAway, "server shutting down");
                    self.mark_dirty(slot);
                }
                Phase::Handshake { .. } => self.kill(slot, None),
                Phase::Deferred(_) => self.give_up_deferred(slot, "server shutting down", now),
                _ => {}
            }
        }
    }

    /// Whether a shutdown has finished: every connection gone, or the deadline passed.
    pub(super) fn shutdown_done(&self, now: Instant) -> bool {
        let Some(deadline) = self.shutdown_deadline else {
            return false;
        };
        now >= deadline || self.slots.iter().all(|s| s.peer.is_none())
    }

    /// Ends every remaining connection (at exit).
    pub(super) fn kill_all(&mut self) {
        for slot in 0..self.slots.len() {
            self.kill(slot, Some(abnormal("server stopped")));
        }
        self.remove_dead();
    }
}

/// What the deadline check of one connection asks for.
enum Due {
    /// No deadline has come.
    Nothing,
    /// An established connection has a deadline due: give it the time.
    HandleTimeout,
    /// The worker's own deadline passed (handshake, HTTP response, draining): end it now.
    Kill(Option<CloseInfo>),
    /// The application did not answer a deferred request within `max_deferral`.
    Unanswered,
}

fn abnormal(reason: &str) -> CloseInfo {
    CloseInfo {
        code: CloseCode::Abnormal,
        reason: reason.into(),
        clean: false,
    }
}
