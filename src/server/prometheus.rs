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
        self.write_gauges_and_totals(metrics);
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
            MetricKind::Counter,
            "Opening handshakes refused, by HTTP status and reason.",
            rejects.iter().map(|(labels, count)| (&labels[..], *count)),
        );
    }
}

impl StatsSnapshot {
    /// The gauges and totals without labels, one family each.
    fn write_gauges_and_totals(&self, m: &mut Exposition) {
        m.gauge("connections", "TCP connections held now.", self.connections);
        m.gauge(
            "open_connections",
            "WebSocket connections open now.",
            self.open,
        );
        m.counter("accepted_total", "TCP connections accepted.", self.accepted);
        let over_limit = self.refused_over_limit;
        m.counter(
            "refused_over_limit_total",
            "Refused with 503 at max_connections or out of descriptors.",
            over_limit,
        );
        m.counter(
            "messages_in_total",
            "Data messages received.",
            self.messages_in,
        );
        m.counter(
            "messages_out_total",
            "Data messages queued, once per receiver.",
            self.messages_out,
        );
        m.counter("bytes_in_total", "Payload bytes received.", self.bytes_in);
        m.counter("bytes_out_total", "Payload bytes queued.", self.bytes_out);
        m.counter(
            "broadcasts_total",
            "Broadcasts and publishes made.",
            self.broadcasts,
        );
        let (drops, closes) = (self.slow_consumer_drops, self.slow_consumer_closes);
        m.counter(
            "slow_consumer_drops_total",
            "Messages dropped: queue full.",
            drops,
        );
        m.counter(
            "slow_consumer_closes_total",
            "Closed with 1008: queue full.",
            closes,
        );
        let timeouts = self.keepalive_timeouts;
        m.counter(
            "keepalive_timeouts_total",
            "Dropped: no answer to a ping.",
            timeouts,
        );
        m.counter(
            "protocol_errors_total",
            "Failed: the peer broke the protocol.",
            self.protocol_errors,
        );
        m.counter(
            "http_requests_total",
            "Plain HTTP requests answered.",
            self.http_requests,
        );
        m.counter(
            "mailbox_drops_total",
            "Commands dropped: a worker's mailbox was full.",
            self.mailbox_drops,
        );
        m.counter(
            "held_back_total",
            "Messages held behind a fragmented message.",
            self.held_back,
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
        assert_eq!(text.matches("# TYPE ").count(), 17);
    }
}
