//! Rooms and presence behind one seam: who is in each room, and how a room's events reach
//! its members.
//!
//! [`LocalHub`] keeps both in this process: presence in a map, delivery through the server's
//! topics (each connection in a room is subscribed to [`topic`]`(room)`, and a publish is
//! encoded once for all of them). A hub shared by several servers (presence in a shared store,
//! events relayed between servers, each delivering to its own subscribers through the same
//! topics) implements the same trait, as [`RedisHub`](super::broker::RedisHub) does; the
//! handler does not change.

use std::sync::{Arc, Mutex};

use super::broker::presence::Presence;
use super::fallback::Sessions;
use super::protocol::User;
use fullduplex::protocol::DataKind;
use fullduplex::server::prometheus::Exposition;
use fullduplex::server::{ConnId, Context, ServerHandle};

/// How many users and rooms there are (for `/metrics`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Census {
    /// Users in a room.
    pub users: usize,
    /// Rooms with at least one user.
    pub rooms: usize,
}

/// How far a published room event went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// To the room's members everywhere (for a shared hub: handed to the broker).
    Everywhere,
    /// Only to this server's members: the link to the other servers is down.
    LocalOnly,
}

/// Whether the hub works as it should (for `/healthz`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// Everything works.
    Ok,
    /// Local chat works, something else does not: why, in words.
    Degraded(String),
}

/// Room membership and delivery.
pub trait Hub: Send + Sync + 'static {
    /// The server is starting (called once per worker, with that worker's handle): a hub that
    /// delivers from other threads keeps a handle, and the fallback's sessions, which it
    /// delivers to as well ([`Sessions::deliver`]). Default: nothing.
    fn start(&self, handle: &ServerHandle, fallback: &Arc<Sessions>) {
        let _ = (handle, fallback);
    }

    /// The id of the server's `number`th connection, unique wherever the user is seen.
    /// Default: the number.
    fn user_id(&self, number: u64) -> String {
        number.to_string()
    }

    /// Adds `user` to `room` and returns everyone in it now, them included, in order of
    /// arrival.
    fn enter(&self, room: &str, user: &User) -> Vec<User>;

    /// Removes the user with this id from `room`; whether they were in it.
    fn leave(&self, room: &str, user_id: &str) -> bool;

    /// Delivers a message to every member of `room` but `except`; says how far it went.
    fn publish(
        &self,
        ctx: &mut Context<'_>,
        room: &str,
        kind: DataKind,
        payload: &[u8],
        except: Option<ConnId>,
    ) -> Reach;

    /// Delivers a `joined` or `left` notice (text) to the members of `room` but `except`. A
    /// shared hub delivers it to this server's members only: the other servers make their own
    /// from the presence events they receive. Default: [`publish`](Hub::publish).
    fn announce(&self, ctx: &mut Context<'_>, room: &str, notice: &[u8], except: Option<ConnId>) {
        let _ = self.publish(ctx, room, DataKind::Text, notice, except);
    }

    /// How many users and rooms there are on this server.
    fn census(&self) -> Census;

    /// Whether the hub works. Default: it does.
    fn health(&self) -> Health {
        Health::Ok
    }

    /// Writes the hub's own metrics for `/metrics`. Default: none.
    fn write_metrics(&self, metrics: &mut Exposition) {
        let _ = metrics;
    }
}

/// The server topic a room's members are subscribed to.
pub fn topic(room: &str) -> String {
    format!("room:{room}")
}

/// A hub for one server process.
#[derive(Debug, Default)]
pub struct LocalHub {
    presence: Mutex<Presence>,
}

impl LocalHub {
    fn presence(&self) -> std::sync::MutexGuard<'_, Presence> {
        // A panic while holding the lock leaves the lists consistent (every change is one
        // insert or removal), so a poisoned lock is still usable.
        self.presence
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Hub for LocalHub {
    fn enter(&self, room: &str, user: &User) -> Vec<User> {
        self.presence().enter_local(room, user)
    }

    fn leave(&self, room: &str, user_id: &str) -> bool {
        self.presence().leave_local(room, user_id)
    }

    fn publish(
        &self,
        ctx: &mut Context<'_>,
        room: &str,
        kind: DataKind,
        payload: &[u8],
        except: Option<ConnId>,
    ) -> Reach {
        ctx.publish_except(&topic(room), kind, payload, except);
        Reach::Everywhere
    }

    fn census(&self) -> Census {
        let (users, rooms) = self.presence().local_census();
        Census { users, rooms }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str) -> User {
        User {
            id: id.into(),
            nick: format!("nick-{id}"),
        }
    }

    #[test]
    fn presence_per_room_in_order_of_arrival() {
        let hub = LocalHub::default();
        assert_eq!(hub.enter("a", &user("1")), [user("1")]);
        assert_eq!(hub.enter("a", &user("2")), [user("1"), user("2")]);
        assert_eq!(hub.enter("a", &user("2")).len(), 2);
        assert_eq!(hub.enter("b", &user("3")), [user("3")]);
        assert_eq!(hub.census(), Census { users: 3, rooms: 2 });
        assert!(hub.leave("a", "1"));
        assert!(!hub.leave("a", "1"));
        assert!(hub.leave("b", "3"));
        assert_eq!(hub.census(), Census { users: 1, rooms: 1 });
        assert_eq!(hub.enter("a", &user("4")), [user("2"), user("4")]);
    }
}
