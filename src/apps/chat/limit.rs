//! Per-client rate limits: token buckets for messages, bytes and typing notices, and a penalty
//! score that turns persistent excess into a disconnection.
//!
//! A message over the limits is refused with the time after which it would pass, so a client
//! can slow down; only one that keeps sending before that time, again and again, is
//! disconnected. Typing notices have a bucket of their own, so showing that one types never
//! costs a message.
//!
//! The limiter reads no clock: the caller passes the time (the server's
//! [`Conn::now`](fullduplex::server::Conn::now)), so tests drive it exactly.

use std::time::{Duration, Instant};

/// How fast one client may send.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimits {
    /// Messages (chat messages, joins, files) per second, sustained. Typing notices have a
    /// bucket of their own, of the same rate and burst. Default: 10.
    pub messages_per_sec: f64,
    /// Messages that may arrive at once after a quiet spell. Default: 20.
    pub message_burst: f64,
    /// Payload bytes per second, sustained. Default: 1 MiB. The burst is this or the largest
    /// message, whichever is more, so one file of the largest size always passes.
    pub bytes_per_sec: f64,
    /// Penalty after which the client is disconnected with 1008. A refused message adds one
    /// if it came before the time the previous refusal named (the client did not wait), a
    /// refused typing notice adds one, and every second forgives one. Default: 30.
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
    /// Over the limits: drop it. The same message would pass after `retry_after`.
    Limited {
        /// How long the client should wait before sending again.
        retry_after: Duration,
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

    /// How long until the bucket holds `amount` tokens (`Duration::MAX` if never).
    fn wait_for(&self, amount: f64) -> Duration {
        let missing = amount - self.tokens;
        if missing <= 0.0 {
            return Duration::ZERO;
        }
        Duration::try_from_secs_f64(missing / self.rate).unwrap_or(Duration::MAX)
    }
}

/// One client's limiter.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    messages: Bucket,
    bytes: Bucket,
    typing: Bucket,
    /// Grows by one per refusal the client could have avoided, shrinks by one per second.
    penalty: f64,
    threshold: f64,
    /// Until when the client was last told to wait.
    told_until: Option<Instant>,
    /// The time of the last check; the buckets are full before the first.
    last: Option<Instant>,
}

impl RateLimiter {
    /// A limiter with full buckets; `max_message` is the largest message allowed.
    pub fn new(limits: &RateLimits, max_message: usize) -> Self {
        let byte_burst = limits.bytes_per_sec.max(max_message as f64);
        Self {
            messages: Bucket::full(limits.message_burst, limits.messages_per_sec),
            bytes: Bucket::full(byte_burst, limits.bytes_per_sec),
            typing: Bucket::full(limits.message_burst, limits.messages_per_sec),
            penalty: 0.0,
            threshold: limits.abuse_threshold,
            told_until: None,
            last: None,
        }
    }

    /// Judges a message of `bytes` bytes (anything but a typing notice) arriving at `now`.
    pub fn check(&mut self, now: Instant, bytes: usize) -> Verdict {
        self.advance(now);
        let size = bytes as f64;
        if self.messages.tokens >= 1.0 && self.bytes.tokens >= size {
            self.messages.tokens -= 1.0;
            self.bytes.tokens -= size;
            return Verdict::Pass;
        }
        let retry_after = self.messages.wait_for(1.0).max(self.bytes.wait_for(size));
        // A client that waits as long as it was told is never penalised.
        let impatient = self.told_until.is_some_and(|until| now < until);
        self.told_until = now.checked_add(retry_after);
        self.refuse(impatient, retry_after)
    }

    /// Judges a typing notice arriving at `now`: it draws on its own bucket, never on the
    /// messages' or the bytes'.
    pub fn check_typing(&mut self, now: Instant) -> Verdict {
        self.advance(now);
        if self.typing.tokens >= 1.0 {
            self.typing.tokens -= 1.0;
            return Verdict::Pass;
        }
        // Nobody is told about a dropped typing notice: each one counts.
        let retry_after = self.typing.wait_for(1.0);
        self.refuse(true, retry_after)
    }

    /// Refills the buckets and forgives the penalty for the time since the last check.
    fn advance(&mut self, now: Instant) {
        let last = *self.last.get_or_insert(now);
        let seconds = now.saturating_duration_since(last).as_secs_f64();
        self.last = Some(last.max(now));
        self.messages.refill(seconds);
        self.bytes.refill(seconds);
        self.typing.refill(seconds);
        self.penalty = (self.penalty - seconds).max(0.0);
    }

