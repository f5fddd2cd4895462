//! Payload masking: XOR with a 4-byte key, fast enough to run at memory bandwidth in safe code.
//!
//! Implements [RFC 6455 §5.3](https://www.rfc-editor.org/rfc/rfc6455#section-5.3): "Octet i of
//! the transformed data ("transformed-octet-i") is the XOR of octet i of the original data
//! ("original-octet-i") with octet at index i modulo 4 of the masking key". Masking and
//! unmasking are the same operation.
//!
//! Speed comes from working on 8-byte words (which the compiler vectorizes): the key is
//! rotated once to the payload offset and repeated into a `u64`, so the loop has no per-byte
//! index arithmetic. `offset` lets a payload be masked in pieces as it arrives.
//!
//! The loop is safe code. Compiled for the baseline x86-64 CPU it gets 16-byte vectors;
//! the same loop compiled with AVX2 enabled gets 32-byte ones and, measured in
//! `benches/core.rs` (`mask/apply_mask` against `mask/apply_mask_portable`, with
//! `--features bench-hooks`), masks a 16 KiB payload in less than half the time and a 1 KiB
//! one in two thirds. Calling that copy is the module's one `unsafe` line, after a run-time
//! check that the CPU has AVX2.

use super::MaskKeys;
use crate::random::OsRandom;

/// The key rotated so that byte 0 of the returned key applies to payload byte `offset`.
#[inline]
fn rotated(key: [u8; 4], offset: usize) -> [u8; 4] {
    let r = offset % 4;
    [key[r], key[(r + 1) % 4], key[(r + 2) % 4], key[(r + 3) % 4]]
}

/// Payloads from this length go to the 256-bit path where the CPU has one; below it the
/// setup costs more than the wider vectors save.
const WIDE_FROM: usize = 128;

/// XORs `buf` in place with `key`, where `buf[0]` is payload byte number `offset`.
///
/// On x86-64 CPUs with AVX2 (checked once at run time, then a cached flag), payloads of
/// 128 bytes and more are masked 32 bytes per instruction; everything else takes the same
/// loop compiled for the baseline CPU.
#[inline]
pub fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
    let key = rotated(key, offset);
    #[cfg(target_arch = "x86_64")]
    if buf.len() >= WIDE_FROM && std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: `avx2::apply` is safe code compiled with AVX2 enabled; its one
        // requirement is that the CPU supports AVX2, which was just detected.
        return unsafe { avx2::apply(buf, key) };
    }
    xor_in_place(buf, key);
}

/// [`apply_mask`] without the run-time choice of vector width: 8-byte words, which the
/// compiler turns into the baseline CPU's vectors (SSE2 on x86-64). The portable reference
/// point of the masking benchmark and fuzz target; unstable, not for users (feature
/// `bench-hooks`).
#[cfg(any(test, feature = "bench-hooks"))]
pub fn apply_mask_portable(buf: &mut [u8], key: [u8; 4], offset: usize) {
    xor_in_place(buf, rotated(key, offset));
}

/// Copies `src` into `dst` while masking it (one pass instead of copy then mask).
///
/// `dst` and `src` must have the same length; `src[0]` is payload byte number `offset`.
/// Uses the same run-time choice of vector width as [`apply_mask`].
#[inline]
pub fn mask_copy(dst: &mut [u8], src: &[u8], key: [u8; 4], offset: usize) {
    assert_eq!(dst.len(), src.len(), "mask_copy needs equal lengths");
    let key = rotated(key, offset);
    #[cfg(target_arch = "x86_64")]
    if src.len() >= WIDE_FROM && std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: as in `apply_mask`: AVX2 was just detected, and that is all
        // `avx2::copy` requires.
        return unsafe { avx2::copy(dst, src, key) };
    }
    xor_copy(dst, src, key);
}

/// The key, already rotated to `buf[0]`, repeated into a word.
#[inline(always)]
fn key_word(key: [u8; 4]) -> u64 {
    // The same four bytes twice: in either byte order, the low and high halves are equal.
    let half = u64::from(u32::from_ne_bytes(key));
    half | half << 32
}

/// The masking loop: 64-byte blocks of 8-byte words (no per-byte index arithmetic, which
/// the compiler vectorizes to the widest vectors the function is compiled for), then the
/// words left, then the last bytes one by one. 64 and 8 are multiples of 4, so the key phase
/// is the same at each step.
#[inline(always)]
fn xor_in_place(buf: &mut [u8], key: [u8; 4]) {
    let word = key_word(key);
    let mut blocks = buf.chunks_exact_mut(64);
    for block in &mut blocks {
        xor_words(block, word);
    }
    let mut words = blocks.into_remainder().chunks_exact_mut(8);
    for lane in &mut words {
        xor_words(lane, word);
    }
    for (i, byte) in words.into_remainder().iter_mut().enumerate() {
        *byte ^= key[i % 4];
    }
}

/// XORs each 8-byte word of `bytes` (a multiple of 8 long) with `word`.
#[inline(always)]
fn xor_words(bytes: &mut [u8], word: u64) {
    for lane in bytes.chunks_exact_mut(8) {
        let mut w = [0u8; 8];
        w.copy_from_slice(lane);
        lane.copy_from_slice(&(u64::from_ne_bytes(w) ^ word).to_ne_bytes());
    }
}

