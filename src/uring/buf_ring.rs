//! A ring of provided receive buffers (io_uring's `IORING_REGISTER_PBUF_RING`, Linux 5.19):
//! the kernel takes the next buffer from it for each completion of a multishot receive, and
//! the loop gives a buffer back once its bytes are consumed. The buffers are per ring (so per
//! worker), not per connection: an idle connection holds none.
//!
//! Each buffer is its own heap allocation, so that a received buffer can move into the
//! connection that reads it ([`Chunk`]) without the memory moving: the kernel writes only into
//! buffers published in the ring, and one it handed over is the loop's until given back.

use std::alloc::{self, Layout};
use std::io;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU16, Ordering};

use io_uring::types::BufRingEntry;
use io_uring::IoUring;

/// Received bytes in a buffer taken from a [`BufRing`]: `buf[start..end]` is unread.
pub(crate) struct Chunk {
    pub(crate) bid: u16,
    pub(crate) buf: Box<[u8]>,
    pub(crate) start: usize,
    pub(crate) end: usize,
}

impl Chunk {
    /// The bytes not read yet.
    pub(crate) fn unread(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }
}

/// A registered ring of receive buffers.
pub(crate) struct BufRing {
    /// The shared ring of entries (page-aligned, as the kernel requires).
    entries: NonNull<BufRingEntry>,
    layout: Layout,
    mask: u16,
    /// The next tail to publish (the kernel sees it at [`publish`](Self::publish)).
    tail: u16,
    group: u16,
    /// By buffer id: `Some` while the buffer is in the ring, `None` while lent as a [`Chunk`].
    buffers: Vec<Option<Box<[u8]>>>,
}

// SAFETY: the entries are this value's own allocation, reached only through `&mut self`; the
// kernel reads them concurrently whichever thread owns the value.
unsafe impl Send for BufRing {}

impl BufRing {
    /// Registers `count` buffers (a power of two, at most 32 768) of `size` bytes as buffer
    /// group `group` of `ring`, all published.
    pub(crate) fn new(ring: &IoUring, group: u16, count: u16, size: usize) -> io::Result<Self> {
        if !count.is_power_of_two() || count > 1 << 15 || size == 0 || size > u32::MAX as usize {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a buffer ring holds a power of two of buffers, at most 32768, of 1 B to 4 GiB",
            ));
        }
        let bytes = usize::from(count) * std::mem::size_of::<BufRingEntry>();
        let layout = Layout::from_size_align(bytes, 4096).map_err(io::Error::other)?;
        // SAFETY: the layout has a non-zero size.
        let entries = NonNull::new(unsafe { alloc::alloc_zeroed(layout) }.cast())
            .ok_or(io::ErrorKind::OutOfMemory)?;
        let mut this = Self {
            entries,
            layout,
            mask: count - 1,
            tail: 0,
            group,
            buffers: Vec::with_capacity(count.into()),
        };
        // SAFETY: the entries stay allocated until `drop`, which the owner orders after the
        // ring's (or an unregistration): see the module's docs.
        unsafe {
            ring.submitter().register_buf_ring_with_flags(
                entries.as_ptr() as u64,
                count,
                group,
                0,
            )?;
        }
        for bid in 0..count {
            this.buffers.push(None);
            this.push(bid, vec![0; size].into_boxed_slice());
        }
        this.publish();
        Ok(this)
    }

    /// The buffer group id, for receives that select from this ring.
    pub(crate) fn group(&self) -> u16 {
        self.group
    }

    /// Takes buffer `bid`, which a completion filled with `len` bytes. `None` for an id this
    /// ring did not lend (a completion that cannot be believed) or a length past the buffer.
    pub(crate) fn take(&mut self, bid: u16, len: usize) -> Option<Chunk> {
        let slot = self.buffers.get_mut(usize::from(bid))?;
        if slot.as_ref().is_none_or(|buf| buf.len() < len) {
            return None;
        }
        let buf = slot.take()?;
        Some(Chunk {
            bid,
            buf,
            start: 0,
            end: len,
        })
    }

    /// Puts a chunk's buffer back in the ring (visible to the kernel at the next
    /// [`publish`](Self::publish)).
    pub(crate) fn give_back(&mut self, chunk: Chunk) {
        let known = self
            .buffers
            .get(usize::from(chunk.bid))
            .is_some_and(Option::is_none);
        if known {
            self.push(chunk.bid, chunk.buf);
        }
    }

    /// Buffers lent out and not given back.
    pub(crate) fn lent(&self) -> usize {
        self.buffers.iter().filter(|b| b.is_none()).count()
    }

    /// Makes every buffer given back visible to the kernel.
    pub(crate) fn publish(&mut self) {
        // SAFETY: `entries` points to the first entry of the registered ring.
        let tail = unsafe { &*BufRingEntry::tail(self.entries.as_ptr()).cast::<AtomicU16>() };
        tail.store(self.tail, Ordering::Release);
    }

    fn push(&mut self, bid: u16, mut buf: Box<[u8]>) {
        let index = usize::from(self.tail & self.mask);
        // SAFETY: `index` is within the `mask + 1` entries allocated; the kernel does not read
        // an entry past the published tail.
        let entry = unsafe { &mut *self.entries.as_ptr().add(index) };
        entry.set_addr(buf.as_mut_ptr() as u64);
        entry.set_len(buf.len() as u32);
        entry.set_bid(bid);
        self.buffers[usize::from(bid)] = Some(buf);
        self.tail = self.tail.wrapping_add(1);
    }
}

impl Drop for BufRing {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout.
        unsafe { alloc::dealloc(self.entries.as_ptr().cast(), self.layout) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completions_that_name_no_lent_buffer_are_refused_not_trusted() {
        let ring = crate::uring::setup::new_ring(8).unwrap();
        let mut buffers = BufRing::new(&ring, 7, 4, 32).unwrap();
        assert!(BufRing::new(&ring, 8, 3, 32).is_err(), "not a power of two");
        assert!(buffers.take(4, 1).is_none(), "no such buffer");
        assert!(buffers.take(1, 33).is_none(), "longer than the buffer");
        let chunk = buffers.take(1, 5).unwrap();
        assert_eq!((chunk.bid, chunk.unread().len()), (1, 5));
        assert!(buffers.take(1, 5).is_none(), "lent already");
        assert_eq!(buffers.lent(), 1);
        buffers.give_back(chunk);
        assert_eq!(buffers.lent(), 0);
        let stray = Chunk {
            bid: 2,
            buf: vec![0; 32].into_boxed_slice(),
            start: 0,
            end: 0,
        };
        buffers.give_back(stray);
        assert_eq!(buffers.lent(), 0, "a buffer in the ring is not added twice");
    }
}
