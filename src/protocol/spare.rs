//! Spare boxes kept per thread, so state allocated for each message (a receiver's in-flight
//! state, an output queue's state) is reused rather than freed and allocated again for the
//! next one.
//!
//! The bound is the const parameter `N`: at most `N` boxes of one type per thread, each
//! reset to its empty state before it is kept, so the pool holds `N * size_of::<T>()` bytes
//! and a stack of `N` pointers at most. It belongs to the thread, never to a connection: an
//! idle connection still holds no box.

use std::cell::RefCell;
use std::thread::LocalKey;

/// A spare box from this thread's `spares`, if one is kept (none during the thread's exit).
pub(crate) fn take_spare<T, const N: usize>(
    spares: &'static LocalKey<RefCell<Spares<T, N>>>,
) -> Option<Box<T>> {
    spares.try_with(|s| s.borrow_mut().take()).ok().flatten()
}

/// Keeps `spare` (already reset) in this thread's `spares`, or frees it when they are full
/// or already gone (during the thread's exit).
pub(crate) fn give_spare<T, const N: usize>(
    spares: &'static LocalKey<RefCell<Spares<T, N>>>,
    spare: Box<T>,
) {
    let _ = spares.try_with(|s| s.borrow_mut().give(spare));
}

/// At most `N` empty boxes of `T`, for one thread (put it in a `thread_local!` `RefCell`).
pub(crate) struct Spares<T, const N: usize> {
    /// A stack: the box given last is taken first (the one most likely still in cache).
    /// Its own memory is allocated at the first box kept.
    boxes: Vec<Box<T>>,
}

impl<T, const N: usize> Spares<T, N> {
    /// No spare boxes.
    pub(crate) const fn new() -> Self {
        Self { boxes: Vec::new() }
    }

    /// A spare box, if one is kept (its content is whatever [`give`](Self::give) was handed).
    pub(crate) fn take(&mut self) -> Option<Box<T>> {
        self.boxes.pop()
    }

    /// Keeps `spare` (already reset by the caller) if fewer than `N` are kept, else frees it.
    pub(crate) fn give(&mut self, spare: Box<T>) {
        if self.boxes.len() < N {
            self.boxes.push(spare);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_most_n_boxes_are_kept_and_the_same_boxes_come_back() {
        let mut spares: Spares<u64, 2> = Spares::new();
        assert!(spares.take().is_none());
        let first = Box::new(1);
        let at = &*first as *const u64;
        spares.give(first);
        spares.give(Box::new(2));
        spares.give(Box::new(3));
        let kept: Vec<Box<u64>> = std::iter::from_fn(|| spares.take()).collect();
        assert_eq!(kept.len(), 2);
        assert!(kept.iter().any(|b| std::ptr::eq(&**b, at)));
        assert!(!kept.iter().any(|b| **b == 3));
    }
}
