//! Who is where across nodes: this node's users by room, and what the other nodes last said
//! about theirs. Pure bookkeeping (time is an argument): the subscriber feeds it envelopes,
//! and the changes it returns become `joined` and `left` messages for local members.
//!
//! A remote node's users stay listed while its heartbeats keep coming: one that is silent
//! for longer than the node timeout is taken for dead and its users are removed.
//!
//! A heartbeat carries a [`Digest`] of the sender's list, not the list: each node compares it
//! with the digest of what it holds for that node, and asks for the whole list (a snapshot)
//! only when they differ, after an outage or a lost event. So a quiet cluster sends a few
//! dozen bytes per node per interval however many users it has.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use crate::apps::chat::protocol::User;

/// Users by room, in order of arrival.
pub type Rooms = BTreeMap<String, Vec<User>>;

/// A change in a room's membership seen from this node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A remote user is now listed in this room.
    Joined {
        /// The room.
        room: String,
        /// Who.
        user: User,
    },
    /// A remote user is no longer listed in this room.
    Left {
        /// The room.
        room: String,
        /// Who.
        user: User,
    },
}

/// A node's list in brief: how many users, and an order-independent 64-bit hash of every
/// (room, id, nick). Two lists with the same digest are taken for the same list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Digest {
    /// Users listed, counting a user once per room.
    pub users: usize,
    /// The wrapping sum of each entry's FNV-1a hash: the same for the same entries in any
    /// order, and the same on every node and build (a fixed function, not `std`'s hasher).
    pub hash: u64,
}

impl Digest {
    /// The digest of a list.
    pub fn of(rooms: &Rooms) -> Self {
        let mut digest = Self::default();
        for (room, users) in rooms {
            for user in users {
                digest.users += 1;
                digest.hash = digest.hash.wrapping_add(entry_hash(room, user));
            }
        }
        digest
    }
}

/// FNV-1a (64 bits) of `room`, `id` and `nick`, each followed by a 0xFF byte (never in UTF-8),
/// so that no two different entries run together into the same bytes.
fn entry_hash(room: &str, user: &User) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = OFFSET;
    for part in [room, &user.id, &user.nick] {
        for &byte in part.as_bytes().iter().chain(&[0xFF]) {
            hash = (hash ^ u64::from(byte)).wrapping_mul(PRIME);
        }
    }
    hash
}

#[derive(Debug)]
struct RemoteNode {
    seen: Instant,
    rooms: Rooms,
}

/// Every node's users, as this node knows them.
#[derive(Debug, Default)]
pub struct Presence {
    local: Rooms,
    remote: HashMap<String, RemoteNode>,
}

impl Presence {
    /// Adds a local user to `room`; returns everyone in it on every node, this node's users
    /// first.
    pub fn enter_local(&mut self, room: &str, user: &User) -> Vec<User> {
        let members = self.local.entry(room.to_owned()).or_default();
        if !members.iter().any(|m| m.id == user.id) {
            members.push(user.clone());
        }
        let mut everyone = members.clone();
        let mut nodes: Vec<_> = self.remote.iter().collect();
        nodes.sort_by(|a, b| a.0.cmp(b.0));
        for (_, node) in nodes {
            everyone.extend(node.rooms.get(room).into_iter().flatten().cloned());
        }
        everyone
    }

    /// Removes a local user from `room`; whether they were in it.
    pub fn leave_local(&mut self, room: &str, user_id: &str) -> bool {
        remove_user(&mut self.local, room, user_id).is_some()
    }

    /// This node's users, by room (what its snapshots say).
    pub fn local(&self) -> &Rooms {
        &self.local
    }

    /// The digest of this node's users (what its heartbeats say).
    pub fn local_digest(&self) -> Digest {
        Digest::of(&self.local)
    }

    /// A remote node's heartbeat: it is alive, and its list has this digest. `true` if what
    /// this node holds for it has the same digest; `false` if it differs (then ask that node
    /// for a snapshot).
    pub fn remote_heartbeat(&mut self, node: &str, digest: Digest, now: Instant) -> bool {
        Digest::of(&self.node(node, now).rooms) == digest
    }

    /// Whether this node has a user in `room` (else nothing from other nodes is delivered).
    pub fn has_local_room(&self, room: &str) -> bool {
        self.local.contains_key(room)
    }

    /// A remote node's user entered a room: the change, unless they were listed already.
    pub fn remote_enter(
        &mut self,
        node: &str,
        room: &str,
        user: User,
        now: Instant,
    ) -> Option<Change> {
        let rooms = &mut self.node(node, now).rooms;
        let members = rooms.entry(room.to_owned()).or_default();
        if members.iter().any(|m| m.id == user.id) {
            return None;
        }
        members.push(user.clone());
        let room = room.to_owned();
        Some(Change::Joined { room, user })
    }

