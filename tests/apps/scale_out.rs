//! Chat nodes sharing rooms through a real `redis-server` (started on a free loopback port):
//! messages, presence and typing across nodes (WebSocket and HTTP fallback users alike), a
//! killed node's users leaving, and Redis going away and coming back. Without `redis-server`
//! these tests print a skip message and pass, unless `FULLDUPLEX_REQUIRE_REDIS=1` (as
//! `scripts/redis-tests.sh` sets).

#[path = "scale_out/support.rs"]
pub(crate) mod support;

#[path = "scale_out/failures.rs"]
mod failures;

#[path = "scale_out/fallback.rs"]
mod fallback;

use crate::chat::support::{nicks, Client};
use serde_json::json;
use support::{by, redis_server, wait_for, Node, Redis};

#[test]
fn messages_presence_and_typing_cross_nodes() {
    let Some(binary) = redis_server() else { return };
    let redis = Redis::start(binary);
    let a = Node::start(&redis.url(), "node-a");
    let b = Node::start(&redis.url(), "node-b");

    let (mut ada, welcome) = Client::joined(a.addr, "Ada", "lobby");
    assert_eq!(nicks(&welcome), ["Ada"]);
    b.wait_metric("fullduplex_chat_remote_users", 1);
    let (mut grace, welcome) = Client::joined(b.addr, "Grace", "lobby");
    assert_eq!(nicks(&welcome), ["Grace", "Ada"], "local users first");
    let joined = ada.expect("joined");
    assert_eq!(joined["user"], welcome["you"]);
    assert_ne!(
        joined["user"]["id"], welcome["users"][1]["id"],
        "ids are per node"
    );

    ada.send(json!({"type": "message", "text": "hello from A"}));
    assert_eq!(grace.expect("message")["text"], "hello from A");
    assert_eq!(ada.expect("message")["text"], "hello from A");
    grace.send(json!({"type": "typing"}));
    assert_eq!(ada.expect("typing")["user"]["nick"], "Grace");
    grace.send(json!({"type": "message", "text": "hello from B"}));
    // Ada's own message came once: the next one is Grace's.
    let reply = ada.expect("message");
    assert_eq!(
        (reply["text"].as_str(), reply["from"]["nick"].as_str()),
        (Some("hello from B"), Some("Grace"))
    );
    assert_eq!(grace.expect("message")["text"], "hello from B");

    drop(grace);
    wait_for(&mut ada, "left", by("Grace"));
    let (_, welcome) = Client::joined(a.addr, "Linus", "lobby");
    assert_eq!(nicks(&welcome), ["Ada", "Linus"]);
}

#[test]
fn rooms_stay_apart_across_nodes() {
    let Some(binary) = redis_server() else { return };
    let redis = Redis::start(binary);
    let a = Node::start(&redis.url(), "node-a");
    let b = Node::start(&redis.url(), "node-b");
    let (mut red_a, _) = Client::joined(a.addr, "Red A", "red");
    let (mut blue_a, _) = Client::joined(a.addr, "Blue A", "blue");
    b.wait_metric("fullduplex_chat_remote_users", 2);
    let (mut red_b, welcome) = Client::joined(b.addr, "Red B", "red");
    assert_eq!(nicks(&welcome), ["Red B", "Red A"]);
    red_a.expect("joined");
    red_b.send(json!({"type": "message", "text": "red only"}));
    assert_eq!(red_a.expect("message")["text"], "red only");
    blue_a.send(json!({"type": "message", "text": "blue only"}));
    // Blue A's own message is the first thing Blue A gets: nothing of red's came.
    assert_eq!(blue_a.expect("message")["text"], "blue only");
    red_b.send(json!({"type": "message", "text": "red again"}));
    assert_eq!(red_b.expect("message")["text"], "red only");
    assert_eq!(red_b.expect("message")["text"], "red again");
}
