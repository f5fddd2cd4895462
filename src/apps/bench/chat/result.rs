//! The result of a chat run: the counts, the latencies (all deliveries, and by the receiving
//! client's transport), the server's CPU time per delivery, as lines for people or JSON.

use super::super::{cpu_json, cpu_text, latency_json, latency_text, report};
use super::load::{Load, Transport};
use super::sequence::Verdict;
use super::ChatBenchArgs;

/// The server's `error` messages by code, e.g. `rate_limited × 3, bad_request × 1`.
pub(super) fn error_counts(load: &Load) -> String {
    if load.errors.is_empty() {
        return "none".into();
    }
    let counts = load.errors.iter().map(|(code, n)| format!("{code} × {n}"));
    counts.collect::<Vec<_>>().join(", ")
}

/// The deliveries to one transport's clients as JSON.
fn transport_json(load: &Load, transport: Transport) -> serde_json::Value {
    let received = &load.by_transport[transport as usize];
    serde_json::json!({
        "deliveries": received.deliveries,
        "latency_us": latency_json(&received.delivery),
    })
}

/// The figures of a run beside the load's counts.
pub(super) struct Run {
    pub(super) members: usize,
    pub(super) senders: usize,
    pub(super) setup_secs: f64,
    pub(super) seconds: f64,
    pub(super) sent: u64,
    pub(super) send_failures: u64,
    pub(super) server_cpu: Option<f64>,
    /// The per-sender sequence check.
    pub(super) sequence: Verdict,
}

pub(super) fn print_result(args: &ChatBenchArgs, load: &Load, run: &Run) {
    let expected = load.expected;
    let rate = load.deliveries as f64 / run.seconds.max(1e-9);
    let errors: u64 = load.errors.values().sum();
    let (cpu_secs, cpu_per) = cpu_json(run.server_cpu, load.deliveries);
    let value = serde_json::json!({
        "mode": "chat",
        "urls": args.urls(),
        "clients": args.clients,
        "members": run.members,
        "failed": load.failed,
        "dropped": load.dropped,
        "end_reasons": load.failures.to_string(),
        "senders": run.senders,
        "rate": args.rate,
        "size": args.size,
        "deflate": args.common.deflate,
        "setup_seconds": run.setup_secs,
        "seconds": run.seconds,
        "sent": run.sent,
        "send_failures": run.send_failures,
        "expected_deliveries": expected,
        "deliveries": load.deliveries,
        "missing": load.missing(),
        "completed": load.completed,
        "strays": load.strays,
        "rooms": load.rooms.count(),
        "sequence": {
            "lost": run.sequence.lost,
            "duplicated": run.sequence.duplicated,
            "reordered": run.sequence.reordered,
            "refused": run.sequence.refused,
            "passed": run.sequence.passed(),
        },
        "left_notices": load.left_notices,
        "errors": errors,
        "error_codes": load.errors,
        "deliveries_per_sec": rate.round(),
        "latency_us": latency_json(&load.delivery),
        "fanout_latency_us": latency_json(&load.fanout),
        "websocket_clients": args.websocket_clients(),
        "fallback_clients": args.fallback,
        "fallback_members": load.fallback_members.len(),
        "fallback_failures": load.fallback_failures,
        "by_transport": {
            "websocket": transport_json(load, Transport::WebSocket),
            "fallback": transport_json(load, Transport::Fallback),
        },
        "server_cpu_secs": cpu_secs,
        "server_cpu_us_per_delivery": cpu_per,
    });
    let mut lines = vec![
        format!(
            "chat {}: {} members of {}, {} senders, {} msg/s{} × {} chars, {:.1} s measured",
            args.urls().join(","),
            run.members,
            load.rooms.describe(),
            run.senders,
            args.rate,
            if args.room_size.is_some() { " per room" } else { "" },
            args.size,
            run.seconds
        ),
        format!(
            "  {} messages sent, {} reached every member; {} of {} deliveries ({:.0}/s), {} missing",
            run.sent,
            load.completed,
            load.deliveries,
            expected,
            rate,
            load.missing()
        ),
        format!(
            "  per sender: {} lost, {} repeated, {} out of order ({} refused or unanswered by the chat): {}",
            run.sequence.lost,
            run.sequence.duplicated,
            run.sequence.reordered,
            run.sequence.refused,
            if run.sequence.passed() { "PASS" } else { "FAIL" }
        ),
        format!("  delivery latency: {}", latency_text(&load.delivery)),
        format!("  fan-out latency:  {}", latency_text(&load.fanout)),
    ];
    if args.fallback > 0 {
        for (name, transport) in [
            ("WebSocket", Transport::WebSocket),
            ("fallback", Transport::Fallback),
        ] {
            let received = &load.by_transport[transport as usize];
            lines.push(format!(
                "  to {name} clients: {} deliveries, latency {}",
                received.deliveries,
                latency_text(&received.delivery)
            ));
        }
    }
    lines.extend(cpu_text(run.server_cpu, load.deliveries, "delivery"));
    let failures = load.failed + load.dropped;
    if errors > 0 || failures > 0 || run.send_failures > 0 || !load.fallback_failures.is_empty() {
        lines.push(format!(
            "  errors: {}; {} clients failed to join, {} dropped, {} sends failed; {}",
            error_counts(load),
            load.failed,
            load.dropped,
            run.send_failures,
            load.failures
        ));
        for (why, n) in &load.fallback_failures {
            lines.push(format!("  fallback: {why} × {n}"));
        }
    }
    report(args.common.json, &value, &lines);
}
