//! Per-client rate limits: token buckets for messages and bytes per second, and a penalty
//! score that turns persistent excess into a disconnection.
//!
//! The limiter reads no clock: the caller passes the time (the server's
//! [`Conn::now`](fullduplex::server::Conn::now)), so tests drive it exactly.

use std::time::Instant;

/// How fast one client may send.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimits {
    /// Messages per second, sustained. Default: 10.
    pub messages_per_sec: f64,
    /// Messages that may arrive at once after a quiet spell. Default: 20.
    pub message_burst: f64,
    /// Payload bytes per second, sustained. Default: 1 MiB. The burst is this or the largest
    /// message, whichever is more, so one file of the largest size always passes.
    pub bytes_per_sec: f64,
    /// Refused messages (net of one forgiven per second) after which the client is
    /// disconnected with 1008. Default: 30.
    pub abuse_threshold: f64,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            messages_per_sec: 10.0,
            message_burst: 20.0,
            bytes_per_sec: (1 << 20) as f64,
            abuse_threshold: 30.0,
        }
    }
}

/// What to do with one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Within the limits.
    Pass,
    /// Over the limits: drop it. `notify` is true for the first refusal after a message that
    /// passed, so a flood gets one error per episode, not one per message.
    Limited {
        /// Tell the client.
        notify: bool,
    },
    /// Over the limits for too long: disconnect (1008).
    Abuse,
}

/// A token bucket: `capacity` tokens, refilled at `rate` per second.
#[derive(Debug, Clone)]
struct Bucket {
    capacity: f64,
    rate: f64,
    tokens: f64,
}

impl Bucket {
    fn full(capacity: f64, rate: f64) -> Self {
        Self {
            capacity,
            rate,
            tokens: capacity,
        }
    }

    fn refill(&mut self, seconds: f64) {
        self.tokens = (self.tokens + seconds * self.rate).min(self.capacity);
    }
}

/// One client's limiter.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    messages: Bucket,
    bytes: Bucket,
    /// Grows by one per refused message, shrinks by one per second.
    penalty: f64,
    threshold: f64,
    /// The time of the last check; the buckets are full before the first.
    last: Option<Instant>,
    limited: bool,
}

impl RateLimiter {
    /// A limiter with full buckets; `max_message` is the largest message allowed.
    pub fn new(limits: &RateLimits, max_message: usize) -> Self {
        let byte_burst = limits.bytes_per_sec.max(max_message as f64);
        Self {
            messages: Bucket::full(limits.message_burst, limits.messages_per_sec),
            bytes: Bucket::full(byte_burst, limits.bytes_per_sec),
            penalty: 0.0,
            threshold: limits.abuse_threshold,
            last: None,
            limited: false,
        }
    }

    /// Judges a message of `bytes` bytes arriving at `now`.
    pub fn check(&mut self, now: Instant, bytes: usize) -> Verdict {
        let last = *self.last.get_or_insert(now);
        let seconds = now.saturating_duration_since(last).as_secs_f64();
        self.last = Some(last.max(now));
        self.messages.refill(seconds);
        self.bytes.refill(seconds);
        self.penalty = (self.penalty - seconds).max(0.0);
        let size = bytes as f64;
        if self.messages.tokens >= 1.0 && self.bytes.tokens >= size {
            self.messages.tokens -= 1.0;
            self.bytes.tokens -= size;
            self.limited = false;
            return Verdict::Pass;
        }
        self.penalty += 1.0;
        if self.penalty > self.threshold {
            return Verdict::Abuse;
        }
        let notify = !self.limited;
        self.limited = true;
        Verdict::Limited { notify }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn limits() -> RateLimits {
        RateLimits {
            messages_per_sec: 2.0,
            message_burst: 3.0,
            bytes_per_sec: 100.0,
            abuse_threshold: 4.0,
        }
    }

    #[test]
    fn burst_then_refill() {
        let t0 = Instant::now();
        let mut limiter = RateLimiter::new(&limits(), 10);
        for _ in 0..3 {
            assert_eq!(limiter.check(t0, 1), Verdict::Pass);
        }
        assert_eq!(limiter.check(t0, 1), Verdict::Limited { notify: true });
        assert_eq!(limiter.check(t0, 1), Verdict::Limited { notify: false });
        // Half a second brings one message back.
        let t1 = t0 + Duration::from_millis(500);
        assert_eq!(limiter.check(t1, 1), Verdict::Pass);
        assert_eq!(limiter.check(t1, 1), Verdict::Limited { notify: true });
    }

    #[test]
    fn bytes_are_limited_and_the_largest_message_fits() {
        let t0 = Instant::now();
        let mut limiter = RateLimiter::new(&limits(), 250);
        assert_eq!(limiter.check(t0, 250), Verdict::Pass);
        assert_eq!(limiter.check(t0, 50), Verdict::Limited { notify: true });
        let t1 = t0 + Duration::from_millis(600);
        assert_eq!(limiter.check(t1, 50), Verdict::Pass);
    }

    #[test]
    fn persistent_excess_is_abuse_but_occasional_excess_is_forgiven() {
        let t0 = Instant::now();
        let mut limiter = RateLimiter::new(&limits(), 10);
        let verdicts: Vec<Verdict> = (0..8).map(|_| limiter.check(t0, 1)).collect();
        assert_eq!(verdicts[..3], [Verdict::Pass; 3]);
        assert_eq!(verdicts[7], Verdict::Abuse);

        let mut patient = RateLimiter::new(&limits(), 10);
        let mut now = t0;
        for _ in 0..100 {
            // Three messages a second against a limit of two: refused now and then, forgiven.
            now += Duration::from_millis(333);
            assert_ne!(patient.check(now, 1), Verdict::Abuse);
        }
    }
}
