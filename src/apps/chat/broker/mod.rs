//! Chat nodes that share rooms through Redis pub/sub: [`RedisHub`], the [`Hub`] of a node
//! among several behind a load balancer (design in `docs/scale-out.md`).
//!
//! Each node delivers its own room events to its own members at once, as a single node does,
//! and publishes them to Redis in an [`Envelope`]; every other node
//! delivers what it receives to its members of that room. A node ignores its own envelopes,
//! so nothing is delivered twice. Two threads beside the mio workers hold the connections
//! (one publishes, one subscribes) and reach the workers only through the
//! [`ServerHandle`], which queues the work and wakes them with their `mio::Waker`: a worker
//! never waits on Redis, it only puts envelopes in a bounded queue.
//!
//! Presence: every node publishes a digest of its user list in a heartbeat (and the list
//! itself when it connects, or when a node whose digest differs asks for it); a node not heard
//! from for [`BrokerOptions::node_timeout`] is taken for dead and its users leave every other
//! node's list. While Redis is unreachable the chat goes on for each node's own users, `/healthz`
//! says `degraded`, and room events are not published (the sender of a chat message is told).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::fallback::Sessions;
use super::hub::{topic, Census, Health, Hub, Reach};
use super::protocol::User;
use fullduplex::protocol::DataKind;
use fullduplex::server::prometheus::Exposition;
use fullduplex::server::{ConnId, Context, ServerHandle};

pub mod envelope;
pub mod link;
pub mod presence;
mod publisher;
mod subscriber;

use envelope::{Body, Envelope};
use link::LinkStats;
use presence::Presence;

/// Envelopes waiting for the publisher; past this, room events stay local (and are counted).
const QUEUE_DEPTH: usize = 16 * 1024;

/// How a node reaches Redis and the other nodes.
#[derive(Debug, Clone)]
pub struct BrokerOptions {
    /// `redis://host:port[/db]`.
    pub url: String,
    /// This node's id, unique among the nodes (see [`default_node_id`]).
    pub node_id: String,
    /// Prefix of every channel name, so several chats can share one Redis. Default:
    /// `fullduplex:`.
    pub prefix: String,
    /// How often this node publishes a heartbeat (the digest of its user list). Default: 2 s.
    pub heartbeat_interval: Duration,
    /// A node silent for this long is taken for dead, and its users are removed. Default:
    /// 6 s (three heartbeats).
    pub node_timeout: Duration,
    /// First delay before reconnecting to Redis. Default: 100 ms.
    pub backoff_min: Duration,
    /// Longest delay between reconnection attempts. Default: 5 s.
    pub backoff_max: Duration,
    /// Largest envelope read from Redis, in bytes (larger ones are ignored).
    pub max_envelope_bytes: usize,
    /// Log connects, disconnects and dead nodes on stderr.
    pub log: bool,
}

impl BrokerOptions {
    /// Options for this Redis URL with every default and a fresh node id.
    pub fn new(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            node_id: default_node_id(),
            prefix: "fullduplex:".to_owned(),
            heartbeat_interval: Duration::from_secs(2),
            node_timeout: Duration::from_secs(6),
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_secs(5),
            max_envelope_bytes: 4 << 20,
            log: true,
        }
    }
}

/// `hostname-pid-random`: unique across machines, processes and restarts.
pub fn default_node_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "node".to_owned());
    format!(
        "{host}-{}-{:06x}",
        std::process::id(),
        link::random() & 0xFF_FFFF
    )
}

/// What the publisher thread is given.
pub(crate) enum Outgoing {
    /// Publish this envelope on this channel.
    Publish { channel: String, payload: String },
    /// Say goodbye and stop.
    Stop,
}

/// What the hub and its two threads share.
pub(crate) struct Inner {
    pub(crate) options: BrokerOptions,
    pub(crate) stats: LinkStats,
    presence: Mutex<Presence>,
    queue: SyncSender<Outgoing>,
    pub(crate) stopping: AtomicBool,
    /// This node's fallback sessions, which remote room events reach too.
    pub(crate) fallback: std::sync::OnceLock<Arc<Sessions>>,
    /// When this node last queued its snapshot.
    last_snapshot: Mutex<Option<Instant>>,
}

