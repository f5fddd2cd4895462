//! Frame headers as they arrive: parsed, then checked against the rules of this connection
//! before any payload is buffered — masking by role (RFC 6455 §5.1), reserved bits and
//! RSV1 for permessage-deflate (RFC 6455 §5.2, RFC 7692 §6), fragmentation order
//! (RFC 6455 §5.4) and the frame, message and fragment limits (RFC 6455 §10.4).

use super::flight::{
    Coding, Content, ControlFrame, ControlOpcode, DataFrame, Framing, Incoming, Input,
    MessageFrame, Payload,
};
use super::{Receiver, Step};
use crate::error::ProtocolError;
use crate::protocol::connection::Role;
use crate::protocol::frame::{FrameHeader, Opcode, RSV1};
use crate::protocol::message::DataKind;

/// What a frame's opcode makes it.
enum Kind {
    Control(ControlOpcode),
    /// The first frame of a message (Text or Binary).
    First(DataKind),
    Continuation,
}

impl Kind {
    fn of(opcode: Opcode) -> Self {
        match opcode {
            Opcode::Close => Self::Control(ControlOpcode::Close),
            Opcode::Ping => Self::Control(ControlOpcode::Ping),
            Opcode::Pong => Self::Control(ControlOpcode::Pong),
            Opcode::Text => Self::First(DataKind::Text),
            Opcode::Binary => Self::First(DataKind::Binary),
            Opcode::Continuation => Self::Continuation,
        }
    }
}

impl Receiver {
    /// The next header between messages, if it has arrived: `framing` moves to the control
    /// frame, or the message, it starts.
    pub(super) fn header_between_messages(
        &mut self,
        input: &mut Input,
        framing: &mut Framing,
    ) -> Result<Step, ProtocolError> {
        let Some((header, header_len)) = FrameHeader::parse(input.live())? else {
            return Ok(Step::NeedInput);
        };
        // Between messages, deflate was agreed if the decompressor is here.
        self.check_header(&header, self.inflater.is_some())?;
        *framing = match Kind::of(header.opcode) {
            Kind::Control(opcode) => Framing::Control(control_frame(opcode, &header)),
            Kind::First(kind) => {
                let len = self.frame_len(&header)?;
                let mut message = self.start_message(kind, header.rsv);
                self.count_fragment(&mut message, len)?;
                let frame = MessageFrame::Data(data_frame(&header, len));
                Framing::Message { message, frame }
            }
            Kind::Continuation => {
                self.frame_len(&header)?;
                // §5.4: a fragmented message is "a single frame with the FIN bit clear and an
                // opcode other than 0, followed by zero or more frames with [...] the opcode
                // set to 0".
                return Err(ProtocolError::UnexpectedContinuation);
            }
        };
        input.start += header_len;
        Ok(Step::Next)
    }

    /// The next header while `message` is open, if it has arrived: `frame` moves to the
    /// control frame, or the message's next frame, it starts.
    pub(super) fn header_in_message(
        &mut self,
        input: &mut Input,
        message: &mut Incoming,
        frame: &mut MessageFrame,
    ) -> Result<Step, ProtocolError> {
        let Some((header, header_len)) = FrameHeader::parse(input.live())? else {
            return Ok(Step::NeedInput);
        };
        // Deflate was agreed if the decompressor is here, or lent to this message.
        let compressed = matches!(message.coding, Coding::Deflate { .. });
        self.check_header(&header, self.inflater.is_some() || compressed)?;
        *frame = match Kind::of(header.opcode) {
            Kind::Control(opcode) => MessageFrame::Control(control_frame(opcode, &header)),
            Kind::First(_) => {
                self.frame_len(&header)?;
                // §5.4: "fragments of one message MUST NOT be interleaved between the
                // fragments of another message unless an extension has been negotiated".
                return Err(ProtocolError::ExpectedContinuation);
            }
            Kind::Continuation => {
                let len = self.frame_len(&header)?;
                self.count_fragment(message, len)?;
                MessageFrame::Data(data_frame(&header, len))
            }
        };
        input.start += header_len;
        Ok(Step::Next)
    }

    /// The rules every header follows on this connection, whatever its place: masking by
    /// role, and the reserved bits (`deflate` when permessage-deflate was agreed).
    fn check_header(&self, header: &FrameHeader, deflate: bool) -> Result<(), ProtocolError> {
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
        let first_data_frame = matches!(header.opcode, Opcode::Text | Opcode::Binary);
        if header.rsv != 0 && !(deflate && first_data_frame && header.rsv == RSV1) {
            if deflate && header.rsv == RSV1 {
                // RFC 7692 §6: "An endpoint receiving such a frame MUST _Fail the WebSocket
                // Connection_" (RSV1 "of control frames and non-first fragments of a data message").
                return Err(ProtocolError::CompressedControlOrContinuation);
            }
            return Err(ProtocolError::ReservedBits(header.rsv << 4));
        }
        Ok(())
    }

    /// The payload length of a data frame, within the frame size limit. Checked before the
    /// order of fragments, so a frame too large fails as such whatever its place.
    fn frame_len(&self, header: &FrameHeader) -> Result<usize, ProtocolError> {
        // §10.4: "implementations SHOULD impose implementation-specific limits on frame sizes
        // and the total message size" — checked here, before buffering the payload.
        usize::try_from(header.payload_len)
            .ok()
            .filter(|&len| len <= self.config.max_frame_size)
            .ok_or(ProtocolError::FrameTooLarge)
    }

    /// A message starts: compressed when its first frame has RSV1 (RFC 7692 §6), and then
    /// holding the decompressor until its last frame.
    fn start_message(&mut self, kind: DataKind, rsv: u8) -> Incoming {
        // `check_header` let RSV1 through only with deflate agreed: between messages, that is
        // with the decompressor here.
        let coding = match self.inflater.take_if(|_| rsv == RSV1) {
            Some(inflater) => Coding::Deflate {
                inflater,
                inflated: 0,
            },
            None => Coding::Plain,
        };
        Incoming {
            content: Content::new(kind),
            coding,
            fragments: 0,
            size: 0,
            started: false,
        }
    }

    /// Counts a frame of `len` bytes against the fragment and message limits (§10.4).
    fn count_fragment(&self, message: &mut Incoming, len: usize) -> Result<(), ProtocolError> {
        message.fragments = message.fragments.saturating_add(1);
        if message.fragments as usize > self.config.max_fragments {
            return Err(ProtocolError::TooManyFragments);
        }
        message.size = message.size.saturating_add(len);
        // A compressed message is limited by its inflated size (checked while inflating); its
        // wire size gets the slack incompressible data needs, so endless empty DEFLATE blocks
        // are still bounded.
        let limit = self.config.max_message_size;
        let max = match message.coding {
            Coding::Plain => limit,
            Coding::Deflate { .. } => limit.saturating_add(limit / 8 + 1024),
        };
        if message.size > max {
            return Err(ProtocolError::MessageTooLarge);
        }
        Ok(())
    }
}

fn control_frame(opcode: ControlOpcode, header: &FrameHeader) -> ControlFrame {
    // At most 125 bytes: `FrameHeader::parse` checked §5.5.
    let len = header.payload_len as usize;
    ControlFrame {
        opcode,
        payload: Payload::new(header.mask, len),
    }
}

fn data_frame(header: &FrameHeader, len: usize) -> DataFrame {
    DataFrame {
        fin: header.fin,
        payload: Payload::new(header.mask, len),
        released: 0,
    }
}
