//! Per-thread pools of zlib states, so a side without context takeover holds no compressor or
//! decompressor between messages (an idle connection costs no deflate memory).
//!
//! [RFC 7692 §7.1.1.1](https://www.rfc-editor.org/rfc/rfc7692#section-7.1.1.1) and
//! [RFC 7692 §7.1.1.2](https://www.rfc-editor.org/rfc/rfc7692#section-7.1.1.2): with
//! `*_no_context_takeover` "the [endpoint] MUST start compressing each new message with an
//! empty LZ77 sliding window", which is a reset state: any reset state of
//! the right window size serves, so states are shared through the pool.

use std::cell::RefCell;

use flate2::{Compress, Compression, Decompress};

/// States kept per (kind, window, level) and thread; more are freed.
const MAX_POOLED: usize = 32;

thread_local! {
    static COMPRESSORS: RefCell<Vec<(u8, u32, Box<Compress>)>> = const { RefCell::new(Vec::new()) };
    static DECOMPRESSORS: RefCell<Vec<(u8, Box<Decompress>)>> = const { RefCell::new(Vec::new()) };
}

/// A reset raw-deflate compressor with this zlib window (9–15) and level.
pub(crate) fn take_compressor(window_bits: u8, level: u32) -> Box<Compress> {
    let pooled = COMPRESSORS.with_borrow_mut(|pool| {
        let at = pool
            .iter()
            .rposition(|(w, l, _)| *w == window_bits && *l == level)?;
        Some(pool.swap_remove(at).2)
    });
    pooled.unwrap_or_else(|| {
        Box::new(Compress::new_with_window_bits(
            Compression::new(level),
            false,
            window_bits,
        ))
    })
}

/// Returns a compressor to the pool (it is reset here).
pub(crate) fn give_compressor(window_bits: u8, level: u32, mut state: Box<Compress>) {
    state.reset();
    COMPRESSORS.with_borrow_mut(|pool| {
        if pool
            .iter()
            .filter(|(w, l, _)| *w == window_bits && *l == level)
            .count()
            < MAX_POOLED
        {
            pool.push((window_bits, level, state));
        }
    });
}

/// A reset raw-inflate decompressor with this window (9–15: an agreed 8 inflates with 9).
pub(crate) fn take_decompressor(window_bits: u8) -> Box<Decompress> {
    let pooled = DECOMPRESSORS.with_borrow_mut(|pool| {
        let at = pool.iter().rposition(|(w, _)| *w == window_bits)?;
        Some(pool.swap_remove(at).1)
    });
    pooled.unwrap_or_else(|| Box::new(Decompress::new_with_window_bits(false, window_bits)))
}

/// Returns a decompressor to the pool (it is reset here).
pub(crate) fn give_decompressor(window_bits: u8, mut state: Box<Decompress>) {
    state.reset(false);
    DECOMPRESSORS.with_borrow_mut(|pool| {
        if pool.iter().filter(|(w, _)| *w == window_bits).count() < MAX_POOLED {
            pool.push((window_bits, state));
        }
    });
}
