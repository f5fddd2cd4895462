//! Helpers of the hostile-input suite (`tests/hostile_*.rs`, `tests/tokio_hostile.rs`): a
//! memory-measured section, the limits the attacks run against, and the attacks over the
//! network written once for every runtime ([`network`]).
//!
//! Each of those test binaries declares the counting allocator. A section whose work stays on
//! the test's thread (the sans-I/O core) is measured by [`bounded_here`], on that thread's own
//! counters; a section that involves a server's threads is measured by [`bounded`] on the
//! process-wide counters, one such section at a time.
#![allow(dead_code)]

#[cfg(feature = "runtime")]
pub mod network;

use std::sync::Mutex;

use crate::common::counting;
use fullduplex::Config;

/// The frame limit of [`limits`].
pub const MAX_FRAME: usize = 64 << 10;
/// The message limit of [`limits`].
pub const MAX_MESSAGE: usize = 256 << 10;

/// Small limits, so that an attack that got past one would show in the memory measured.
pub fn limits() -> Config {
    Config {
        max_frame_size: MAX_FRAME,
        max_message_size: MAX_MESSAGE,
        max_fragments: 1024,
        ..Config::default()
    }
}

static MEASURED: Mutex<()> = Mutex::new(());

/// Runs `setup` (a large allocation that is not part of an attack) while no measured section
/// runs, so that it does not count against one running on another thread.
pub fn unmeasured<T>(setup: impl FnOnce() -> T) -> T {
    let _alone = MEASURED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    setup()
}

/// Runs `attack` alone among the measured sections of this binary and asserts the heap grew
/// by at most `budget` bytes at its peak (what it still holds at the end included).
pub fn bounded<T>(budget: usize, attack: impl FnOnce() -> T) -> T {
    let _alone = MEASURED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let before = counting::reset_peak();
    let result = attack();
    let peak = counting::peak().saturating_sub(before);
    assert!(
        peak <= budget,
        "peak heap growth {peak} bytes > budget {budget}"
    );
    result
}

/// Runs `attack` and asserts the heap bytes held by the calling thread grew by at most
/// `budget` at their peak. Only this thread's allocations count, so tests running beside it
/// cannot disturb the figure: for sections that do not hand work to other threads.
pub fn bounded_here<T>(budget: usize, attack: impl FnOnce() -> T) -> T {
    let (result, peak) = counting::here(attack);
    assert!(
        peak <= budget,
        "peak heap growth on this thread {peak} bytes > budget {budget}"
    );
    result
}
