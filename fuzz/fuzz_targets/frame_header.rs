//! `FrameHeader::parse` on arbitrary bytes (RFC 6455 §5.2): what parses is canonical (it
//! encodes back to the same bytes, and no prefix of it parses), and any header that the rules
//! allow survives an encode→parse round trip.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use fullduplex::protocol::frame::MAX_HEADER_LEN;
use fullduplex::protocol::{FrameHeader, Opcode};
use libfuzzer_sys::fuzz_target;

const OPCODES: [Opcode; 6] = [
    Opcode::Continuation,
    Opcode::Text,
    Opcode::Binary,
    Opcode::Close,
    Opcode::Ping,
    Opcode::Pong,
];

fn parse_is_canonical(data: &[u8]) {
    let Ok(Some((header, len))) = FrameHeader::parse(data) else {
        return;
    };
    assert!(len <= data.len() && len <= MAX_HEADER_LEN);
    assert_eq!(len, header.encoded_len());
    let mut out = [0u8; MAX_HEADER_LEN];
    let n = header.encode(&mut out);
    assert_eq!(&out[..n], &data[..len], "{header:?} re-encodes differently");
    for cut in 0..len {
        assert!(
            matches!(FrameHeader::parse(&data[..cut]), Ok(None)),
            "a prefix of {cut} bytes of a valid header is not incomplete"
        );
    }
}

fn round_trip(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let opcode = *u.choose(&OPCODES)?;
    let header = FrameHeader {
        fin: bool::arbitrary(u)?,
        rsv: u8::arbitrary(u)? & 0b111,
        opcode,
        mask: Option::<[u8; 4]>::arbitrary(u)?,
        payload_len: u64::arbitrary(u)? >> u.int_in_range(0..=63)?,
    };
    let mut out = [0u8; MAX_HEADER_LEN];
    let n = header.encode(&mut out);
    // §5.2: "the most significant bit MUST be 0"; §5.5: control frames are short and whole.
    let valid = header.payload_len >> 63 == 0
        && (!opcode.is_control() || (header.fin && header.payload_len <= 125));
    match FrameHeader::parse(&out[..n]) {
        Ok(Some((parsed, len))) => {
            assert!(valid, "{header:?} should not parse");
            assert_eq!((parsed, len), (header, n));
        }
        other => assert!(!valid, "{header:?} encoded then parsed to {other:?}"),
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    parse_is_canonical(data);
    let _ = round_trip(&mut Unstructured::new(data));
});
