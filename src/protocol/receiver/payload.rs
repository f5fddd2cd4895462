//! Payload as it arrives: unmasked in place, UTF-8 checked inside the frame, inflated in
//! bounded chunks counted against the message limit (RFC 7692 §7.2.2), control frames
//! completed (RFC 6455 §5.5), and data frames delivered whole, streamed as chunks or
//! reassembled into one message (RFC 6455 §5.4).

use super::{new_flight, Flight, FrameProgress, Incoming, Phase, Ready, Receiver, INFLATED_CHUNK};
use crate::config::MessageDelivery;
use crate::error::ProtocolError;
use crate::protocol::close::parse_close_payload;
use crate::protocol::frame::Opcode;
use crate::protocol::mask::apply_mask;
use crate::protocol::message::DataKind;
use crate::protocol::sender::Sender;

impl Receiver {
    /// Unmasks and validates whatever part of the frame's payload has arrived.
    pub(super) fn process_payload(
        &mut self,
        mut frame: FrameProgress,
    ) -> Result<FrameProgress, ProtocolError> {
        let f: &mut Flight = flight!(self);
        let present = (frame.released + f.end - f.start).min(frame.len);
        if present > frame.done {
            let from = f.start + (frame.done - frame.released);
            let to = f.start + (present - frame.released);
            let piece = &mut f.buf[from..to];
            if let Some(key) = frame.mask {
                apply_mask(piece, key, frame.done);
            }
            frame.done = present;
            let Some(message) = f.message.filter(|_| !frame.opcode.is_control()) else {
                return Ok(frame);
            };
            let text = message.kind == DataKind::Text;
            if !message.compressed {
                if text {
                    // §8.1: invalid UTF-8 "MUST _Fail the WebSocket Connection_" — checked as
                    // the bytes arrive, so the failure comes at the first invalid byte.
                    f.utf8
                        .feed(&f.buf[from..to])
                        .map_err(|_| ProtocolError::InvalidUtf8)?;
                }
            } else if self.config.message_delivery == MessageDelivery::Whole {
                self.inflate_whole(from, to, text)?;
            }
        }
        Ok(frame)
    }

    /// Inflates newly arrived compressed payload into the reassembly buffer, bounded by the
    /// message size limit, validating text on the inflated bytes (RFC 7692 §6.2).
    pub(super) fn inflate_whole(
        &mut self,
        from: usize,
        to: usize,
        text: bool,
    ) -> Result<(), ProtocolError> {
        let Some(inflater) = self.inflater.as_mut() else {
            unreachable!("a compressed message needs the extension")
        };
        let f: &mut Flight = flight!(self);
        let before = f.assembled.len();
        inflater
            .inflate(
                &f.buf[from..to],
                &mut f.assembled,
                self.config.max_message_size,
            )
            .map_err(|_| ProtocolError::InvalidCompressedData)?;
        self.check_inflated(before, text)
    }

    /// The checks on bytes just inflated into `assembled[before..]`: the size limit, UTF-8.
    pub(super) fn check_inflated(
        &mut self,
        before: usize,
        text: bool,
    ) -> Result<(), ProtocolError> {
        let flight = flight!(self);
        if flight.assembled.len() > self.config.max_message_size {
            return Err(ProtocolError::MessageTooLarge);
        }
        if text {
            flight
                .utf8
                .feed(&flight.assembled[before..])
                .map_err(|_| ProtocolError::InvalidUtf8)?;
        }
        Ok(())
    }

    /// A complete Ping, Pong or Close.
    pub(super) fn complete_control(
        &mut self,
        frame: FrameProgress,
        tx: &mut Sender,
    ) -> Result<Ready, ProtocolError> {
        let f = flight!(self);
        let (at, len) = (f.start, frame.len);
        f.release_frame = len;
        f.frame = None;
        let payload = &f.buf[at..at + len];
        Ok(match frame.opcode {
            Opcode::Ping => {
                tx.answer_ping(payload);
                Ready::Ping { at, len }
            }
            Opcode::Pong => Ready::Pong { at, len },
            _ => {
                let (code, reason) = parse_close_payload(payload)?;
                let reason_at = at + len - reason.len();
                self.phase = Phase::CloseReceived;
                tx.answer_close(code);
                Ready::Closed {
                    code,
                    at: reason_at,
                    len: reason.len(),
                }
            }
        })
    }

    /// A complete data frame, in whole-message delivery.
    pub(super) fn complete_data(
        &mut self,
        frame: FrameProgress,
    ) -> Result<Option<Ready>, ProtocolError> {
        let Some(message) = flight!(self).message else {
            unreachable!("check_header starts a message for every data frame")
        };
        let (at, len) = (flight!(self).start, frame.len);
        if message.compressed {
            // The payload is already inflated into `assembled`.
            let f = flight!(self);
            f.start += len;
            f.frame = None;
            if !frame.fin {
                return Ok(None);
            }
            self.finish_inflating(message.kind == DataKind::Text)?;
            self.end_message(message.kind)?;
            flight!(self).release_assembled = true;
            return Ok(Some(Ready::Assembled(message.kind)));
        }
        if frame.fin {
            self.end_message(message.kind)?;
        }
        if frame.fin && message.fragments == 1 {
            // A message in one frame: hand out the receive buffer itself, no copy.
            flight!(self).release_frame = len;
            flight!(self).frame = None;
            return Ok(Some(Ready::Frame {
                kind: message.kind,
                at,
                len,
            }));
        }
        let f: &mut Flight = flight!(self);
        if f.assembled.is_empty() {
            f.assembled.reserve_exact(message.size);
        }
        f.assembled.extend_from_slice(&f.buf[at..at + len]);
        f.frame = None;
        f.start += len;
        if frame.fin {
            f.release_assembled = true;
            return Ok(Some(Ready::Assembled(message.kind)));
        }
        Ok(None)
    }

