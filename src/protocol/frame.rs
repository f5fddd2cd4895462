//! The frame header: parse it from partial input, encode it, and the rules that need nothing
//! but the header to check.
//!
//! Implements [RFC 6455 §5.2](https://www.rfc-editor.org/rfc/rfc6455#section-5.2) (base
//! framing) and the header-only rules of
//! [RFC 6455 §5.5](https://www.rfc-editor.org/rfc/rfc6455#section-5.5) (control frames).
//! Rules that depend on the connection (masking by role, RSV bits by extension, sequencing,
//! size limits) are checked in the connection's receiver.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-------+-+-------------+-------------------------------+
//! |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
//! |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
//! |N|V|V|V|       |S|             |   (if payload len==126/127)   |
//! | |1|2|3|       |K|             |                               |
//! +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
//! |     Extended payload length continued, if payload len == 127  |
//! + - - - - - - - - - - - - - - - +-------------------------------+
//! |                               |Masking-key, if MASK set to 1  |
//! +-------------------------------+-------------------------------+
//! ```

use crate::error::ProtocolError;

/// The longest possible header: 2 bytes, 8 of extended length, 4 of masking key.
pub const MAX_HEADER_LEN: usize = 14;

/// The largest payload of a control frame (RFC 6455 §5.5).
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// What a frame carries (RFC 6455 §5.2, §11.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Opcode {
    /// 0x0: the continuation of a fragmented message.
    Continuation,
    /// 0x1: the first frame of a text message.
    Text,
    /// 0x2: the first frame of a binary message.
    Binary,
    /// 0x8: the connection close.
    Close,
    /// 0x9: a ping.
    Ping,
    /// 0xA: a pong.
    Pong,
}

impl Opcode {
    /// Control frames are Close, Ping and Pong: "Control frames are identified by opcodes where
    /// the most significant bit of the opcode is 1" (RFC 6455 §5.5).
    pub fn is_control(self) -> bool {
        matches!(self, Self::Close | Self::Ping | Self::Pong)
    }
}

impl TryFrom<u8> for Opcode {
    type Error = ProtocolError;

    fn try_from(raw: u8) -> Result<Self, ProtocolError> {
        Ok(match raw {
            0x0 => Self::Continuation,
            0x1 => Self::Text,
            0x2 => Self::Binary,
            0x8 => Self::Close,
            0x9 => Self::Ping,
            0xA => Self::Pong,
            // §5.2: "If an unknown opcode is received, the receiving endpoint MUST _Fail the
            // WebSocket Connection_."
            other => return Err(ProtocolError::ReservedOpcode(other)),
        })
    }
}

impl From<Opcode> for u8 {
    fn from(op: Opcode) -> u8 {
        match op {
            Opcode::Continuation => 0x0,
            Opcode::Text => 0x1,
            Opcode::Binary => 0x2,
            Opcode::Close => 0x8,
            Opcode::Ping => 0x9,
            Opcode::Pong => 0xA,
        }
    }
}

/// A parsed frame header (RFC 6455 §5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// FIN: this is the final fragment of a message.
    pub fin: bool,
    /// RSV1, RSV2, RSV3 as the three bits `0b100`, `0b010`, `0b001`. RSV1 is permessage-deflate's
    /// "compressed" bit (RFC 7692 §6).
    pub rsv: u8,
    /// What the frame carries.
    pub opcode: Opcode,
    /// The masking key, present on every client-to-server frame.
    pub mask: Option<[u8; 4]>,
    /// The payload length in bytes.
    pub payload_len: u64,
}

/// The RSV1 bit in [`FrameHeader::rsv`].
pub const RSV1: u8 = 0b100;

impl FrameHeader {
    /// Parses a header from the start of `buf`.
    ///
    /// Returns `Ok(None)` when `buf` does not yet hold the whole header (incomplete input is
    /// not an error), otherwise the header and its length in bytes.
    #[inline]
    pub fn parse(buf: &[u8]) -> Result<Option<(FrameHeader, usize)>, ProtocolError> {
        let (b0, b1) = match buf {
            [b0, b1, ..] => (*b0, *b1),
            _ => return Ok(None),
        };
        let opcode = Opcode::try_from(b0 & 0x0F)?;
        let fin = b0 & 0x80 != 0;
        let masked = b1 & 0x80 != 0;
        let (payload_len, len_bytes) = match b1 & 0x7F {
            126 => match buf.get(2..4) {
                Some(bytes) => {
                    let len = u16::from_be_bytes([bytes[0], bytes[1]]) as u64;
                    // §5.2: "the minimal number of bytes MUST be used to encode the length"
                    if len < 126 {
                        return Err(ProtocolError::NonMinimalLength);
                    }
                    (len, 2)
                }
                None => return Ok(None),
            },
            127 => match buf.get(2..10) {
                Some(bytes) => {
                    let mut raw = [0u8; 8];
                    raw.copy_from_slice(bytes);
                    let len = u64::from_be_bytes(raw);
                    // §5.2: "the most significant bit MUST be 0"
                    if len >> 63 != 0 {
                        return Err(ProtocolError::LengthTopBitSet);
                    }
                    if len <= u16::MAX as u64 {
                        return Err(ProtocolError::NonMinimalLength);
                    }
                    (len, 8)
                }
                None => return Ok(None),
            },
            small => (small as u64, 0),
        };
        if opcode.is_control() {
            // §5.5: "All control frames MUST have a payload length of 125 bytes or less and
            // MUST NOT be fragmented."
            if payload_len > MAX_CONTROL_PAYLOAD as u64 {
                return Err(ProtocolError::ControlFrameTooLong);
            }
            if !fin {
                return Err(ProtocolError::FragmentedControlFrame);
            }
        }
        let mut len = 2 + len_bytes;
        let mask = if masked {
            let key = match buf.get(len..len + 4) {
                Some(k) => [k[0], k[1], k[2], k[3]],
                None => return Ok(None),
            };
            len += 4;
            Some(key)
        } else {
            None
        };
        let header = FrameHeader {
            fin,
            rsv: (b0 >> 4) & 0b111,
            opcode,
            mask,
            payload_len,
        };
        Ok(Some((header, len)))
    }

