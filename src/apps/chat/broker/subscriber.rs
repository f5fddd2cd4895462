//! The subscribing thread: receives the other nodes' envelopes and hands room events to the
//! workers through the [`ServerHandle`] (which wakes them with their `mio::Waker`); keeps the
//! presence of other nodes and removes the users of nodes that went silent; asks Redis
//! whether it is still there when the subscription goes quiet; reconnects with backoff.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::envelope::{self, Body, DecodeError, Envelope};
use super::link::{self, Backoff, LinkStats};
use super::presence::Change;
use super::Inner;
use crate::apps::chat::hub::topic;
use crate::apps::chat::protocol::ServerMessage;
use fullduplex::protocol::DataKind;
use fullduplex::server::ServerHandle;

/// How long one wait for a message lasts: also how often dead nodes are looked for.
const POLL: Duration = Duration::from_millis(100);

/// Starts the thread (the node stays local if the OS refuses one).
pub(super) fn spawn(inner: Arc<Inner>, handle: ServerHandle) {
    let started = std::thread::Builder::new()
        .name("chat-broker-sub".into())
        .spawn(move || run(&inner, &handle));
    if let Err(e) = started {
        eprintln!("chat: broker: cannot start the subscriber: {e}");
    }
}

fn run(inner: &Inner, handle: &ServerHandle) {
    let Ok(client) = redis::Client::open(inner.options.url.as_str()) else {
        return;
    };
    let options = &inner.options;
    let mut backoff = Backoff::new(options.backoff_min, options.backoff_max);
    while !stopping(inner, handle) {
        match link::connect(&client) {
            Ok(mut connection) => {
                backoff.reset();
                LinkStats::bump(&inner.stats.connects, 1);
                let err = listen(inner, handle, &mut connection);
                inner.stats.subscriber_up.store(false, Relaxed);
                match err {
                    Some(err) => inner.log(format_args!("subscription lost: {err}")),
                    None => return,
                }
            }
            Err(_) => LinkStats::bump(&inner.stats.connect_failures, 1),
        }
        wait(inner, handle, backoff.next_delay(link::random()));
    }
}

/// Only the hub stops the subscriber (when it is closed or dropped), not the server's
/// shutdown: while the server closes its clients, their `leave`s and `left`s must still go
/// out, and both need the link up.
fn stopping(inner: &Inner, _: &ServerHandle) -> bool {
    inner.stopping.load(Relaxed)
}

/// Sleeps in short steps, looking for dead nodes meanwhile (their users go on expiring while
/// Redis is away: this node cannot hear from them either).
fn wait(inner: &Inner, handle: &ServerHandle, delay: Duration) {
    let until = Instant::now() + delay;
    while Instant::now() < until && !stopping(inner, handle) {
        expire(inner, handle);
        std::thread::sleep(POLL.min(until.saturating_duration_since(Instant::now())));
    }
}

/// Subscribes and delivers until the link breaks (`Some`) or the node stops (`None`).
fn listen(
    inner: &Inner,
    handle: &ServerHandle,
    connection: &mut redis::Connection,
) -> Option<redis::RedisError> {
    let prefix = &inner.options.prefix;
    let mut pubsub = connection.as_pubsub();
    let subscribed = pubsub
        .psubscribe(format!("{}room:*", escape_glob(prefix)))
        .and_then(|()| pubsub.subscribe(inner.nodes_channel()))
        .and_then(|()| pubsub.set_read_timeout(Some(POLL)));
    if let Err(err) = subscribed {
        return Some(err);
    }
    inner.stats.subscriber_up.store(true, Relaxed);
    inner.log(format_args!("subscribed to {}", inner.options.url));
    inner.send(inner.nodes_channel(), Body::Hello);
    let mut heard = Instant::now();
    while !stopping(inner, handle) {
        match pubsub.get_message() {
            Ok(message) => {
                heard = Instant::now();
                receive(inner, handle, message.get_payload_bytes());
            }
            Err(err) if err.is_timeout() => {
                if heard.elapsed() >= inner.options.heartbeat_interval {
                    if let Err(err) = still_there(&mut pubsub) {
                        return Some(err);
                    }
                    heard = Instant::now();
                }
            }
            Err(err) => return Some(err),
        }
        expire(inner, handle);
    }
    None
}

/// Asks Redis whether this subscription is still there, after a heartbeat interval without
/// a message (this node's own heartbeats come back every interval while all is well). A
/// subscriber only reads, so without asking it would never learn that Redis forgot it: Redis
/// restarted, or its host did, while a cut link lost the news. The PING is answered within
/// the I/O timeout or the subscription is taken for lost.
fn still_there(pubsub: &mut redis::PubSub<'_>) -> redis::RedisResult<()> {
    pubsub.set_read_timeout(Some(link::IO_TIMEOUT))?;
    pubsub.ping::<redis::Value>()?;
    pubsub.set_read_timeout(Some(POLL))
}