    /// Inflates the trailer at the end of a compressed message (RFC 7692 §7.2.2).
    pub(super) fn finish_inflating(&mut self, text: bool) -> Result<(), ProtocolError> {
        let Some(inflater) = self.inflater.as_mut() else {
            unreachable!("a compressed message needs the extension")
        };
        let assembled = &mut flight!(self).assembled;
        let before = assembled.len();
        inflater
            .end_message(assembled, self.config.max_message_size)
            .map_err(|_| ProtocolError::InvalidCompressedData)?;
        self.check_inflated(before, text)
    }

    /// The newly arrived part of a data frame, in streamed delivery. Each chunk is released
    /// from the buffer at the next call, so a frame of any size streams in bounded memory.
    pub(super) fn stream_chunk(
        &mut self,
        mut frame: FrameProgress,
    ) -> Result<Option<Ready>, ProtocolError> {
        let Some(mut message) = flight!(self).message else {
            unreachable!("check_header starts a message for every data frame")
        };
        if message.compressed {
            return self.stream_inflated(frame, message);
        }
        let complete = frame.done == frame.len;
        let last = complete && frame.fin;
        let fresh = frame.done > frame.delivered;
        // An empty piece is still worth an event when it starts or ends the message.
        let starts_empty_message = complete && !message.started;
        if !(fresh || last || starts_empty_message) {
            if complete {
                flight!(self).frame = None;
            }
            return Ok(None);
        }
        if last {
            self.end_message(message.kind)?;
        }
        let at = flight!(self).start + (frame.delivered - frame.released);
        let len = frame.done - frame.delivered;
        let first = !message.started;
        message.started = true;
        frame.delivered = frame.done;
        frame.released = frame.done;
        flight!(self).release_frame = len;
        let flight = flight!(self);
        flight.frame = if complete { None } else { Some(frame) };
        if !last {
            flight.message = Some(message);
        }
        Ok(Some(Ready::Chunk {
            kind: message.kind,
            at,
            len,
            first,
            last,
        }))
    }

    /// Inflates what has arrived of a compressed frame, in streamed delivery: at most
    /// `INFLATED_CHUNK` bytes per event, resuming where the last one stopped.
    pub(super) fn stream_inflated(
        &mut self,
        mut frame: FrameProgress,
        mut message: Incoming,
    ) -> Result<Option<Ready>, ProtocolError> {
        let Some(inflater) = self.inflater.as_mut() else {
            unreachable!("a compressed message needs the extension")
        };
        let flight: &mut Flight = flight!(self);
        let from = flight.start + (frame.consumed - frame.released);
        let to = flight.start + (frame.done - frame.released);
        flight.assembled.clear();
        let used = inflater
            .inflate(
                &flight.buf[from..to],
                &mut flight.assembled,
                INFLATED_CHUNK - 1,
            )
            .map_err(|_| ProtocolError::InvalidCompressedData)?;
        frame.consumed += used;
        let complete = frame.consumed == frame.len;
        let last = complete && frame.fin;
        if last {
            inflater
                .end_message(&mut flight.assembled, 2 * INFLATED_CHUNK)
                .map_err(|_| ProtocolError::InvalidCompressedData)?;
        }
        message.inflated += flight.assembled.len();
        if message.inflated > self.config.max_message_size {
            return Err(ProtocolError::MessageTooLarge);
        }
        if message.kind == DataKind::Text {
            flight
                .utf8
                .feed(&flight.assembled)
                .map_err(|_| ProtocolError::InvalidUtf8)?;
        }
        // Input fed to the inflater is no longer needed.
        let release = frame.consumed - frame.released;
        frame.released = frame.consumed;
        frame.delivered = frame.consumed;
        flight.frame = if complete { None } else { Some(frame) };
        let starts_empty_message = complete && !message.started;
        if flight.assembled.is_empty() && !last && !starts_empty_message {
            flight.message = Some(message);
            flight.start += release;
            return Ok(None);
        }
        flight!(self).release_frame = release;
        let first = !message.started;
        if last {
            self.end_message(message.kind)?;
        } else {
            message.started = true;
            flight!(self).message = Some(message);
        }
        Ok(Some(Ready::AssembledChunk {
            kind: message.kind,
            first,
            last,
        }))
    }

    /// The message's final frame is complete: text must end on a character boundary.
    pub(super) fn end_message(&mut self, kind: DataKind) -> Result<(), ProtocolError> {
        let flight = flight!(self);
        flight.message = None;
        // §5.6: "a particular text frame might include a partial UTF-8 sequence; however, the
        // whole message MUST contain valid UTF-8."
        if kind == DataKind::Text {
            flight
                .utf8
                .finish()
                .map_err(|_| ProtocolError::InvalidUtf8)?;
        }
        Ok(())
    }
}
