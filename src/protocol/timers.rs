//! The connection's clock: keepalive Pings, the pong deadline, the idle timeout and the close
//! deadline, decided from the time the runtime passes in.
//!
//! The RFC leaves the timing to implementations: a Ping "may serve either as a keepalive or as
//! a means to verify that the remote endpoint is still responsive"
//! ([RFC 6455 §5.5.2](https://www.rfc-editor.org/rfc/rfc6455#section-5.5.2)), and an endpoint
//! that began the close handshake closes the transport "after a reasonable amount of time"
//! without an answer ([RFC 6455 §7.1.1](https://www.rfc-editor.org/rfc/rfc6455#section-7.1.1)).
//! The core never reads a clock: [`Connection::handle_timeout`](super::Connection::handle_timeout)
//! is given the time, and [`Connection::poll_timeout`](super::Connection::poll_timeout) says
//! when it next needs it, as quinn-proto does for QUIC. A runtime with one connection sleeps
//! until then (the blocking client sets its read timeout to it); one with thousands checks
//! each connection's `poll_timeout` at a sweep a few times per shortest timeout (the mio
//! server and client). None writes the deadlines again.
//!
//! Times are kept as milliseconds since the connection first saw the clock, in 4 bytes each,
//! and that first moment in 8 bytes, as nanoseconds from the first instant the process gave
//! any connection: an idle server holds one connection per client, and 16-byte `Instant`s
//! would double what this costs. Nothing here reads a clock; the origin only makes the
//! arithmetic compact, and every instant handed back is exact.

use std::num::NonZeroU32;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::protocol::receiver::Activity;

/// A deadline that passed, leaving the connection [`TimedOut`](super::State::TimedOut).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Timeout {
    /// Our keepalive Ping got no answer within [`Config::pong_timeout`]: the peer is gone.
    Pong,
    /// The close handshake did not finish within [`Config::close_timeout`] of our Close frame:
    /// the peer's Close did not come, or it did not read our last frames.
    Close,
}

impl Timeout {
    /// What happened, in a few words (for logs and the application's close report).
    pub fn reason(self) -> &'static str {
        match self {
            Timeout::Pong => "no answer to the keepalive ping",
            Timeout::Close => "no answer to our close frame",
        }
    }
}

impl std::fmt::Display for Timeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.reason())
    }
}

/// Where the connection stands, as far as its timers care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// Messages flow: keepalive and the idle timeout apply.
    Open,
    /// Our Close is queued and the handshake is not over (no answer yet, or our last frames
    /// unwritten): the close deadline applies.
    Closing,
    /// Nothing is left to wait for.
    Done,
}

/// What the connection must do now that the time has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    Nothing,
    /// Queue a keepalive Ping.
    Ping,
    /// Close with 1001: no message for [`Config::idle_timeout`].
    CloseIdle,
    /// A deadline passed: drop what is queued and send nothing more.
    Abandon(Timeout),
}

/// What the connection waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Awaiting {
    /// The time: the clock starts at the first [`Timers::handle`].
    Clock,
    /// Nothing but the keepalive schedule.
    Nothing,
    /// An answer to the keepalive Ping sent then.
    Pong { since: Stamp },
    /// The end of the close handshake, since our Close was queued (or first seen queued).
    CloseEnd { since: Stamp },
    /// Nothing any more: a deadline passed.
    Expired(Timeout),
}

/// A connection's deadlines. 24 bytes.
#[derive(Debug)]
pub(crate) struct Timers {
    /// What stamps count from, in nanoseconds from [`ORIGIN`]: the first time this connection
    /// was told the time (meaningless while [`Awaiting::Clock`]).
    epoch: i64,
    /// Last time anything arrived.
    last_heard: Stamp,
    /// Last time a whole data message arrived.
    last_message: Stamp,
    awaiting: Awaiting,
}

/// A stamp further than this from the epoch moves the epoch forward (24.8 days).
const REBASE_AFTER: u32 = 1 << 31;
/// What a rebased epoch keeps of the past (12.4 days); every timeout is at most this long.
const MAX_SPAN: u32 = 1 << 30;

impl Timers {
    pub(crate) fn new() -> Self {
        Self {
            epoch: 0,
            last_heard: Stamp::EPOCH,
            last_message: Stamp::EPOCH,
            awaiting: Awaiting::Clock,
        }
    }

    /// The deadline that passed, if one did.
    pub(crate) fn expired(&self) -> Option<Timeout> {
        match self.awaiting {
            Awaiting::Expired(timeout) => Some(timeout),
            _ => None,
        }
    }

