//! The fallback's sessions on this server: each one's numbered queue of messages (kept until
//! acknowledged, bounded), the poll waiting for it, its room, and when it was last heard from.
//!
//! Messages are numbered per session and dropped only when a poll acknowledges them, so a poll
//! whose answer was lost gets the same messages again. One lock guards every session: what
//! happens under it is short (queueing a shared payload, answering a poll through the
//! server's mailbox).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Instant;

use super::wire::{self, Closed, FallbackError, Numbered};
use super::FallbackOptions;
use crate::apps::chat::counters::FallbackCounters;
use crate::apps::chat::handler::Session;
use crate::apps::chat::protocol::User;
use fullduplex::protocol::DataKind;
use fullduplex::server::{ResponseId, ServerHandle};

/// Most payload bytes one poll answer carries (at least one message, whatever its size).
const BATCH_BYTES: usize = 1 << 20;

/// A message waiting for its acknowledgement.
struct Queued {
    seq: u64,
    kind: DataKind,
    payload: Arc<[u8]>,
}

/// One session.
struct Entry {
    /// The chat state; `None` while a `send` is being handled (see [`Sessions::check_out`]).
    chat: Option<Session>,
    /// The room and user, while in a room.
    member: Option<(String, User)>,
    queue: VecDeque<Queued>,
    queued_bytes: usize,
    last_seq: u64,
    /// The poll held open, and when it must be answered anyway.
    waiter: Option<(ResponseId, Instant)>,
    last_request: Instant,
    closed: Option<Closed>,
    /// Closed by the server while in a room: the sweeper announces that the user left.
    leave_due: bool,
}

impl Entry {
    /// The answer to a poll now: the messages after the acknowledged ones, up to a batch.
    fn batch(&self) -> String {
        let mut bytes = 0;
        let taken = self
            .queue
            .iter()
            .take_while(|q| {
                let fits = bytes == 0 || bytes + q.payload.len() <= BATCH_BYTES;
                bytes += q.payload.len();
                fits
            })
            .count();
        let messages = self.queue.iter().take(taken).map(|q| Numbered {
            seq: q.seq,
            kind: q.kind,
            payload: &q.payload,
        });
        let closed = (taken == self.queue.len())
            .then_some(self.closed.as_ref())
            .flatten();
        wire::encode_batch(messages, closed)
    }

    /// Ends the session (the server's decision); its user leaves at the next sweep.
    fn close(&mut self, code: u16, reason: &str) {
        if self.closed.is_none() {
            self.closed = Some(Closed {
                code,
                reason: reason.into(),
            });
            self.leave_due = self.member.is_some();
        }
    }
}

#[derive(Default)]
struct Registry {
    entries: HashMap<String, Entry>,
    /// The sessions in each room (not closed ones).
    rooms: HashMap<String, Vec<String>>,
}

impl Registry {
    fn entry(&mut self, sid: &str) -> Result<&mut Entry, FallbackError> {
        self.entries.get_mut(sid).ok_or_else(unknown_session)
    }

    fn unlist(&mut self, sid: &str, room: &str) {
        if let Some(members) = self.rooms.get_mut(room) {
            members.retain(|m| m != sid);
            if members.is_empty() {
                self.rooms.remove(room);
            }
        }
    }
}

/// Every fallback session of this server.
pub struct Sessions {
    options: FallbackOptions,
    registry: Mutex<Registry>,
    /// How many sessions exist (read without the lock: no delivery work without any).
    count: AtomicUsize,
    handle: OnceLock<ServerHandle>,
    /// Counters for `/metrics`.
    pub counters: FallbackCounters,
}

/// 404 `unknown_session`.
pub fn unknown_session() -> FallbackError {
    FallbackError::new(
        404,
        "unknown_session",
        "no such session (expired, closed, or opened on another server): open a new one",
    )
}

impl Sessions {
    /// No sessions yet.
    pub fn new(options: FallbackOptions) -> Self {
        Self {
            options,
            registry: Mutex::default(),
            count: AtomicUsize::new(0),
            handle: OnceLock::new(),
            counters: FallbackCounters::default(),
        }
    }

    /// The options.
    pub fn options(&self) -> &FallbackOptions {
        &self.options
    }

