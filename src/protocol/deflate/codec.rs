//! Compressing and decompressing message payloads as permessage-deflate defines them.
//!
//! Implements [RFC 7692 §7.2](https://www.rfc-editor.org/rfc/rfc7692#section-7.2): a message
//! is compressed as DEFLATE data ending in an empty stored block (a sync flush), whose final
//! `00 00 ff ff` is removed before sending and appended again before inflating.
//!
//! Inflation is bounded: output is produced in steps and never exceeds the caller's cap by
//! more than one byte, so a small message that would inflate to gigabytes fails after
//! inflating just past the message size limit (the zip-bomb guard).

use flate2::{Compress, Decompress, FlushCompress, FlushDecompress, Status};

use super::pool;

/// RFC 7692 §7.2.2: "Append 4 octets of 0x00 0x00 0xff 0xff to the tail end of the payload".
pub(crate) const TRAILER: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// Output is produced at most this much at a time.
const STEP: usize = 64 << 10;

/// Output is produced at least this much at a time (unless the cap is nearer).
const MIN_STEP: usize = 256;

/// One side's compressor: its agreed window, whether context is kept across messages, and
/// the zlib state (absent between messages when it is pooled).
pub(crate) struct Compressor {
    state: Option<Box<Compress>>,
    /// The agreed window (8–15).
    window_bits: u8,
    context_takeover: bool,
    level: u32,
}

impl Compressor {
    pub(crate) fn new(window_bits: u8, context_takeover: bool, level: u32) -> Self {
        Self {
            state: None,
            window_bits,
            context_takeover,
            level: level.min(9),
        }
    }

    /// zlib's window and level for the agreed window. zlib and zlib-rs refuse a raw deflate
    /// window of 8 bits (flate2 takes 9 to 15), and compressing with 9 would break the agreed
    /// limit (RFC 7692 §7.1.2.1), so with 8 we use window 9 at level 0: stored blocks, which
    /// reference no earlier data and therefore decode with any window.
    fn zlib_params(&self) -> (u8, u32) {
        if self.window_bits < 9 {
            (9, 0)
        } else {
            (self.window_bits, self.level)
        }
    }

    /// Appends the compressed form of one fragment of a message to `out`. The last fragment
    /// (`fin`) ends the message: its trailing `00 00 ff ff` is removed (RFC 7692 §7.2.1), and
    /// without context takeover the state is reset for the next message.
    pub(crate) fn compress(&mut self, input: &[u8], fin: bool, out: &mut Vec<u8>) {
        let (zw, zl) = self.zlib_params();
        let state = self
            .state
            .get_or_insert_with(|| pool::take_compressor(zw, zl));
        let start = out.len();
        let mut consumed = 0;
        loop {
            out.reserve(input.len() - consumed + 64);
            let before = state.total_in();
            // Sync flush: every byte fed so far is decodable from this fragment's output.
            state
                .compress_vec(&input[consumed..], out, FlushCompress::Sync)
                .expect("deflate cannot fail on valid state");
            consumed += (state.total_in() - before) as usize;
            // Done when all input is in and the flush had room to finish.
            if consumed == input.len() && out.len() < out.capacity() {
                break;
            }
        }
        if fin {
            // §7.2.1: "Remove 4 octets (that are 0x00 0x00 0xff 0xff) from the tail end."
            if out.len() >= start + 4 && out[out.len() - 4..] == TRAILER {
                out.truncate(out.len() - 4);
            }
            if out.len() == start {
                // §7.2.3.6: an empty message still needs a DEFLATE block: 0x00 is the start
                // of an empty stored block, which the receiver's appended trailer completes.
                out.push(0x00);
            }
            if !self.context_takeover {
                self.release();
            }
        }
    }

    /// Returns the state to the pool (no context takeover: it is not needed until the next
    /// message).
    fn release(&mut self) {
        if let Some(state) = self.state.take() {
            let (zw, zl) = self.zlib_params();
            pool::give_compressor(zw, zl, state);
        }
    }

    /// The agreed window.
    pub(crate) fn window_bits(&self) -> u8 {
        self.window_bits
    }

    /// Whether context is kept across messages.
    pub(crate) fn context_takeover(&self) -> bool {
        self.context_takeover
    }
}