    /// Takes the time: stamps what `activity` reports at `now`, then decides what is due.
    pub(crate) fn handle(
        &mut self,
        now: Instant,
        activity: Activity,
        stage: Stage,
        config: &Config,
    ) -> Action {
        let now = self.stamp(now);
        if activity.heard {
            self.last_heard = now;
        }
        if activity.message {
            self.last_message = now;
        }
        match (stage, self.awaiting) {
            (_, Awaiting::Expired(_)) | (Stage::Done, _) => Action::Nothing,
            (Stage::Closing, Awaiting::CloseEnd { since }) => {
                if now.since(since) >= millis(config.close_timeout) {
                    self.awaiting = Awaiting::Expired(Timeout::Close);
                    return Action::Abandon(Timeout::Close);
                }
                Action::Nothing
            }
            (Stage::Closing, _) => {
                self.awaiting = Awaiting::CloseEnd { since: now };
                Action::Nothing
            }
            (Stage::Open, _) => self.keepalive(now, config),
        }
    }

    /// The pong deadline, the idle timeout and the keepalive Ping of an open connection, in
    /// that order: a dead peer is given up before it is closed, and a closed one needs no Ping.
    fn keepalive(&mut self, now: Stamp, config: &Config) -> Action {
        if let Awaiting::Pong { since } = self.awaiting {
            if self.last_heard.not_before(since) {
                self.awaiting = Awaiting::Nothing;
            } else if now.since(since) >= millis(config.pong_timeout) {
                self.awaiting = Awaiting::Expired(Timeout::Pong);
                return Action::Abandon(Timeout::Pong);
            }
        }
        if let Some(idle) = config.idle_timeout {
            if now.since(self.last_message) >= millis(idle) {
                self.awaiting = Awaiting::CloseEnd { since: now };
                return Action::CloseIdle;
            }
        }
        if let Some(interval) = config.ping_interval {
            let due = now.since(self.last_heard) >= millis(interval).max(1);
            if self.awaiting == Awaiting::Nothing && due {
                self.awaiting = Awaiting::Pong { since: now };
                return Action::Ping;
            }
        }
        Action::Nothing
    }

    /// When [`handle`](Self::handle) next has something to do; `None` when nothing is armed
    /// or the clock has not started. A moment already past means "now".
    pub(crate) fn next(&self, stage: Stage, config: &Config) -> Option<Instant> {
        let at = |stamp: Stamp, after: Duration| -> Instant {
            let millis = u64::from(stamp.millis()) + u64::from(millis(after));
            instant(self.epoch) + Duration::from_millis(millis)
        };
        match (stage, self.awaiting) {
            (_, Awaiting::Clock | Awaiting::Expired(_)) | (Stage::Done, _) => None,
            (Stage::Closing, Awaiting::CloseEnd { since }) => Some(at(since, config.close_timeout)),
            // The close began since the clock last moved: it is stamped at the next call.
            (Stage::Closing, _) => Some(at(self.last_heard, Duration::ZERO)),
            (Stage::Open, awaiting) => {
                let keepalive = match awaiting {
                    Awaiting::Pong { since } if !self.last_heard.not_before(since) => {
                        Some(at(since, config.pong_timeout))
                    }
                    _ => config.ping_interval.map(|interval| {
                        at(self.last_heard, interval.max(Duration::from_millis(1)))
                    }),
                };
                let idle = config.idle_timeout.map(|idle| at(self.last_message, idle));
                [keepalive, idle].into_iter().flatten().min()
            }
        }
    }

    /// `now` as a stamp. The first call starts the clock; a connection that lives for weeks
    /// has its epoch moved forward, keeping [`MAX_SPAN`] of the past.
    fn stamp(&mut self, now: Instant) -> Stamp {
        let now = nanos(now);
        if self.awaiting == Awaiting::Clock {
            self.epoch = now;
            self.awaiting = Awaiting::Nothing;
        }
        let elapsed = (now.saturating_sub(self.epoch).max(0) / 1_000_000) as u64;
        if elapsed < u64::from(REBASE_AFTER) {
            return Stamp::from_millis(elapsed as u32);
        }
        let shift = elapsed - u64::from(MAX_SPAN);
        self.epoch += shift as i64 * 1_000_000;
        let shift = u32::try_from(shift).unwrap_or(u32::MAX);
        self.last_heard = self.last_heard.earlier_by(shift);
        self.last_message = self.last_message.earlier_by(shift);
        self.awaiting = match self.awaiting {
            Awaiting::Pong { since } => Awaiting::Pong {
                since: since.earlier_by(shift),
            },
            Awaiting::CloseEnd { since } => Awaiting::CloseEnd {
                since: since.earlier_by(shift),
            },
            other => other,
        };
        Stamp::from_millis(MAX_SPAN)
    }
}

/// The first instant any connection of this process was given: what [`Timers::epoch`]s count
/// from, so that each takes 8 bytes instead of an `Instant`'s 16.
static ORIGIN: OnceLock<Instant> = OnceLock::new();