    fn refuse(&mut self, penalised: bool, retry_after: Duration) -> Verdict {
        if penalised {
            self.penalty += 1.0;
        }
        if self.penalty > self.threshold {
            Verdict::Abuse
        } else {
            Verdict::Limited { retry_after }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> RateLimits {
        RateLimits {
            messages_per_sec: 2.0,
            message_burst: 3.0,
            bytes_per_sec: 100.0,
            abuse_threshold: 4.0,
        }
    }

    fn limited(millis: u64) -> Verdict {
        Verdict::Limited {
            retry_after: Duration::from_millis(millis),
        }
    }

    #[test]
    fn burst_then_refill_with_the_time_to_wait() {
        let t0 = Instant::now();
        let mut limiter = RateLimiter::new(&limits(), 10);
        for _ in 0..3 {
            assert_eq!(limiter.check(t0, 1), Verdict::Pass);
        }
        // Two messages a second: the next token is half a second away.
        assert_eq!(limiter.check(t0, 1), limited(500));
        let t1 = t0 + Duration::from_millis(250);
        assert_eq!(limiter.check(t1, 1), limited(250));
        let t2 = t0 + Duration::from_millis(500);
        assert_eq!(limiter.check(t2, 1), Verdict::Pass);
        assert_eq!(limiter.check(t2, 1), limited(500));
    }

    #[test]
    fn bytes_are_limited_and_the_largest_message_fits() {
        let t0 = Instant::now();
        let mut limiter = RateLimiter::new(&limits(), 250);
        assert_eq!(limiter.check(t0, 250), Verdict::Pass);
        // 100 bytes a second: 50 bytes are half a second away.
        assert_eq!(limiter.check(t0, 50), limited(500));
        let t1 = t0 + Duration::from_millis(600);
        assert_eq!(limiter.check(t1, 50), Verdict::Pass);
    }

    #[test]
    fn typing_notices_have_their_own_bucket() {
        let t0 = Instant::now();
        let mut limiter = RateLimiter::new(&limits(), 10);
        for _ in 0..3 {
            assert_eq!(limiter.check_typing(t0), Verdict::Pass);
        }
        assert_eq!(limiter.check_typing(t0), limited(500));
        // The messages' burst is untouched.
        for _ in 0..3 {
            assert_eq!(limiter.check(t0, 1), Verdict::Pass);
        }
    }

    #[test]
    fn persistent_excess_is_abuse_but_occasional_excess_is_forgiven() {
        let t0 = Instant::now();
        let mut limiter = RateLimiter::new(&limits(), 10);
        let verdicts: Vec<Verdict> = (0..9).map(|_| limiter.check(t0, 1)).collect();
        assert_eq!(verdicts[..3], [Verdict::Pass; 3]);
        // The first refusal tells the client to wait; the next four came anyway.
        assert_eq!(verdicts[3..8], [limited(500); 5]);
        assert_eq!(verdicts[8], Verdict::Abuse);

        let mut patient = RateLimiter::new(&limits(), 10);
        let mut now = t0;
        for _ in 0..100 {
            // Three messages a second against a limit of two: refused now and then, forgiven.
            now += Duration::from_millis(333);
            assert_ne!(patient.check(now, 1), Verdict::Abuse);
        }
    }

    #[test]
    fn a_client_that_waits_as_told_is_never_disconnected() {
        let mut now = Instant::now();
        let mut limiter = RateLimiter::new(&limits(), 10);
        for _ in 0..1000 {
            // As fast as it may: at once after a message passed, as told after a refusal.
            match limiter.check(now, 1) {
                Verdict::Pass => {}
                Verdict::Limited { retry_after } => now += retry_after,
                Verdict::Abuse => panic!("closed for waiting as told"),
            }
        }
    }

    #[test]
    fn a_typing_flood_is_abuse() {
        let t0 = Instant::now();
        let mut limiter = RateLimiter::new(&limits(), 10);
        let verdicts: Vec<Verdict> = (0..8).map(|_| limiter.check_typing(t0)).collect();
        assert_eq!(verdicts[3..7], [limited(500); 4]);
        assert_eq!(verdicts[7], Verdict::Abuse);
    }

    #[test]
    fn a_bucket_that_never_refills_says_so() {
        let still = Bucket::full(1.0, 0.0);
        assert_eq!(still.wait_for(2.0), Duration::MAX);
        assert_eq!(still.wait_for(1.0), Duration::ZERO);
    }
}
