//! A per-thread pool of drained output segments, so that a busy connection's frames reuse
//! the memory the previous frames were written from instead of asking the allocator again.
//!
//! Why: an echo server queued each answer in a fresh segment and freed it once written, in
//! the same tick. With 16 KiB messages glibc then found a large free block at the top of the
//! worker's heap after every tick and gave it back to the kernel (`madvise`), only to fault
//! the pages in again in the next tick: about four page faults per message and a third of the
//! server's CPU. Keeping a few drained segments for the next frames avoids both. (Since then,
//! an answer of 8 KiB or more that finds the queue empty is offered to the socket first,
//! `Sender::send_through`: only what the socket does not take is queued, in a pooled segment.)
//!
//! A broadcast to many receivers is the other pattern: every receiver's queue takes a small
//! segment in the same tick and gives it back once written. Small segments (at most
//! [`MAX_SMALL_BYTES`] of capacity) are therefore kept apart, on a stack taken from the top,
//! enough for a tick's broadcast to a thousand receivers.
//!
//! The bound: at most [`MAX_SEGMENTS`] segments and [`MAX_POOL_BYTES`] bytes of capacity per
//! thread, and no segment larger than [`MAX_SEGMENT_BYTES`] (larger ones go to the thread's large
//! buffers, `protocol::large_buffers`); besides, small segments up to
//! [`MAX_SMALL_POOL_BYTES`] of capacity in all. The pool belongs to the thread
//! (a server's worker, a client's event loop, a test), never to a connection: an idle
//! connection holds no segment, and a pooled segment is only memory the thread already used
//! and will use again for whichever connection writes next.

use std::cell::RefCell;

use crate::protocol::large_buffers;

/// Most segments kept per thread.
pub(crate) const MAX_SEGMENTS: usize = 16;
/// Most bytes of segment capacity kept per thread (256 KiB).
pub(crate) const MAX_POOL_BYTES: usize = 256 << 10;
/// A segment with more capacity than this (64 KiB) is freed rather than kept.
pub(crate) const MAX_SEGMENT_BYTES: usize = 64 << 10;

/// A segment with at most this capacity (2 KiB) is kept with the small ones.
pub(crate) const MAX_SMALL_BYTES: usize = 2 << 10;
/// Most bytes of small segments kept per thread (1 MiB: a thousand 1 KiB segments).
pub(crate) const MAX_SMALL_POOL_BYTES: usize = 1 << 20;

/// The drained segments of one thread: empty slots have no capacity.
struct Pool {
    /// Small segments, the last kept on top.
    small: Vec<Vec<u8>>,
    /// The capacity of the small segments held, in bytes.
    small_bytes: usize,
    segments: [Vec<u8>; MAX_SEGMENTS],
    /// The capacity of the segments held, in bytes.
    bytes: usize,
}

thread_local! {
    static POOL: RefCell<Pool> = const {
        RefCell::new(Pool {
            small: Vec::new(),
            small_bytes: 0,
            segments: [const { Vec::new() }; MAX_SEGMENTS],
            bytes: 0,
        })
    };
}

/// An empty segment with room for at least `additional` bytes (and at least `min`): a
/// pooled one if one fits, else a new allocation. Past [`MAX_SEGMENT_BYTES`], the pooled
/// ones are the thread's large buffers (`protocol::large_buffers`).
pub(crate) fn take(additional: usize, min: usize) -> Vec<u8> {
    if additional > MAX_SEGMENT_BYTES {
        let Some(mut large) = large_buffers::take(additional) else {
            return Vec::with_capacity(large_buffers::capacity_for(additional));
        };
        large.clear();
        return large;
    }
    let pooled = POOL
        .try_with(|pool| pool.borrow_mut().take_fitting(additional))
        .ok()
        .flatten();
    pooled.unwrap_or_else(|| Vec::with_capacity(additional.max(min)))
}

/// Gives a drained segment back to the thread's pool, or frees it when the pool is full.
/// A segment larger than [`MAX_SEGMENT_BYTES`] joins the thread's large buffers, with its
/// written bytes as what it has initialised (`protocol::large_buffers`).
pub(crate) fn recycle(mut segment: Vec<u8>) {
    let capacity = segment.capacity();
    if capacity > MAX_SEGMENT_BYTES {
        return large_buffers::give(segment);
    }
    if capacity == 0 {
        return;
    }
    segment.clear();
    // During the thread's exit the pool may be gone: the segment is then simply freed.
    let _ = POOL.try_with(|pool| pool.borrow_mut().keep(segment));
}

