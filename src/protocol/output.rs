//! The queue of encoded bytes waiting to be written, and frames shared between connections.
//!
//! A server frame is not masked
//! ([RFC 6455 §5.1](https://www.rfc-editor.org/rfc/rfc6455#section-5.1): "A server MUST NOT
//! mask any frames that it sends to the client"), so one encoded frame can go to many
//! connections: a broadcast
//! encodes once and each receiver's queue holds a reference to the same bytes. The queue
//! is a list of segments (owned bytes and shared frames) that the runtime writes with
//! vectored I/O; an empty queue holds no allocation. Owned segments come from and go back to
//! a small per-thread pool of drained segments (`output::pool`).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::sync::Arc;

use crate::protocol::deflate::codec::Compressor;
use crate::protocol::frame::{FrameHeader, Opcode, MAX_HEADER_LEN};
use crate::protocol::message::DataKind;
use crate::protocol::spare::{give_spare, take_spare, Spares};

mod pool;

/// Spare queue states per thread. A connection takes one each time its queue fills and
/// gives it back once written, so an echo needs one; a broadcast fills every receiver's
/// queue in the same tick and gives them all back after writing, so the pool is sized for a
/// tick's broadcast to a thousand receivers (at most 1024 × 96 bytes per thread). Freed and
/// allocated again instead, a thousand queue states per tick cost the allocator's slow paths
/// and, when it trims the heap, page faults.
const SPARE_QUEUES: usize = 1024;

thread_local! {
    static QUEUES: RefCell<Spares<Queued, SPARE_QUEUES>> = const { RefCell::new(Spares::new()) };
}

/// New owned segments start with room for this much, so small frames share one allocation.
const MIN_SEGMENT: usize = 512;
/// An owned segment stops growing past this, so a big queue does not reallocate and copy.
const MAX_GROWTH: usize = 64 << 10;

/// Shared frames up to this size are copied into the queue rather than referenced.
const COPY_SHARED_UP_TO: usize = 256;

/// A complete server-to-client data frame, encoded once and shareable among connections.
///
/// Cloning is cheap (a reference count). Built with [`SharedFrame::new`], sent with
/// [`Sender::send_shared`](crate::protocol::Sender::send_shared).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedFrame {
    bytes: Arc<[u8]>,
    kind: DataKind,
    /// The window it was compressed with, if compressed.
    compressed: Option<u8>,
}

impl SharedFrame {
    /// Encodes an uncompressed, unmasked, unfragmented data frame.
    pub fn new(kind: DataKind, payload: &[u8]) -> Self {
        Self::from_parts(kind, payload, None)
    }

    /// Encodes a permessage-deflate compressed data frame, compressed once on its own (no
    /// earlier context), for every receiver whose server side has no context takeover and
    /// a window of at least `window_bits` (RFC 7692 §7.1.1.1, §7.1.2.1).
    pub fn compressed(kind: DataKind, payload: &[u8], window_bits: u8, level: u32) -> Self {
        let window_bits = window_bits.clamp(8, 15);
        let mut compressor = Compressor::new(window_bits, false, level);
        let mut deflated = Vec::with_capacity(payload.len() / 2 + 64);
        compressor.compress(payload, true, &mut deflated);
        Self::from_parts(kind, &deflated, Some(window_bits))
    }

    /// Encodes a frame whose payload is already transformed (compressed with that window).
    fn from_parts(kind: DataKind, payload: &[u8], compressed: Option<u8>) -> Self {
        let opcode = match kind {
            DataKind::Text => Opcode::Text,
            DataKind::Binary => Opcode::Binary,
        };
        let rsv = if compressed.is_some() {
            crate::protocol::frame::RSV1
        } else {
            0
        };
        let header = FrameHeader {
            fin: true,
            rsv,
            opcode,
            mask: None,
            payload_len: payload.len() as u64,
        };
        let mut head = [0u8; MAX_HEADER_LEN];
        let n = header.encode(&mut head);
        // Written straight into the shared allocation: one copy of the payload, where a
        // `Vec` turned into an `Arc` copies it twice (zeroing first costs less than a copy;
        // collecting the bytes themselves is not vectorised).
        let mut bytes: Arc<[u8]> = std::iter::repeat_n(0, n + payload.len()).collect();
        let out = Arc::get_mut(&mut bytes).expect("a new Arc has no other owner");
        out[..n].copy_from_slice(&head[..n]);
        out[n..].copy_from_slice(payload);
        Self {
            bytes,
            kind,
            compressed,
        }
    }

