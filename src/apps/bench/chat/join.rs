//! The chat load's setup: every client connects and joins the room, at most [`CONCURRENCY`]
//! at a time (and at most `--join-rate` a second), and the run waits until the presence notices settle; or says why they do not.

use std::time::{Duration, Instant};

use super::super::start_connection_from;
use super::{turn, ChatBenchArgs, Load};
use fullduplex::client::MultiClient;

/// Most clients connecting or joining at once.
const CONCURRENCY: usize = 256;
/// Longest wait for the first welcome: a chat answers a join at once.
const FIRST_WELCOME_LIMIT: Duration = Duration::from_secs(10);
/// Longest wait for every client to join, beyond the time `--join-rate` takes to start them.
const SETUP_LIMIT: Duration = Duration::from_secs(120);

/// Connects every client and polls until they joined and the presence notices settled.
/// Returns the seconds it took.
pub(super) fn join_all(
    clients: &mut MultiClient,
    load: &mut Load,
    args: &ChatBenchArgs,
) -> Result<f64, String> {
    let urls = args.urls();
    let wanted = args.clients;
    let websocket = args.websocket_clients();
    let started = Instant::now();
    let mut requested = 0;
    loop {
        let settling = load.member_count() + load.dropped + load.failed;
        let ws_settling = load.members.len() + load.websocket_ended;
        let paced = args.join_rate.map_or(usize::MAX, |rate| {
            (started.elapsed().as_secs_f64() * rate) as usize + 1
        });
        while requested < websocket.min(paced) && requested - ws_settling < CONCURRENCY {
            let url = urls[requested % urls.len()];
            let from = args.source_addr(requested);
            let id = start_connection_from(clients, url, requested, from)?;
            load.numbered(id, requested);
            requested += 1;
        }
        let now = Instant::now();
        if requested == websocket && load.settled(wanted, now) {
            return Ok(started.elapsed().as_secs_f64());
        }
        let all_ended = requested == websocket && settling == wanted;
        if let Some(why) = not_joining(load, args, all_ended, now.duration_since(started)) {
            return Err(why);
        }
        turn(clients, load, Duration::from_millis(100))?;
    }
}

/// Why the clients are not joining, once that is clear: every connection failed, or none
/// had a welcome in [`FIRST_WELCOME_LIMIT`], or not all joined in [`setup_limit`].
fn not_joining(
    load: &Load,
    args: &ChatBenchArgs,
    all_ended: bool,
    elapsed: Duration,
) -> Option<String> {
    let urls = args.urls().join(",");
    let room = &args.room;
    let joined = load.member_count();
    if joined == 0 && all_ended {
        let failed = load.failures.all_ended(&urls, args.clients, load.opened);
        return Some(format!("no client joined #{room}: {failed}"));
    }
    if joined == 0 && load.opened > 0 && elapsed > FIRST_WELCOME_LIMIT {
        return Some(format!(
            "no client joined #{room} within {} s: {} connections to {urls} opened, but none \
             had a welcome in answer to its join: is it the chat's endpoint (ws://HOST:PORT/ws)?",
            FIRST_WELCOME_LIMIT.as_secs(),
            load.opened
        ));
    }
    let limit = setup_limit(args);
    if elapsed <= limit {
        return None;
    }
    let failures = if load.failures.is_empty() {
        String::new()
    } else {
        format!(" (failures: {})", load.failures)
    };
    Some(format!(
        "only {joined} of {} clients joined #{room} within {} s{failures}: is the chat \
         overloaded? (fewer clients may do)",
        args.clients,
        limit.as_secs()
    ))
}

/// [`SETUP_LIMIT`] after the time `--join-rate` takes to start every client.
fn setup_limit(args: &ChatBenchArgs) -> Duration {
    let pacing = args
        .join_rate
        .map_or(0.0, |rate| args.clients as f64 / rate);
    SETUP_LIMIT + Duration::from_secs_f64(pacing)
}
