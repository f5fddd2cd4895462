//! `fullduplex bench chat`: the demo chat under load, speaking its JSON protocol
//! (docs/chat-protocol.md). `-c` clients join one room with distinct nicknames; `--senders`
//! of them take turns sending chat messages at `--rate` messages per second in all; every
//! member receives each one (the sender too). Each message's text carries its number and its
//! send time, so the run times each receipt (the delivery latency) and each message until
//! the last member has it (the fan-out latency), and counts deliveries against sends ×
//! members.
//!
//! With `--room-size N` the clients are spread over `ceil(c / N)` rooms ([`rooms`]), each with
//! its own senders at `--rate` (then per room). Every message also carries its sender's
//! number and sequence number, and every WebSocket receiver checks per sender that none is
//! lost, none repeated and the order kept ([`sequence`]); the run fails if one is.
//! `--series FILE` writes the latency over time as CSV ([`series`]).
//!
//! The chat limits each client to `--rate-messages` messages per second (10 by default): by
//! default the bench spreads the rate over enough senders that each sends at most 5 per
//! second. Clients may be spread round-robin over several chat servers (`--url`, for servers
//! sharing their rooms through a hub).
//!
//! `--fallback N`: N of the clients speak the chat's HTTP fallback (long-polling, on a thread
//! of their own: [`fleet`]) instead of a WebSocket; senders then alternate between the two
//! transports, and the deliveries and their latency are counted per receiving transport.
//! With `--pid`, the server's CPU time per delivery over the measured window.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Args;

use super::{close_all, poll_failed, start_failed, Common, Phases};
use fullduplex::client::{ClientOptions, MultiClient};

mod fleet;
mod http;
mod join;
mod load;
mod result;
mod rooms;
mod senders;
mod sequence;
mod series;

use join::join_all;
use load::{Load, LABEL_LEN};
use result::{error_counts, print_result, Run};
use rooms::Rooms;
use senders::Sender;
use sequence::Verdict;
use series::Series;

/// Messages per second one sender sends at most unless `--senders` says otherwise: half the
/// chat's default limit.
const SENDER_RATE: f64 = 5.0;
/// The chat's default limit of messages per second per client (`--rate-messages`).
const CHAT_DEFAULT_LIMIT: f64 = 10.0;
/// Longest wait for the last messages after the window.
const DRAIN_LIMIT: Duration = Duration::from_secs(5);