fn receive(inner: &Inner, handle: &ServerHandle, bytes: &[u8]) {
    let envelope = match Envelope::decode(bytes, inner.options.max_envelope_bytes) {
        Ok(envelope) => envelope,
        Err(err) => {
            LinkStats::bump(&inner.stats.bad_envelopes, 1);
            if let DecodeError::UnknownVersion(v) = err {
                inner.log(format_args!("ignored an envelope of version {v}"));
            }
            return;
        }
    };
    if envelope.node == inner.options.node_id {
        return;
    }
    LinkStats::bump(&inner.stats.received, 1);
    let node = envelope.node.as_str();
    let now = Instant::now();
    let changes = match envelope.body {
        Body::Deliver { room, text, binary } => {
            let ours = inner.presence().has_local_room(&room);
            if let (true, Some((kind, bytes))) = (ours, envelope::delivery(text, binary)) {
                deliver(inner, handle, &room, kind, &bytes);
            }
            Vec::new()
        }
        Body::Enter { room, user } => {
            let change = inner.presence().remote_enter(node, &room, user, now);
            change.into_iter().collect()
        }
        Body::Leave { room, user_id } => {
            let change = inner.presence().remote_leave(node, &room, &user_id, now);
            change.into_iter().collect()
        }
        Body::Heartbeat { users, digest } => {
            let Some(digest) = Body::digest(users, &digest) else {
                // Not 16 hexadecimal digits: ignored like any malformed envelope.
                LinkStats::bump(&inner.stats.bad_envelopes, 1);
                return;
            };
            if !inner.presence().remote_heartbeat(node, digest, now) {
                // Something was missed (an outage, a full queue): the node's whole list,
                // once, from the node itself.
                LinkStats::bump(&inner.stats.syncs, 1);
                inner.send(
                    inner.nodes_channel(),
                    Body::Sync {
                        of: node.to_owned(),
                    },
                );
            }
            Vec::new()
        }
        Body::Snapshot { rooms } => inner.presence().remote_snapshot(node, rooms, now),
        Body::Sync { of } => {
            if of == inner.options.node_id {
                inner.answer_sync();
            }
            Vec::new()
        }
        Body::Hello => {
            inner.snapshot();
            Vec::new()
        }
        Body::Bye => inner.presence().remove_node(node),
    };
    announce(inner, handle, changes);
}

/// Removes the users of nodes silent for longer than the node timeout.
fn expire(inner: &Inner, handle: &ServerHandle) {
    let expired = inner
        .presence()
        .expire(Instant::now(), inner.options.node_timeout);
    for (node, changes) in expired {
        inner.log(format_args!(
            "node {node} silent for over {:?}: its {} user(s) left",
            inner.options.node_timeout,
            changes.len()
        ));
        LinkStats::bump(&inner.stats.expired_users, changes.len() as u64);
        announce(inner, handle, changes);
    }
}

/// Tells this node's members of each room who came and went on other nodes.
fn announce(inner: &Inner, handle: &ServerHandle, changes: Vec<Change>) {
    let time = now_millis();
    for change in changes {
        let (room, json) = match &change {
            Change::Joined { room, user } => (room, ServerMessage::Joined { user, time }),
            Change::Left { room, user } => (room, ServerMessage::Left { user, time }),
        };
        if inner.presence().has_local_room(room) {
            deliver(
                inner,
                handle,
                room,
                DataKind::Text,
                json.to_json().as_bytes(),
            );
        }
    }
}

/// Hands a room's message to the workers; a refusal (full mailboxes) is logged and counted,
/// never silent.
fn deliver(inner: &Inner, handle: &ServerHandle, room: &str, kind: DataKind, bytes: &[u8]) {
    if let Some(fallback) = inner.fallback.get() {
        fallback.deliver(room, kind, bytes, None);
    }
    if let Err(full) = handle.publish(&topic(room), kind, bytes) {
        LinkStats::bump(&inner.stats.undelivered, 1);
        inner.log(format_args!(
            "a message for room {room} was dropped: {full}"
        ));
    }
}

/// `prefix` with the glob characters of `PSUBSCRIBE` escaped.
fn escape_glob(prefix: &str) -> String {
    let mut escaped = String::with_capacity(prefix.len());
    for c in prefix.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

fn now_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    #[test]
    fn glob_characters_are_escaped() {
        assert_eq!(super::escape_glob("chat:"), "chat:");
        assert_eq!(super::escape_glob("a*b?[c]\\"), "a\\*b\\?\\[c\\]\\\\");
    }
}
