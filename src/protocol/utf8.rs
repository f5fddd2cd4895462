//! Incremental UTF-8 validation that fails at the first invalid byte, however the text is split.
//!
//! Implements the receiving side of
//! [RFC 6455 §8.1](https://www.rfc-editor.org/rfc/rfc6455#section-8.1): "When an endpoint is to
//! interpret a byte stream as UTF-8 but finds that the byte stream is not, in fact, a valid
//! UTF-8 stream, that endpoint MUST _Fail the WebSocket Connection_", with UTF-8 as defined by
//! [RFC 3629](https://www.rfc-editor.org/rfc/rfc3629) (no overlongs, no surrogates, nothing
//! above U+10FFFF).
//!
//! The bulk of each piece goes through `std::str::from_utf8` (the standard library's validator
//! is vectorized for ASCII); only a character cut by a piece boundary is carried over, in at
//! most 3 bytes. A cut character is checked as far as it goes: `F4 90` is refused at once,
//! before the rest arrives, because no character above U+10FFFF can start that way.

/// A byte sequence is not valid UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidUtf8;

/// Validates UTF-8 fed in pieces of any size.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Utf8Validator {
    /// The start of a character cut at the end of the last piece.
    partial: [u8; 4],
    /// How many bytes of `partial` are used (0 when the last piece ended on a boundary).
    partial_len: u8,
}

/// The length of the character that starts with `lead` (0 for a byte no character starts with).
#[inline]
fn char_len(lead: u8) -> usize {
    match lead {
        0x00..=0x7F => 1,
        0xC2..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF4 => 4,
        _ => 0,
    }
}

impl Utf8Validator {
    /// A validator at the start of a text.
    pub const fn new() -> Self {
        Self {
            partial: [0; 4],
            partial_len: 0,
        }
    }

    /// Validates the next piece. Fails as soon as the bytes seen so far cannot be the start of
    /// valid UTF-8.
    #[inline]
    pub fn feed(&mut self, mut piece: &[u8]) -> Result<(), InvalidUtf8> {
        if self.partial_len > 0 {
            piece = self.complete_partial(piece)?;
        }
        match std::str::from_utf8(piece) {
            Ok(_) => Ok(()),
            Err(err) => {
                if err.error_len().is_some() {
                    return Err(InvalidUtf8);
                }
                // The piece ends inside a character whose first bytes are valid so far.
                let tail = &piece[err.valid_up_to()..];
                self.partial[..tail.len()].copy_from_slice(tail);
                self.partial_len = tail.len() as u8;
                Ok(())
            }
        }
    }

    /// Takes bytes from `piece` to finish the carried-over character, returning the rest.
    fn complete_partial<'a>(&mut self, piece: &'a [u8]) -> Result<&'a [u8], InvalidUtf8> {
        let have = self.partial_len as usize;
        let need = char_len(self.partial[0]) - have;
        let take = need.min(piece.len());
        self.partial[have..have + take].copy_from_slice(&piece[..take]);
        let candidate = &self.partial[..have + take];
        match std::str::from_utf8(candidate) {
            Ok(_) => self.partial_len = 0,
            Err(err) if err.error_len().is_some() => return Err(InvalidUtf8),
            Err(_) => self.partial_len = (have + take) as u8,
        }
        Ok(&piece[take..])
    }

    /// Whether the text so far ends on a character boundary: a message must, when it ends.
    #[inline]
    pub fn is_complete(&self) -> bool {
        self.partial_len == 0
    }

    /// Ends the text: fails if it stopped inside a character. Resets for the next text.
    #[inline]
    pub fn finish(&mut self) -> Result<(), InvalidUtf8> {
        let complete = self.is_complete();
        *self = Self::new();
        if complete {
            Ok(())
        } else {
            Err(InvalidUtf8)
        }
    }
}

/// Validates `data` split at every position into two pieces, and one byte at a time, and
/// returns whether all agree with `std::str::from_utf8`. Used by the tests and the fuzz
/// target; unstable, not for users (feature `bench-hooks`).
#[cfg(any(test, feature = "bench-hooks"))]
pub fn agrees_with_std_on_every_split(data: &[u8]) -> bool {
    let expected = std::str::from_utf8(data).is_ok();
    fn run<'a>(pieces: impl Iterator<Item = &'a [u8]>) -> bool {
        let mut v = Utf8Validator::new();
        let mut pieces = pieces;
        pieces.all(|p| v.feed(p).is_ok()) && v.finish().is_ok()
    }
    (0..=data.len()).all(|cut| {
        let (a, b) = data.split_at(cut);
        run([a, b].into_iter()) == expected
    }) && run(data.chunks(1)) == expected
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first_failure_byte_at_a_time(data: &[u8]) -> Option<usize> {
        let mut v = Utf8Validator::new();
        data.iter()
            .position(|b| v.feed(std::slice::from_ref(b)).is_err())
    }

    #[test]
    fn agrees_with_std_on_samples() {
        let samples: &[&[u8]] = &[
            b"",
            b"hello",
            "κόσμε".as_bytes(),
            "\u{10FFFF}\u{0800}\u{FFFF}".as_bytes(),
            b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited",
            b"\xf4\x90\x80\x80",
            b"\xc0\xaf",
            b"\xe0\x80\xaf",
            b"\xed\x9f\xbf\xee\x80\x80",
            b"\xf0\x9f\x98\x80",
            b"\xf0\x9f\x98",
            b"\x80",
            b"\xff",
        ];
        for s in samples {
            assert!(agrees_with_std_on_every_split(s), "{s:?}");
        }
    }

    #[test]
    fn fails_fast_at_the_first_impossible_byte() {
        // Autobahn 6.4.x: the validator must stop at the byte that makes the text invalid,
        // not at the end of the character or the message.
        assert_eq!(first_failure_byte_at_a_time(b"ab\xf4\x90\x80\x80"), Some(3));
        assert_eq!(first_failure_byte_at_a_time(b"\xed\xa0\x80"), Some(1));
        assert_eq!(first_failure_byte_at_a_time(b"\xe0\x80"), Some(1));
        assert_eq!(first_failure_byte_at_a_time(b"a\xc0"), Some(1));
        assert_eq!(first_failure_byte_at_a_time(b"\xce\xba\xff"), Some(2));
        assert_eq!(first_failure_byte_at_a_time("κόσμε".as_bytes()), None);
    }

    #[test]
    fn a_text_may_not_end_inside_a_character() {
        let mut v = Utf8Validator::new();
        v.feed(b"\xe2\x82").unwrap();
        assert!(!v.is_complete());
        assert_eq!(v.finish(), Err(InvalidUtf8));
        // finish() resets for the next message.
        v.feed(b"ok").unwrap();
        assert_eq!(v.finish(), Ok(()));
    }
}
