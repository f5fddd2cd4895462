//! The chat's rate limits over loopback: a client over them is told when to retry and stays
//! connected, typing notices have a budget of their own, and only a flood far past the limits
//! is closed with 1008.

use std::time::Duration;

use crate::apps::chat::{ChatOptions, RateLimits};
use fullduplex::protocol::{CloseCode, OwnedEvent};
use serde_json::{json, Value};

use super::support::{start, threads, Client};

/// One worker (answers in order) with `per_sec` messages a second, bursts of five, and a
/// disconnection after `threshold` refusals.
fn limited(per_sec: f64, threshold: f64) -> ChatOptions {
    ChatOptions {
        rate: RateLimits {
            messages_per_sec: per_sec,
            message_burst: 5.0,
            bytes_per_sec: 1e6,
            abuse_threshold: threshold,
        },
        ..threads(1)
    }
}

fn message(text: &str) -> Value {
    json!({"type": "message", "text": text})
}

/// The delay a `rate_limited` error asks for, checked to be at most `max_ms`.
fn retry_after(error: &Value, max_ms: u64) -> Duration {
    assert_eq!(error["code"], "rate_limited", "{error}");
    let ms = error["retry_after_ms"].as_u64().expect("a retry_after_ms");
    assert!((1..=max_ms).contains(&ms), "{error}");
    Duration::from_millis(ms)
}

#[test]
fn over_the_limit_a_client_is_told_when_to_retry_and_stays_connected() {
    let server = start(limited(5.0, 10.0));
    // The join takes one message of the burst of five: four are left.
    let (mut ada, _) = Client::joined(server.local_addr(), "Ada", "lobby");
    for n in 0..8 {
        ada.send(message(&format!("line {n}")));
    }
    // Each message gets one answer, in order: its copy while the burst lasts, then an error.
    let answers: Vec<Value> = (0..8).map(|_| ada.next_json()).collect();
    let passed = answers
        .iter()
        .take_while(|a| a["type"] == "message")
        .count();
    assert!((4..=5).contains(&passed), "{answers:?}");
    for (n, answer) in answers[..passed].iter().enumerate() {
        assert_eq!(answer["text"], format!("line {n}"));
    }
    let mut wait = Duration::ZERO;
    for error in &answers[passed..] {
        assert_eq!(error["type"], "error", "{error}");
        // Five messages a second: the next one is at most 200 ms away.
        wait = retry_after(error, 200);
    }
    // Waiting as long as the last error said is enough; the connection never closed.
    std::thread::sleep(wait);
    ada.send(message("after the wait"));
    assert_eq!(ada.expect("message")["text"], "after the wait");
}

#[test]
fn typing_notices_do_not_use_message_tokens() {
    // One message a second: nothing refills during the test.
    let server = start(limited(1.0, 100.0));
    let addr = server.local_addr();
    let (mut ada, _) = Client::joined(addr, "Ada", "lobby");
    let (mut grace, _) = Client::joined(addr, "Grace", "lobby");
    ada.expect("joined");
    // Eight typing notices against their own burst of five: three are dropped, unanswered.
    for _ in 0..8 {
        ada.send(json!({"type": "typing"}));
    }
    // The join left four of the five message tokens; typing took none of them.
    for n in 0..5 {
        ada.send(message(&format!("line {n}")));
    }
    for n in 0..4 {
        assert_eq!(ada.expect("message")["text"], format!("line {n}"));
    }
    retry_after(&ada.expect("error"), 1000);
    for _ in 0..5 {
        assert_eq!(grace.expect("typing")["user"]["nick"], "Ada");
    }
    for n in 0..4 {
        assert_eq!(grace.expect("message")["text"], format!("line {n}"));
    }
}

#[test]
fn a_flood_far_past_the_limit_is_closed_with_1008() {
    let server = start(limited(5.0, 10.0));
    let (mut flood, _) = Client::joined(server.local_addr(), "Flood", "lobby");
    for n in 0..40 {
        // Stop once the server has closed: its Close frame may already be on the way.
        if flood
            .ws
            .send_text(&message(&format!("spam {n}")).to_string())
            .is_err()
        {
            break;
        }
    }
    let mut messages = 0;
    let mut rate_errors = 0;
    let code = loop {
        match flood.next() {
            OwnedEvent::Text(text) => {
                let answer: Value = serde_json::from_str(&text).expect("JSON");
                if answer["type"] == "error" {
                    retry_after(&answer, 200);
                    rate_errors += 1;
                } else {
                    assert_eq!(answer["type"], "message", "{answer}");
                    assert_eq!(rate_errors, 0, "the burst's copies come first");
                    messages += 1;
                }
            }
            OwnedEvent::Closed { code, .. } => break code,
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(code, CloseCode::PolicyViolation);
    // The close goes out at once; answers queued in the same tick as it are dropped, so
    // how many arrive before it depends on how the server's reads fell. Never more than the
    // burst passed, nor more errors than the penalty allows: the first refusal, then 10 that
    // came without waiting (plus what the elapsed time forgave).
    assert!(messages <= 5, "{messages} passed");
    assert!(rate_errors <= 13, "{rate_errors} errors");
}
