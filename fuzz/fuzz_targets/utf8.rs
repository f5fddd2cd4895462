//! The incremental UTF-8 validator (RFC 6455 §8.1) against `std::str::from_utf8`: on every
//! two-piece split and one byte at a time, and on arbitrary splits of the whole input.
#![no_main]

use fullduplex::protocol::utf8::{agrees_with_std_on_every_split, Utf8Validator};
use libfuzzer_sys::fuzz_target;

/// Every split of n bytes costs n² work: beyond this the whole input is split by its bytes.
const EVERY_SPLIT: usize = 256;

fuzz_target!(|data: &[u8]| {
    let Some((&seed, text)) = data.split_first() else {
        return;
    };
    if text.len() <= EVERY_SPLIT {
        assert!(agrees_with_std_on_every_split(text));
    }
    let expected = std::str::from_utf8(text).is_ok();
    let mut rng = fullduplex_fuzz::Rng::new(u64::from(seed));
    let mut validator = Utf8Validator::new();
    let mut rest = text;
    let mut ok = true;
    while ok && !rest.is_empty() {
        let (piece, tail) = rest.split_at((1 + rng.below(64)).min(rest.len()));
        ok = validator.feed(piece).is_ok();
        rest = tail;
    }
    let ok = ok && validator.finish().is_ok();
    assert_eq!(ok, expected, "split with seed {seed}");
});
