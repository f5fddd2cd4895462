//! The chat's HTTP fallback over loopback: fallback and WebSocket users in one room, polls
//! whose answer is lost, the access checks, the limits, expiry and the bounded backlog.

use std::time::Duration;

use serde_json::json;

use super::poller::{begin, finish, quick, request, texts, Poller};
use super::support::{http_get, nicks, split_file, start, threads, upload, Client};
use crate::apps::chat::{ChatOptions, RateLimits};
use base64::Engine as _;

#[test]
fn a_fallback_user_and_a_websocket_user_chat_both_ways() {
    let server = start(threads(2));
    let addr = server.local_addr();
    let (mut ada, _) = Client::joined(addr, "Ada", "lobby");
    let (mut grace, welcome) = Poller::joined(addr, "Grace", "lobby");
    assert_eq!(nicks(&welcome), ["Ada", "Grace"]);
    assert_eq!(ada.expect("joined")["user"]["nick"], "Grace");

    ada.send(json!({"type": "typing"}));
    assert_eq!(grace.expect("typing")["user"]["nick"], "Ada");
    assert_eq!(grace.send(&[json!({"type": "typing"})]), 204);
    assert_eq!(ada.expect("typing")["user"]["nick"], "Grace");

    ada.send(json!({"type": "message", "text": "hello Grace"}));
    assert_eq!(ada.expect("message")["text"], "hello Grace");
    assert_eq!(grace.expect("message")["text"], "hello Grace");
    assert_eq!(
        grace.send(&[json!({"type": "message", "text": "hi Ada"})]),
        204
    );
    for text in [ada.expect("message"), grace.expect("message")] {
        assert_eq!(text["from"]["nick"], "Grace");
        assert_eq!(text["text"], "hi Ada");
    }

    // A file, base64 in JSON, reaches the WebSocket user as the binary message it would be.
    let file = upload("a.txt", "text/plain", b"some bytes");
    let encoded = base64::engine::general_purpose::STANDARD.encode(&file);
    let body = json!({"messages": [{"binary": encoded}]}).to_string();
    assert_eq!(grace.send_body(body.as_bytes()).status, 204);
    let fullduplex::protocol::OwnedEvent::Binary(relayed) = ada.next() else {
        panic!("a file");
    };
    let (header, bytes) = split_file(&relayed);
    assert_eq!(
        (header["from"]["nick"].as_str(), &bytes[..]),
        (Some("Grace"), &b"some bytes"[..])
    );

    // /metrics counts both transports.
    let metrics = http_get(addr, "/metrics", "").2;
    assert!(
        metrics.contains("fullduplex_chat_sessions{transport=\"websocket\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("fullduplex_chat_sessions{transport=\"fallback\"} 1"),
        "{metrics}"
    );

    let answer = request(
        addr,
        "POST",
        "/fallback/close",
        &format!("Content-Type: application/json\r\n{}", grace.header()),
        b"",
    );
    assert_eq!(answer.status, 204);
    assert_eq!(ada.expect("left")["user"]["nick"], "Grace");
}

#[test]
fn a_poll_whose_answer_is_lost_neither_loses_nor_repeats_a_message() {
    let server = start(threads(2));
    let addr = server.local_addr();
    let (mut ada, _) = Client::joined(addr, "Ada", "lobby");
    let (mut grace, _) = Poller::joined(addr, "Grace", "lobby");
    ada.expect("joined");

    // A held poll whose connection the client drops: its answer goes nowhere.
    drop(grace.begin_poll());
    for n in 1..=3 {
        ada.send(json!({"type": "message", "text": format!("m{n}")}));
        ada.expect("message");
    }
    // A poll whose answer arrives but is dropped by the client (not applied).
    let lost = finish(grace.begin_poll());
    assert_eq!(lost.status, 200);
    // The retry with the same ack gets every message, once, in order.
    let texts: Vec<_> = (0..3)
        .map(|_| grace.expect("message")["text"].clone())
        .collect();
    assert_eq!(texts, ["m1", "m2", "m3"]);
    ada.send(json!({"type": "message", "text": "m4"}));
    assert_eq!(
        grace.expect("message")["text"],
        "m4",
        "nothing repeated before it"
    );
    // An acknowledgement past the last seq is a client bug.
    let target = format!("/fallback/poll?ack={}", grace.ack + 1);
    assert_eq!(
        request(addr, "GET", &target, &grace.header(), b"").status,
        400
    );
}

#[test]
fn the_access_checks_of_the_websocket_and_against_cross_site_requests() {
    let server = start(ChatOptions {
        token: Some("s3cret".into()),
        ..threads(1)
    });
    let addr = server.local_addr();
    let json = "Content-Type: application/json\r\n";
    let join = texts(&[json!({"type": "join", "nick": "Eve", "room": "lobby"})]);
    assert_eq!(
        request(addr, "POST", "/fallback/open", json, &join).status,
        401
    );
    let foreign = format!("{json}Origin: http://evil.example\r\nCookie: token=s3cret\r\n");
    let answer = request(addr, "POST", "/fallback/open?token=s3cret", &foreign, &join);
    assert_eq!(
        (answer.status, answer.json()["error"].as_str()),
        (403, Some("forbidden"))
    );
    let form = "Content-Type: text/plain\r\nCookie: token=s3cret\r\n";
    assert_eq!(
        request(addr, "POST", "/fallback/open", form, &join).status,
        415
    );

    let own = format!("{json}Origin: http://{addr}\r\nCookie: token=s3cret\r\n");
    let answer = request(addr, "POST", "/fallback/open", &own, &join);
    assert_eq!(answer.status, 200, "{}", answer.body);
    let sid = answer.json()["sid"].as_str().unwrap().to_owned();
    assert_eq!(sid.len(), 32);
    let session = format!("X-Fullduplex-Session: {sid}\r\n");
    let say = texts(&[json!({"type": "message", "text": "hi"})]);
    // A send without the session header, or from a foreign page, or as a form, is refused.
    let answer = request(addr, "POST", "/fallback/send", &own, &say);
    assert_eq!(
        (answer.status, answer.json()["error"].as_str()),
        (400, Some("no_session"))
    );
    let cross = format!("{foreign}{session}");
    assert_eq!(
        request(addr, "POST", "/fallback/send", &cross, &say).status,
        403
    );
    let as_form = format!("{form}{session}");
    assert_eq!(
        request(addr, "POST", "/fallback/send", &as_form, &say).status,
        415
    );
    let answer = request(
        addr,
        "POST",
        "/fallback/send",
        &format!("{own}X-Fullduplex-Session: 00\r\n"),
        &say,
    );
    assert_eq!(
        (answer.status, answer.json()["error"].as_str()),
        (404, Some("unknown_session"))
    );
    assert_eq!(
        request(
            addr,
            "POST",
            "/fallback/send",
            &format!("{own}{session}"),
            &say
        )
        .status,
        204
    );
    assert_eq!(
        request(addr, "GET", "/fallback/send?token=s3cret", "", b"").status,
        405
    );
}

#[test]
fn bodies_and_messages_over_the_limits_are_refused_and_rates_are_the_websockets() {
    let server = start(ChatOptions {
        max_message_size: 4096,
        rate: RateLimits {
            messages_per_sec: 1.0,
            message_burst: 3.0,
            ..RateLimits::default()
        },
        ..threads(1)
    });
    let addr = server.local_addr();
    let (mut grace, _) = Poller::joined(addr, "Grace", "lobby");
    // A body over max_body_bytes: the HTTP server refuses it before the chat sees it.
    let huge = vec![b' '; 10_000];
    assert_eq!(grace.send_body(&huge).status, 413);
    // A message over --max-message-size: the chat refuses the request whole.
    let long = "x".repeat(5000);
    let answer = grace.send_body(&texts(&[json!({"type": "message", "text": long})]));
    assert_eq!(
        (answer.status, answer.json()["error"].as_str()),
        (413, Some("too_large"))
    );
    // Four messages at once against a burst of three (the join took one): two pass, the
    // others are answered with rate_limited, in order.
    let say = |text: &str| json!({"type": "message", "text": text});
    assert_eq!(grace.send(&[say("a"), say("b"), say("c"), say("d")]), 204);
    assert_eq!(grace.expect("message")["text"], "a");
    assert_eq!(grace.expect("message")["text"], "b");
    for _ in 0..2 {
        let error = grace.expect("error");
        assert_eq!(error["code"], "rate_limited", "{error}");
    }
}

#[test]
fn a_client_that_stops_polling_leaves_the_room_within_the_expiry() {
    let server = start(ChatOptions {
        fallback: quick(Duration::from_millis(100), Duration::from_millis(400)),
        ..threads(2)
    });
    let addr = server.local_addr();
    let (mut ada, _) = Client::joined(addr, "Ada", "lobby");
    let (grace, _) = Poller::joined(addr, "Grace", "lobby");
    ada.expect("joined");
    // Grace polls no more: Ada is told she left; her session is gone.
    assert_eq!(ada.expect("left")["user"]["nick"], "Grace");
    let target = format!("/fallback/poll?ack={}", grace.ack);
    let answer = request(addr, "GET", &target, &grace.header(), b"");
    assert_eq!(
        (answer.status, answer.json()["error"].as_str()),
        (404, Some("unknown_session"))
    );
    let metrics = http_get(addr, "/metrics", "").2;
    assert!(
        metrics.contains("fullduplex_chat_fallback_expired_total 1"),
        "{metrics}"
    );
}

#[test]
fn a_held_poll_is_answered_empty_at_the_end_of_its_hold() {
    let server = start(ChatOptions {
        fallback: quick(Duration::from_millis(200), Duration::from_secs(30)),
        ..threads(1)
    });
    let (mut grace, _) = Poller::joined(server.local_addr(), "Grace", "lobby");
    let answer = finish(grace.begin_poll());
    assert_eq!(answer.json(), json!({"messages": []}));
    grace.apply(&answer);
}

#[test]
fn a_backlog_past_its_bound_closes_the_session_as_a_slow_consumer() {
    let server = start(ChatOptions {
        fallback: crate::apps::chat::FallbackOptions {
            max_backlog: 2000,
            ..Default::default()
        },
        ..threads(1)
    });
    let addr = server.local_addr();
    let (mut ada, _) = Client::joined(addr, "Ada", "lobby");
    let (mut grace, _) = Poller::joined(addr, "Grace", "lobby");
    ada.expect("joined");
    // Grace does not poll; Ada says more than her backlog may hold (10 × 300 > 2000 bytes).
    let text = "y".repeat(300);
    for _ in 0..10 {
        ada.send(json!({"type": "message", "text": text}));
    }
    let left = loop {
        let message = ada.next_json();
        if message["type"] == "left" {
            break message;
        }
        assert_eq!(message["type"], "message", "{message}");
    };
    assert_eq!(left["user"]["nick"], "Grace");
    let closed = grace.expect_closed();
    assert_eq!(closed, json!({"code": 1008, "reason": "slow consumer"}));
    let send = begin(
        addr,
        "POST",
        "/fallback/send",
        &format!("Content-Type: application/json\r\n{}", grace.header()),
        &texts(&[]),
    );
    assert_eq!(finish(send).status, 410);
}
