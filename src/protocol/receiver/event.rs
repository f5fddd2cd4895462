//! The events a receiver hands out: located by ranges while the frames are processed, then
//! lent out as slices of the receive buffer (zero copy) or of the reassembly buffer.

use super::flight::Input;
use crate::protocol::close::CloseCode;
use crate::protocol::message::{Chunk, DataKind, Event, Message};

/// An event located by ranges, built before the buffers are borrowed for the caller.
pub(super) enum Ready {
    Frame {
        kind: DataKind,
        at: usize,
        len: usize,
    },
    Assembled(DataKind),
    AssembledChunk {
        kind: DataKind,
        first: bool,
        last: bool,
    },
    Chunk {
        kind: DataKind,
        at: usize,
        len: usize,
        first: bool,
        last: bool,
    },
    Ping {
        at: usize,
        len: usize,
    },
    Pong {
        at: usize,
        len: usize,
    },
    Closed {
        code: CloseCode,
        at: usize,
        len: usize,
    },
}

impl Ready {
    /// Whether this event completes a data message.
    pub(super) fn ends_message(&self) -> bool {
        match self {
            Ready::Frame { .. } | Ready::Assembled(_) => true,
            Ready::AssembledChunk { last, .. } | Ready::Chunk { last, .. } => *last,
            Ready::Ping { .. } | Ready::Pong { .. } | Ready::Closed { .. } => false,
        }
    }
}

impl Input {
    /// The event `ready` locates, borrowing the buffers it lies in.
    pub(super) fn event(&self, ready: Ready) -> Event<'_> {
        let (buf, assembled) = (&self.buf, &self.assembled);
        match ready {
            Ready::Frame { kind, at, len } => Event::Message(message(kind, &buf[at..at + len])),
            Ready::Assembled(kind) => Event::Message(message(kind, assembled)),
            Ready::AssembledChunk { kind, first, last } => Event::Chunk(Chunk {
                kind,
                data: assembled,
                first,
                last,
            }),
            Ready::Chunk {
                kind,
                at,
                len,
                first,
                last,
            } => Event::Chunk(Chunk {
                kind,
                data: &buf[at..at + len],
                first,
                last,
            }),
            Ready::Ping { at, len } => Event::Ping(&buf[at..at + len]),
            Ready::Pong { at, len } => Event::Pong(&buf[at..at + len]),
            Ready::Closed { code, at, len } => Event::Closed {
                code,
                reason: std::str::from_utf8(&buf[at..at + len]).unwrap_or_default(),
            },
        }
    }
}

fn message(kind: DataKind, payload: &[u8]) -> Message<'_> {
    match kind {
        DataKind::Text => Message::Text(text(payload)),
        DataKind::Binary => Message::Binary(payload),
    }
}

/// A text payload the receiver has validated as UTF-8, byte by byte, as it arrived.
fn text(payload: &[u8]) -> &str {
    // The invariant the `unsafe` below relies on, checked wherever debug assertions are on:
    // in `cargo test` and in the fuzz targets (`cargo fuzz` builds with them by default).
    debug_assert!(
        std::str::from_utf8(payload).is_ok(),
        "a text payload its UTF-8 validator did not see whole"
    );
    // SAFETY: every text payload handed out was fed in full, in order, through the message's
    // `Utf8Validator` (`Content::check`, as it arrived or was inflated), and
    // `Content::finish` checked it ended on a character boundary; the validator agrees with
    // `std::str::from_utf8` (tests in utf8.rs and the `utf8` fuzz target). The benchmark
    // `text_message/validate_twice` measures what the second pass this avoids would cost.
    unsafe { std::str::from_utf8_unchecked(payload) }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Only where debug assertions are on: without them, this would be undefined behaviour.
    #[cfg(debug_assertions)]
    #[test]
    #[should_panic(expected = "UTF-8 validator did not see whole")]
    fn text_that_skipped_validation_fails_the_debug_assertion() {
        let _ = text(b"caf\xe9");
    }

    #[test]
    fn validated_text_is_handed_out_as_is() {
        assert_eq!(text("κόσμε".as_bytes()), "κόσμε");
    }
}
