//! Read buffers lent to connections while they read and taken back when they hold nothing,
//! for every runtime: an idle connection keeps no receive buffer.
//!
//! Memory for what [RFC 6455 §5](https://www.rfc-editor.org/rfc/rfc6455#section-5) frames
//! arrive in; the [`Receiver`] decides when its buffer is idle
//! ([`Receiver::take_idle_buffer`]).

use crate::protocol::large_buffers;
use crate::protocol::Receiver;

/// Read buffers lent to connections while they read and taken back when they hold nothing,
/// so that an idle connection keeps no buffer (one pool per event loop or thread).
pub(crate) struct ReadBuffers {
    free: Vec<Vec<u8>>,
    /// The size connections read with; larger buffers (grown for a big frame) are freed.
    size: usize,
    /// Most buffers kept for reuse.
    keep: usize,
}

impl ReadBuffers {
    pub(crate) fn new(size: usize, keep: usize) -> Self {
        Self {
            free: Vec::new(),
            size,
            keep,
        }
    }

    /// The size connections read with.
    pub(crate) fn size(&self) -> usize {
        self.size
    }

    /// Gives `rx` a pooled buffer if it holds none.
    pub(crate) fn lend(&mut self, rx: &mut Receiver) {
        if rx.needs_buffer() {
            if let Some(buf) = self.free.pop() {
                rx.provide_buffer(buf);
            }
        }
    }

    /// Takes back `rx`'s buffer if it holds no unprocessed input. One grown for a large
    /// frame is kept for the next large frame instead (`protocol::large_buffers`).
    pub(crate) fn take_back(&mut self, rx: &mut Receiver) {
        if let Some(buf) = rx.take_idle_buffer() {
            if buf.len() > 2 * self.size {
                large_buffers::give(buf);
            } else if self.free.len() < self.keep {
                self.free.push(buf);
            }
        }
    }
}