impl Pool {
    /// Removes the smallest pooled segment with room for `additional` bytes (the small
    /// segment on top if it has room).
    fn take_fitting(&mut self, additional: usize) -> Option<Vec<u8>> {
        if self
            .small
            .last()
            .is_some_and(|s| s.capacity() >= additional)
        {
            let segment = self.small.pop()?;
            self.small_bytes -= segment.capacity();
            return Some(segment);
        }
        let best = self
            .segments
            .iter()
            .enumerate()
            .filter(|(_, s)| s.capacity() >= additional && s.capacity() > 0)
            .min_by_key(|(_, s)| s.capacity())
            .map(|(i, _)| i)?;
        let segment = std::mem::take(&mut self.segments[best]);
        self.bytes -= segment.capacity();
        Some(segment)
    }

    /// Keeps `segment` with the small ones or in a free slot, if the byte bounds allow.
    fn keep(&mut self, segment: Vec<u8>) {
        let capacity = segment.capacity();
        if capacity <= MAX_SMALL_BYTES {
            if self.small_bytes + capacity <= MAX_SMALL_POOL_BYTES {
                self.small_bytes += capacity;
                self.small.push(segment);
            }
            return;
        }
        if self.bytes + segment.capacity() > MAX_POOL_BYTES {
            return;
        }
        if let Some(slot) = self.segments.iter_mut().find(|s| s.capacity() == 0) {
            self.bytes += segment.capacity();
            *slot = segment;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pooled_bytes() -> usize {
        POOL.with_borrow(|p| p.bytes + p.small_bytes)
    }

    fn pooled_count() -> usize {
        POOL.with_borrow(|p| p.small.len() + p.segments.iter().filter(|s| s.capacity() > 0).count())
    }

    #[test]
    fn a_recycled_segment_is_reused_and_emptied() {
        let mut segment = Vec::with_capacity(1000);
        segment.extend_from_slice(b"old bytes");
        let at = segment.as_ptr();
        recycle(segment);
        let again = take(900, 512);
        assert_eq!(again.as_ptr(), at);
        assert!(again.is_empty());
        assert_eq!(pooled_bytes(), 0);
    }

    #[test]
    fn a_segment_too_small_is_not_taken() {
        recycle(Vec::with_capacity(600));
        let big = take(4000, 512);
        assert!(big.capacity() >= 4000);
        assert_eq!(pooled_count(), 1);
    }

    #[test]
    fn the_pool_is_bounded_in_count_bytes_and_segment_size() {
        recycle(Vec::with_capacity(MAX_SEGMENT_BYTES + 1));
        assert_eq!(pooled_count(), 0);
        for _ in 0..2 * MAX_SEGMENTS {
            recycle(Vec::with_capacity(MAX_SEGMENT_BYTES));
        }
        assert!(pooled_bytes() <= MAX_POOL_BYTES);
        assert!(pooled_count() < MAX_SEGMENTS);
        while pooled_count() > 0 {
            take(1, 0);
        }
        assert_eq!(pooled_bytes(), 0);
        for _ in 0..2 * MAX_SEGMENTS {
            recycle(Vec::with_capacity(MAX_SMALL_BYTES + 1));
        }
        assert_eq!(pooled_count(), MAX_SEGMENTS);
    }

    #[test]
    fn small_segments_for_a_broadcast_tick_are_kept_within_their_byte_bound() {
        // A tick's broadcast to a thousand receivers gives back a thousand small segments.
        let given: Vec<Vec<u8>> = (0..1000).map(|_| Vec::with_capacity(512)).collect();
        let kept: std::collections::HashSet<usize> =
            given.iter().map(|s| s.as_ptr() as usize).collect();
        given.into_iter().for_each(recycle);
        assert_eq!(pooled_count(), 1000);
        for _ in 0..1000 {
            let again = take(100, 512);
            assert!(kept.contains(&(again.as_ptr() as usize)));
        }
        assert_eq!(pooled_bytes(), 0);
        // Past the byte bound, small segments are freed.
        for _ in 0..2 * MAX_SMALL_POOL_BYTES / MAX_SMALL_BYTES {
            recycle(Vec::with_capacity(MAX_SMALL_BYTES));
        }
        assert!(pooled_bytes() <= MAX_SMALL_POOL_BYTES);
        assert_eq!(pooled_count(), MAX_SMALL_POOL_BYTES / MAX_SMALL_BYTES);
    }
}