/// `fullduplex bench chat` options.
#[derive(Args, Debug)]
pub struct ChatBenchArgs {
    /// The chat's WebSocket URL (ws://HOST:PORT/ws; add ?token=SECRET or use --token),
    /// duration, deflate, output.
    #[command(flatten)]
    pub common: Common,
    /// More chat servers (repeatable, or a comma list): clients are spread over all the URLs
    /// round-robin.
    #[arg(long = "url", value_name = "URL", value_delimiter = ',')]
    pub more_urls: Vec<String>,
    /// Clients, all in one room (or spread over rooms with --room-size); each is a member
    /// that receives every message of its room.
    #[arg(short = 'c', long = "clients", default_value_t = 1000, value_parser = super::connections)]
    pub clients: usize,
    /// Clients per room: the clients fill rooms ROOM-0, ROOM-1, … of this size in order,
    /// each room with its own senders and its own --rate (WebSocket clients only).
    #[arg(long, value_name = "N", value_parser = super::connections)]
    pub room_size: Option<usize>,
    /// Write the latency over time to this CSV file: one row per --series-every seconds
    /// (deliveries, delivery latency p50/p99/max), warm-up included.
    #[arg(long, value_name = "FILE")]
    pub series: Option<PathBuf>,
    /// Seconds per row of --series.
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0, value_parser = super::positive_seconds)]
    pub series_every: f64,
    /// How many of the clients speak the chat's HTTP fallback (long-polling: a held poll
    /// that acknowledges what it got, sends on a second keep-alive connection; ws:// URLs
    /// only) instead of a WebSocket; default 0. Senders then alternate between the
    /// transports, and deliveries and latency are reported per receiving transport.
    #[arg(long, default_value_t = 0)]
    pub fallback: usize,
    /// Chat messages sent per second, by all senders (of each room, with --room-size)
    /// together.
    #[arg(long, default_value_t = 10.0, value_parser = positive_rate)]
    pub rate: f64,
    /// Clients that take turns sending, in each room (default: enough that each sends at
    /// most 5 messages per second; above 10 per sender, start the chat with a higher
    /// --rate-messages).
    #[arg(long)]
    pub senders: Option<u32>,
    /// The room joined (with --room-size, the rooms' names' prefix).
    #[arg(long, default_value = "bench")]
    pub room: String,
    /// Characters of each message's text (51 of them its number, send time, sender and
    /// sender's sequence number).
    #[arg(short = 's', long = "size", default_value_t = 64, value_parser = clap::value_parser!(u32).range(LABEL_LEN as i64..=2000))]
    pub size: u32,
    /// Start at most this many connections a second while the clients join (default: as
    /// fast as 256 handshakes and joins under way at once allow): joining 100 000 clients
    /// at once is a presence storm in which the joined clients fall behind reading.
    #[arg(long, value_name = "PER_SECOND", value_parser = positive_rate)]
    pub join_rate: Option<f64>,
    /// Spread the clients over N source addresses, 127.0.0.1 and up through 127.0.0.0/8
    /// (client k binds to the (k mod N)th before connecting), for more ephemeral ports than
    /// one address has; the server must listen on 127.0.0.1 or 0.0.0.0.
    #[arg(long, value_name = "N", value_parser = source_addrs)]
    pub source_addrs: Option<u32>,
    /// The `Origin` header to send (default: none, as non-browser clients do; the chat
    /// accepts its own origin, e.g. http://127.0.0.1:8080, or one given with --allowed-origin).
    #[arg(long)]
    pub origin: Option<String>,
    /// The chat's token (--token of the server), sent as the `token` cookie.
    #[arg(long)]
    pub token: Option<String>,
}

fn positive_rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(r) if r > 0.0 && r <= 1e6 => Ok(r),
        _ => Err(format!(
            "{text:?} is not a rate: messages per second, more than 0"
        )),
    }
}

/// Addresses of 127.0.0.0/8 after 127.0.0.0 and before the broadcast address.
const LOOPBACK_HOSTS: u32 = (1 << 24) - 2;

fn source_addrs(text: &str) -> Result<u32, String> {
    match text.parse::<u32>() {
        Ok(n) if (1..=LOOPBACK_HOSTS).contains(&n) => Ok(n),
        _ => Err(format!(
            "{text:?} is not a number of source addresses: 1 to {LOOPBACK_HOSTS} (127.0.0.1 and up)"
        )),
    }
}

impl ChatBenchArgs {
    /// The local address client `number` connects from, with `--source-addrs`.
    fn source_addr(&self, number: usize) -> Option<IpAddr> {
        let n = self.source_addrs?;
        let host = 1 + (number as u64 % u64::from(n)) as u32;
        Some(IpAddr::V4(Ipv4Addr::from(
            u32::from(Ipv4Addr::LOCALHOST) - 1 + host,
        )))
    }

    fn urls(&self) -> Vec<&str> {
        let more = self.more_urls.iter().map(String::as_str);
        std::iter::once(self.common.url.as_str())
            .chain(more)
            .collect()
    }

    /// Senders per room.
    fn senders(&self) -> usize {
        let wanted = self
            .senders
            .map_or((self.rate / SENDER_RATE).ceil() as usize, |k| k as usize);
        wanted.clamp(1, self.room_size.unwrap_or(self.clients).min(self.clients))
    }

    fn rooms(&self) -> Rooms {
        Rooms::new(&self.room, self.clients, self.room_size)
    }