    /// A remote node's user left a room: the change, if they were listed.
    pub fn remote_leave(
        &mut self,
        node: &str,
        room: &str,
        user_id: &str,
        now: Instant,
    ) -> Option<Change> {
        let user = remove_user(&mut self.node(node, now).rooms, room, user_id)?;
        let room = room.to_owned();
        Some(Change::Left { room, user })
    }

    /// A remote node's snapshot: its whole list replaces what was known, and the
    /// differences are returned (empty when nothing was missed).
    pub fn remote_snapshot(&mut self, node: &str, rooms: Rooms, now: Instant) -> Vec<Change> {
        let known = std::mem::replace(&mut self.node(node, now).rooms, rooms);
        let current = &self.remote[node].rooms;
        let mut changes = Vec::new();
        for (room, users) in &known {
            for user in users {
                if !contains(current, room, &user.id) {
                    changes.push(Change::Left {
                        room: room.clone(),
                        user: user.clone(),
                    });
                }
            }
        }
        for (room, users) in current {
            for user in users {
                if !contains(&known, room, &user.id) {
                    changes.push(Change::Joined {
                        room: room.clone(),
                        user: user.clone(),
                    });
                }
            }
        }
        changes
    }

    /// A remote node said it is leaving: its users are gone.
    pub fn remove_node(&mut self, node: &str) -> Vec<Change> {
        let Some(gone) = self.remote.remove(node) else {
            return Vec::new();
        };
        gone.rooms
            .into_iter()
            .flat_map(|(room, users)| {
                users.into_iter().map(move |user| Change::Left {
                    room: room.clone(),
                    user,
                })
            })
            .collect()
    }

    /// Removes every node not heard from for longer than `timeout`; returns their users'
    /// departures.
    pub fn expire(&mut self, now: Instant, timeout: Duration) -> Vec<(String, Vec<Change>)> {
        let dead: Vec<String> = self
            .remote
            .iter()
            .filter(|(_, node)| now.saturating_duration_since(node.seen) > timeout)
            .map(|(id, _)| id.clone())
            .collect();
        dead.into_iter()
            .map(|id| {
                let changes = self.remove_node(&id);
                (id, changes)
            })
            .collect()
    }

    /// Users and rooms with a user on this node.
    pub fn local_census(&self) -> (usize, usize) {
        (self.local.values().map(Vec::len).sum(), self.local.len())
    }

    /// Other nodes heard from, and how many users they have.
    pub fn remote_census(&self) -> (usize, usize) {
        let users = self
            .remote
            .values()
            .flat_map(|node| node.rooms.values())
            .map(Vec::len)
            .sum();
        (self.remote.len(), users)
    }

    fn node(&mut self, node: &str, now: Instant) -> &mut RemoteNode {
        let entry = self
            .remote
            .entry(node.to_owned())
            .or_insert_with(|| RemoteNode {
                seen: now,
                rooms: Rooms::new(),
            });
        entry.seen = entry.seen.max(now);
        entry
    }
}

fn contains(rooms: &Rooms, room: &str, user_id: &str) -> bool {
    rooms
        .get(room)
        .is_some_and(|users| users.iter().any(|u| u.id == user_id))
}

