//! The chat's own counters for `/metrics`, beside the server's: the chat's, and the HTTP
//! fallback's.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use fullduplex::server::prometheus::Exposition;

/// The chat's own counters, beside the server's (see `/metrics`).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) chat_messages: AtomicU64,
    pub(crate) files: AtomicU64,
    pub(crate) rate_limited: AtomicU64,
    pub(crate) abuse_closes: AtomicU64,
    pub(crate) bad_input: AtomicU64,
    /// WebSocket connections open now.
    pub(crate) websocket_sessions: AtomicU64,
}

impl Counters {
    /// Writes the chat's counters for `/metrics`.
    pub(crate) fn write_prometheus(&self, metrics: &mut Exposition) {
        let rows = [
            (
                "chat_messages_total",
                "Chat messages relayed.",
                &self.chat_messages,
            ),
            ("chat_files_total", "Files relayed.", &self.files),
            (
                "chat_rate_limited_total",
                "Messages over the rate limit.",
                &self.rate_limited,
            ),
            (
                "chat_abuse_closes_total",
                "Closes (1008) for flooding.",
                &self.abuse_closes,
            ),
            (
                "chat_bad_input_total",
                "Messages refused with an error.",
                &self.bad_input,
            ),
        ];
        for (name, help, counter) in rows {
            metrics.counter(name, help, counter.load(Relaxed));
        }
    }
}

/// The fallback's counters for `/metrics`.
#[derive(Debug, Default)]
pub struct FallbackCounters {
    /// Polls received.
    pub polls: AtomicU64,
    /// Sessions that expired (no request within the expiry).
    pub expired: AtomicU64,
    /// Sessions closed because their backlog passed its bound.
    pub slow_closes: AtomicU64,
}

impl FallbackCounters {
    /// Writes the fallback's counters for `/metrics`.
    pub(crate) fn write_prometheus(&self, metrics: &mut Exposition) {
        let rows = [
            ("chat_fallback_polls_total", "Fallback polls.", &self.polls),
            (
                "chat_fallback_expired_total",
                "Fallback sessions expired.",
                &self.expired,
            ),
            (
                "chat_fallback_slow_closes_total",
                "Fallback sessions closed for their backlog.",
                &self.slow_closes,
            ),
        ];
        for (name, help, counter) in rows {
            metrics.counter(name, help, counter.load(Relaxed));
        }
    }
}
