//! What nodes do when a node dies without a goodbye and when Redis goes away and returns.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::support::{
    by, redis_server, wait_for, Node, Redis, HEARTBEAT_MS, NODE_TIMEOUT_MS, PATIENCE,
};
use crate::chat::support::{nicks, Client};

#[test]
fn a_killed_node_s_users_leave_the_other_nodes_within_the_bound() {
    let Some(binary) = redis_server() else { return };
    let redis = Redis::start(binary);
    let a = Node::start(&redis.url(), "node-a");
    let mut b = Node::start(&redis.url(), "node-b");
    let (mut ada, _) = Client::joined(a.addr, "Ada", "lobby");
    let (_grace, _) = Client::joined(b.addr, "Grace", "lobby");
    let (_linus, _) = Client::joined(b.addr, "Linus", "lobby");
    wait_for(&mut ada, "joined", by("Linus"));

    b.kill();
    let killed = Instant::now();
    wait_for(&mut ada, "left", |v| v["user"]["nick"] != "Ada");
    wait_for(&mut ada, "left", |v| v["user"]["nick"] != "Ada");
    let took = killed.elapsed();
    // The bound (docs/scale-out.md): the node timeout, plus one look for dead nodes (100 ms)
    // and delivery; generous room for a loaded machine.
    let bound = Duration::from_millis(NODE_TIMEOUT_MS + HEARTBEAT_MS + 100);
    assert!(took < bound + Duration::from_secs(2), "took {took:?}");
    assert!(
        took >= Duration::from_millis(NODE_TIMEOUT_MS - HEARTBEAT_MS),
        "took {took:?}"
    );
    let (_, welcome) = Client::joined(a.addr, "Margaret", "lobby");
    assert_eq!(nicks(&welcome), ["Ada", "Margaret"]);
    assert!(a.metric("fullduplex_broker_expired_users_total") >= 2);
}

#[test]
fn a_node_that_stops_says_goodbye_and_its_users_leave_at_once() {
    let Some(binary) = redis_server() else { return };
    let redis = Redis::start(binary);
    // A node timeout far beyond the test's waits: only the goodbye can remove Grace.
    let a = Node::start_with(&redis.url(), "node-a", 60_000);
    let mut b = Node::start_with(&redis.url(), "node-b", 60_000);
    let (mut ada, _) = Client::joined(a.addr, "Ada", "lobby");
    let (grace, _) = Client::joined(b.addr, "Grace", "lobby");
    wait_for(&mut ada, "joined", by("Grace"));
    // A client that goes on reading, as a page would, so the node's close handshake ends.
    let reader = std::thread::spawn(move || {
        let mut grace = grace;
        while grace.ws.recv().is_ok() {}
    });
    let asked = Instant::now();
    b.terminate();
    wait_for(&mut ada, "left", by("Grace"));
    let _ = reader.join();
    assert!(asked.elapsed() < Duration::from_secs(5));
}

#[test]
fn without_redis_local_chat_goes_on_and_delivery_resumes_when_it_returns() {
    let Some(binary) = redis_server() else { return };
    let mut redis = Redis::start(binary);
    let a = Node::start(&redis.url(), "node-a");
    let b = Node::start(&redis.url(), "node-b");
    let (mut ada, _) = Client::joined(a.addr, "Ada", "lobby");
    let (mut bob, _) = Client::joined(a.addr, "Bob", "lobby");
    let (mut grace, _) = Client::joined(b.addr, "Grace", "lobby");
    wait_for(&mut ada, "joined", by("Grace"));
    wait_for(&mut bob, "joined", by("Grace"));
    assert_eq!(a.metric("fullduplex_broker_up"), 1);

    redis.kill();
    let degraded = a.wait_health("degraded");
    assert!(degraded.contains("Redis"), "{degraded}");
    assert_eq!(a.health().0, 200, "a degraded node still serves its users");
    assert_eq!(a.metric("fullduplex_broker_up"), 0);
    ada.send(json!({"type": "message", "text": "only here"}));
    assert_eq!(
        wait_for(&mut bob, "message", by("Ada"))["text"],
        "only here"
    );
    // Each node lists only its own users once the other is silent for the timeout: Grace's
    // leaving may reach Ada before her own message does (on a loaded machine, when noticing
    // the outage took longer than the timeout), so the three are awaited in any order.
    let local_only = |v: &Value| v["code"] == "local_only";
    let (own, left) = (by("Ada"), by("Grace"));
    wait_for_each(
        &mut ada,
        &[("message", &own), ("notice", &local_only), ("left", &left)],
    );
    assert!(a.metric("fullduplex_broker_local_only_total") >= 1);
    wait_for(&mut grace, "left", by("Ada"));

    redis.restart();
    a.wait_health("ok");
    b.wait_health("ok");
    // The heartbeats bring the other node's users back.
    wait_for(&mut ada, "joined", by("Grace"));
    wait_for(&mut grace, "joined", by("Ada"));
    ada.send(json!({"type": "message", "text": "everywhere again"}));
    assert_eq!(
        wait_for(&mut grace, "message", by("Ada"))["text"],
        "everywhere again"
    );
    grace.send(json!({"type": "message", "text": "and back"}));
    assert_eq!(
        wait_for(&mut bob, "message", by("Grace"))["text"],
        "and back"
    );
}