impl std::fmt::Debug for Compressor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compressor")
            .field("window_bits", &self.window_bits)
            .field("context_takeover", &self.context_takeover)
            .field("level", &self.level)
            .field("allocated", &self.state.is_some())
            .finish()
    }
}

impl Drop for Compressor {
    fn drop(&mut self) {
        // Reset states serve any connection with the same parameters.
        self.release();
    }
}

/// The compressed data of a message is not valid DEFLATE (RFC 7692 §6.2: "the receiving
/// endpoint MUST _Fail the WebSocket Connection_").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CorruptData;

/// One side's decompressor (RFC 7692 §7.2.2): inflates each message's payload, fragment by
/// fragment, into a caller's buffer that never grows past a cap (the zip-bomb guard).
///
/// [`Connection`](crate::protocol::Connection) uses one per connection once deflate is
/// agreed. It is public only with the unstable `bench-hooks` feature, for the `inflate` fuzz
/// target, which tests it on its own.
pub struct Decompressor {
    state: Option<Box<Decompress>>,
    window_bits: u8,
    context_takeover: bool,
    /// The sender ended its DEFLATE stream with a BFINAL block inside this message
    /// (RFC 7692 §7.2.3.4 allows it): the rest of the message is ignored.
    stream_ended: bool,
}

impl Decompressor {
    /// A decompressor for the agreed window (8–15 bits), keeping the LZ77 window across
    /// messages with `context_takeover` (RFC 7692 §7.1.1). Its zlib state is taken from a
    /// per-thread pool at the first byte inflated.
    pub fn new(window_bits: u8, context_takeover: bool) -> Self {
        // flate2 takes windows of 9 to 15 bits only; a larger window decodes any stream made
        // with a smaller one, so an agreed 8 inflates with 9.
        Self {
            state: None,
            window_bits: window_bits.max(9),
            context_takeover,
            stream_ended: false,
        }
    }

    /// Inflates `input`, appending to `out` until all input is consumed or `out` holds more
    /// than `cap` bytes. Returns how much input was consumed (less than all only when the
    /// cap stopped it).
    ///
    /// `out` never holds more than `cap + 1` bytes, nor has this call grow its capacity past
    /// `cap + 1` (any `cap` is accepted, `usize::MAX` included): the caller sees the message
    /// is too large by `out.len() > cap`.
    ///
    /// # Errors
    ///
    /// [`CorruptData`] when `input` is not valid DEFLATE data.
    pub fn inflate(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        cap: usize,
    ) -> Result<usize, CorruptData> {
        let window_bits = self.window_bits;
        let state = self
            .state
            .get_or_insert_with(|| pool::take_decompressor(window_bits));
        // The most `out` may hold: one byte past the cap says the cap was crossed.
        let limit = cap.saturating_add(1);
        let mut consumed = 0;
        loop {
            if self.stream_ended {
                // After a BFINAL block the DEFLATE stream is over; RFC 7692 §7.2.3.4 then has
                // the sender add the header of an empty stored block (0x00) that our trailer
                // completes. Like zlib, ignore what follows the end of the stream.
                return Ok(input.len());
            }
            if out.len() > cap {
                return Ok(consumed);
            }
            // Room for this step: what the rest of the input may inflate to, growing with the
            // output so far (a chat message gets hundreds of bytes, not a 64 KiB buffer to
            // zero), between MIN_STEP and STEP and never past the cap.
            let guess = (input.len() - consumed).saturating_mul(4).max(out.len());
            let room = guess.clamp(MIN_STEP, STEP).min(limit - out.len());
            let len = out.len();
            if out.capacity() < len + room {
                // Grow geometrically, but never past the cap: memory stays within the limit.
                let target = out.capacity().saturating_mul(2).clamp(len + room, limit);
                out.reserve_exact(target - len);
            }
            out.resize(len + room, 0);
            let (in_before, out_before) = (state.total_in(), state.total_out());
            let status =
                state.decompress(&input[consumed..], &mut out[len..], FlushDecompress::Sync);
            let used = (state.total_in() - in_before) as usize;
            let made = (state.total_out() - out_before) as usize;
            out.truncate(len + made);
            consumed += used;
            match status {
                Ok(Status::StreamEnd) => self.stream_ended = true,
                Ok(_) if used == 0 && made == 0 => {
                    // No progress with input left and room to write: the data is stuck.
                    return if consumed == input.len() {
                        Ok(consumed)
                    } else {
                        Err(CorruptData)
                    };
                }
                Ok(_) => {}
                Err(_) => return Err(CorruptData),
            }
            if consumed == input.len() && made < room {
                return Ok(consumed);
            }
        }
    }