    /// Keeps the server's handle, through which held polls are answered.
    pub fn attach(&self, handle: &ServerHandle) {
        let _ = self.handle.set(handle.clone());
    }

    /// Sessions open now.
    pub fn count(&self) -> usize {
        self.count.load(Relaxed)
    }

    fn registry(&self) -> MutexGuard<'_, Registry> {
        // Every change under the lock leaves the registry consistent: a poisoned lock is usable.
        self.registry.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn respond(&self, id: ResponseId, json: &str) {
        if let Some(handle) = self.handle.get() {
            let _ = handle.respond(id, wire::answer(200, json));
        }
    }

    /// A new session for this user (checked out: [`check_in`](Self::check_in) it after
    /// handling what came with the `open`); 503 at the limit of sessions.
    pub fn open(&self, sid: String, now: Instant) -> Result<(), FallbackError> {
        let mut registry = self.registry();
        if registry.entries.len() >= self.options.max_sessions {
            return Err(FallbackError::new(
                503,
                "too_many_sessions",
                "the server holds as many fallback sessions as it may: try again later",
            ));
        }
        let entry = Entry {
            chat: None,
            member: None,
            queue: VecDeque::new(),
            queued_bytes: 0,
            last_seq: 0,
            waiter: None,
            last_request: now,
            closed: None,
            leave_due: false,
        };
        registry.entries.insert(sid, entry);
        self.count.store(registry.entries.len(), Relaxed);
        Ok(())
    }

    /// Takes a session's chat state to handle a `send`: 404 unknown, 410 closed, 409 while
    /// another `send` has it.
    pub fn check_out(&self, sid: &str, now: Instant) -> Result<Session, FallbackError> {
        let mut registry = self.registry();
        let entry = registry.entry(sid)?;
        entry.last_request = now;
        if let Some(closed) = &entry.closed {
            let why = format!("the server closed this session: {}", closed.reason);
            return Err(FallbackError::new(410, "session_closed", why));
        }
        entry.chat.take().ok_or_else(|| {
            FallbackError::new(409, "busy", "another send of this session is being handled")
        })
    }

    /// Gives back what [`check_out`](Self::check_out) took.
    pub fn check_in(&self, sid: &str, session: Session) {
        if let Ok(entry) = self.registry().entry(sid) {
            entry.chat = Some(session);
        }
    }

    /// The session's user is now in `room`.
    pub fn enter(&self, sid: &str, room: &str, user: &User) {
        let mut registry = self.registry();
        let Ok(entry) = registry.entry(sid) else {
            return;
        };
        if entry.closed.is_some() {
            return;
        }
        entry.member = Some((room.to_owned(), user.clone()));
        registry
            .rooms
            .entry(room.to_owned())
            .or_default()
            .push(sid.to_owned());
    }

    /// The session's user left `room`.
    pub fn exit(&self, sid: &str, room: &str) {
        let mut registry = self.registry();
        if let Ok(entry) = registry.entry(sid) {
            entry.member = None;
        }
        registry.unlist(sid, room);
    }

    /// The server ends the session (e.g. 1008 for flooding).
    pub fn close(&self, sid: &str, code: u16, reason: &str) {
        let mut registry = self.registry();
        self.close_locked(&mut registry, sid, code, reason);
    }

    /// Queues a message for one session (its own answers).
    pub fn push(&self, sid: &str, kind: DataKind, payload: &[u8]) {
        let mut registry = self.registry();
        self.push_locked(&mut registry, sid, kind, payload.into());
    }

    /// Queues a room's message for its sessions but `except`.
    pub fn deliver(&self, room: &str, kind: DataKind, payload: &[u8], except: Option<&str>) {
        if self.count() == 0 {
            return;
        }
        let mut registry = self.registry();
        let Some(members) = registry.rooms.get(room) else {
            return;
        };
        let members: Vec<String> = members
            .iter()
            .filter(|m| Some(m.as_str()) != except)
            .cloned()
            .collect();
        let payload: Arc<[u8]> = payload.into();
        for sid in members {
            self.push_locked(&mut registry, &sid, kind, payload.clone());
        }
    }

