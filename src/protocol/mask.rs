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

/// The key rotated so that byte 0 of the returned key applies to payload byte `offset`.
#[inline]
fn rotated(key: [u8; 4], offset: usize) -> [u8; 4] {
    let r = offset % 4;
    [key[r], key[(r + 1) % 4], key[(r + 2) % 4], key[(r + 3) % 4]]
}

/// XORs `buf` in place with `key`, where `buf[0]` is payload byte number `offset`.
#[inline]
pub fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
    let key = rotated(key, offset);
    let word = u64::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ]);
    let mut blocks = buf.chunks_exact_mut(32);
    for block in &mut blocks {
        for lane in block.chunks_exact_mut(8) {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(lane);
            lane.copy_from_slice(&(u64::from_ne_bytes(bytes) ^ word).to_ne_bytes());
        }
    }
    // Fewer than 32 bytes remain; 32 is a multiple of 4, so the key phase is unchanged.
    for (i, byte) in blocks.into_remainder().iter_mut().enumerate() {
        *byte ^= key[i % 4];
    }
}

/// Copies `src` into `dst` while masking it (one pass instead of copy then mask).
///
/// `dst` and `src` must have the same length; `src[0]` is payload byte number `offset`.
#[inline]
pub fn mask_copy(dst: &mut [u8], src: &[u8], key: [u8; 4], offset: usize) {
    assert_eq!(dst.len(), src.len(), "mask_copy needs equal lengths");
    let key = rotated(key, offset);
    let word = u64::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ]);
    let mut out = dst.chunks_exact_mut(32);
    let mut inp = src.chunks_exact(32);
    for (o, i) in (&mut out).zip(&mut inp) {
        for (ol, il) in o.chunks_exact_mut(8).zip(i.chunks_exact(8)) {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(il);
            ol.copy_from_slice(&(u64::from_ne_bytes(bytes) ^ word).to_ne_bytes());
        }
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

/// The byte-at-a-time definition of RFC 6455 §5.3, the reference the fast paths are tested
/// (and fuzzed) against.
pub fn apply_mask_reference(buf: &mut [u8], key: [u8; 4], offset: usize) {
    for (i, byte) in buf.iter_mut().enumerate() {
        *byte ^= key[(offset + i) % 4];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_reference_for_every_length_and_offset() {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        let data: Vec<u8> = (0..300u32).map(|i| (i * 7 + 3) as u8).collect();
        for len in 0..200 {
            for offset in 0..8 {
                let mut fast = data[..len].to_vec();
                let mut slow = data[..len].to_vec();
                apply_mask(&mut fast, key, offset);
                apply_mask_reference(&mut slow, key, offset);
                assert_eq!(fast, slow, "len {len} offset {offset}");
                let mut copied = vec![0; len];
                mask_copy(&mut copied, &data[..len], key, offset);
                assert_eq!(copied, slow, "mask_copy len {len} offset {offset}");
            }
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
