//! Large messages written straight from the caller's bytes: when nothing is queued, a big
//! frame's header and payload go to the transport as they are, and only what it did not
//! take is copied into the output queue.
//!
//! The bytes on the wire are the ones [`Sender::send`] would queue (RFC 6455 §5.2 framing,
//! unmasked as RFC 6455 §5.1 requires of a server), in the same order: the shortcut is
//! taken only when the queue is empty, so nothing queued earlier can be overtaken.

use std::io::IoSlice;

use super::Sender;
use crate::error::UsageError;
use crate::protocol::frame::{FrameHeader, Opcode, MAX_HEADER_LEN};
use crate::protocol::message::Message;

/// Payloads from this size (8 KiB) are written directly: below it, copying into the queue
/// and writing every connection once per tick costs less than a system call per message.
pub const DIRECT_MIN: usize = 8 << 10;

impl Sender {
    /// Sends a message like [`Sender::send`], but when nothing is queued, the frame is
    /// unmasked and uncompressed, and the payload is at least [`DIRECT_MIN`] bytes, first
    /// offers it to `write` (the header and the payload, in order), which returns how many
    /// bytes it took (0 if the transport would block or failed: a failure is met again when
    /// the queue is written). The rest is queued.
    ///
    /// A runtime calls it when it can write at once (the mio server's `Conn::send` does): it
    /// saves copying a large payload into the queue only to write it from there.
    pub fn send_through(
        &mut self,
        message: Message<'_>,
        write: impl FnOnce(&[IoSlice<'_>]) -> usize,
    ) -> Result<(), UsageError> {
        let payload = message.as_bytes();
        let direct = payload.len() >= DIRECT_MIN
            && self.is_open()
            && self.fragmented.is_none()
            && self.mask_keys().is_none()
            && self.queue.len() == 0
            && !self.compresses(payload.len());
        if !direct {
            return self.send(message);
        }
        let opcode = match message {
            Message::Text(_) => Opcode::Text,
            Message::Binary(_) => Opcode::Binary,
        };
        let header = FrameHeader {
            fin: true,
            rsv: 0,
            opcode,
            mask: None,
            payload_len: payload.len() as u64,
        };
        let mut head = [0u8; MAX_HEADER_LEN];
        let n = header.encode(&mut head);
        let taken = write(&[IoSlice::new(&head[..n]), IoSlice::new(payload)]);
        self.queue_rest(&head[..n], payload, taken);
        Ok(())
    }

    /// Queues what the transport did not take of `head` then `payload`.
    fn queue_rest(&mut self, head: &[u8], payload: &[u8], taken: usize) {
        let total = head.len() + payload.len();
        let taken = taken.min(total);
        if taken == total {
            return;
        }
        let out = self.queue.tail(total - taken);
        if taken < head.len() {
            out.extend_from_slice(&head[taken..]);
            out.extend_from_slice(payload);
        } else {
            out.extend_from_slice(&payload[taken - head.len()..]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::close::CloseCode;
    use crate::protocol::connection::Role;

    fn server() -> Sender {
        Sender::new(Role::Server, None, None)
    }

    fn queued(tx: &Sender) -> Vec<u8> {
        tx.output_chunks().flatten().copied().collect()
    }

    /// The frame `send` would queue for `payload`.
    fn expected(payload: &[u8]) -> Vec<u8> {
        let mut tx = server();
        tx.send_binary(payload).unwrap();
        queued(&tx)
    }

    #[test]
    fn what_the_transport_takes_plus_what_is_queued_is_the_frame() {
        let payload: Vec<u8> = (0..DIRECT_MIN + 100).map(|i| i as u8).collect();
        let frame = expected(&payload);
        for take in [0, 1, 3, 4, 5, 1000, frame.len() - 1, frame.len()] {
            let mut tx = server();
            let mut written = Vec::new();
            tx.send_through(Message::Binary(&payload), |parts| {
                let all: Vec<u8> = parts.iter().flat_map(|p| p.iter().copied()).collect();
                written.extend_from_slice(&all[..take]);
                take
            })
            .unwrap();
            written.extend(queued(&tx));
            assert_eq!(written, frame, "transport took {take}");
        }
    }

    #[test]
    fn small_messages_and_a_busy_queue_are_queued_not_written() {
        let mut tx = server();
        let small = vec![7u8; DIRECT_MIN - 1];
        tx.send_through(Message::Binary(&small), |_| unreachable!("small"))
            .unwrap();
        let big = vec![8u8; DIRECT_MIN];
        tx.send_through(Message::Binary(&big), |_| unreachable!("queue busy"))
            .unwrap();
        let mut frames = expected(&small);
        frames.extend(expected(&big));
        assert_eq!(queued(&tx), frames);
    }

    #[test]
    fn a_client_masks_so_it_never_writes_directly() {
        let mut tx = Sender::new(Role::Client, Some(Box::new(|| [1, 2, 3, 4])), None);
        let big = vec![8u8; DIRECT_MIN];
        tx.send_through(Message::Binary(&big), |_| unreachable!("masked"))
            .unwrap();
        assert!(tx.buffered_amount() > big.len());
    }

    #[test]
    fn after_the_close_it_refuses_like_send() {
        let mut tx = server();
        tx.close(CloseCode::Normal, "").unwrap();
        let big = vec![8u8; DIRECT_MIN];
        let result = tx.send_through(Message::Binary(&big), |_| unreachable!("closed"));
        assert_eq!(result, Err(UsageError::Closed));
    }
}
