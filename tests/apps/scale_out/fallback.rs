//! A fallback user on one node and a WebSocket user on another, sharing a room through Redis:
//! messages both ways, the user list and typing notices.

use serde_json::json;

use super::support::{by, redis_server, wait_for, Node, Redis};
use crate::chat::poller::{request, Poller};
use crate::chat::support::{nicks, Client};

#[test]
fn a_fallback_user_and_a_websocket_user_on_other_nodes_chat_both_ways() {
    let Some(binary) = redis_server() else { return };
    let redis = Redis::start(binary);
    let a = Node::start(&redis.url(), "node-a");
    let b = Node::start(&redis.url(), "node-b");

    let (mut ada, welcome) = Poller::joined(a.addr, "Ada", "lobby");
    assert_eq!(nicks(&welcome), ["Ada"]);
    b.wait_metric("fullduplex_chat_remote_users", 1);
    let (mut grace, welcome) = Client::joined(b.addr, "Grace", "lobby");
    assert_eq!(
        nicks(&welcome),
        ["Grace", "Ada"],
        "the fallback user is listed"
    );
    assert_eq!(ada.expect("joined")["user"], welcome["you"]);

    // Typing reaches across, both ways.
    grace.send(json!({"type": "typing"}));
    assert_eq!(ada.expect("typing")["user"]["nick"], "Grace");
    assert_eq!(ada.send(&[json!({"type": "typing"})]), 204);
    wait_for(&mut grace, "typing", by("Ada"));

    // Messages, both ways; each side gets its own copy once.
    assert_eq!(
        ada.send(&[json!({"type": "message", "text": "hello from A over HTTP"})]),
        204
    );
    let heard = wait_for(&mut grace, "message", by("Ada"));
    assert_eq!(heard["text"], "hello from A over HTTP");
    assert_eq!(ada.expect("message")["text"], "hello from A over HTTP");
    grace.send(json!({"type": "message", "text": "hello from B"}));
    let reply = ada.expect("message");
    assert_eq!(
        (reply["text"].as_str(), reply["from"]["nick"].as_str()),
        (Some("hello from B"), Some("Grace"))
    );
    let sessions = |node: &Node, transport: &str| {
        node.metric(&format!(
            "fullduplex_chat_sessions{{transport=\"{transport}\"}}"
        ))
    };
    assert_eq!(
        (sessions(&a, "fallback"), sessions(&b, "websocket")),
        (1, 1)
    );

    // The fallback user closes: the other node's user sees them leave.
    let headers = format!("Content-Type: application/json\r\n{}", ada.header());
    let closed = request(a.addr, "POST", "/fallback/close", &headers, b"");
    assert_eq!(closed.status, 204);
    wait_for(&mut grace, "left", by("Ada"));
    let (_, welcome) = Client::joined(b.addr, "Linus", "lobby");
    assert_eq!(nicks(&welcome), ["Grace", "Linus"]);
}