    fn push_locked(&self, registry: &mut Registry, sid: &str, kind: DataKind, payload: Arc<[u8]>) {
        let Ok(entry) = registry.entry(sid) else {
            return;
        };
        if entry.closed.is_some() {
            return;
        }
        if entry.queued_bytes + payload.len() > self.options.max_backlog {
            // The slow-consumer policy of a WebSocket (RFC 6455 §7.4.1, 1008).
            self.counters.slow_closes.fetch_add(1, Relaxed);
            return self.close_locked(registry, sid, 1008, "slow consumer");
        }
        entry.last_seq += 1;
        entry.queued_bytes += payload.len();
        let seq = entry.last_seq;
        entry.queue.push_back(Queued { seq, kind, payload });
        if let Some((id, _)) = entry.waiter.take() {
            self.respond(id, &entry.batch());
        }
    }

    fn close_locked(&self, registry: &mut Registry, sid: &str, code: u16, reason: &str) {
        let Ok(entry) = registry.entry(sid) else {
            return;
        };
        entry.close(code, reason);
        let room = entry.member.as_ref().map(|(room, _)| room.clone());
        if let Some((id, _)) = entry.waiter.take() {
            self.respond(id, &entry.batch());
        }
        if let Some(room) = room {
            registry.unlist(sid, &room);
        }
    }

    /// A poll acknowledging `ack`: the answer now (`Some`), or `None` when it is held (to be
    /// answered through the server's handle).
    pub fn poll(
        &self,
        sid: &str,
        ack: u64,
        id: ResponseId,
        now: Instant,
    ) -> Result<Option<String>, FallbackError> {
        self.counters.polls.fetch_add(1, Relaxed);
        let mut registry = self.registry();
        let entry = registry.entry(sid)?;
        if ack > entry.last_seq {
            let why = format!(
                "ack {ack} is above the last seq given out, {}",
                entry.last_seq
            );
            return Err(FallbackError::bad_request(why));
        }
        entry.last_request = now;
        while entry.queue.front().is_some_and(|q| q.seq <= ack) {
            if let Some(acked) = entry.queue.pop_front() {
                entry.queued_bytes -= acked.payload.len();
            }
        }
        if !entry.queue.is_empty() || entry.closed.is_some() {
            return Ok(Some(entry.batch()));
        }
        let until = now + self.options.poll_timeout;
        if let Some((superseded, _)) = entry.waiter.replace((id, until)) {
            self.respond(superseded, &wire::encode_batch(std::iter::empty(), None));
        }
        Ok(None)
    }

    /// The client closed the session: forgets it; the room and user it was in, if any.
    pub fn remove(&self, sid: &str) -> Result<Option<(String, User)>, FallbackError> {
        let mut registry = self.registry();
        let mut entry = registry.entries.remove(sid).ok_or_else(unknown_session)?;
        self.count.store(registry.entries.len(), Relaxed);
        let member = entry.member.take();
        if let Some((room, _)) = &member {
            registry.unlist(sid, room);
        }
        if let Some((id, _)) = entry.waiter.take() {
            entry.close(1000, "closed by the client");
            self.respond(id, &entry.batch());
        }
        Ok(member)
    }

    /// Answers the polls whose hold is over, forgets the sessions not heard from within the
    /// expiry; the rooms and users who left (expired, or closed by the server), to announce.
    pub fn sweep(&self, now: Instant) -> Vec<(String, User)> {
        let mut registry = self.registry();
        let mut leaving = Vec::new();
        let mut expired = Vec::new();
        for (sid, entry) in registry.entries.iter_mut() {
            if entry.waiter.is_some_and(|(_, until)| until <= now) {
                if let Some((id, _)) = entry.waiter.take() {
                    self.respond(id, &entry.batch());
                }
            }
            if now.saturating_duration_since(entry.last_request) >= self.options.expiry {
                expired.push(sid.clone());
            } else if std::mem::take(&mut entry.leave_due) {
                leaving.extend(entry.member.take());
            }
        }
        for sid in expired {
            let Some(mut entry) = registry.entries.remove(&sid) else {
                continue;
            };
            self.counters.expired.fetch_add(1, Relaxed);
            if let Some((room, user)) = entry.member.take() {
                registry.unlist(&sid, &room);
                leaving.push((room, user));
            }
            if let Some((id, _)) = entry.waiter.take() {
                entry.close(1001, "session expired");
                self.respond(id, &entry.batch());
            }
        }
        self.count.store(registry.entries.len(), Relaxed);
        leaving
    }
}
