//! The publishing thread: takes envelopes from the hub's queue and publishes them, many per
//! round trip (a pipeline), in queue order; publishes this node's heartbeat; reconnects with
//! backoff. While it is down the hub queues nothing, and what was queued when the connection
//! broke is counted as failed, never sent late (it would arrive after newer heartbeats).

use std::sync::atomic::Ordering::Relaxed;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use super::envelope::{Body, Envelope};
use super::link::{self, Backoff, LinkStats};
use super::{Inner, Outgoing};

/// Envelopes published in one pipeline at most.
const BATCH: usize = 256;

/// How the serving loop ended.
enum Exit {
    Stop,
    Broken(redis::RedisError),
}

/// Starts the thread (`None` if the OS refuses one; the node then stays local).
pub(super) fn spawn(inner: Arc<Inner>, queue: Receiver<Outgoing>) -> Option<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("chat-broker-pub".into())
        .spawn(move || run(&inner, &queue))
        .map_err(|e| eprintln!("chat: broker: cannot start the publisher: {e}"))
        .ok()
}

fn run(inner: &Inner, queue: &Receiver<Outgoing>) {
    let Ok(client) = redis::Client::open(inner.options.url.as_str()) else {
        return;
    };
    let options = &inner.options;
    let mut backoff = Backoff::new(options.backoff_min, options.backoff_max);
    let mut failing = false;
    loop {
        match link::connect(&client) {
            Ok(mut connection) => {
                backoff.reset();
                failing = false;
                LinkStats::bump(&inner.stats.connects, 1);
                inner.stats.publisher_up.store(true, Relaxed);
                inner.log(format_args!("publishing to {}", options.url));
                // Whatever the others missed while this link was down, they have it all now.
                inner.snapshot();
                match serve(inner, &mut connection, queue) {
                    Exit::Stop => return say_goodbye(inner, &mut connection),
                    Exit::Broken(err) => {
                        inner.stats.publisher_up.store(false, Relaxed);
                        inner.log(format_args!("publishing failed: {err}; reconnecting"));
                    }
                }
            }
            Err(err) => {
                LinkStats::bump(&inner.stats.connect_failures, 1);
                if !failing {
                    inner.log(format_args!(
                        "cannot reach {}: {err}; retrying",
                        options.url
                    ));
                    failing = true;
                }
            }
        }
        if wait_discarding(inner, queue, &mut backoff) {
            return;
        }
    }
}

/// Waits out one backoff delay; whatever was queued before the link broke is counted as
/// failed. `true` if the hub is stopping.
fn wait_discarding(inner: &Inner, queue: &Receiver<Outgoing>, backoff: &mut Backoff) -> bool {
    let until = Instant::now() + backoff.next_delay(link::random());
    loop {
        let left = until.saturating_duration_since(Instant::now());
        match queue.recv_timeout(left) {
            Ok(Outgoing::Publish { .. }) => LinkStats::bump(&inner.stats.publish_failures, 1),
            Ok(Outgoing::Stop) | Err(RecvTimeoutError::Disconnected) => return true,
            Err(RecvTimeoutError::Timeout) => return inner.stopping.load(Relaxed),
        }
    }
}

/// Publishes until the link breaks or the hub stops.
fn serve(inner: &Inner, connection: &mut redis::Connection, queue: &Receiver<Outgoing>) -> Exit {
    let interval = inner.options.heartbeat_interval;
    let mut next_beat = Instant::now() + interval;
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        let now = Instant::now();
        if now >= next_beat {
            inner.heartbeat();
            next_beat = now + interval;
        }
        let first = match queue.recv_timeout(next_beat.saturating_duration_since(now)) {
            Ok(item) => item,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => return Exit::Stop,
        };
        let mut stop = false;
        for item in std::iter::once(first).chain(queue.try_iter().take(BATCH - 1)) {
            match item {
                Outgoing::Publish { channel, payload } => batch.push((channel, payload)),
                Outgoing::Stop => stop = true,
            }
        }
        if let Err(err) = publish_all(connection, &batch) {
            LinkStats::bump(&inner.stats.publish_failures, batch.len() as u64);
            return Exit::Broken(err);
        }
        LinkStats::bump(&inner.stats.published, batch.len() as u64);
        batch.clear();
        if stop {
            return Exit::Stop;
        }
    }
}

fn publish_all(
    connection: &mut redis::Connection,
    batch: &[(String, String)],
) -> redis::RedisResult<()> {
    if batch.is_empty() {
        return Ok(());
    }
    let mut pipe = redis::pipe();
    for (channel, payload) in batch {
        pipe.cmd("PUBLISH").arg(channel).arg(payload).ignore();
    }
    pipe.query::<()>(connection)
}

fn say_goodbye(inner: &Inner, connection: &mut redis::Connection) {
    inner.stopping.store(true, Relaxed);
    inner.stats.publisher_up.store(false, Relaxed);
    let bye = Envelope::new(&inner.options.node_id, Body::Bye).encode();
    let _ = publish_all(connection, &[(inner.nodes_channel(), bye)]);
}