/// `at` as nanoseconds from [`ORIGIN`] (negative before it; ±292 years).
fn nanos(at: Instant) -> i64 {
    let origin = *ORIGIN.get_or_init(|| at);
    let signed = |span: Duration| i64::try_from(span.as_nanos()).unwrap_or(i64::MAX);
    match at.checked_duration_since(origin) {
        Some(after) => signed(after),
        None => -signed(origin.duration_since(at)),
    }
}

/// The instant `nanos` from [`ORIGIN`] (which a call to [`nanos`] has set).
fn instant(nanos: i64) -> Instant {
    let origin = *ORIGIN
        .get()
        .expect("the clock started with a call to `nanos`");
    let span = Duration::from_nanos(nanos.unsigned_abs());
    if nanos >= 0 {
        origin + span
    } else {
        origin - span
    }
}

/// A duration in whole milliseconds, at most [`MAX_SPAN`] (12.4 days): a longer timeout
/// counts as that long.
fn millis(duration: Duration) -> u32 {
    duration.as_millis().min(u128::from(MAX_SPAN)) as u32
}

/// A moment as whole milliseconds since the epoch, plus one: never zero, so that an
/// `Option<Stamp>` (and [`Awaiting`]) stays small. Stays under 2³¹ + 1 (see
/// [`Timers::stamp`]), so plain subtraction compares any two.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Stamp(NonZeroU32);

impl Stamp {
    /// The epoch itself.
    const EPOCH: Stamp = Stamp(NonZeroU32::MIN);

    fn from_millis(millis: u32) -> Self {
        Self(NonZeroU32::new(millis.saturating_add(1)).unwrap_or(NonZeroU32::MAX))
    }

    fn millis(self) -> u32 {
        self.0.get() - 1
    }

    /// Milliseconds from `earlier` to this moment (0 if `earlier` is later).
    fn since(self, earlier: Stamp) -> u32 {
        self.0.get().saturating_sub(earlier.0.get())
    }

    /// Whether this moment is `other` or later.
    fn not_before(self, other: Stamp) -> bool {
        self >= other
    }

    /// The same moment counted from an epoch `shift` milliseconds later (the epoch itself if
    /// it was before that).
    fn earlier_by(self, shift: u32) -> Stamp {
        Stamp::from_millis(self.millis().saturating_sub(shift))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        Config {
            ping_interval: Some(Duration::from_secs(30)),
            pong_timeout: Duration::from_secs(10),
            idle_timeout: Some(Duration::from_secs(300)),
            close_timeout: Duration::from_secs(5),
            ..Config::default()
        }
    }

    const BOTH: Activity = Activity {
        heard: true,
        message: true,
    };

    #[test]
    fn the_timers_stay_small() {
        assert_eq!(std::mem::size_of::<Awaiting>(), 8);
        assert_eq!(std::mem::size_of::<Timers>(), 24);
    }

    #[test]
    fn instants_before_and_after_the_origin_come_back_exactly() {
        let now = Instant::now();
        for at in [
            now,
            now + Duration::from_nanos(1),
            now + Duration::from_secs(86_400 * 400),
            now - Duration::from_millis(1500),
        ] {
            assert_eq!(instant(nanos(at)), at);
        }
    }

    #[test]
    fn a_connection_living_two_months_keeps_its_schedule() {
        let config = config();
        let start = Instant::now();
        let mut timers = Timers::new();
        let mut now = start;
        timers.handle(now, BOTH, Stage::Open, &config);
        // A message every 20 s for 60 days: never idle, never a Ping, past two rebases.
        for _ in 0..(60 * 24 * 180) {
            now += Duration::from_secs(20);
            let action = timers.handle(now, BOTH, Stage::Open, &config);
            assert_eq!(action, Action::Nothing, "after {:?}", now - start);
            let next = timers.next(Stage::Open, &config).unwrap();
            assert_eq!(next, now + Duration::from_secs(30));
        }
        // Then silence: a Ping 30 s after the last message, to the millisecond.
        let last = now;
        assert_eq!(
            timers.handle(
                last + Duration::from_millis(29_999),
                Activity::default(),
                Stage::Open,
                &config
            ),
            Action::Nothing
        );
        assert_eq!(
            timers.handle(
                last + Duration::from_secs(30),
                Activity::default(),
                Stage::Open,
                &config
            ),
            Action::Ping
        );
    }

    #[test]
    fn timeouts_longer_than_twelve_days_count_as_twelve_days() {
        assert_eq!(millis(Duration::from_secs(100 * 86_400)), MAX_SPAN);
        assert_eq!(millis(Duration::from_millis(1500)), 1500);
    }
}
