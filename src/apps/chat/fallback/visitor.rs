//! A fallback session as a [`Member`] of the chat: what the chat's actions do to it go to its
//! queue and the room index instead of a WebSocket connection.

use std::time::Instant;

use super::sessions::Sessions;
use crate::apps::chat::handler::Session;
use crate::apps::chat::member::{Me, Member};
use fullduplex::protocol::close::CloseCode;
use fullduplex::protocol::DataKind;
use fullduplex::server::Context;

/// A fallback session while one of its requests is handled (its chat state checked out).
pub struct Visitor<'c, 'a> {
    pub(super) sid: &'c str,
    pub(super) session: Session,
    pub(super) ctx: &'c mut Context<'a>,
    pub(super) sessions: &'c Sessions,
    pub(super) now: Instant,
    /// The server closed the session while handling the request.
    pub(super) closed: bool,
}

impl<'a> Member<'a> for Visitor<'_, 'a> {
    fn session(&mut self) -> &mut Session {
        &mut self.session
    }

    fn now(&self) -> Instant {
        self.now
    }

    fn ctx(&mut self) -> &mut Context<'a> {
        self.ctx
    }

    fn me(&self) -> Me {
        Me::Fallback(self.sid.to_owned())
    }

    fn enter(&mut self, room: &str) {
        self.sessions.enter(self.sid, room, &self.session.user);
    }

    fn exit(&mut self, room: &str) {
        self.sessions.exit(self.sid, room);
    }

    fn send_now(&mut self, text: &str) {
        self.sessions
            .push(self.sid, DataKind::Text, text.as_bytes());
    }

    fn send_after(&mut self, text: &str) {
        // The session's own copies were queued when published: an answer queued now follows.
        self.send_now(text);
    }

    fn close(&mut self, code: CloseCode, reason: &str) -> bool {
        if self.closed {
            return false;
        }
        self.closed = true;
        self.sessions.close(self.sid, code.into(), reason);
        true
    }
}