#[test]
fn a_node_that_missed_events_asks_for_the_list_and_heals_within_a_heartbeat() {
    let Some(binary) = redis_server() else { return };
    let redis = Redis::start(binary);
    let a = Node::start(&redis.url(), "node-a");
    let b = Node::start(&redis.url(), "node-b");
    let (mut ada, _) = Client::joined(a.addr, "Ada", "lobby");
    let (_grace, _) = Client::joined(b.addr, "Grace", "lobby");
    let grace = wait_for(&mut ada, "joined", by("Grace"))["user"].clone();
    let syncs = a.metric("fullduplex_broker_syncs_total");

    // Node a is told, falsely and in node b's name, that Grace left and a phantom came: what
    // a lost event (or a stale snapshot) leaves behind. Heartbeats carry only a digest of b's
    // list; a's differs now, so a asks b for its list, and the list puts both right.
    let channel = "fullduplex:room:lobby";
    let forged = [
        json!({"v": 2, "node": "node-b", "kind": "leave", "room": "lobby", "user_id": grace["id"]}),
        json!({"v": 2, "node": "node-b", "kind": "enter", "room": "lobby",
               "user": {"id": "node-b:phantom", "nick": "Phantom"}}),
    ];
    for envelope in forged {
        assert_eq!(redis.publish(channel, &envelope.to_string()), 2);
    }
    wait_for(&mut ada, "left", by("Grace"));
    wait_for(&mut ada, "joined", by("Phantom"));
    let forged_at = Instant::now();
    let phantom = |v: &Value| v["user"]["nick"] == "Phantom";
    let grace_back = |v: &Value| v["user"]["id"] == grace["id"];
    wait_for_each(&mut ada, &[("left", &phantom), ("joined", &grace_back)]);
    let took = forged_at.elapsed();
    // One heartbeat to notice, a round trip for the snapshot; room for a loaded machine.
    assert!(
        took < Duration::from_millis(2 * HEARTBEAT_MS) + Duration::from_secs(2),
        "took {took:?}"
    );
    assert!(a.metric("fullduplex_broker_syncs_total") > syncs);
    // Healed for good: a newcomer on a sees exactly the three real users.
    let (_, welcome) = Client::joined(a.addr, "Margaret", "lobby");
    let mut listed = nicks(&welcome);
    listed.sort();
    assert_eq!(listed, ["Ada", "Grace", "Margaret"]);
}

/// A message's type and a test it must pass.
type Wanted<'a> = (&'a str, &'a dyn Fn(&Value) -> bool);

/// Reads until a message of each (type, test) of `wanted` has arrived, in any order, skipping
/// others; panics after [`PATIENCE`].
fn wait_for_each(client: &mut Client, wanted: &[Wanted<'_>]) {
    let mut missing: Vec<_> = wanted.iter().collect();
    let deadline = Instant::now() + PATIENCE;
    while !missing.is_empty() {
        let kinds: Vec<&str> = missing.iter().map(|(kind, _)| *kind).collect();
        let Some(value) = client.json_before(deadline) else {
            panic!("no {kinds:?} messages as expected within {PATIENCE:?}");
        };
        missing.retain(|(kind, matches)| !(value["type"] == *kind && matches(&value)));
    }
}
