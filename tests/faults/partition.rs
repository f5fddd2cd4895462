//! Case 4: a chat node cut off from Redis by a link that goes silent (no FIN), then restored;
//! and Redis restarted empty while the node is cut off. The node degrades as
//! docs/scale-out.md says (`/healthz` `200 degraded…`), its own users lose nothing meanwhile,
//! and once the link is back delivery across nodes resumes and presence reconverges within
//! the bound the broker's timings give.
//!
//! Redis runs in a namespace reached by two veth pairs: node A's through one, node B's
//! through the other, so cutting A's leaves B connected. Without root, the same case runs
//! with A reaching Redis through the fault proxy, stalled then resumed.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use serde_json::json;

use super::netns::{self, Netns, Veth};
use super::proxy::Proxy;
use crate::chat::support::Client;
use crate::scale_out::support::{by, redis_server, wait_for, Node, Redis, HEARTBEAT_MS};

/// The nodes' node timeout and longest reconnection delay (short, for the test).
const NODE_TIMEOUT_MS: u64 = 1000;
const BACKOFF_MAX_MS: u64 = 1000;
/// The broker's connect and I/O timeouts (`src/apps/chat/broker/link.rs`).
const REDIS_TIMEOUT_MS: u64 = 2000;
/// Room on top of each bound for a loaded machine.
const MARGIN: Duration = Duration::from_secs(3);
/// Messages Ada sends while node A is cut off.
const DURING_CUT: usize = 20;

/// How node A reaches Redis.
enum Link {
    /// Through a veth pair into Redis's namespace (B has its own pair).
    Veth { a: Veth, _b: Veth, ns: Netns },
    /// Through the fault proxy to a Redis on loopback (B connects directly).
    Proxy(Proxy),
}

impl Link {
    /// Cuts the link (the veth goes down) or stalls it (the proxy holds every byte).
    fn cut(&self) {
        match self {
            Self::Veth { a, .. } => a.cut(),
            Self::Proxy(proxy) => proxy.set_stalled(true),
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Self::Veth { .. } => "veth cut",
            Self::Proxy(_) => "proxy stall",
        }
    }

    fn restore(&self) {
        match self {
            Self::Veth { a, .. } => a.restore(),
            Self::Proxy(proxy) => proxy.set_stalled(false),
        }
    }
}

/// Two nodes, Redis, Ada and Bob on A, Grace on B, everyone seen everywhere.
struct Cluster {
    a_link: Link,
    redis: Redis,
    a: Node,
    _b: Node,
    ada: Client,
    bob: Client,
    grace: Client,
}

impl Cluster {
    /// Redis in a namespace, each node through its own veth pair (`None`: not root).
    fn in_netns() -> Option<Self> {
        if !netns::available() {
            return None;
        }
        let binary = redis_server()?;
        let ns = Netns::new("redis");
        let (a, b) = (Veth::new(&ns), Veth::new(&ns));
        let redis = Redis::start_at(binary, Some(&ns.name), b.inside_addr.into(), 6379);
        let (a_url, b_url) = (
            redis.url_at(IpAddr::V4(a.inside_addr)),
            redis.url_at(IpAddr::V4(b.inside_addr)),
        );
        Some(Self::start(
            redis,
            &a_url,
            &b_url,
            Link::Veth { a, _b: b, ns },
        ))
    }

    /// Redis on loopback, node A through the proxy (`None`: no redis-server).
    fn proxied() -> Option<Self> {
        let redis = Redis::start(redis_server()?);
        let proxy = Proxy::start(([127, 0, 0, 1], redis.port).into());
        let a_url = format!("redis://{}", proxy.addr());
        let b_url = redis.url();
        Some(Self::start(redis, &a_url, &b_url, Link::Proxy(proxy)))
    }

    fn start(redis: Redis, a_url: &str, b_url: &str, a_link: Link) -> Self {
        let node = |url, id| Node::start_args(url, id, NODE_TIMEOUT_MS, BACKOFF_MAX_MS);
        let (a, b) = (node(a_url, "node-a"), node(b_url, "node-b"));
        let (mut ada, _) = Client::joined(a.addr, "Ada", "lobby");
        let (mut bob, _) = Client::joined(a.addr, "Bob", "lobby");
        b.wait_metric("fullduplex_chat_remote_users", 2);
        let (grace, _) = Client::joined(b.addr, "Grace", "lobby");
        wait_for(&mut ada, "joined", by("Grace"));
        wait_for(&mut bob, "joined", by("Grace"));
        Self {
            a_link,
            redis,
            a,
            _b: b,
            ada,
            bob,
            grace,
        }
    }