    /// Ends a message: inflates the trailer `00 00 ff ff` (RFC 7692 §7.2.2, unless the stream
    /// already ended) into `out` within the same `cap` as [`inflate`](Self::inflate) and,
    /// without context takeover, returns the state to the pool for the next message.
    ///
    /// # Errors
    ///
    /// [`CorruptData`] when the message's data does not end where a DEFLATE block may end.
    pub fn end_message(&mut self, out: &mut Vec<u8>, cap: usize) -> Result<(), CorruptData> {
        if !self.stream_ended {
            self.inflate(&TRAILER, out, cap)?;
        }
        if self.stream_ended {
            // A new DEFLATE stream starts with the next message.
            if let Some(state) = self.state.as_mut() {
                state.reset(false);
            }
            self.stream_ended = false;
        }
        if !self.context_takeover {
            self.release();
        }
        Ok(())
    }

    fn release(&mut self) {
        if let Some(state) = self.state.take() {
            pool::give_decompressor(self.window_bits, state);
        }
    }
}

impl std::fmt::Debug for Decompressor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decompressor")
            .field("window_bits", &self.window_bits)
            .field("context_takeover", &self.context_takeover)
            .field("allocated", &self.state.is_some())
            .finish()
    }
}

impl Drop for Decompressor {
    fn drop(&mut self) {
        self.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inflates_the_example_of_rfc_7692_section_7_2_3_1() {
        // "Hello" in one compressed DEFLATE block, its 00 00 ff ff tail removed.
        let mut inflater = Decompressor::new(15, false);
        let mut out = Vec::new();
        inflater
            .inflate(&[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00], &mut out, 1024)
            .unwrap();
        inflater.end_message(&mut out, 1024).unwrap();
        assert_eq!(out, b"Hello");
    }

    fn compress_message(c: &mut Compressor, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        c.compress(data, true, &mut out);
        out
    }

    fn inflate_message(
        d: &mut Decompressor,
        data: &[u8],
        cap: usize,
    ) -> Result<Vec<u8>, CorruptData> {
        let mut out = Vec::new();
        d.inflate(data, &mut out, cap)?;
        d.end_message(&mut out, cap)?;
        Ok(out)
    }

    #[test]
    fn round_trip_every_window_with_and_without_context() {
        let text = b"{\"type\":\"message\",\"text\":\"hello hello hello world\"}".repeat(50);
        for window in 8..=15u8 {
            for takeover in [false, true] {
                let mut c = Compressor::new(window, takeover, 6);
                // The decompressor uses exactly the agreed window (9 for 8): a stream
                // referring further back would fail here.
                let mut d = Decompressor::new(window, takeover);
                for _ in 0..3 {
                    let wire = compress_message(&mut c, &text);
                    assert_eq!(
                        inflate_message(&mut d, &wire, 1 << 20).unwrap(),
                        text,
                        "w{window} {takeover}"
                    );
                }
            }
        }
    }

    #[test]
    fn empty_message_is_a_single_zero_byte() {
        let mut c = Compressor::new(15, false, 6);
        assert_eq!(compress_message(&mut c, b""), [0x00]);
        let mut d = Decompressor::new(15, false);
        assert_eq!(inflate_message(&mut d, &[0x00], 10).unwrap(), b"");
    }

    #[test]
    fn fragments_concatenate_to_the_message() {
        let mut c = Compressor::new(15, true, 6);
        let mut wire = Vec::new();
        c.compress(b"Hello, ", false, &mut wire);
        c.compress(b"fragmented ", false, &mut wire);
        c.compress(b"world", true, &mut wire);
        let mut d = Decompressor::new(15, true);
        assert_eq!(
            inflate_message(&mut d, &wire, 100).unwrap(),
            b"Hello, fragmented world"
        );
    }

    #[test]
    fn inflation_stops_just_past_the_cap() {
        let zeros = vec![0u8; 16 << 20];
        let mut c = Compressor::new(15, false, 9);
        let bomb = compress_message(&mut c, &zeros);
        assert!(
            bomb.len() < 32 << 10,
            "16 MiB of zeros compress to {} bytes",
            bomb.len()
        );
        let mut d = Decompressor::new(15, false);
        let mut out = Vec::new();
        let cap = 1 << 20;
        d.inflate(&bomb, &mut out, cap).unwrap();
        assert_eq!(out.len(), cap + 1, "stops one byte past the cap");
        assert!(
            out.capacity() <= cap + 1,
            "memory stays bounded: {}",
            out.capacity()
        );
    }

    #[test]
    fn a_cap_of_usize_max_does_not_overflow() {
        let text = b"no limit at all, no limit at all".repeat(100);
        let mut c = Compressor::new(15, false, 6);
        let wire = compress_message(&mut c, &text);
        let mut d = Decompressor::new(15, false);
        assert_eq!(inflate_message(&mut d, &wire, usize::MAX).unwrap(), text);
    }

    #[test]
    fn growth_never_passes_one_byte_past_the_cap() {
        let zeros = vec![0u8; 1 << 20];
        let mut c = Compressor::new(15, false, 9);
        let bomb = compress_message(&mut c, &zeros);
        for cap in [0, 1, 255, 256, 1000, 1500, 4095, 65_536, 100_000, 300_001] {
            for start in [0, 1, 700, 1024] {
                let mut d = Decompressor::new(15, false);
                let mut out = Vec::with_capacity(start);
                let capacity = out.capacity();
                d.inflate(&bomb, &mut out, cap).unwrap();
                assert_eq!(out.len(), cap + 1, "cap {cap}");
                assert!(
                    out.capacity() <= (cap + 1).max(capacity),
                    "cap {cap}, start {start}: capacity {}",
                    out.capacity()
                );
            }
        }
    }

    #[test]
    fn a_small_message_inflates_into_a_small_buffer() {
        let text = br#"{"type":"message","room":"general","text":"see you at the standup"}"#;
        let mut c = Compressor::new(15, false, 6);
        let wire = compress_message(&mut c, text);
        let mut d = Decompressor::new(15, false);
        let out = inflate_message(&mut d, &wire, 16 << 20).unwrap();
        assert_eq!(out, text);
        // Not a 64 KiB step (grown to 128 KiB for the trailer) zeroed for every message.
        assert!(out.capacity() <= 1024, "capacity {}", out.capacity());
    }

    /// Walks a raw DEFLATE stream's blocks and says whether every one is a stored block (such
    /// a stream refers to no earlier data, so it decodes with any window, 8 bits included).
    fn only_stored_blocks(data: &[u8]) -> bool {
        let mut at = 0;
        while at < data.len() {
            // Each block here starts byte-aligned (after a sync flush or a stored block).
            if (data[at] >> 1) & 0b11 != 0b00 {
                return false;
            }
            if at + 5 > data.len() {
                // The final block's LEN/NLEN is the removed tail.
                return data.len() - at == 1;
            }
            let len = u16::from_le_bytes([data[at + 1], data[at + 2]]) as usize;
            let nlen = u16::from_le_bytes([data[at + 3], data[at + 4]]) as usize;
            assert_eq!(len ^ 0xffff, nlen);
            at += 5 + len;
        }
        true
    }

    #[test]
    fn an_8_bit_window_is_honoured_with_stored_blocks() {
        let text = b"abcabcabc repeated text that zlib would love to refer back to. ".repeat(40);
        let mut c = Compressor::new(8, true, 6);
        for _ in 0..3 {
            let wire = compress_message(&mut c, &text);
            assert!(only_stored_blocks(&wire));
            let mut d = Decompressor::new(8, true);
            assert_eq!(inflate_message(&mut d, &wire, 1 << 20).unwrap(), text);
        }
        // With 9 bits zlib does compress (and refers back within 512 bytes).
        let mut c = Compressor::new(9, true, 6);
        assert!(!only_stored_blocks(&compress_message(&mut c, &text)));
    }

    #[test]
    fn corrupt_data_is_an_error() {
        let mut d = Decompressor::new(15, false);
        let mut out = Vec::new();
        assert_eq!(
            d.inflate(&[0xff, 0xff, 0xff, 0xff], &mut out, 100),
            Err(CorruptData)
        );
    }
}