    /// The clients that speak the WebSocket.
    fn websocket_clients(&self) -> usize {
        self.clients - self.fallback
    }

    fn client_options(&self) -> Result<ClientOptions, String> {
        let mut options = self.common.client_options()?;
        options.origin.clone_from(&self.origin);
        if let Some(token) = &self.token {
            options
                .headers
                .push(("Cookie".into(), format!("token={token}")));
        }
        Ok(options)
    }
}

/// Runs the chat load and prints the result.
pub fn run(args: &ChatBenchArgs) -> Result<(), String> {
    let senders = args.senders();
    let per_sender = args.rate / senders as f64;
    if per_sender > CHAT_DEFAULT_LIMIT {
        eprintln!(
            "bench chat: each sender sends {per_sender:.1} messages/s, over the chat's default \
             limit of {CHAT_DEFAULT_LIMIT}: start the chat with --rate-messages {}",
            per_sender.ceil()
        );
    }
    if args.fallback > args.clients {
        return Err(format!(
            "--fallback {} is more than the {} clients (-c): the fallback clients are some of them",
            args.fallback, args.clients
        ));
    }
    if args.fallback > 0 && args.room_size.is_some() {
        return Err("--fallback clients join one room: leave out --room-size".into());
    }
    let mut clients = MultiClient::new(args.client_options()?).map_err(start_failed)?;
    let mut load = Load::new(args.rooms());
    if args.fallback > 0 {
        load.fleet = Some(senders::start_fleet(args)?);
    }
    let setup_secs = join_all(&mut clients, &mut load, args)?;
    let members = load.member_count();
    eprintln!(
        "bench chat: {members} clients joined {} in {setup_secs:.1} s",
        load.rooms.describe()
    );
    let rooms = senders::pick_per_room(&load, senders);
    let sent = send_and_measure(&mut clients, &mut load, args, &rooms)?;
    let seconds = sent.seconds;
    let drain_until = Instant::now() + DRAIN_LIMIT;
    while load.measured_pending() && Instant::now() < drain_until {
        turn(&mut clients, &mut load, Duration::from_millis(50))?;
    }
    let sequence = sequence_verdict(&load, &rooms);
    load.failures.closing = true;
    let ids = load.members.clone();
    close_all(&mut clients, &mut load, ids, Duration::from_secs(10));
    if let Some(mut fleet) = load.fleet.take() {
        fleet.stop();
    }
    if let Some(why) = nothing_measured(args, &load, &sent, members) {
        return Err(why);
    }
    let run = Run {
        members,
        senders: rooms.iter().map(Vec::len).sum(),
        setup_secs,
        seconds,
        sent: sent.measured,
        send_failures: sent.failures,
        server_cpu: sent.server_cpu,
        sequence,
    };
    print_result(args, &load, &run);
    if !sequence.passed() {
        return Err(format!(
            "deliveries not accounted for, per sender: {} lost, {} repeated, {} out of order",
            sequence.lost, sequence.duplicated, sequence.reordered
        ));
    }
    Ok(())
}

/// The sequence check over every WebSocket member still there and every sender of its room.
fn sequence_verdict(load: &Load, rooms: &[Vec<Sender>]) -> Verdict {
    let numbers: Vec<Vec<u32>> = rooms
        .iter()
        .map(|senders| senders.iter().filter_map(|s| s.number(load)).collect())
        .collect();
    let pairs = load.members.iter().flat_map(|&id| {
        let receiver = load.number(id).unwrap_or_default();
        let senders = &numbers[load.rooms.of(receiver)];
        senders.iter().map(move |&sender| (receiver as u32, sender))
    });
    load.ledger.verdict(pairs)
}

/// What the sending phase did.
struct Sent {
    /// Messages sent in the measured window.
    measured: u64,
    /// Sends refused because the sender's connection had ended.
    failures: u64,
    seconds: f64,
    /// The server's CPU seconds over the measured window (with `--pid`).
    server_cpu: Option<f64>,
}