    /// Cuts A's link, checks that A degrades and that Ada's messages all reach Bob in order,
    /// then that each node lists only its own users once the other is silent.
    fn cut_off_a(&mut self) {
        self.a_link.cut();
        let cut = Instant::now();
        self.ada.send(json!({"type": "message", "text": "cut 0"}));
        let degraded = self.a.wait_health("degraded");
        let took = cut.elapsed();
        assert!(degraded.contains("Redis"), "{degraded}");
        assert_eq!(
            self.a.health().0,
            200,
            "a degraded node still serves its users"
        );
        // The publisher's next write (a heartbeat) waits one I/O timeout for Redis's reply.
        let bound = Duration::from_millis(HEARTBEAT_MS + REDIS_TIMEOUT_MS) + MARGIN;
        println!(
            "faults: {}: node A degraded {} ms after the cut",
            self.a_link.name(),
            took.as_millis()
        );
        assert!(took < bound, "degraded after {took:?}");
        for n in 1..DURING_CUT {
            self.ada
                .send(json!({"type": "message", "text": format!("cut {n}")}));
        }
        for n in 0..DURING_CUT {
            let message = wait_for(&mut self.bob, "message", by("Ada"));
            assert_eq!(message["text"], format!("cut {n}"), "in order, none lost");
        }
        wait_for(&mut self.ada, "left", by("Grace"));
        wait_for(&mut self.grace, "left", |v| v["user"]["nick"] == "Ada");
        wait_for(&mut self.grace, "left", |v| v["user"]["nick"] == "Bob");
    }

    /// Restores A's link; returns how long until presence reconverged on both sides and A's
    /// health is `ok`, checking that it is within the bound and that delivery resumed.
    fn restore_a(&mut self) -> Duration {
        self.a_link.restore();
        let restored = Instant::now();
        self.a.wait_health("ok");
        wait_for(&mut self.ada, "joined", by("Grace"));
        wait_for(&mut self.bob, "joined", by("Grace"));
        for _ in 0..2 {
            wait_for(&mut self.grace, "joined", |v| v["user"]["nick"] != "Grace");
        }
        let took = restored.elapsed();
        // A connection attempt under way at the restore may wait out its timeout, the next
        // one comes at most one backoff later, then one heartbeat carries the user lists.
        let bound = Duration::from_millis(REDIS_TIMEOUT_MS + BACKOFF_MAX_MS + HEARTBEAT_MS);
        assert!(took < bound + MARGIN, "reconverged after {took:?}");
        self.ada
            .send(json!({"type": "message", "text": "across again"}));
        let message = wait_for(&mut self.grace, "message", by("Ada"));
        assert_eq!(message["text"], "across again");
        self.grace
            .send(json!({"type": "message", "text": "and back"}));
        assert_eq!(
            wait_for(&mut self.bob, "message", by("Grace"))["text"],
            "and back"
        );
        took
    }
}

#[test]
fn a_node_cut_off_from_redis_degrades_keeps_local_delivery_and_heals() {
    let Some(mut cluster) = Cluster::in_netns() else {
        return;
    };
    cluster.cut_off_a();
    let took = cluster.restore_a();
    println!(
        "faults: link restored: presence reconverged and A healthy after {} ms",
        took.as_millis()
    );
}

#[test]
fn a_node_whose_link_to_redis_stalls_degrades_keeps_local_delivery_and_heals() {
    let Some(mut cluster) = Cluster::proxied() else {
        return;
    };
    cluster.cut_off_a();
    let took = cluster.restore_a();
    println!(
        "faults: stalled link resumed: presence reconverged and A healthy after {} ms",
        took.as_millis()
    );
}

#[test]
fn redis_restarted_empty_while_a_node_is_cut_off_heals_too() {
    let Some(mut cluster) = Cluster::in_netns() else {
        return;
    };
    cluster.cut_off_a();
    // Redis restarts empty and its host forgets every connection: B's end at once (its
    // link is up), A's never (the FIN and RSTs are lost on the cut link). Once the link is
    // back, A holds two half-open connections: the one it publishes on breaks at its next
    // write, the one it is subscribed on only if A asks whether Redis is still there.
    cluster.redis.kill();
    if let Link::Veth { ns, .. } = &cluster.a_link {
        ns.forget_connections();
    }
    cluster.redis.restart();
    let took = cluster.restore_a();
    println!(
        "faults: Redis restarted empty during the cut: reconverged after {} ms",
        took.as_millis()
    );
}
