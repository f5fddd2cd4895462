//! Someone in the chat, whichever way they reach it: what the chat's actions (join, say,
//! typing, files, rate limits) need of a user, for a WebSocket connection ([`Conn`]) and for a
//! session of the HTTP fallback ([`Visitor`](super::fallback::Visitor)), so that both run the
//! same code.

use std::time::Instant;

use super::handler::Session;
use super::hub::topic;
use fullduplex::protocol::close::CloseCode;
use fullduplex::protocol::DataKind;
use fullduplex::server::{Conn, ConnId, Context};

/// Which member an event leaves out (the typist, the one who joined).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Me {
    /// A WebSocket connection.
    Socket(ConnId),
    /// A fallback session, by id.
    Fallback(String),
}

impl Me {
    /// The connection, if this is one.
    pub fn socket(&self) -> Option<ConnId> {
        match self {
            Me::Socket(id) => Some(*id),
            Me::Fallback(_) => None,
        }
    }

    /// The fallback session's id, if this is one.
    pub fn fallback(&self) -> Option<&str> {
        match self {
            Me::Socket(_) => None,
            Me::Fallback(sid) => Some(sid),
        }
    }
}

/// A user as the chat's actions see them.
pub trait Member<'a> {
    /// Their chat state: user, room, rate limiter.
    fn session(&mut self) -> &mut Session;
    /// The time of the event being handled.
    fn now(&self) -> Instant;
    /// Server-wide actions (publishing to a room's WebSocket members).
    fn ctx(&mut self) -> &mut Context<'a>;
    /// Who they are, to leave them out of their own notices.
    fn me(&self) -> Me;
    /// They are now in `room`: its events reach them.
    fn enter(&mut self, room: &str);
    /// They left `room`.
    fn exit(&mut self, room: &str);
    /// Sends them a message now (the welcome).
    fn send_now(&mut self, text: &str);
    /// Sends them a message after what this event published (errors, notices), so that the
    /// answers to their messages come in the order they sent them.
    fn send_after(&mut self, text: &str);
    /// Ends their connection or session with this code (e.g. 1008 for flooding); `false` if
    /// it was ending already.
    fn close(&mut self, code: CloseCode, reason: &str) -> bool;
}

impl<'a> Member<'a> for Conn<'a, Session> {
    fn session(&mut self) -> &mut Session {
        Conn::session(self)
    }

    fn now(&self) -> Instant {
        Conn::now(self)
    }

    fn ctx(&mut self) -> &mut Context<'a> {
        Conn::ctx(self)
    }

    fn me(&self) -> Me {
        Me::Socket(self.id())
    }

    fn enter(&mut self, room: &str) {
        self.subscribe(&topic(room));
    }

    fn exit(&mut self, room: &str) {
        self.unsubscribe(&topic(room));
    }

    fn send_now(&mut self, text: &str) {
        let _ = self.send_text(text);
    }

    fn send_after(&mut self, text: &str) {
        let id = self.id();
        Conn::ctx(self).send_to(id, DataKind::Text, text.as_bytes());
    }

    fn close(&mut self, code: CloseCode, reason: &str) -> bool {
        Conn::close(self, code, reason).is_ok()
    }
}
