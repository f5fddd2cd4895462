//! Metrics in the Prometheus text exposition format (version 0.0.4), for a `/metrics` route.
//!
//! [`Exposition`] writes families of samples (`# HELP`, `# TYPE`, then one line per sample)
//! with label values escaped as the format requires; [`StatsSnapshot::write_prometheus`]
//! writes the server's own counters into one, and an application adds its own beside them.
//!
//! ```
//! use fullduplex::server::Exposition;
//!
//! let mut metrics = Exposition::new("chat_");
//! metrics.gauge("users", "Users in a room now.", 3);
//! assert!(metrics.as_str().contains("# TYPE chat_users gauge\nchat_users 3\n"));
//! ```

use std::fmt::Write as _;

use crate::server::StatsSnapshot;

/// The content type of the text format, for the response's `Content-Type`.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A metric family's type (the `# TYPE` line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// A total that only grows (its name should end in `_total`).
    Counter,
    /// A value that goes up and down.
    Gauge,
}

/// A Prometheus text document being written.
#[derive(Debug, Clone, Default)]
pub struct Exposition {
    prefix: String,
    text: String,
}

impl Exposition {
    /// An empty document whose metric names all start with `prefix`.
    pub fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
            text: String::with_capacity(2048),
        }
    }

    /// Writes a counter with one sample and no labels.
    pub fn counter(&mut self, name: &str, help: &str, value: u64) {
        self.family(name, MetricKind::Counter, help, [(&[][..], value)]);
    }

    /// Writes a gauge with one sample and no labels.
    pub fn gauge(&mut self, name: &str, help: &str, value: u64) {
        self.family(name, MetricKind::Gauge, help, [(&[][..], value)]);
    }

    /// Writes a family: its help and type, then one sample per set of labels.
    pub fn family<'a>(
        &mut self,
        name: &str,
        kind: MetricKind,
        help: &str,
        samples: impl IntoIterator<Item = (&'a [(&'a str, &'a str)], u64)>,
    ) {
        let kind = match kind {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
        };
        let full = format!("{}{name}", self.prefix);
        let help = help.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = write!(self.text, "# HELP {full} {help}\n# TYPE {full} {kind}\n");
        for (labels, value) in samples {
            self.text.push_str(&full);
            if !labels.is_empty() {
                self.text.push('{');
                for (i, (label, label_value)) in labels.iter().enumerate() {
                    let sep = if i == 0 { "" } else { "," };
                    let _ = write!(self.text, "{sep}{label}=\"{}\"", escape(label_value));
                }
                self.text.push('}');
            }
            let _ = writeln!(self.text, " {value}");
        }
    }

    /// The document so far.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The finished document.
    pub fn into_string(self) -> String {
        self.text
    }
}

/// A label value with `\`, `"` and line feeds escaped, as the text format requires.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

impl StatsSnapshot {
    /// Writes every counter of the server into `metrics`: connections, messages and bytes in
    /// and out, broadcasts, slow consumers, keepalive timeouts, protocol errors, HTTP requests
    /// and refused handshakes (labelled by status and reason).
    pub fn write_prometheus(&self, metrics: &mut Exposition) {
        use MetricKind::{Counter, Gauge};
        let rows: [(&str, MetricKind, &str, u64); 14] = [
            (
                "connections",
                Gauge,
                "TCP connections held now.",
                self.connections,
            ),
            (
                "open_connections",
                Gauge,
                "WebSocket connections open now.",
                self.open,
            ),
            (
                "accepted_total",
                Counter,
                "TCP connections accepted.",
                self.accepted,
            ),
            (
                "refused_over_limit_total",
                Counter,
                "Connections refused with 503 at max_connections.",
                self.refused_over_limit,
            ),
            (
                "messages_in_total",
                Counter,
                "Data messages received.",
                self.messages_in,
            ),
            (
                "messages_out_total",
                Counter,
                "Data messages queued for sending, once per receiver.",
                self.messages_out,
            ),
            (
                "bytes_in_total",
                Counter,
                "Payload bytes received in data messages.",
                self.bytes_in,
            ),
            (
                "bytes_out_total",
                Counter,
                "Payload bytes queued in data messages.",
                self.bytes_out,
            ),
            (
                "broadcasts_total",
                Counter,
                "Broadcasts and publishes made.",
                self.broadcasts,
            ),
            (
                "slow_consumer_drops_total",
                Counter,
                "Messages dropped because the receiver's queue was full.",
                self.slow_consumer_drops,
            ),
            (
                "slow_consumer_closes_total",
                Counter,
                "Connections closed with 1008 because their queue was full.",
                self.slow_consumer_closes,
            ),
            (
                "keepalive_timeouts_total",
                Counter,
                "Connections dropped for not answering a keepalive ping.",
                self.keepalive_timeouts,
            ),
            (
                "protocol_errors_total",
                Counter,
                "Connections failed because the peer broke the protocol.",
                self.protocol_errors,
            ),
            (
                "http_requests_total",
                Counter,
                "Plain HTTP requests answered.",
                self.http_requests,
            ),
        ];
        for (name, kind, help, value) in rows {
            metrics.family(name, kind, help, [(&[][..], value)]);
        }
        let rejects: Vec<([(&str, &str); 2], u64)> = self
            .handshake_rejects
            .iter()
            .map(|(key, count)| {
                let (status, reason) = key.split_once(' ').unwrap_or((key.as_str(), ""));
                ([("status", status), ("reason", reason)], *count)
            })
            .collect();
        metrics.family(
            "handshake_rejects_total",
            Counter,
            "Opening handshakes refused, by HTTP status and reason.",
            rejects.iter().map(|(labels, count)| (&labels[..], *count)),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_families_with_escaped_labels() {
        let mut metrics = Exposition::new("x_");
        metrics.family(
            "rejects_total",
            MetricKind::Counter,
            "Refused.",
            [(&[("reason", "a \"b\"\\\nc")][..], 2)],
        );
        assert_eq!(
            metrics.as_str(),
            "# HELP x_rejects_total Refused.\n# TYPE x_rejects_total counter\n\
             x_rejects_total{reason=\"a \\\"b\\\"\\\\\\nc\"} 2\n"
        );
    }

    #[test]
    fn stats_snapshot_lists_rejects_by_status_and_reason() {
        let mut snapshot = StatsSnapshot {
            open: 4,
            ..StatsSnapshot::default()
        };
        snapshot
            .handshake_rejects
            .insert("403 refused by the application".into(), 7);
        let mut metrics = Exposition::new("fd_");
        snapshot.write_prometheus(&mut metrics);
        let text = metrics.into_string();
        assert!(text.contains("\nfd_open_connections 4\n"), "{text}");
        assert!(text.contains(
            "fd_handshake_rejects_total{status=\"403\",reason=\"refused by the application\"} 7\n"
        ));
        assert_eq!(text.matches("# TYPE ").count(), 15);
    }
}