/// [`xor_in_place`] from `src` into `dst` (same lengths, checked by the caller).
#[inline(always)]
fn xor_copy(dst: &mut [u8], src: &[u8], key: [u8; 4]) {
    let word = key_word(key);
    let mut out = dst.chunks_exact_mut(64);
    let mut inp = src.chunks_exact(64);
    for (o, i) in (&mut out).zip(&mut inp) {
        copy_words(o, i, word);
    }
    let mut out = out.into_remainder().chunks_exact_mut(8);
    let mut inp = inp.remainder().chunks_exact(8);
    for (o, i) in (&mut out).zip(&mut inp) {
        copy_words(o, i, word);
    }
    for (idx, (o, i)) in out
        .into_remainder()
        .iter_mut()
        .zip(inp.remainder())
        .enumerate()
    {
        *o = i ^ key[idx % 4];
    }
}

/// Writes each 8-byte word of `src` XOR `word` to `dst` (same lengths, multiples of 8).
#[inline(always)]
fn copy_words(dst: &mut [u8], src: &[u8], word: u64) {
    for (o, i) in dst.chunks_exact_mut(8).zip(src.chunks_exact(8)) {
        let mut w = [0u8; 8];
        w.copy_from_slice(i);
        o.copy_from_slice(&(u64::from_ne_bytes(w) ^ word).to_ne_bytes());
    }
}

/// The same loops compiled for AVX2: safe code; only calling it needs the CPU check.
///
/// The bytes before the first 32-byte boundary of the written buffer are masked on their
/// own, so that no 32-byte store straddles two cache lines (a buffer from `malloc` is only
/// 16-byte aligned, and every other unaligned store would cost two).
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{rotated, xor_copy, xor_in_place};

    const VECTOR: usize = 32;

    #[target_feature(enable = "avx2")]
    pub(super) fn apply(buf: &mut [u8], key: [u8; 4]) {
        let head = buf.as_ptr().align_offset(VECTOR).min(buf.len());
        let (head_bytes, rest) = buf.split_at_mut(head);
        xor_in_place(head_bytes, key);
        xor_in_place(rest, rotated(key, head));
    }

    #[target_feature(enable = "avx2")]
    pub(super) fn copy(dst: &mut [u8], src: &[u8], key: [u8; 4]) {
        let head = dst.as_ptr().align_offset(VECTOR).min(dst.len());
        let (dst_head, dst_rest) = dst.split_at_mut(head);
        let (src_head, src_rest) = src.split_at(head);
        xor_copy(dst_head, src_head, key);
        xor_copy(dst_rest, src_rest, rotated(key, head));
    }
}

/// The byte-at-a-time definition of RFC 6455 §5.3, the reference the fast paths are tested,
/// fuzzed and benchmarked against; unstable, not for users (feature `bench-hooks`).
#[cfg(any(test, feature = "bench-hooks"))]
pub fn apply_mask_reference(buf: &mut [u8], key: [u8; 4], offset: usize) {
    for (i, byte) in buf.iter_mut().enumerate() {
        *byte ^= key[(offset + i) % 4];
    }
}

// The operating system's keys, for clients whose caller has no source of its own. The impl is
// here, not beside `OsRandom` in the leaf `random.rs`, which imports nothing of the protocol.
impl MaskKeys for OsRandom {
    fn next_key(&mut self) -> [u8; 4] {
        let mut key = [0; 4];
        self.fill(&mut key);
        key
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_reference_for_every_length_and_offset() {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        let data: Vec<u8> = (0..700u32).map(|i| (i * 7 + 3) as u8).collect();
        // Both sides of `WIDE_FROM` and several 64-byte blocks past it, every tail length.
        for len in 0..600 {
            for offset in 0..8 {
                let mut fast = data[..len].to_vec();
                let mut slow = data[..len].to_vec();
                apply_mask(&mut fast, key, offset);
                apply_mask_reference(&mut slow, key, offset);
                assert_eq!(fast, slow, "len {len} offset {offset}");
                let mut portable = data[..len].to_vec();
                apply_mask_portable(&mut portable, key, offset);
                assert_eq!(portable, slow, "portable len {len} offset {offset}");
                let mut copied = vec![0; len];
                mask_copy(&mut copied, &data[..len], key, offset);
                assert_eq!(copied, slow, "mask_copy len {len} offset {offset}");
            }
        }
    }

    #[test]
    fn unaligned_slices_match_the_reference() {
        // The wide path must not assume alignment: start the payload at every offset
        // within a 32-byte vector.
        let key = [0xde, 0xad, 0xbe, 0xef];
        let data: Vec<u8> = (0..2100u32).map(|i| (i * 13 + 1) as u8).collect();
        for start in 0..33 {
            let src = &data[start..start + 2048];
            let mut slow = src.to_vec();
            let mut in_place = data.clone();
            apply_mask(&mut in_place[start..start + 2048], key, 3);
            apply_mask_reference(&mut slow, key, 3);
            assert_eq!(&in_place[start..start + 2048], &slow[..], "start {start}");
            let mut out = vec![0u8; 2100];
            mask_copy(&mut out[start..start + 2048], src, key, 3);
            assert_eq!(&out[start..start + 2048], &slow[..], "copy start {start}");
        }
    }

    #[test]
    fn masking_twice_is_identity() {
        let original = b"Hello, WebSocket masking".to_vec();
        let mut buf = original.clone();
        apply_mask(&mut buf, [1, 2, 3, 4], 0);
        assert_ne!(buf, original);
        apply_mask(&mut buf, [1, 2, 3, 4], 0);
        assert_eq!(buf, original);
    }

    #[test]
    fn masking_in_pieces_equals_masking_whole() {
        let key = [9, 8, 7, 6];
        let mut whole: Vec<u8> = (0..100).collect();
        let mut pieces = whole.clone();
        apply_mask(&mut whole, key, 0);
        let (a, rest) = pieces.split_at_mut(13);
        let (b, c) = rest.split_at_mut(50);
        apply_mask(a, key, 0);
        apply_mask(b, key, 13);
        apply_mask(c, key, 63);
        assert_eq!(whole, pieces);
    }
}
