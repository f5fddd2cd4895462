//! The fast masking (RFC 6455 §5.3) against the byte-at-a-time reference: in place (the
//! dispatching and the portable path), while copying, and in two pieces at any offset.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use fullduplex::protocol::mask::{
    apply_mask, apply_mask_portable, apply_mask_reference, mask_copy,
};
use libfuzzer_sys::fuzz_target;

fn check(mut u: Unstructured<'_>) -> arbitrary::Result<()> {
    let key = <[u8; 4]>::arbitrary(&mut u)?;
    let offset = usize::from(u16::arbitrary(&mut u)?);
    let cut = usize::from(u16::arbitrary(&mut u)?);
    let data = u.take_rest();
    let mut expected = data.to_vec();
    apply_mask_reference(&mut expected, key, offset);

    let mut fast = data.to_vec();
    apply_mask(&mut fast, key, offset);
    assert_eq!(fast, expected, "apply_mask");

    let mut portable = data.to_vec();
    apply_mask_portable(&mut portable, key, offset);
    assert_eq!(portable, expected, "apply_mask_portable");

    let mut copied = vec![0u8; data.len()];
    mask_copy(&mut copied, data, key, offset);
    assert_eq!(copied, expected, "mask_copy");

    let cut = cut % (data.len() + 1);
    let mut pieces = data.to_vec();
    let (a, b) = pieces.split_at_mut(cut);
    apply_mask(a, key, offset);
    apply_mask(b, key, offset + cut);
    assert_eq!(pieces, expected, "in two pieces at {cut}");

    apply_mask(&mut fast, key, offset);
    assert_eq!(fast, data, "masking twice restores the data");
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = check(Unstructured::new(data));
});
