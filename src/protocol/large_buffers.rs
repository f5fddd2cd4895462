//! Large buffers kept per thread for the next large frame, so that a frame of 128 KiB to
//! 4 MiB is received into, or queued in, memory the thread already used rather than a
//! fresh allocation.
//!
//! Memory for the frames of [RFC 6455 §5.2](https://www.rfc-editor.org/rfc/rfc6455#section-5.2)
//! larger than a read buffer. Why: a fresh allocation of a megabyte is zeroed (a receive
//! buffer must be initialised to be read into) or faulted in page by page, and freed after the
//! message; with glibc that was a fifth of an echo server's CPU at 1 MiB, and two fifths of a
//! client's (page faults, `clear_page`, `munmap`) that queued each masked frame in a new
//! segment.
//!
//! A kept buffer remembers how much of it is initialised: its `len`. A receive buffer
//! (`Receiver::read_space`) is initialised all through; an output segment up to the bytes it
//! was last filled with. A receive buffer taken from here is then zeroed only past that, and
//! an output segment is cleared (its capacity is what it needs).
//!
//! The bound: at most [`MAX_KEPT`] buffers and [`MAX_KEPT_BYTES`] of capacity per thread, none
//! smaller than [`MIN_LARGE`] (read buffers and small segments have their own pools) nor
//! larger than [`MAX_LARGE`]. The buffers belong to the thread (a server's worker, a client's
//! event loop), never to a connection: an idle connection holds none. A connection that is
//! receiving a large frame holds one, as it would hold a new allocation; taking a kept buffer
//! allocates nothing, so a peer that declares a large frame and sends little of it gains
//! memory that the thread already had, not more.

use std::cell::RefCell;

/// Buffers smaller than this (128 KiB) are not kept here.
pub(crate) const MIN_LARGE: usize = 128 << 10;
/// Buffers larger than this (4 MiB) are freed rather than kept.
pub(crate) const MAX_LARGE: usize = 4 << 20;
/// Most buffers kept per thread.
pub(crate) const MAX_KEPT: usize = 16;
/// Most bytes of capacity kept per thread (16 MiB).
pub(crate) const MAX_KEPT_BYTES: usize = 16 << 20;

/// The capacity to allocate for a large buffer of at least `len` bytes: `len` rounded up to
/// a multiple of [`MIN_LARGE`], so that buffers made for a frame received (the frame and a
/// read after it) and for a frame sent (the frame alone) fall in the same sizes and serve
/// each other.
pub(crate) fn capacity_for(len: usize) -> usize {
    if len < MIN_LARGE {
        return len;
    }
    len.checked_next_multiple_of(MIN_LARGE).unwrap_or(len)
}

/// The large buffers one thread keeps.
struct Kept {
    buffers: Vec<Vec<u8>>,
    /// Their capacity in all, in bytes.
    bytes: usize,
}

thread_local! {
    static KEPT: RefCell<Kept> = const { RefCell::new(Kept { buffers: Vec::new(), bytes: 0 }) };
}

/// The smallest kept buffer with a capacity of at least `capacity`, if any; its `len` is how
/// much of it is initialised.
pub(crate) fn take(capacity: usize) -> Option<Vec<u8>> {
    if capacity > MAX_LARGE {
        return None;
    }
    KEPT.try_with(|kept| kept.borrow_mut().take(capacity))
        .ok()
        .flatten()
}

/// Keeps `buffer` for a later large frame (its `len`: how much of it is initialised), or
/// frees it when it is too small or too large, or the bounds are reached.
pub(crate) fn give(buffer: Vec<u8>) {
    let capacity = buffer.capacity();
    if !(MIN_LARGE..=MAX_LARGE).contains(&capacity) {
        return;
    }
    // During the thread's exit the buffers may be gone: this one is then simply freed.
    let _ = KEPT.try_with(|kept| kept.borrow_mut().keep(buffer));
}

