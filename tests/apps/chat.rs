//! The chat over loopback with the project's own client: joining, broadcast, the user list,
//! typing, rooms, files, bad input and keepalive. Access control, HTTP routes, shutdown and
//! the command line are in `chat/ops.rs`; rate limits in `chat/limits.rs`.

#[path = "chat/support.rs"]
pub(crate) mod support;

#[path = "chat/ops.rs"]
mod ops;

#[path = "chat/limits.rs"]
mod limits;

#[path = "chat/poller.rs"]
pub(crate) mod poller;

#[path = "chat/fallback.rs"]
mod fallback;

use std::time::Duration;

use crate::apps::chat::ChatOptions;
use fullduplex::protocol::{CloseCode, OwnedEvent};
use serde_json::json;
use support::{nicks, split_file, start, threads, upload, Client};

#[test]
fn join_gets_a_welcome_and_the_user_list_grows() {
    let server = start(threads(2));
    let (mut ada, welcome) = Client::joined(server.local_addr(), "Ada", "lobby");
    assert_eq!(welcome["room"], "lobby");
    assert_eq!(welcome["you"]["nick"], "Ada");
    assert_eq!(nicks(&welcome), ["Ada"]);
    assert!(welcome["text"]
        .as_str()
        .unwrap()
        .contains("Welcome to #lobby, Ada"));
    assert!(welcome["limits"]["max_file_bytes"].as_u64().unwrap() > 0);

    let (_grace, welcome) = Client::joined(server.local_addr(), "Grace", "lobby");
    assert_eq!(nicks(&welcome), ["Ada", "Grace"]);
    let joined = ada.expect("joined");
    assert_eq!(joined["user"], welcome["you"]);
    assert!(joined["time"].as_u64().unwrap() > 1_600_000_000_000);
}

#[test]
fn a_message_reaches_everyone_in_the_room_with_sender_and_time() {
    let server = start(threads(2));
    let addr = server.local_addr();
    let (mut ada, _) = Client::joined(addr, "Ada", "lobby");
    let (mut grace, _) = Client::joined(addr, "Grace", "lobby");
    ada.expect("joined");
    ada.send(json!({"type": "message", "text": "hello, world  "}));
    for client in [&mut grace, &mut ada] {
        let message = client.expect("message");
        assert_eq!(message["text"], "hello, world");
        assert_eq!(message["from"]["nick"], "Ada");
        assert!(message["time"].as_u64().unwrap() > 1_600_000_000_000);
    }
}

#[test]
fn typing_goes_to_the_others_only() {
    // One worker: everything is delivered in the order it was sent.
    let server = start(threads(1));
    let addr = server.local_addr();
    let (mut ada, _) = Client::joined(addr, "Ada", "lobby");
    let (mut grace, _) = Client::joined(addr, "Grace", "lobby");
    ada.expect("joined");
    ada.send(json!({"type": "typing"}));
    ada.send(json!({"type": "message", "text": "done typing"}));
    assert_eq!(grace.expect("typing")["user"]["nick"], "Ada");
    assert_eq!(grace.expect("message")["text"], "done typing");
    // Ada's own typing never comes back: her next message is her text.
    assert_eq!(ada.expect("message")["text"], "done typing");
}

#[test]
fn rooms_keep_their_broadcasts_and_user_lists_apart() {
    let server = start(threads(1));
    let addr = server.local_addr();
    let (mut red1, _) = Client::joined(addr, "Red One", "red");
    let (mut blue, welcome) = Client::joined(addr, "Blue", "blue");
    assert_eq!(nicks(&welcome), ["Blue"]);
    let (mut red2, welcome) = Client::joined(addr, "Red Two", "red");
    assert_eq!(nicks(&welcome), ["Red One", "Red Two"]);
    assert_eq!(red1.expect("joined")["user"]["nick"], "Red Two");

    red1.send(json!({"type": "message", "text": "red only"}));
    assert_eq!(red2.expect("message")["text"], "red only");
    blue.send(json!({"type": "message", "text": "blue only"}));
    // Blue saw nothing of red: not the joins, not the message.
    assert_eq!(blue.expect("message")["text"], "blue only");

    // Moving to another room leaves the first one.
    blue.send(json!({"type": "join", "nick": "Blue", "room": "red"}));
    assert_eq!(
        nicks(&blue.expect("welcome")),
        ["Red One", "Red Two", "Blue"]
    );
    assert_eq!(red1.expect("message")["text"], "red only");
    assert_eq!(red1.expect("joined")["user"]["nick"], "Blue");
}

#[test]
fn leaving_updates_the_list_of_those_who_stay() {
    let server = start(threads(2));
    let addr = server.local_addr();
    let (mut ada, _) = Client::joined(addr, "Ada", "lobby");
    let (mut grace, welcome) = Client::joined(addr, "Grace", "lobby");
    ada.expect("joined");
    let grace_id = welcome["you"]["id"].clone();
    let closed = grace.ws.close(CloseCode::Normal, "bye", support::WAIT);
    assert_eq!(closed.unwrap().0, CloseCode::Normal);
    let left = ada.expect("left");
    assert_eq!(left["user"]["id"], grace_id);
    let (_, welcome) = Client::joined(addr, "Linus", "lobby");
    assert_eq!(nicks(&welcome), ["Ada", "Linus"]);
}

