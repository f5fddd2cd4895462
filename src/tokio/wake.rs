//! The wake-ups of a stream read and written by two tasks (the halves of
//! `StreamExt::split`): one timer for the connection's deadlines, and a waker for each side.
//!
//! The deadlines are the core's ([RFC 6455 §5.5.2](https://www.rfc-editor.org/rfc/rfc6455#section-5.5.2)
//! keepalive, [RFC 6455 §7.1.1](https://www.rfc-editor.org/rfc/rfc6455#section-7.1.1) the
//! close deadline); whichever side polls the timer, its firing wakes both the reader and the
//! writer, so a deadline is never lost on a task that waits on something else (a channel),
//! and a writer waiting on a transport that never takes its bytes learns that the reader's
//! timer ended the connection.

use std::sync::{Arc, Mutex};
use std::task::{Context, Wake, Waker};

/// Which task a waker belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Side {
    /// The task reading (`recv`, the stream).
    Reader = 0,
    /// The task sending (`send`, `flush`, the sink).
    Writer = 1,
}

/// The wakers of the two sides, as the timer (perhaps on another thread) sees them.
#[derive(Debug, Default)]
struct Slots {
    wakers: Mutex<[Option<Waker>; 2]>,
}

impl Slots {
    /// The wakers to wake, taken out of the lock (a waker may run code of its own).
    fn wake_sides(&self, sides: &[Side]) {
        let wakers: Vec<Waker> = {
            let slots = self.wakers.lock().unwrap_or_else(|e| e.into_inner());
            sides
                .iter()
                .filter_map(|&side| slots[side as usize].clone())
                .collect()
        };
        wakers.into_iter().for_each(Waker::wake);
    }
}

impl Wake for Slots {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.wake_sides(&[Side::Reader, Side::Writer]);
    }
}

/// A stream's wakers: what each side registered last, and the waker the timer is polled
/// with, which wakes both.
#[derive(Debug)]
pub(super) struct Wakeups {
    slots: Arc<Slots>,
    /// Wakes both sides: the timer's.
    both: Waker,
    /// What each side registered last (to skip the lock when it is the same task again).
    known: [Option<Waker>; 2],
}

impl Wakeups {
    pub(super) fn new() -> Self {
        let slots = Arc::new(Slots::default());
        Self {
            both: Waker::from(slots.clone()),
            slots,
            known: [None, None],
        }
    }

    /// Notes the task of `side` (before it polls the timer or waits): a deadline's firing, or
    /// the connection's end, wakes it.
    pub(super) fn register(&mut self, side: Side, waker: &Waker) {
        let known = &mut self.known[side as usize];
        if known.as_ref().is_some_and(|k| k.will_wake(waker)) {
            return;
        }
        *known = Some(waker.clone());
        let mut slots = self.slots.wakers.lock().unwrap_or_else(|e| e.into_inner());
        slots[side as usize] = Some(waker.clone());
    }

    /// Wakes the task of `side`.
    pub(super) fn wake(&self, side: Side) {
        self.slots.wake_sides(&[side]);
    }

    /// The context to poll the timer in: its firing wakes both sides.
    pub(super) fn timer_context(&self) -> Context<'_> {
        Context::from_waker(&self.both)
    }
}