    /// The encoded frame, header included.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The message kind.
    pub fn kind(&self) -> DataKind {
        self.kind
    }

    /// Whether the payload is permessage-deflate compressed (RSV1 set).
    pub fn is_compressed(&self) -> bool {
        self.compressed.is_some()
    }

    /// The window a compressed frame was compressed with.
    pub fn compressed_window(&self) -> Option<u8> {
        self.compressed
    }
}

#[derive(Debug)]
enum Segment {
    Owned(Vec<u8>),
    Shared(Arc<[u8]>),
}

impl Segment {
    /// Gives an owned segment's memory back to the thread's pool (a shared one is released).
    fn recycle(self) {
        if let Segment::Owned(v) = self {
            pool::recycle(v);
        }
    }

    fn bytes(&self) -> &[u8] {
        match self {
            Segment::Owned(v) => v,
            Segment::Shared(s) => s,
        }
    }
}

/// Encoded bytes waiting for the transport, in order. An empty queue is one null pointer:
/// its state is allocated when bytes are queued and freed when they are all written, so an
/// idle connection pays 8 bytes for it.
#[derive(Debug, Default)]
pub(crate) struct OutputQueue {
    inner: Option<Box<Queued>>,
}

/// The state of a queue that holds bytes.
#[derive(Debug)]
struct Queued {
    /// The segment being written.
    head: Segment,
    /// Segments after the head (no allocation while there are none).
    rest: VecDeque<Segment>,
    /// Bytes of `head` already written.
    head_offset: usize,
    /// Unwritten bytes in total.
    len: usize,
    /// Bytes written since the queue was last empty.
    written: u64,
}

impl Queued {
    /// No bytes, no allocation: the state a spare box is kept in.
    fn empty() -> Self {
        Self {
            head: Segment::Owned(Vec::new()),
            rest: VecDeque::new(),
            head_offset: 0,
            len: 0,
            written: 0,
        }
    }

    /// Gives every owned segment back to the thread's pool.
    fn recycle(self) {
        self.head.recycle();
        self.rest.into_iter().for_each(Segment::recycle);
    }
}

impl OutputQueue {
    pub(crate) fn len(&self) -> usize {
        self.inner.as_ref().map_or(0, |q| q.len)
    }

    /// Bytes written since the queue was last empty (0 while it is empty).
    pub(crate) fn written(&self) -> u64 {
        self.inner.as_ref().map_or(0, |q| q.written)
    }

    /// Appends a segment, allocating the queue's state if it was empty.
    fn push(&mut self, seg: Segment, len: usize) {
        match &mut self.inner {
            Some(q) => {
                q.rest.push_back(seg);
                q.len += len;
            }
            None => {
                let mut q = take_spare(&QUEUES).unwrap_or_else(|| Box::new(Queued::empty()));
                q.head = seg;
                q.len = len;
                self.inner = Some(q);
            }
        }
    }

    /// The owned segment at the tail with room for `additional` more bytes.
    pub(crate) fn tail(&mut self, additional: usize) -> &mut Vec<u8> {
        let reuse = self
            .inner
            .as_ref()
            .is_some_and(|q| match q.rest.back().unwrap_or(&q.head) {
                Segment::Owned(v) => {
                    v.len() + additional <= v.capacity().max(MAX_GROWTH) || v.is_empty()
                }
                Segment::Shared(_) => false,
            });
        if reuse {
            if let Some(q) = self.inner.as_mut() {
                q.len += additional;
            }
        } else {
            let seg = Segment::Owned(pool::take(additional, MIN_SEGMENT));
            self.push(seg, additional);
        }
        let Some(q) = self.inner.as_mut() else {
            unreachable!("a segment was just queued")
        };
        match q.rest.back_mut().unwrap_or(&mut q.head) {
            Segment::Owned(v) => {
                v.reserve(additional);
                v
            }
            Segment::Shared(_) => unreachable!("the tail was just made an owned segment"),
        }
    }

    /// Queues a shared frame: a small one is copied behind the frames already queued, so
    /// that a broadcast of many small messages leaves each receiver one contiguous run to
    /// write with one plain `write` (a reference per frame would cost a segment, two
    /// reference-count updates and an I/O vector each, more than copying a few bytes); a
    /// larger one is referenced.
    pub(crate) fn push_shared(&mut self, frame: &SharedFrame) {
        let bytes = &frame.bytes;
        if bytes.len() <= COPY_SHARED_UP_TO {
            self.tail(bytes.len()).extend_from_slice(bytes);
        } else {
            self.push(Segment::Shared(Arc::clone(bytes)), bytes.len());
        }
    }

