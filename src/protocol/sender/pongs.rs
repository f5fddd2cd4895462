//! The automatic Pongs (RFC 6455 §5.5.2), bounded: a peer that floods Pings and never reads
//! cannot make the queue grow. RFC 6455 §5.5.3 allows answering "only the most recently
//! processed Ping frame", so past [`MAX_UNWRITTEN_PONGS`] unwritten answers only the latest
//! Ping's payload is kept, and answered once the queue has drained past the others.

use super::Sender;
use crate::protocol::frame::{Opcode, MAX_CONTROL_PAYLOAD};

/// At most this many automatic Pongs wait unwritten; past it only the latest is kept.
const MAX_UNWRITTEN_PONGS: u8 = 16;

/// The payload of a Pong waiting for the queue to drain.
#[derive(Debug)]
pub(super) struct PendingPong {
    len: u8,
    bytes: [u8; MAX_CONTROL_PAYLOAD],
}

impl Sender {
    /// Answers a Ping (RFC 6455 §5.5.2: "Upon receipt of a Ping frame, an endpoint MUST send a
    /// Pong frame in response ... as soon as is practical"), bounded as `pong_end` explains.
    pub(crate) fn answer_ping(&mut self, payload: &[u8]) {
        if !self.is_open() {
            return;
        }
        if self.queue.written() >= self.pong_end {
            self.unwritten_pongs = 0;
        }
        if self.unwritten_pongs < MAX_UNWRITTEN_PONGS {
            self.write_frame(Opcode::Pong, true, 0, payload);
            self.unwritten_pongs += 1;
            self.pong_end = self.queue.written() + self.queue.len() as u64;
        } else {
            let pending = self.extras().pending_pong.get_or_insert_with(|| {
                Box::new(PendingPong {
                    len: 0,
                    bytes: [0; MAX_CONTROL_PAYLOAD],
                })
            });
            pending.bytes[..payload.len()].copy_from_slice(payload);
            pending.len = payload.len() as u8;
        }
    }

    /// Called after bytes were written: a Pong held back may now be queued. The queue
    /// counts written bytes from when it was last empty, so once it is empty again every
    /// Pong went out and the count starts over.
    pub(crate) fn on_written(&mut self) {
        if self.queue.len() == 0 {
            self.unwritten_pongs = 0;
            self.pong_end = 0;
        }
        if self.queue.written() >= self.pong_end {
            if let Some(p) = self.extras.as_mut().and_then(|e| e.pending_pong.take()) {
                self.answer_ping(&p.bytes[..p.len as usize]);
            }
        }
    }
}