/// One turn of the event loop: the WebSocket clients' events, then the fallback clients'
/// reports.
fn turn(clients: &mut MultiClient, load: &mut Load, timeout: Duration) -> Result<(), String> {
    clients.poll(load, Some(timeout)).map_err(poll_failed)?;
    load.take_reports();
    Ok(())
}

/// Sends at the rate through the warm-up and the measured window: the rooms in turn, and in
/// each room its senders in turn.
fn send_and_measure(
    clients: &mut MultiClient,
    load: &mut Load,
    args: &ChatBenchArgs,
    rooms: &[Vec<Sender>],
) -> Result<Sent, String> {
    let interval = Duration::from_secs_f64(1.0 / (args.rate * rooms.len() as f64));
    let mut series = match &args.series {
        Some(path) => Some(Series::create(
            path,
            Duration::from_secs_f64(args.series_every),
        )?),
        None => None,
    };
    let mut phases = Phases::start(&args.common);
    let mut text = String::with_capacity(args.size as usize);
    let mut json = String::with_capacity(args.size as usize + 32);
    let mut seq = 0u64;
    let mut sent = Sent {
        measured: 0,
        failures: 0,
        seconds: 0.0,
        server_cpu: None,
    };
    let mut next_send = Instant::now();
    loop {
        let now = Instant::now();
        load.measuring = phases.tick(now);
        if phases.done(now) {
            if let Some(series) = &mut series {
                series.finish(now, load)?;
            }
            break;
        }
        while now >= next_send {
            let room = seq as usize % rooms.len();
            let round = seq as usize / rooms.len();
            if let Some(&sender) = rooms[room].get(round % rooms[room].len().max(1)) {
                let number = sender.number(load).unwrap_or_default();
                let sender_seq = load.ledger.next_seq(number);
                let at = Instant::now();
                let label = (number, sender_seq);
                load.write_label(&mut text, seq, at, label, args.size as usize);
                json.clear();
                json.push_str(r#"{"type":"message","text":""#);
                json.push_str(&text);
                json.push_str(r#""}"#);
                match sender.send(clients, load, &json) {
                    Ok(()) => {
                        load.sent(seq, at, room);
                        load.ledger.sent(number);
                        sent.measured += u64::from(load.measuring);
                    }
                    Err(_) => sent.failures += 1,
                }
            }
            seq += 1;
            next_send += interval;
        }
        if let Some(series) = &mut series {
            series.tick(now, load)?;
        }
        let rate = phases.rate(load.deliveries, now);
        let members = load.member_count();
        phases.progress(
            now,
            || format!("{members} members"),
            || format!("{rate:.0} deliveries/s"),
        );
        let next_row = series.as_ref().map_or(next_send, Series::next_row);
        let timeout = phases
            .poll_timeout(now)
            .min(next_send.min(next_row).saturating_duration_since(now));
        turn(clients, load, timeout)?;
    }
    sent.seconds = phases.measured_secs();
    sent.server_cpu = phases.server_cpu();
    phases.finish();
    Ok(sent)
}

/// Why the run measured nothing, if it did not: no message sent in the window, or none came
/// back.
fn nothing_measured(
    args: &ChatBenchArgs,
    load: &Load,
    sent: &Sent,
    members: usize,
) -> Option<String> {
    let seconds = sent.seconds;
    if sent.measured == 0 {
        return Some(format!(
            "no message was sent in the {seconds:.1} s measured, at {} messages/s: \
             measure for longer (--duration) or send faster (--rate)",
            args.rate
        ));
    }
    if load.deliveries > 0 {
        return None;
    }
    let errors = if load.errors.is_empty() {
        String::new()
    } else {
        format!("; the server answered with errors: {}", error_counts(load))
    };
    Some(format!(
        "no chat message came back in the {seconds:.1} s measured ({} sent to {members} \
         members{errors}): does the server at {} relay each message to its room, as \
         `fullduplex chat` does?",
        sent.measured,
        args.urls().join(","),
    ))
}