impl Inner {
    pub(crate) fn presence(&self) -> MutexGuard<'_, Presence> {
        // Each change to the presence is a single insert or removal: a panic elsewhere
        // leaves it consistent, so a poisoned lock is still usable.
        self.presence.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn room_channel(&self, room: &str) -> String {
        format!("{}room:{room}", self.options.prefix)
    }

    pub(crate) fn nodes_channel(&self) -> String {
        format!("{}nodes", self.options.prefix)
    }

    pub(crate) fn log(&self, line: std::fmt::Arguments<'_>) {
        if self.options.log {
            eprintln!("chat: broker: {line}");
        }
    }

    /// Queues an envelope for the publisher; `false` if the broker is down or the queue is
    /// full (then nothing will be published). A lost subscription counts as down: it is
    /// usually the first to notice that Redis went away (the publisher notices only at its
    /// next write).
    pub(crate) fn send(&self, channel: String, body: Body) -> bool {
        if !self.stats.is_up() {
            return false;
        }
        let payload = Envelope::new(&self.options.node_id, body).encode();
        match self.queue.try_send(Outgoing::Publish { channel, payload }) {
            Ok(()) => true,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => false,
        }
    }

    /// Queues a heartbeat: the digest of this node's user list. Taken and queued under the
    /// presence lock, so it is published after every `enter` and `leave` it includes, never
    /// before: a node that received them all holds the same digest.
    pub(crate) fn heartbeat(&self) {
        let presence = self.presence();
        let body = Envelope::heartbeat(presence.local_digest());
        self.send(self.nodes_channel(), body);
        drop(presence);
    }

    /// Queues this node's whole user list, under the presence lock as [`Inner::heartbeat`].
    pub(crate) fn snapshot(&self) {
        let presence = self.presence();
        let rooms: BTreeMap<String, Vec<User>> = presence.local().clone();
        let queued = self.send(self.nodes_channel(), Body::Snapshot { rooms });
        drop(presence);
        if queued {
            // Only a snapshot on its way may stand in for the next ones asked for.
            *self.last_snapshot.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
        }
    }

    /// Answers a `sync` naming this node: with a snapshot, unless one was queued less than
    /// half a heartbeat interval ago. Several nodes that missed the same event ask at once
    /// after the same heartbeat, and one snapshot serves them all (every node reads it). A
    /// node whose loss came after that snapshot asks again after the next heartbeat, so a
    /// list heals within two heartbeats and a round trip either way.
    pub(crate) fn answer_sync(&self) {
        let recent = self.options.heartbeat_interval / 2;
        let last = *self.last_snapshot.lock().unwrap_or_else(|p| p.into_inner());
        if last.is_none_or(|at| at.elapsed() >= recent) {
            self.snapshot();
        }
    }
}

/// A [`Hub`] shared by the chat nodes through Redis pub/sub.
pub struct RedisHub {
    inner: Arc<Inner>,
    receiver: Mutex<Option<Receiver<Outgoing>>>,
    publisher: Mutex<Option<JoinHandle<()>>>,
}

impl RedisHub {
    /// A hub for these options; its connections open when the server starts. Fails only if
    /// the URL is not a Redis URL (an unreachable Redis is retried, not an error).
    pub fn new(options: BrokerOptions) -> Result<Self, String> {
        redis::Client::open(options.url.as_str())
            .map_err(|e| format!("--redis {:?}: {e}", options.url))?;
        let (queue, receiver) = mpsc::sync_channel(QUEUE_DEPTH);
        Ok(Self {
            inner: Arc::new(Inner {
                options,
                stats: LinkStats::default(),
                presence: Mutex::new(Presence::default()),
                queue,
                stopping: AtomicBool::new(false),
                fallback: std::sync::OnceLock::new(),
                last_snapshot: Mutex::new(None),
            }),
            receiver: Mutex::new(Some(receiver)),
            publisher: Mutex::new(None),
        })
    }

