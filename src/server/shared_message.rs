//! A message on its way to one or many connections, encoded once and shared.
//!
//! A broadcast builds one [`SharedFrame`] for every receiver without compression and, the
//! first time a receiver needs it, one frame compressed with a 15-bit window for every
//! receiver whose server side has no context takeover (RFC 7692 §7.1.1.1) and may use that
//! window (RFC 7692 §7.1.2.1). Other receivers get the message compressed by their own
//! compressor: with context takeover their stream depends on what they saw before, and a
//! smaller window cannot read a frame compressed with a larger one.

use std::sync::{Arc, OnceLock};

use crate::protocol::{DataKind, Message, Sender, SharedFrame};
use crate::server::slow_consumer::make_room;
use crate::server::stats::Stats;
use crate::transport::Transport;
use crate::{Config, UsageError};

/// A data message for one or many connections (a send, a publish, a broadcast): its payload
/// and its frames, encoded once and shared by every receiver and worker thread.
#[derive(Debug)]
pub(crate) struct SharedMessage {
    kind: DataKind,
    payload: Vec<u8>,
    plain: SharedFrame,
    compressed: OnceLock<SharedFrame>,
    level: u32,
}

impl SharedMessage {
    pub(crate) fn new(kind: DataKind, payload: Vec<u8>, config: &Config) -> Arc<Self> {
        let plain = SharedFrame::new(kind, &payload);
        let level = config.deflate.as_ref().map_or(6, |d| d.level);
        Arc::new(Self {
            kind,
            payload,
            plain,
            compressed: OnceLock::new(),
            level,
        })
    }

    /// The payload as a message.
    fn message(&self) -> Option<Message<'_>> {
        Some(match self.kind {
            DataKind::Text => Message::Text(std::str::from_utf8(&self.payload).ok()?),
            DataKind::Binary => Message::Binary(&self.payload),
        })
    }

    /// Payload bytes (what a held-back message counts against the queue limit).
    pub(crate) fn len(&self) -> usize {
        self.payload.len()
    }

    /// Queues the message on `tx`, sharing encoded bytes where the connection allows; writes to
    /// `transport` first if the queue is over its limit (see [`Sender::make_room`]). The caller
    /// counts what was queued (see [`count_queued`]), once for all the receivers of a message.
    pub(crate) fn deliver(
        &self,
        tx: &mut Sender,
        transport: &mut Transport,
        config: &Config,
        stats: &Stats,
    ) -> Delivery {
        if make_room(tx, transport, config, stats).is_err() {
            return Delivery::Refused;
        }
        let sent = if tx.compresses(self.payload.len()) {
            let frame = self
                .compressed
                .get_or_init(|| SharedFrame::compressed(self.kind, &self.payload, 15, self.level));
            match tx.send_shared(frame) {
                Err(UsageError::IncompatibleSharedFrame) => match self.message() {
                    Some(message) => tx.send(message),
                    None => Err(UsageError::IncompatibleSharedFrame),
                },
                other => other,
            }
        } else {
            tx.send_shared(&self.plain)
        };
        match sent {
            Ok(()) => Delivery::Queued,
            // The application is sending a fragmented message: this one must wait for its end.
            Err(UsageError::MessageInProgress) => Delivery::InProgress,
            Err(_) => Delivery::Refused,
        }
    }
}

/// Counts `deliveries` of `message` in the statistics: one atomic update per message, not
/// per receiver (a broadcast to thousands would otherwise pay a locked add for each).
pub(crate) fn count_queued(stats: &Stats, message: &SharedMessage, deliveries: u64) {
    if deliveries > 0 {
        Stats::add(&stats.messages_out, deliveries);
        Stats::add(&stats.bytes_out, deliveries * message.len() as u64);
    }
}

/// What became of a message offered to a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Delivery {
    /// Queued for writing.
    Queued,
    /// Not queued: the connection is closing, or the slow-consumer policy refused it.
    Refused,
    /// Not queued yet: a fragmented message is being sent; offer it again after its end.
    InProgress,
}
