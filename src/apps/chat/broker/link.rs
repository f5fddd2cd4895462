//! The connections to Redis: opening them with a timeout, retrying with exponential backoff,
//! and the state and counters operators see in `/healthz` and `/metrics`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use fullduplex::server::prometheus::Exposition;

/// How long opening a connection to Redis may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long one read or write to Redis may block the broker's thread.
pub const IO_TIMEOUT: Duration = Duration::from_secs(2);

/// Delays between reconnection attempts: from `min`, doubling up to `max`, each with jitter
/// (between half and all of it) so that nodes cut off together do not retry together.
#[derive(Debug, Clone)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    /// Starts at `min` and never waits longer than `max`.
    pub fn new(min: Duration, max: Duration) -> Self {
        let max = max.max(min);
        Self {
            min,
            max,
            next: min,
        }
    }

    /// The next delay; `random` is any random number (it picks the jitter).
    pub fn next_delay(&mut self, random: u64) -> Duration {
        let full = self.next;
        self.next = (full * 2).min(self.max);
        let half = full / 2;
        let span = u64::try_from(half.as_micros()).unwrap_or(u64::MAX).max(1);
        half + Duration::from_micros(random % span)
    }

    /// The link works again: the next failure starts from `min`.
    pub fn reset(&mut self) {
        self.next = self.min;
    }
}

/// Whether each connection is up, and what went through them.
#[derive(Debug, Default)]
pub struct LinkStats {
    /// The publishing connection is up.
    pub publisher_up: AtomicBool,
    /// The subscribing connection is up and subscribed.
    pub subscriber_up: AtomicBool,
    /// Envelopes published.
    pub published: AtomicU64,
    /// Envelopes whose publish failed (the connection broke with them queued or sent).
    pub publish_failures: AtomicU64,
    /// Room events kept on this node because the broker was down or its queue full.
    pub local_only: AtomicU64,
    /// Envelopes received from other nodes.
    pub received: AtomicU64,
    /// Envelopes ignored: malformed, too large, or of an unknown version.
    pub bad_envelopes: AtomicU64,
    /// Connections (re)established, both directions.
    pub connects: AtomicU64,
    /// Connection attempts that failed.
    pub connect_failures: AtomicU64,
    /// Remote users removed because their node went silent.
    pub expired_users: AtomicU64,
    /// Snapshots asked of other nodes (a heartbeat's digest differed from this node's view).
    pub syncs: AtomicU64,
    /// Envelopes from other nodes this node could not hand to its workers (their mailboxes
    /// were full): the local members of the room missed them.
    pub undelivered: AtomicU64,
}

impl LinkStats {
    /// Both connections are up.
    pub fn is_up(&self) -> bool {
        self.publisher_up.load(Relaxed) && self.subscriber_up.load(Relaxed)
    }

    /// Adds one to a counter.
    pub fn bump(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }

    /// Writes the broker's gauge and counters for `/metrics`.
    pub fn write_prometheus(&self, metrics: &mut Exposition) {
        metrics.gauge(
            "broker_up",
            "1 while both connections to Redis are up.",
            u64::from(self.is_up()),
        );
        let rows = [
            (
                "broker_published_total",
                "Envelopes published to Redis.",
                &self.published,
            ),
            (
                "broker_publish_failures_total",
                "Envelopes lost because the connection to Redis broke.",
                &self.publish_failures,
            ),
            (
                "broker_local_only_total",
                "Room events delivered on this node only (broker down or queue full).",
                &self.local_only,
            ),
            (
                "broker_received_total",
                "Envelopes received from other nodes.",
                &self.received,
            ),
            (
                "broker_bad_envelopes_total",
                "Envelopes ignored (malformed, too large, unknown version).",
                &self.bad_envelopes,
            ),
            (
                "broker_connects_total",
                "Connections to Redis opened.",
                &self.connects,
            ),
            (
                "broker_connect_failures_total",
                "Failed attempts to connect to Redis.",
                &self.connect_failures,
            ),
            (
                "broker_expired_users_total",
                "Remote users removed because their node went silent.",
                &self.expired_users,
            ),
            (
                "broker_syncs_total",
                "Snapshots asked of other nodes whose heartbeat's digest differed from this node's view.",
                &self.syncs,
            ),
            (
                "broker_undelivered_total",
                "Envelopes from other nodes dropped because the workers' mailboxes were full.",
                &self.undelivered,
            ),
        ];
        for (name, help, counter) in rows {
            metrics.counter(name, help, counter.load(Relaxed));
        }
    }
}

/// Opens a connection with the broker's timeouts.
pub fn connect(client: &redis::Client) -> redis::RedisResult<redis::Connection> {
    let connection = client.get_connection_with_timeout(CONNECT_TIMEOUT)?;
    connection.set_write_timeout(Some(IO_TIMEOUT))?;
    connection.set_read_timeout(Some(IO_TIMEOUT))?;
    Ok(connection)
}

/// A random number for jitter (zero if the OS has none to give).
pub fn random() -> u64 {
    let mut bytes = [0u8; 8];
    let _ = getrandom::fill(&mut bytes);
    u64::from_le_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_up_to_the_cap_and_resets() {
        let ms = Duration::from_millis;
        let mut backoff = Backoff::new(ms(100), ms(1000));
        let delays: Vec<_> = (0..6).map(|_| backoff.next_delay(u64::MAX)).collect();
        let caps = [100, 200, 400, 800, 1000, 1000];
        for (delay, cap) in delays.iter().zip(caps) {
            assert!(
                *delay >= ms(cap / 2) && *delay < ms(cap),
                "{delay:?} for {cap}"
            );
        }
        assert_eq!(backoff.next_delay(0), ms(500));
        backoff.reset();
        assert_eq!(backoff.next_delay(0), ms(50));
    }
}
