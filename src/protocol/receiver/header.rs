//! Frame headers as they arrive: parsed, then checked against the rules of this connection
//! before any payload is buffered — masking by role (RFC 6455 §5.1), reserved bits and
//! RSV1 for permessage-deflate (RFC 6455 §5.2, RFC 7692 §6), fragmentation order
//! (RFC 6455 §5.4) and the frame, message and fragment limits (RFC 6455 §10.4).

use super::{new_flight, FrameProgress, Incoming, Receiver};
use crate::error::ProtocolError;
use crate::protocol::connection::Role;
use crate::protocol::frame::{FrameHeader, Opcode, RSV1};
use crate::protocol::message::DataKind;

impl Receiver {
    /// Parses and checks the next frame header, if it has arrived.
    pub(super) fn next_header(&mut self) -> Result<Option<FrameProgress>, ProtocolError> {
        let Some(f) = self.flight.as_ref() else {
            return Ok(None);
        };
        let Some((header, header_len)) = FrameHeader::parse(&f.buf[f.start..f.end])? else {
            return Ok(None);
        };
        self.check_header(&header)?;
        let frame = FrameProgress {
            opcode: header.opcode,
            fin: header.fin,
            mask: header.mask,
            // Checked against `max_frame_size` (a usize) in check_header.
            len: header.payload_len as usize,
            released: 0,
            done: 0,
            delivered: 0,
            consumed: 0,
        };
        let flight = flight!(self);
        flight.start += header_len;
        flight.frame = Some(frame);
        Ok(Some(frame))
    }

    /// The rules a header must follow on this connection, checked before any payload is read.
    pub(super) fn check_header(&mut self, header: &FrameHeader) -> Result<(), ProtocolError> {
        match (self.role, header.mask) {
            // §5.1: "The server MUST close the connection upon receiving a frame that is not
            // masked."
            (Role::Server, None) => return Err(ProtocolError::UnmaskedFrame),
            // §5.1: "A client MUST close a connection if it detects a masked frame."
            (Role::Client, Some(_)) => return Err(ProtocolError::MaskedFrame),
            _ => {}
        }
        // §5.2: RSV1–3 "MUST be 0 unless an extension is negotiated that defines meanings for
        // non-zero values."
        let deflate = self.inflater.is_some();
        let first_data_frame = matches!(header.opcode, Opcode::Text | Opcode::Binary);
        if header.rsv != 0 && !(deflate && first_data_frame && header.rsv == RSV1) {
            if deflate && header.rsv == RSV1 {
                // RFC 7692 §6: "An endpoint receiving such a frame MUST _Fail the WebSocket
                // Connection_" (RSV1 "of control frames and non-first fragments of a data message").
                return Err(ProtocolError::CompressedControlOrContinuation);
            }
            return Err(ProtocolError::ReservedBits(header.rsv << 4));
        }
        if header.opcode.is_control() {
            return Ok(());
        }
        // §10.4: "implementations SHOULD impose implementation-specific limits on frame sizes
        // and the total message size" — checked here, before buffering the payload.
        if header.payload_len > self.config.max_frame_size as u64 {
            return Err(ProtocolError::FrameTooLarge);
        }
        let len = header.payload_len as usize;
        let flight = flight!(self);
        let message = match (header.opcode, flight.message.as_mut()) {
            // §5.4: a fragmented message is "a single frame with the FIN bit clear and an opcode
            // other than 0, followed by zero or more frames with [...] the opcode set to 0".
            (Opcode::Continuation, None) => return Err(ProtocolError::UnexpectedContinuation),
            (Opcode::Continuation, Some(message)) => message,
            // §5.4: "fragments of one message MUST NOT be interleaved between the fragments
            // of another message unless an extension has been negotiated".
            (_, Some(_)) => return Err(ProtocolError::ExpectedContinuation),
            (opcode, None) => {
                let kind = if opcode == Opcode::Text {
                    DataKind::Text
                } else {
                    DataKind::Binary
                };
                flight.message.insert(Incoming {
                    kind,
                    fragments: 0,
                    size: 0,
                    started: false,
                    compressed: header.rsv == RSV1,
                    inflated: 0,
                })
            }
        };
        message.fragments = message.fragments.saturating_add(1);
        if message.fragments as usize > self.config.max_fragments {
            return Err(ProtocolError::TooManyFragments);
        }
        message.size = message.size.saturating_add(len);
        // A compressed message is limited by its inflated size (checked while inflating); its
        // wire size gets the slack incompressible data needs, so endless empty DEFLATE blocks
        // are still bounded.
        let limit = self.config.max_message_size;
        let max = if message.compressed {
            limit.saturating_add(limit / 8 + 1024)
        } else {
            limit
        };
        if message.size > max {
            return Err(ProtocolError::MessageTooLarge);
        }
        Ok(())
    }
}
