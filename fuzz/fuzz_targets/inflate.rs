//! The permessage-deflate decompressor (RFC 7692 §7.2.2) under a message limit (§8): the
//! output never holds more than the cap plus one byte, nor grows its buffer past that, however
//! the message is split; split or whole, valid data inflates the same (the whole with no
//! limit at all, `usize::MAX`).
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use fullduplex::protocol::deflate::{CorruptData, Decompressor};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Setup {
    window_bits: u8,
    context_takeover: bool,
    cap: u16,
    seed: u8,
}

/// Inflates `message` cut into pieces, checking the bound after each call.
fn inflate_split(
    inflater: &mut Decompressor,
    message: &[u8],
    cap: usize,
    seed: u8,
) -> Result<Vec<u8>, CorruptData> {
    let mut rng = fullduplex_fuzz::Rng::new(u64::from(seed));
    let mut out = Vec::new();
    let mut rest = message;
    while !rest.is_empty() {
        let (piece, tail) = rest.split_at((1 + rng.below(97)).min(rest.len()));
        rest = tail;
        let used = inflater.inflate(piece, &mut out, cap)?;
        assert!(
            out.len() <= cap + 1,
            "{} bytes for a cap of {cap}",
            out.len()
        );
        assert!(
            out.capacity() <= cap + 1,
            "capacity {} for a cap of {cap}",
            out.capacity()
        );
        if out.len() > cap {
            return Ok(out);
        }
        assert_eq!(used, piece.len(), "input left while under the cap");
    }
    inflater.end_message(&mut out, cap)?;
    assert!(out.len() <= cap + 1 && out.capacity() <= cap + 1);
    Ok(out)
}

fn check(mut u: Unstructured<'_>) -> arbitrary::Result<()> {
    let setup = Setup::arbitrary(&mut u)?;
    let window_bits = 8 + setup.window_bits % 8;
    let cap = usize::from(setup.cap);
    let message = u.take_rest();

    let mut split = Decompressor::new(window_bits, setup.context_takeover);
    let pieces = inflate_split(&mut split, message, cap, setup.seed);

    let mut whole = Decompressor::new(window_bits, setup.context_takeover);
    let mut unlimited = Vec::new();
    let all = whole
        .inflate(message, &mut unlimited, usize::MAX)
        .and_then(|_| whole.end_message(&mut unlimited, usize::MAX));
    match (&pieces, all) {
        (Ok(out), Ok(())) if out.len() <= cap => assert_eq!(out, &unlimited, "split vs whole"),
        (Ok(out), Ok(())) => assert!(unlimited.len() > cap && unlimited.starts_with(out)),
        (Ok(out), Err(_)) => assert!(out.len() > cap, "only the split inflation succeeded"),
        (Err(_), Ok(())) => panic!("only the whole inflation succeeded"),
        (Err(_), Err(_)) => {}
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = check(Unstructured::new(data));
});
