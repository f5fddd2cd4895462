//! Streamed delivery ([`MessageDelivery::Streamed`](crate::config::MessageDelivery)): each
//! data frame handed out as chunks while it arrives, straight from the receive buffer, or
//! inflated into chunks of bounded size (RFC 7692 §7.2.2), so that a message of any size
//! streams through in bounded memory.

use super::flight::{Coding, DataFrame, Incoming, Input};
use super::{Progress, Ready, Receiver, Step};
use crate::error::ProtocolError;

/// In streamed delivery, a compressed message is inflated into chunks of at most this size.
const INFLATED_CHUNK: usize = 64 << 10;

impl Receiver {
    /// The newly arrived part of a data frame, as a chunk. Each chunk is released from the
    /// buffer at the next call, so a frame of any size streams in bounded memory.
    pub(super) fn stream(
        &mut self,
        input: &mut Input,
        frame: &mut DataFrame,
        message: &mut Incoming,
    ) -> Result<Progress, ProtocolError> {
        let Coding::Deflate { inflater, inflated } = &mut message.coding else {
            return self.stream_plain(input, frame, message);
        };
        input.assembled.clear();
        let new = input.start..input.start + (frame.payload.unmasked - frame.released);
        let used = inflater
            .inflate(&input.buf[new], &mut input.assembled, INFLATED_CHUNK - 1)
            .map_err(|_| ProtocolError::InvalidCompressedData)?;
        frame.released += used;
        let complete = frame.released == frame.payload.len;
        let last = complete && frame.fin;
        if last {
            inflater
                .end_message(&mut input.assembled, 2 * INFLATED_CHUNK)
                .map_err(|_| ProtocolError::InvalidCompressedData)?;
        }
        *inflated += input.assembled.len();
        if *inflated > self.config.max_message_size {
            return Err(ProtocolError::MessageTooLarge);
        }
        message.content.check(&input.assembled)?;
        let starts_empty_message = complete && !message.started;
        if input.assembled.is_empty() && !last && !starts_empty_message {
            // Input fed to the inflater is no longer needed.
            input.start += used;
            return Ok(no_chunk(frame, complete));
        }
        input.release_frame = used;
        let (kind, first) = (message.content.kind(), !message.started);
        message.started = true;
        let ready = Ready::AssembledChunk { kind, first, last };
        self.after_chunk(message, ready, complete, last)
    }

    /// The newly arrived part of a plain data frame: a slice of the receive buffer.
    fn stream_plain(
        &mut self,
        input: &mut Input,
        frame: &mut DataFrame,
        message: &mut Incoming,
    ) -> Result<Progress, ProtocolError> {
        let complete = frame.payload.complete();
        let last = complete && frame.fin;
        let fresh = frame.payload.unmasked > frame.released;
        // An empty piece is still worth an event when it starts or ends the message.
        let starts_empty_message = complete && !message.started;
        if !(fresh || last || starts_empty_message) {
            return Ok(no_chunk(frame, complete));
        }
        let (at, len) = (input.start, frame.payload.unmasked - frame.released);
        let (kind, first) = (message.content.kind(), !message.started);
        message.started = true;
        frame.released = frame.payload.unmasked;
        input.release_frame = len;
        let ready = Ready::Chunk {
            kind,
            at,
            len,
            first,
            last,
        };
        self.after_chunk(message, ready, complete, last)
    }

    /// Where a chunk leaves the message: it ends with its `last` chunk, its frame with the
    /// frame's last (`complete`).
    fn after_chunk(
        &mut self,
        message: &mut Incoming,
        ready: Ready,
        complete: bool,
        last: bool,
    ) -> Result<Progress, ProtocolError> {
        if last {
            self.end_message(message)?;
            Ok(Progress::Ended(ready))
        } else if complete {
            Ok(Progress::FrameDone(Step::Event(ready)))
        } else {
            Ok(Progress::Continues(Step::Event(ready)))
        }
    }
}

/// No chunk to hand out: on to the next frame once this one is `complete`; to the next
/// bytes while its payload is still arriving.
fn no_chunk(frame: &DataFrame, complete: bool) -> Progress {
    let step = if frame.payload.complete() {
        Step::Next
    } else {
        Step::NeedInput
    };
    if complete {
        Progress::FrameDone(step)
    } else {
        Progress::Continues(step)
    }
}
