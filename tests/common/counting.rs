//! A global allocator that counts live heap bytes and their peak, for the tests and
//! benchmarks that measure memory (each binary declares it with `#[global_allocator]`).
//!
//! It keeps two sets of counters: the whole process's ([`live`], [`peak`]), for sections whose
//! work runs on other threads (a server's workers), and the calling thread's ([`here`]), for
//! sans-I/O sections that must not be disturbed by tests running beside them.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// Forwards to the system allocator, counting as it goes.
pub struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// This thread's allocations minus its frees (frees of memory another thread allocated
    /// count too, so it may go below zero), and the highest it reached since the last reset.
    static HERE: Cell<(isize, isize)> = const { Cell::new((0, 0)) };
}

/// Adds `delta` to this thread's counter. A const-initialised `Cell` has no destructor, so
/// this works at any point of a thread's life, teardown included, and never allocates.
fn count_here(delta: isize) {
    let _ = HERE.try_with(|here| {
        let (live, peak) = here.get();
        let live = live + delta;
        here.set((live, peak.max(live)));
    });
}

// SAFETY: every call is forwarded unchanged to `System`; the counters do not affect it.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Relaxed) + layout.size();
        PEAK.fetch_max(live, Relaxed);
        count_here(layout.size() as isize);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Relaxed);
        count_here(-(layout.size() as isize));
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// Heap bytes allocated and not yet freed, in the whole process.
pub fn live() -> usize {
    LIVE.load(Relaxed)
}

/// The highest [`live`] since the last [`reset_peak`].
pub fn peak() -> usize {
    PEAK.load(Relaxed)
}

/// Starts a new peak from the current live bytes, and returns them.
pub fn reset_peak() -> usize {
    let live = live();
    PEAK.store(live, Relaxed);
    live
}

/// Runs `section` and returns its result with the peak growth of the heap bytes held by the
/// calling thread while it ran: allocations made on other threads do not count.
#[allow(dead_code)] // the benchmarks and fuzz targets that share this file measure globally
pub fn here<T>(section: impl FnOnce() -> T) -> (T, usize) {
    let before = HERE.with(|here| {
        let (live, _) = here.get();
        here.set((live, live));
        live
    });
    let result = section();
    let (_, peak) = HERE.with(Cell::get);
    (result, (peak - before).max(0) as usize)
}