impl Kept {
    fn take(&mut self, capacity: usize) -> Option<Vec<u8>> {
        let best = self
            .buffers
            .iter()
            .enumerate()
            .filter(|(_, b)| b.capacity() >= capacity)
            .min_by_key(|(_, b)| b.capacity())
            .map(|(i, _)| i)?;
        let buffer = self.buffers.swap_remove(best);
        self.bytes -= buffer.capacity();
        Some(buffer)
    }

    /// Keeps `buffer` within the bounds; when they are reached, a larger buffer takes the
    /// place of the smallest kept one (the larger fits more frames).
    fn keep(&mut self, buffer: Vec<u8>) {
        let capacity = buffer.capacity();
        if self.buffers.len() == MAX_KEPT {
            let smallest = (0..self.buffers.len()).min_by_key(|&i| self.buffers[i].capacity());
            match smallest {
                Some(i) if self.buffers[i].capacity() < capacity => {
                    self.bytes -= self.buffers.swap_remove(i).capacity();
                }
                _ => return,
            }
        }
        if self.bytes + capacity <= MAX_KEPT_BYTES {
            self.bytes += capacity;
            self.buffers.push(buffer);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept() -> (usize, usize) {
        KEPT.with_borrow(|k| (k.buffers.len(), k.bytes))
    }

    #[test]
    fn a_kept_buffer_comes_back_with_what_is_initialised() {
        let mut buffer = Vec::with_capacity(MIN_LARGE * 2);
        buffer.resize(1000, 7);
        let at = buffer.as_ptr();
        give(buffer);
        assert!(take(MIN_LARGE * 3).is_none(), "too small for that");
        let again = take(MIN_LARGE).expect("kept");
        assert_eq!(again.as_ptr(), at);
        assert_eq!(again.len(), 1000);
        assert_eq!(kept(), (0, 0));
    }

    #[test]
    fn large_capacities_are_rounded_to_a_multiple_of_the_smallest() {
        assert_eq!(capacity_for(1000), 1000);
        assert_eq!(capacity_for(MIN_LARGE), MIN_LARGE);
        // A 1 MiB frame sent (14 header bytes) and received (a 64 KiB read after it).
        assert_eq!(capacity_for((1 << 20) + 14), (1 << 20) + MIN_LARGE);
        assert_eq!(capacity_for((1 << 20) + (64 << 10)), (1 << 20) + MIN_LARGE);
        assert_eq!(capacity_for(usize::MAX), usize::MAX, "no overflow");
    }

    #[test]
    fn the_smallest_fitting_buffer_is_taken() {
        give(Vec::with_capacity(MIN_LARGE * 4));
        give(Vec::with_capacity(MIN_LARGE));
        give(Vec::with_capacity(MIN_LARGE * 2));
        assert_eq!(take(MIN_LARGE + 1).unwrap().capacity(), MIN_LARGE * 2);
        while take(0).is_some() {}
    }

    #[test]
    fn the_kept_buffers_are_bounded_in_count_size_and_bytes() {
        give(Vec::with_capacity(MIN_LARGE - 1));
        give(Vec::with_capacity(MAX_LARGE + 1));
        assert_eq!(kept(), (0, 0));
        for _ in 0..2 * MAX_KEPT {
            give(Vec::with_capacity(MAX_LARGE));
        }
        let (count, bytes) = kept();
        assert!(count <= MAX_KEPT && bytes <= MAX_KEPT_BYTES);
        assert_eq!(bytes, MAX_KEPT_BYTES);
        // When full, a larger buffer replaces the smallest; a smaller one is freed.
        while take(0).is_some() {}
        for _ in 0..MAX_KEPT {
            give(Vec::with_capacity(MIN_LARGE));
        }
        give(Vec::with_capacity(MIN_LARGE * 2));
        assert_eq!(kept(), (MAX_KEPT, MIN_LARGE * (MAX_KEPT + 1)));
        give(Vec::with_capacity(MIN_LARGE));
        assert_eq!(kept().0, MAX_KEPT);
        while take(0).is_some() {}
        assert_eq!(kept(), (0, 0));
    }
}
