//! Case 3: chat clients whose network vanishes without a FIN (their namespace's link is cut)
//! are found dead by the keepalive within the ping interval plus the pong timeout; they
//! leave the room, and the server frees their connections and descriptors. On both event
//! loops.

use std::time::{Duration, Instant};

use super::netns::{self, Netns, Veth};
use super::{until, Listener};
use crate::chat::support::Client;
use crate::scale_out::support::Node;

/// `--ping-interval` and `--pong-timeout`, in seconds (the command's smallest values).
const PING_INTERVAL: u64 = 1;
const PONG_TIMEOUT: u64 = 1;
/// Clients in the namespace that is cut off.
const DEAD: usize = 3;
/// How late the server may see a deadline: it sweeps them every quarter of its shortest
/// timeout (`transport::sweep_interval`), here 250 ms.
const SWEEP: Duration = Duration::from_millis(250);
/// Room on top of the keepalive's bound for a loaded machine (scheduling).
const MARGIN: Duration = Duration::from_secs(2);

#[test]
fn dead_peers_leave_within_the_keepalive_bound_on_epoll() {
    dead_peers_leave(false);
}

#[test]
fn dead_peers_leave_within_the_keepalive_bound_on_io_uring() {
    dead_peers_leave(true);
}

fn dead_peers_leave(io_uring: bool) {
    if !netns::available() {
        return;
    }
    let ns = Netns::new("peers");
    let veth = Veth::new(&ns);
    let listen = format!("{}:0", veth.root_addr);
    let (ping, pong) = (PING_INTERVAL.to_string(), PONG_TIMEOUT.to_string());
    let mut args = vec!["--addr", &listen, "--ping-interval", &ping];
    args.extend(["--pong-timeout", &pong]);
    if io_uring {
        args.push("--io-uring");
    }
    let chat = Node::spawn(&args);
    let addr = chat.addr;
    // The watcher is in the root namespace: its traffic never crosses the veth.
    let (watcher, _) = Client::joined(addr, "Watcher", "lobby");
    let watcher = Listener::new(watcher);
    let before = Resources::of(&chat);

    let nicks: Vec<String> = (0..DEAD).map(|n| format!("Ghost{n}")).collect();
    let ghosts: Vec<Listener> = nicks
        .iter()
        .map(|nick| {
            let nick = nick.clone();
            let client = ns.run(move || Client::joined(addr, &nick, "lobby").0);
            Listener::new(client)
        })
        .collect();
    for nick in &nicks {
        watcher.wait_for("joined", |v| v["user"]["nick"] == nick.as_str());
    }
    let during = until("one descriptor per ghost", || {
        let now = Resources::of(&chat);
        (now.fds == before.fds + DEAD).then_some(now)
    });
    assert_eq!(chat.metric("fullduplex_keepalive_timeouts_total"), 0);

    veth.cut();
    let cut = Instant::now();
    let mut took = Vec::new();
    let mut gone = Vec::new();
    while gone.len() < DEAD {
        let is_ghost =
            |v: &serde_json::Value| nicks.iter().any(|n| v["user"]["nick"] == n.as_str());
        let (at, left) = watcher.wait_for("left", is_ghost);
        gone.push(left["user"]["nick"].as_str().unwrap_or_default().to_owned());
        took.push(at - cut);
    }
    gone.sort();
    assert_eq!(gone, nicks, "each ghost left once");
    // The Ping goes out one sweep late at most, and its deadline is seen one sweep late.
    let bound = Duration::from_secs(PING_INTERVAL + PONG_TIMEOUT) + 2 * SWEEP;
    let event_loop = if io_uring { "io_uring" } else { "epoll" };
    println!(
        "faults: dead peers on {event_loop}: detected after {:?} (bound {bound:?} + margin \
         {MARGIN:?})",
        took.iter()
            .map(|t| format!("{} ms", t.as_millis()))
            .collect::<Vec<_>>()
    );
    for t in &took {
        assert!(*t < bound + MARGIN, "a dead peer found after {t:?}");
        // Sooner than one pong timeout would mean something was sent: a FIN or RST.
        assert!(*t >= Duration::from_secs(PONG_TIMEOUT), "found after {t:?}");
    }
    let timeouts = chat.metric("fullduplex_keepalive_timeouts_total");
    assert_eq!(timeouts, DEAD as u64, "each ghost ended by the keepalive");
    let after = until("connections and descriptors back to baseline", || {
        let now = Resources::of(&chat);
        (now == before).then_some(now)
    });
    println!(
        "faults: dead peers on {event_loop}: server resources before {before:?}, with the \
         ghosts {during:?}, after {after:?}"
    );
    assert_eq!(chat.metric("fullduplex_chat_users"), 1, "the watcher alone");
    drop(ghosts);
}

/// What the server holds: its descriptors and its connections (the `/metrics` request's
/// own connection included, the same each time).
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
struct Resources {
    fds: usize,
    connections: u64,
}

impl Resources {
    fn of(chat: &Node) -> Self {
        let fds = std::fs::read_dir(format!("/proc/{}/fd", chat.pid()))
            .expect("reads the server's descriptors")
            .count();
        let connections = chat.metric("fullduplex_connections");
        Self { fds, connections }
    }
}
