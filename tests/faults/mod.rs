//! Faults of the network, made for real (issue 20, cases 3 and 4): peers that vanish without
//! a FIN, and a chat node cut off from its Redis, then reconnected, and Redis restarted
//! empty. The harness: network namespaces and veth pairs ([`netns`], needs root and `ip`),
//! and a fault-injecting TCP proxy on loopback ([`proxy`]: latency, bandwidth cap, stall,
//! reset, cut).
//!
//! The namespace tests print a skip message and pass when not run as root, unless
//! `FULLDUPLEX_REQUIRE_NETNS=1` (as `scripts/test.sh faults` sets). Figures (detection and
//! reconvergence times) are printed with `--nocapture`; docs/reliability-faults.md has them.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use fullduplex::client::ClientError;
use fullduplex::protocol::OwnedEvent;
use serde_json::Value;

use crate::chat::support::Client;
pub use crate::scale_out::support::PATIENCE;

mod dead_peers;
pub mod netns;
mod partition;
pub mod proxy;
mod proxy_tests;

/// A chat client read by a thread of its own, so it answers every ping at once whatever the
/// test does meanwhile; each text message comes out as JSON with the instant it arrived.
pub struct Listener {
    messages: Receiver<(Instant, Value)>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Listener {
    /// Reads `client` until dropped, or until its connection ends.
    pub fn new(mut client: Client) -> Self {
        let (tx, messages) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        client
            .ws
            .set_read_timeout(Some(Duration::from_millis(50)))
            .expect("sets a timeout");
        let thread = std::thread::spawn(move || {
            while !stopping.load(Relaxed) {
                match client.ws.recv() {
                    Ok(OwnedEvent::Text(text)) => {
                        let json = serde_json::from_str(&text).expect("the chat sends JSON");
                        let _ = tx.send((Instant::now(), json));
                    }
                    Ok(OwnedEvent::Closed { .. }) => break,
                    Ok(_) => {}
                    Err(ClientError::Io(e)) if is_timeout(&e) => {}
                    Err(_) => break,
                }
            }
        });
        Self {
            messages,
            stop,
            thread: Some(thread),
        }
    }

    /// The next message of type `kind` that `matches` and when it came, skipping others;
    /// panics after [`PATIENCE`].
    pub fn wait_for(&self, kind: &str, matches: impl Fn(&Value) -> bool) -> (Instant, Value) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok((at, value)) = self.messages.recv_timeout(left) else {
                panic!("no {kind} message as expected within {PATIENCE:?}");
            };
            if value["type"] == kind && matches(&value) {
                return (at, value);
            }
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.store(true, Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

/// Polls `probe` until it returns `Some`; panics with `what` after [`PATIENCE`].
pub fn until<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(Instant::now() < deadline, "{what}: not within {PATIENCE:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
