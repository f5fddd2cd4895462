//! Counters a server keeps for its operators (the chat server's `/metrics` reads them).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

/// Live counters, shared by every worker thread. All are totals since start except
/// `connections` and `open`, which are current values.
#[derive(Debug, Default)]
pub struct Stats {
    pub(crate) connections: AtomicU64,
    pub(crate) open: AtomicU64,
    pub(crate) accepted: AtomicU64,
    pub(crate) refused_over_limit: AtomicU64,
    pub(crate) messages_in: AtomicU64,
    pub(crate) messages_out: AtomicU64,
    pub(crate) bytes_in: AtomicU64,
    pub(crate) bytes_out: AtomicU64,
    pub(crate) broadcasts: AtomicU64,
    pub(crate) slow_consumer_drops: AtomicU64,
    pub(crate) slow_consumer_closes: AtomicU64,
    pub(crate) keepalive_timeouts: AtomicU64,
    pub(crate) protocol_errors: AtomicU64,
    pub(crate) http_requests: AtomicU64,
    pub(crate) mailbox_drops: AtomicU64,
    pub(crate) held_back: AtomicU64,
    rejects: Mutex<BTreeMap<String, u64>>,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// TCP connections held now (handshaking, open or closing).
    pub connections: u64,
    /// WebSocket connections open now.
    pub open: u64,
    /// TCP connections accepted.
    pub accepted: u64,
    /// Connections refused because `max_connections` was reached, or because the process ran
    /// out of file descriptors (with 503; over TLS, closed without a byte).
    pub refused_over_limit: u64,
    /// Data messages received.
    pub messages_in: u64,
    /// Data messages queued for sending (a broadcast counts once per receiver).
    pub messages_out: u64,
    /// Payload bytes received in data messages.
    pub bytes_in: u64,
    /// Payload bytes queued in data messages.
    pub bytes_out: u64,
    /// Broadcasts and publishes made.
    pub broadcasts: u64,
    /// Messages dropped because the receiver's queue was full (`SlowConsumer::DropMessages`).
    pub slow_consumer_drops: u64,
    /// Connections closed with 1008 because their queue was full (`SlowConsumer::Close`).
    pub slow_consumer_closes: u64,
    /// Connections dropped because they did not answer a keepalive Ping in time.
    pub keepalive_timeouts: u64,
    /// Connections failed because the peer broke the protocol.
    pub protocol_errors: u64,
    /// Plain HTTP requests answered.
    pub http_requests: u64,
    /// Commands dropped because a worker's mailbox was full (`ServerConfig::max_mailbox`).
    pub mailbox_drops: u64,
    /// Messages held back because they arrived while the connection was in the middle of
    /// sending a fragmented message, and queued after its last fragment.
    pub held_back: u64,
    /// Refused handshakes by reason (e.g. `"426 Sec-WebSocket-Version must be 13"`).
    pub handshake_rejects: BTreeMap<String, u64>,
}

impl Stats {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }

    pub(crate) fn sub(counter: &AtomicU64, n: u64) {
        counter.fetch_sub(n, Relaxed);
    }

    /// Counts one more connection unless `max` are held already: one atomic step, so
    /// workers accepting at the same time cannot together exceed `max`.
    pub(crate) fn reserve_connection(&self, max: usize) -> bool {
        let max = max as u64;
        self.connections
            .fetch_update(Relaxed, Relaxed, |n| (n < max).then_some(n + 1))
            .is_ok()
    }

    pub(crate) fn reject(&self, status: u16, reason: &str) {
        let key = format!("{status} {reason}");
        if let Ok(mut rejects) = self.rejects.lock() {
            *rejects.entry(key).or_default() += 1;
        }
    }

    /// The counters now.
    pub fn snapshot(&self) -> StatsSnapshot {
        let get = |c: &AtomicU64| c.load(Relaxed);
        StatsSnapshot {
            connections: get(&self.connections),
            open: get(&self.open),
            accepted: get(&self.accepted),
            refused_over_limit: get(&self.refused_over_limit),
            messages_in: get(&self.messages_in),
            messages_out: get(&self.messages_out),
            bytes_in: get(&self.bytes_in),
            bytes_out: get(&self.bytes_out),
            broadcasts: get(&self.broadcasts),
            slow_consumer_drops: get(&self.slow_consumer_drops),
            slow_consumer_closes: get(&self.slow_consumer_closes),
            keepalive_timeouts: get(&self.keepalive_timeouts),
            protocol_errors: get(&self.protocol_errors),
            http_requests: get(&self.http_requests),
            mailbox_drops: get(&self.mailbox_drops),
            held_back: get(&self.held_back),
            handshake_rejects: self.rejects.lock().map(|r| r.clone()).unwrap_or_default(),
        }
    }
}
