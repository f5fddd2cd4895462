//! Payload as it arrives: unmasked in place, UTF-8 checked inside the frame, inflated in
//! bounded chunks counted against the message limit (RFC 7692 §7.2.2), control frames
//! completed (RFC 6455 §5.5), and data frames delivered whole or reassembled into one
//! message (RFC 6455 §5.4); `stream.rs` delivers them as chunks instead.

use std::ops::Range;

use super::flight::{Coding, Content, ControlFrame, ControlOpcode, DataFrame, Incoming, Input};
use super::{Progress, Ready, Receiver, Reception, Step};
use crate::config::MessageDelivery;
use crate::error::ProtocolError;
use crate::protocol::close::parse_close_payload;
use crate::protocol::deflate::codec::Decompressor;
use crate::protocol::message::DataKind;
use crate::protocol::sender::Sender;

impl Receiver {
    /// Takes in what has arrived of a control frame; once it is whole, its event (and
    /// answer).
    pub(super) fn control_payload(
        &mut self,
        input: &mut Input,
        frame: &mut ControlFrame,
        tx: &mut Sender,
    ) -> Result<Option<Ready>, ProtocolError> {
        input.unmask(&mut frame.payload, 0);
        if !frame.payload.complete() {
            return Ok(None);
        }
        let (at, len) = (input.start, frame.payload.len);
        input.release_frame = len;
        let payload = &input.buf[at..at + len];
        Ok(Some(match frame.opcode {
            ControlOpcode::Ping => {
                tx.answer_ping(payload);
                Ready::Ping { at, len }
            }
            ControlOpcode::Pong => Ready::Pong { at, len },
            ControlOpcode::Close => {
                let (code, reason) = parse_close_payload(payload)?;
                let reason_at = at + len - reason.len();
                self.reception = Reception::CloseReceived;
                tx.answer_close(code);
                Ready::Closed {
                    code,
                    at: reason_at,
                    len: reason.len(),
                }
            }
        }))
    }

    /// Takes in what has arrived of a data frame of `message`, and delivers what it can.
    pub(super) fn data_payload(
        &mut self,
        input: &mut Input,
        frame: &mut DataFrame,
        message: &mut Incoming,
    ) -> Result<Progress, ProtocolError> {
        let new = input.unmask(&mut frame.payload, frame.released);
        self.check_new(input, new, message)?;
        match self.config.message_delivery {
            MessageDelivery::Whole => self.complete_data(input, frame, message),
            MessageDelivery::Streamed => self.stream(input, frame, message),
        }
    }

    /// Checks the newly arrived bytes `new` of `message`: plain, as they are; compressed and
    /// delivered whole, inflated into the reassembly buffer first (RFC 7692 §6.2), bounded by
    /// the message size limit. (Streamed, a compressed message is inflated as its chunks are
    /// handed out.)
    fn check_new(
        &self,
        input: &mut Input,
        new: Range<usize>,
        message: &mut Incoming,
    ) -> Result<(), ProtocolError> {
        if new.is_empty() {
            return Ok(());
        }
        let Coding::Deflate { inflater, .. } = &mut message.coding else {
            return message.content.check(&input.buf[new]);
        };
        if self.config.message_delivery == MessageDelivery::Streamed {
            return Ok(());
        }
        let before = input.assembled.len();
        let max = self.config.max_message_size;
        inflater
            .inflate(&input.buf[new], &mut input.assembled, max)
            .map_err(|_| ProtocolError::InvalidCompressedData)?;
        check_inflated(&input.assembled, before, &mut message.content, max)
    }

    /// A data frame in whole-message delivery, once all of it has arrived.
    fn complete_data(
        &mut self,
        input: &mut Input,
        frame: &DataFrame,
        message: &mut Incoming,
    ) -> Result<Progress, ProtocolError> {
        if !frame.payload.complete() {
            return Ok(Progress::Continues(Step::NeedInput));
        }
        let Coding::Deflate { inflater, .. } = &mut message.coding else {
            return self.complete_plain(input, frame, message);
        };
        // The payload is already inflated into `assembled`.
        input.start += frame.payload.len;
        if !frame.fin {
            return Ok(Progress::FrameDone(Step::Next));
        }
        let max = self.config.max_message_size;
        finish_inflating(input, inflater, &mut message.content, max)?;
        let kind = self.end_message(message)?;
        input.release_assembled = true;
        Ok(Progress::Ended(Ready::Assembled(kind)))
    }

    /// A complete plain data frame, in whole-message delivery.
    fn complete_plain(
        &mut self,
        input: &mut Input,
        frame: &DataFrame,
        message: &mut Incoming,
    ) -> Result<Progress, ProtocolError> {
        let (at, len) = (input.start, frame.payload.len);
        if !frame.fin {
            reassemble(input, len, message.size);
            return Ok(Progress::FrameDone(Step::Next));
        }
        let kind = self.end_message(message)?;
        if message.fragments == 1 {
            // A message in one frame: hand out the receive buffer itself, no copy.
            input.release_frame = len;
            return Ok(Progress::Ended(Ready::Frame { kind, at, len }));
        }
        reassemble(input, len, message.size);
        input.release_assembled = true;
        Ok(Progress::Ended(Ready::Assembled(kind)))
    }

    /// The message's final frame is complete: text must end on a character boundary, and a
    /// compressed message gives the decompressor back. The caller then closes the message.
    pub(super) fn end_message(
        &mut self,
        message: &mut Incoming,
    ) -> Result<DataKind, ProtocolError> {
        if let Coding::Deflate { inflater, .. } =
            std::mem::replace(&mut message.coding, Coding::Plain)
        {
            self.inflater = Some(inflater);
        }
        message.content.finish()
    }
}

/// Moves the frame of `len` bytes at the start of the buffer into the reassembly buffer,
/// which a message's first fragment sizes to the message so far, `size`.
fn reassemble(input: &mut Input, len: usize, size: usize) {
    if input.assembled.is_empty() {
        input.assembled.reserve_exact(size);
    }
    input
        .assembled
        .extend_from_slice(&input.buf[input.start..input.start + len]);
    input.start += len;
}

/// Inflates the trailer at the end of a compressed message (RFC 7692 §7.2.2).
fn finish_inflating(
    input: &mut Input,
    inflater: &mut Decompressor,
    content: &mut Content,
    max: usize,
) -> Result<(), ProtocolError> {
    let before = input.assembled.len();
    inflater
        .end_message(&mut input.assembled, max)
        .map_err(|_| ProtocolError::InvalidCompressedData)?;
    check_inflated(&input.assembled, before, content, max)
}

/// The checks on bytes just inflated into `assembled[before..]`: the size limit, UTF-8.
fn check_inflated(
    assembled: &[u8],
    before: usize,
    content: &mut Content,
    max: usize,
) -> Result<(), ProtocolError> {
    if assembled.len() > max {
        return Err(ProtocolError::MessageTooLarge);
    }
    content.check(&assembled[before..])
}
