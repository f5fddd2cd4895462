//! A message on its way to one or many connections, encoded once and shared.
//!
//! A broadcast builds one [`SharedFrame`] for every receiver without compression and, the
//! first time a receiver needs it, one compressed frame for every receiver whose server side
//! has no context takeover (RFC 7692 §7.1.1.1). Receivers with context takeover get the
//! message compressed by their own compressor: their stream depends on what they saw before.

use std::sync::{Arc, OnceLock};

use crate::config::SlowConsumer;
use crate::protocol::close::CloseCode;
use crate::protocol::{DataKind, Message, Sender, SharedFrame};
use crate::server::stats::Stats;
use crate::Config;

/// A data message to deliver, shareable between worker threads.
#[derive(Debug)]
pub(crate) struct Outbound {
    kind: DataKind,
    payload: Vec<u8>,
    plain: SharedFrame,
    compressed: OnceLock<SharedFrame>,
    level: u32,
}

impl Outbound {
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

    /// Queues the message on `tx`, sharing encoded bytes where the connection allows.
    pub(crate) fn deliver(&self, tx: &mut Sender, config: &Config, stats: &Stats) {
        if !admit(tx, config, stats) {
            return;
        }
        let sent = if tx.compresses(self.payload.len()) {
            let frame = self
                .compressed
                .get_or_init(|| SharedFrame::compressed(self.kind, &self.payload, 15, self.level));
            tx.send_shared(frame).is_ok() || self.message().is_some_and(|m| tx.send(m).is_ok())
        } else {
            tx.send_shared(&self.plain).is_ok()
        };
        if sent {
            Stats::add(&stats.messages_out, 1);
            Stats::add(&stats.bytes_out, self.payload.len() as u64);
        }
    }
}

/// Applies the slow-consumer policy: whether one more message may be queued on `tx`.
pub(crate) fn admit(tx: &mut Sender, config: &Config, stats: &Stats) -> bool {
    admit_under(tx, config, stats, config.slow_consumer)
}

/// Whether one more fragment of a streamed message may be queued on `tx`. Part of a message
/// cannot be dropped (the rest would arrive as a message of its own, or not fit the
/// fragmentation rules), so over the limit the connection is closed whatever the policy.
pub(crate) fn admit_fragment(tx: &mut Sender, config: &Config, stats: &Stats) -> bool {
    admit_under(tx, config, stats, SlowConsumer::Close)
}

fn admit_under(tx: &mut Sender, config: &Config, stats: &Stats, policy: SlowConsumer) -> bool {
    if !tx.is_open() {
        return false;
    }
    if tx.buffered_amount() <= config.max_outbound_queue {
        return true;
    }
    match policy {
        SlowConsumer::DropMessages => Stats::add(&stats.slow_consumer_drops, 1),
        SlowConsumer::Close => {
            // RFC 6455 §7.4.1: 1008 "indicates that an endpoint is terminating the connection
            // because it has received a message that violates its policy" — here, reading
            // too slowly. The Close frame waits behind the queue; close_timeout cuts it.
            if tx
                .close(CloseCode::PolicyViolation, "slow consumer")
                .is_ok()
            {
                Stats::add(&stats.slow_consumer_closes, 1);
            }
        }
    }
    false
}