#[test]
fn a_dead_client_leaves_the_list_within_the_pong_deadline() {
    let server = start(ChatOptions {
        // Ada must answer each Ping within the deadline while the test thread waits in
        // `recv`: long enough for a loaded machine, short enough for the test.
        ping_interval: Duration::from_millis(100),
        pong_timeout: Duration::from_secs(1),
        ..threads(2)
    });
    let addr = server.local_addr();
    let (mut ada, _) = Client::joined(addr, "Ada", "lobby");
    // Grace joins, then never reads again: she answers no ping.
    let (_grace, _) = Client::joined(addr, "Ada's ghost", "lobby");
    assert_eq!(ada.expect("joined")["user"]["nick"], "Ada's ghost");
    // Ada keeps reading (and so answering pings); the ghost is dropped.
    assert_eq!(ada.expect("left")["user"]["nick"], "Ada's ghost");
    assert!(server.handle().stats().keepalive_timeouts >= 1);
}

#[test]
fn files_travel_as_one_binary_message_with_their_description() {
    let server = start(threads(2));
    let addr = server.local_addr();
    let (mut ada, _) = Client::joined(addr, "Ada", "lobby");
    let (mut grace, _) = Client::joined(addr, "Grace", "lobby");
    ada.expect("joined");
    let png = b"\x89PNG\r\n\x1a\nnot really a picture";
    ada.ws
        .send_binary(&upload("cat.png", "image/png", png))
        .unwrap();
    let OwnedEvent::Binary(data) = grace.next() else {
        panic!("expected the file");
    };
    let (header, bytes) = split_file(&data);
    assert_eq!(header["type"], "file");
    assert_eq!(header["from"]["nick"], "Ada");
    assert_eq!(header["name"], "cat.png");
    assert_eq!(header["mime"], "image/png");
    assert_eq!(header["size"], png.len());
    assert_eq!(bytes, png);

    // An "image" whose bytes are not one is relayed as an opaque file.
    ada.ws
        .send_binary(&upload("x.png", "image/png", b"<svg onload=alert(1)>"))
        .unwrap();
    let OwnedEvent::Binary(data) = grace.next() else {
        panic!("expected the file");
    };
    assert_eq!(split_file(&data).0["mime"], "application/octet-stream");
}

#[test]
fn files_over_the_limit_get_an_error() {
    let server = start(ChatOptions {
        max_message_size: 4096,
        ..threads(1)
    });
    let (mut ada, welcome) = Client::joined(server.local_addr(), "Ada", "lobby");
    let max = welcome["limits"]["max_file_bytes"].as_u64().unwrap() as usize;
    ada.ws
        .send_binary(&upload(
            "big.bin",
            "application/octet-stream",
            &vec![7; max + 1],
        ))
        .unwrap();
    ada.expect_error("too_large");
    ada.ws
        .send_binary(&upload("ok.bin", "application/octet-stream", &vec![7; max]))
        .unwrap();
    assert!(matches!(ada.next(), OwnedEvent::Binary(_)));
}

#[test]
fn bad_input_gets_an_error_and_the_connection_goes_on() {
    let server = start(threads(1));
    let mut client = Client::connect(server.local_addr());
    client.send(json!({"type": "message", "text": "too early"}));
    client.expect_error("not_joined");
    client.ws.send_text("{not json").unwrap();
    client.expect_error("invalid_json");
    client.send(json!({"type": "shout", "text": "hi"}));
    client.expect_error("unknown_type");
    client.send(json!({"type": "join", "nick": "x".repeat(25), "room": "lobby"}));
    client.expect_error("bad_nick");
    client.send(json!({"type": "join", "nick": "<b>bold</b>", "room": "lobby"}));
    client.expect_error("bad_nick");
    client.send(json!({"type": "join", "nick": "Ada", "room": "no spaces"}));
    client.expect_error("bad_room");
    client.send(json!({"type": "join", "nick": "Ada"}));
    client.expect_error("bad_message");
    client.send(json!({"type": "join", "nick": "Ada", "room": "lobby"}));
    client.expect("welcome");
    client.send(json!({"type": "message", "text": "ring \u{7} the bell"}));
    client.expect_error("bad_text");
    client.send(json!({"type": "message", "text": "<script>alert(1)</script>"}));
    client.expect_error("bad_text");
    client.send(json!({"type": "message", "text": "   "}));
    client.expect_error("bad_text");
    client.ws.send_binary(b"\xff\xff{}").unwrap();
    client.expect_error("bad_file");
    client.send(json!({"type": "message", "text": "a < b, and <3 is fine"}));
    assert_eq!(client.expect("message")["text"], "a < b, and <3 is fine");
}

#[test]
fn within_the_limits_nothing_is_refused() {
    let server = start(threads(1));
    let (mut ada, _) = Client::joined(server.local_addr(), "Ada", "lobby");
    // The default burst is 20 messages: 15 in a row pass.
    for n in 0..15 {
        ada.send(json!({"type": "message", "text": format!("line {n}")}));
    }
    for n in 0..15 {
        assert_eq!(ada.expect("message")["text"], format!("line {n}"));
    }
}