    /// This node's id.
    #[allow(dead_code)] // for the tests and benches/scale_out.rs
    pub fn node_id(&self) -> &str {
        &self.inner.options.node_id
    }

    /// The broker's counters.
    #[allow(dead_code)] // for the tests and benches/scale_out.rs
    pub fn stats(&self) -> &LinkStats {
        &self.inner.stats
    }

    /// Says goodbye to the other nodes (their users see this node's users leave at once) and
    /// stops the broker's threads; waits at most for one Redis write timeout.
    pub fn close(&self) {
        self.inner.stopping.store(true, Relaxed);
        let _ = self.inner.queue.try_send(Outgoing::Stop);
        let publisher = self.publisher.lock().ok().and_then(|mut p| p.take());
        if let Some(publisher) = publisher {
            let _ = publisher.join();
        }
    }
}

impl Drop for RedisHub {
    fn drop(&mut self) {
        self.inner.stopping.store(true, Relaxed);
        let _ = self.inner.queue.try_send(Outgoing::Stop);
    }
}

impl Hub for RedisHub {
    fn start(&self, handle: &ServerHandle, fallback: &Arc<Sessions>) {
        let _ = self.inner.fallback.set(fallback.clone());
        let Some(receiver) = self.receiver.lock().ok().and_then(|mut r| r.take()) else {
            return;
        };
        let publisher = publisher::spawn(self.inner.clone(), receiver);
        subscriber::spawn(self.inner.clone(), handle.clone());
        if let Ok(mut slot) = self.publisher.lock() {
            *slot = publisher;
        }
    }

    fn user_id(&self, number: u64) -> String {
        format!("{}:{number}", self.inner.options.node_id)
    }

    fn enter(&self, room: &str, user: &User) -> Vec<User> {
        let mut presence = self.inner.presence();
        let everyone = presence.enter_local(room, user);
        let body = Body::Enter {
            room: room.to_owned(),
            user: user.clone(),
        };
        self.inner.send(self.inner.room_channel(room), body);
        everyone
    }

    fn leave(&self, room: &str, user_id: &str) -> bool {
        let mut presence = self.inner.presence();
        let left = presence.leave_local(room, user_id);
        if left {
            let body = Body::Leave {
                room: room.to_owned(),
                user_id: user_id.to_owned(),
            };
            self.inner.send(self.inner.room_channel(room), body);
        }
        left
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
        let body = Envelope::deliver("", room, kind, payload).body;
        if self.inner.send(self.inner.room_channel(room), body) {
            Reach::Everywhere
        } else {
            LinkStats::bump(&self.inner.stats.local_only, 1);
            Reach::LocalOnly
        }
    }

    fn announce(&self, ctx: &mut Context<'_>, room: &str, notice: &[u8], except: Option<ConnId>) {
        // The other nodes make their own from the `enter` or `leave` just queued, so a
        // departure is never half known there (listed as gone but never announced).
        ctx.publish_except(&topic(room), DataKind::Text, notice, except);
    }

    fn census(&self) -> Census {
        let (users, rooms) = self.inner.presence().local_census();
        Census { users, rooms }
    }

    fn health(&self) -> Health {
        let stats = &self.inner.stats;
        if stats.is_up() {
            Health::Ok
        } else {
            let which = match (
                stats.publisher_up.load(Relaxed),
                stats.subscriber_up.load(Relaxed),
            ) {
                (false, false) => "Redis is unreachable",
                (false, true) => "cannot publish to Redis",
                _ => "not subscribed to Redis",
            };
            Health::Degraded(format!(
                "{which} ({}): this node's users chat only among themselves",
                self.inner.options.url
            ))
        }
    }

    fn write_metrics(&self, metrics: &mut Exposition) {
        self.inner.stats.write_prometheus(metrics);
        let (nodes, users) = self.inner.presence().remote_census();
        metrics.gauge(
            "broker_remote_nodes",
            "Other nodes heard from within the node timeout.",
            nodes as u64,
        );
        metrics.gauge(
            "chat_remote_users",
            "Users of other nodes in a room now.",
            users as u64,
        );
    }
}