    /// The encoded length of this header.
    #[inline]
    pub fn encoded_len(&self) -> usize {
        let len_bytes = match self.payload_len {
            0..=125 => 0,
            126..=0xFFFF => 2,
            _ => 8,
        };
        2 + len_bytes + if self.mask.is_some() { 4 } else { 0 }
    }

    /// Encodes this header into `out`, returning the number of bytes written.
    ///
    /// The length uses the minimal encoding (RFC 6455 §5.2). `payload_len` must be below
    /// 2^63, which every in-memory payload is.
    #[inline]
    pub fn encode(&self, out: &mut [u8; MAX_HEADER_LEN]) -> usize {
        out[0] = (self.fin as u8) << 7 | (self.rsv & 0b111) << 4 | u8::from(self.opcode);
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        let mut len = match self.payload_len {
            small @ 0..=125 => {
                out[1] = mask_bit | small as u8;
                2
            }
            medium @ 126..=0xFFFF => {
                out[1] = mask_bit | 126;
                out[2..4].copy_from_slice(&(medium as u16).to_be_bytes());
                4
            }
            large => {
                out[1] = mask_bit | 127;
                out[2..10].copy_from_slice(&large.to_be_bytes());
                10
            }
        };
        if let Some(key) = self.mask {
            out[len..len + 4].copy_from_slice(&key);
            len += 4;
        }
        len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(opcode: Opcode, payload_len: u64, mask: Option<[u8; 4]>) -> FrameHeader {
        FrameHeader {
            fin: true,
            rsv: 0,
            opcode,
            mask,
            payload_len,
        }
    }

    #[test]
    fn three_length_forms_round_trip() {
        for len in [
            0,
            1,
            125,
            126,
            127,
            0xFFFF,
            0x1_0000,
            1 << 40,
            (1 << 63) - 1,
        ] {
            for mask in [None, Some([1, 2, 3, 4])] {
                let h = header(Opcode::Binary, len, mask);
                let mut out = [0u8; MAX_HEADER_LEN];
                let n = h.encode(&mut out);
                assert_eq!(n, h.encoded_len());
                assert_eq!(FrameHeader::parse(&out[..n]), Ok(Some((h, n))));
                for short in 0..n {
                    assert_eq!(
                        FrameHeader::parse(&out[..short]),
                        Ok(None),
                        "len {len} cut {short}"
                    );
                }
            }
        }
    }

    #[test]
    fn top_bit_of_64_bit_length_is_rejected() {
        let buf = [0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(
            FrameHeader::parse(&buf),
            Err(ProtocolError::LengthTopBitSet)
        );
    }

    #[test]
    fn non_minimal_lengths_are_rejected() {
        assert_eq!(
            FrameHeader::parse(&[0x82, 126, 0, 124]),
            Err(ProtocolError::NonMinimalLength)
        );
        assert_eq!(
            FrameHeader::parse(&[0x82, 127, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF]),
            Err(ProtocolError::NonMinimalLength)
        );
    }

    #[test]
    fn reserved_opcodes_are_rejected() {
        for op in [3u8, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF] {
            assert_eq!(
                FrameHeader::parse(&[0x80 | op, 0]),
                Err(ProtocolError::ReservedOpcode(op))
            );
        }
    }

    #[test]
    fn control_frame_rules_apply_to_every_control_opcode() {
        for op in [0x8u8, 0x9, 0xA] {
            assert_eq!(
                FrameHeader::parse(&[0x80 | op, 126, 0, 126]),
                Err(ProtocolError::ControlFrameTooLong)
            );
            assert_eq!(
                FrameHeader::parse(&[op, 0]),
                Err(ProtocolError::FragmentedControlFrame)
            );
            assert!(FrameHeader::parse(&[0x80 | op, 125]).unwrap().is_some());
        }
    }

    #[test]
    fn rsv_bits_are_reported() {
        let (h, _) = FrameHeader::parse(&[0xF1, 0]).unwrap().unwrap();
        assert_eq!(h.rsv, 0b111);
        let (h, _) = FrameHeader::parse(&[0xC1, 0]).unwrap().unwrap();
        assert_eq!(h.rsv, RSV1);
    }
}