fn remove_user(rooms: &mut Rooms, room: &str, user_id: &str) -> Option<User> {
    let members = rooms.get_mut(room)?;
    let at = members.iter().position(|m| m.id == user_id)?;
    let user = members.remove(at);
    if members.is_empty() {
        rooms.remove(room);
    }
    Some(user)
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

    fn rooms(entries: &[(&str, &[&str])]) -> Rooms {
        entries
            .iter()
            .map(|(room, ids)| (room.to_string(), ids.iter().map(|id| user(id)).collect()))
            .collect()
    }

    #[test]
    fn lists_local_users_then_remote_ones() {
        let now = Instant::now();
        let mut presence = Presence::default();
        assert!(presence
            .remote_enter("b", "lobby", user("b1"), now)
            .is_some());
        assert!(presence
            .remote_enter("b", "lobby", user("b1"), now)
            .is_none());
        presence.remote_enter("a", "lobby", user("a1"), now);
        presence.remote_enter("a", "other", user("a2"), now);
        let everyone = presence.enter_local("lobby", &user("1"));
        assert_eq!(everyone, [user("1"), user("a1"), user("b1")]);
        assert!(presence.remote_leave("a", "lobby", "a1", now).is_some());
        assert!(presence.remote_leave("a", "lobby", "a1", now).is_none());
        assert_eq!(presence.enter_local("lobby", &user("2")).len(), 3);
        assert_eq!(presence.remote_census(), (2, 2));
        assert!(presence.leave_local("lobby", "1"));
        assert!(!presence.leave_local("lobby", "1"));
        assert_eq!(presence.local_census(), (1, 1));
    }

    #[test]
    fn a_snapshot_reports_only_what_was_missed() {
        let now = Instant::now();
        let mut presence = Presence::default();
        presence.remote_enter("b", "lobby", user("b1"), now);
        let same = rooms(&[("lobby", &["b1"])]);
        assert_eq!(presence.remote_snapshot("b", same, now), []);
        let changed = rooms(&[("lobby", &["b2"])]);
        assert_eq!(
            presence.remote_snapshot("b", changed, now),
            [
                Change::Left {
                    room: "lobby".into(),
                    user: user("b1")
                },
                Change::Joined {
                    room: "lobby".into(),
                    user: user("b2")
                },
            ]
        );
    }

    #[test]
    fn a_heartbeat_matches_only_the_same_list() {
        let now = Instant::now();
        let mut presence = Presence::default();
        presence.enter_local("lobby", &user("1"));
        presence.enter_local("lobby", &user("2"));
        presence.enter_local("other", &user("1"));
        let ours = presence.local_digest();
        assert_eq!(ours.users, 3);
        // Node b learnt the same list in another order: the same digest.
        let mut b = Presence::default();
        b.remote_enter("a", "other", user("1"), now);
        b.remote_enter("a", "lobby", user("2"), now);
        b.remote_enter("a", "lobby", user("1"), now);
        assert!(b.remote_heartbeat("a", ours, now));
        // One event missed, or a user in another room, or another nick: a different digest.
        b.remote_leave("a", "lobby", "2", now);
        assert!(!b.remote_heartbeat("a", ours, now));
        b.remote_enter("a", "elsewhere", user("2"), now);
        assert!(!b.remote_heartbeat("a", ours, now));
        b.remote_leave("a", "elsewhere", "2", now);
        let renamed = User {
            nick: "someone else".into(),
            ..user("2")
        };
        b.remote_enter("a", "lobby", renamed, now);
        assert!(!b.remote_heartbeat("a", ours, now));
        // The snapshot heals it.
        b.remote_snapshot("a", presence.local().clone(), now);
        assert!(b.remote_heartbeat("a", ours, now));
        // A node never heard of, with nobody: nothing to ask for; with somebody: ask.
        assert!(b.remote_heartbeat("c", Digest::default(), now));
        assert!(!b.remote_heartbeat("d", ours, now));
        // Entries do not run together: ("ab", "c") is not ("a", "bc").
        let id = |id: &str| User {
            id: id.into(),
            nick: "n".into(),
        };
        assert_ne!(entry_hash("ab", &id("c")), entry_hash("a", &id("bc")));
    }

    #[test]
    fn a_heartbeat_keeps_a_node_alive() {
        let start = Instant::now();
        let timeout = Duration::from_secs(6);
        let mut presence = Presence::default();
        presence.remote_enter("b", "lobby", user("b1"), start);
        let digest = Digest::of(&rooms(&[("lobby", &["b1"])]));
        assert!(presence.remote_heartbeat("b", digest, start + timeout));
        assert!(presence.expire(start + timeout * 2, timeout).is_empty());
        assert_eq!(presence.expire(start + timeout * 3, timeout).len(), 1);
    }

    #[test]
    fn a_silent_node_expires_after_the_timeout() {
        let start = Instant::now();
        let timeout = Duration::from_secs(6);
        let mut presence = Presence::default();
        presence.remote_snapshot("b", rooms(&[("lobby", &["b1", "b2"])]), start);
        presence.remote_snapshot("c", rooms(&[("lobby", &["c1"])]), start);
        presence.remote_snapshot("c", rooms(&[("lobby", &["c1"])]), start + timeout);
        assert!(presence.expire(start + timeout, timeout).is_empty());
        let expired = presence.expire(start + timeout + Duration::from_millis(1), timeout);
        assert_eq!(expired.len(), 1);
        assert_eq!(expired[0].0, "b");
        assert_eq!(expired[0].1.len(), 2);
        assert_eq!(presence.remote_census(), (1, 1));
        assert_eq!(presence.remove_node("c").len(), 1);
        assert!(presence.remove_node("c").is_empty());
    }
}