    /// The first contiguous run of unwritten bytes (empty when nothing is queued).
    pub(crate) fn front(&self) -> &[u8] {
        match &self.inner {
            Some(q) => &q.head.bytes()[q.head_offset..],
            None => &[],
        }
    }

    /// Every run of unwritten bytes in order, for vectored writes.
    pub(crate) fn chunks(&self) -> impl Iterator<Item = &[u8]> {
        let rest = self
            .inner
            .as_ref()
            .map(|q| q.rest.iter().map(Segment::bytes));
        std::iter::once(self.front())
            .filter(|c| !c.is_empty())
            .chain(rest.into_iter().flatten())
    }

    /// Marks `n` bytes as written. `n` larger than what is queued is clamped.
    pub(crate) fn consume(&mut self, n: usize) {
        let Some(q) = self.inner.as_mut() else {
            return;
        };
        let mut n = n.min(q.len);
        q.len -= n;
        q.written += n as u64;
        if q.len == 0 {
            // Nothing queued: hold no memory (an idle connection costs no buffer).
            self.clear();
            return;
        }
        while n > 0 {
            let head_len = q.head.bytes().len() - q.head_offset;
            if n < head_len {
                q.head_offset += n;
                return;
            }
            n -= head_len;
            let Some(next) = q.rest.pop_front() else {
                unreachable!("bytes remain queued after the head")
            };
            std::mem::replace(&mut q.head, next).recycle();
            q.head_offset = 0;
        }
    }

    /// Drops everything queued (the transport is gone), its segments back to the pool.
    pub(crate) fn clear(&mut self) {
        if let Some(mut q) = self.inner.take() {
            std::mem::replace(&mut *q, Queued::empty()).recycle();
            give_spare(&QUEUES, q);
        }
    }
}

impl Drop for OutputQueue {
    /// A connection dropped with bytes still queued gives its segments back too.
    fn drop(&mut self) {
        self.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(q: &OutputQueue) -> Vec<u8> {
        q.chunks().flatten().copied().collect()
    }

    #[test]
    fn owned_and_shared_segments_keep_order_across_partial_writes() {
        let mut q = OutputQueue::default();
        q.tail(3).extend_from_slice(b"abc");
        let shared = SharedFrame::new(DataKind::Binary, &[7; COPY_SHARED_UP_TO]);
        q.push_shared(&shared);
        q.tail(2).extend_from_slice(b"de");
        // Referenced, not copied: the shared bytes are the queue's second run.
        let runs: Vec<&[u8]> = q.chunks().collect();
        assert_eq!(runs.len(), 3);
        assert_eq!(runs[1].as_ptr(), shared.as_bytes().as_ptr());
        let mut expected = b"abc".to_vec();
        expected.extend_from_slice(shared.as_bytes());
        expected.extend_from_slice(b"de");
        assert_eq!(collect(&q), expected);
        assert_eq!(q.len(), expected.len());
        for step in [1, 2, COPY_SHARED_UP_TO + 2, 1] {
            q.consume(step);
            expected.drain(..step);
            assert_eq!(collect(&q), expected);
            assert_eq!(q.front(), &expected[..q.front().len()]);
        }
        assert_eq!(q.written(), COPY_SHARED_UP_TO as u64 + 6);
        q.consume(1000);
        assert_eq!(q.len(), 0);
        assert!(q.inner.is_none());
        assert_eq!(q.written(), 0);
    }

    #[test]
    fn small_frames_share_one_segment() {
        let mut q = OutputQueue::default();
        for _ in 0..10 {
            q.tail(4).extend_from_slice(b"ping");
        }
        assert!(q.inner.as_ref().unwrap().rest.is_empty());
        assert_eq!(q.front().len(), 40);
    }

    #[test]
    fn small_shared_frames_are_copied_into_one_run() {
        let mut q = OutputQueue::default();
        let frames: Vec<SharedFrame> = (0..32u8)
            .map(|i| SharedFrame::new(DataKind::Text, &[b'a' + i % 26; 16]))
            .collect();
        frames.iter().for_each(|f| q.push_shared(f));
        let expected: Vec<u8> = frames.iter().flat_map(|f| f.as_bytes()).copied().collect();
        assert_eq!(q.chunks().count(), 1, "one write for the whole tick");
        assert_eq!(q.front(), &expected[..]);
        assert_eq!(q.len(), 32 * 18);
    }
}
