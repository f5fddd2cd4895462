//! The chat load's bookkeeping: what each client's connection does (join on open), what the
//! bench reads from the server's JSON messages (welcome, presence, chat messages, errors), and
//! the counts and latencies of the run; per-sender sequence accounting in [`Ledger`].

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use serde::de::IgnoredAny;
use serde::Deserialize;

use super::super::histogram::Histogram;
use super::super::Failures;
use super::fleet::{Fleet, Report};
use super::rooms::Rooms;
use super::sequence::Ledger;
use fullduplex::client::{ClientConn, ClientHandler, ClientId, Ended};
use fullduplex::protocol::Message;

/// Characters of a message's label: its number and its send time, 16 hex digits each, then
/// its sender's number and the sender's sequence number, 8 hex digits each.
pub(super) const LABEL_LEN: usize = 51;

/// What the bench reads of a server message (docs/chat-protocol.md); the rest is skipped.
#[derive(Deserialize)]
pub(super) struct Incoming<'a> {
    #[serde(rename = "type", borrow)]
    pub(super) kind: Cow<'a, str>,
    #[serde(default, borrow)]
    pub(super) text: Option<Cow<'a, str>>,
    #[serde(default)]
    pub(super) users: Option<Vec<IgnoredAny>>,
    #[serde(default, borrow)]
    pub(super) code: Option<Cow<'a, str>>,
}

/// How a client reaches the chat.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Transport {
    WebSocket,
    Fallback,
}

/// The deliveries to the clients of one transport.
#[derive(Default)]
pub(super) struct Received {
    /// Receipts of measured messages.
    pub(super) deliveries: u64,
    /// From sending to each receipt (measured messages).
    pub(super) delivery: Histogram,
}

/// A chat message on its way: when it was sent, how many members still lack it.
pub(super) struct Pending {
    pub(super) sent: Instant,
    pub(super) missing: usize,
    pub(super) measured: bool,
    /// The latest receipt so far (fallback receipts are applied after they arrived, in
    /// another order than they arrived in).
    pub(super) latest: Instant,
}

/// The state of a chat load run, and the [`ClientHandler`] of its connections.
pub(super) struct Load {
    /// The clock the send times written in the messages count from.
    base: Instant,
    pub(super) rooms: Rooms,
    /// Members (of either transport) by room.
    pub(super) room_members: Vec<usize>,
    /// Each connection's number (its nickname is `bench-NUMBER`).
    index: HashMap<ClientId, usize>,
    /// Clients that received their welcome and are still connected, in order of welcome.
    pub(super) members: Vec<ClientId>,
    member_set: HashSet<ClientId>,
    /// Connections that opened (some may have ended since).
    pub(super) opened: usize,
    /// Clients that ended before their welcome.
    pub(super) failed: usize,
    /// Clients that ended after their welcome, before the run closed them.
    pub(super) dropped: usize,
    /// WebSocket connections that ended (before their welcome or after).
    pub(super) websocket_ended: usize,
    /// Users the clients know of in the room: the sum over clients of their user lists.
    pub(super) known: i64,
    /// When a welcome, `joined` or `left` last arrived.
    pub(super) last_presence: Instant,
    /// `left` notices received while measuring.
    pub(super) left_notices: u64,
    pub(super) pending: HashMap<u64, Pending>,
    /// Whether messages sent now are measured.
    pub(super) measuring: bool,
    /// From sending to each member's receipt (measured messages).
    pub(super) delivery: Histogram,
    /// From sending to the last member's receipt (measured messages).
    pub(super) fanout: Histogram,
    /// Receipts of measured messages.
    pub(super) deliveries: u64,
    /// Receipts due of measured messages: each one's room's members when it was sent.
    pub(super) expected: u64,
    /// The deliveries by the receiver's transport: WebSocket, HTTP fallback.
    pub(super) by_transport: [Received; 2],
    /// The fallback clients (fleet numbers) that received their welcome and are still there.
    pub(super) fallback_members: Vec<usize>,
    /// Fallback clients that ended before the run closed them, and sends that failed, by reason.
    pub(super) fallback_failures: BTreeMap<String, u64>,
    /// Measured messages every member received.
    pub(super) completed: u64,
    /// Chat messages that were not the bench's, or arrived twice.
    pub(super) strays: u64,
    /// `error` messages from the server, by code.
    pub(super) errors: BTreeMap<String, u64>,
    pub(super) failures: Failures,
    /// The fallback clients, with `--fallback`.
    pub(super) fleet: Option<Fleet>,
    /// Every sender's sequence and every WebSocket receiver's view of it.
    pub(super) ledger: Ledger,
    /// From sending to each receipt, every message (warm-up too), since the last
    /// [`take_window`](Self::take_window).
    window: Histogram,
}

impl Load {
    pub(super) fn new(rooms: Rooms) -> Self {
        let now = Instant::now();
        Self {
            base: now,
            room_members: vec![0; rooms.count()],
            rooms,
            index: HashMap::new(),
            members: Vec::new(),
            member_set: HashSet::new(),
            opened: 0,
            failed: 0,
            dropped: 0,
            websocket_ended: 0,
            known: 0,
            last_presence: now,
            left_notices: 0,
            pending: HashMap::new(),
            measuring: false,
            delivery: Histogram::default(),
            fanout: Histogram::default(),
            deliveries: 0,
            expected: 0,
            by_transport: Default::default(),
            fallback_members: Vec::new(),
            fallback_failures: BTreeMap::new(),
            completed: 0,
            strays: 0,
            errors: BTreeMap::new(),
            failures: Failures::default(),
            fleet: None,
            ledger: Ledger::default(),
            window: Histogram::default(),
        }
    }

    /// The number of a WebSocket client.
    pub(super) fn number(&self, id: ClientId) -> Option<usize> {
        self.index.get(&id).copied()
    }

    /// The deliveries since the last call, and their latency.
    pub(super) fn take_window(&mut self) -> Histogram {
        std::mem::take(&mut self.window)
    }

    /// Notes the number of a connection just started.
    pub(super) fn numbered(&mut self, id: ClientId, number: usize) {
        self.index.insert(id, number);
    }

    /// Whether every client of `wanted` joined or failed and the presence notices settled:
    /// every member knows every member, or no notice came for a second.
    pub(super) fn settled(&self, wanted: usize, now: Instant) -> bool {
        let members = self.member_count();
        let everyone: usize = self.room_members.iter().map(|m| m * m).sum();
        let all_known = self.known >= everyone as i64;
        let quiet = now.duration_since(self.last_presence) >= Duration::from_secs(1);
        members + self.dropped + self.failed >= wanted && members > 0 && (all_known || quiet)
    }

    /// The text of message `seq`, sent at `now`, number `sender.1` of client `sender.0`: its
    /// label, then filler up to `size`.
    pub(super) fn write_label(
        &self,
        text: &mut String,
        seq: u64,
        now: Instant,
        sender: (u32, u32),
        size: usize,
    ) {
        use std::fmt::Write;
        let nanos = now.duration_since(self.base).as_nanos() as u64;
        let (client, sender_seq) = sender;
        text.clear();
        let _ = write!(
            text,
            "{seq:016x} {nanos:016x} {client:08x} {sender_seq:08x}"
        );
        text.extend(std::iter::repeat_n('x', size.saturating_sub(LABEL_LEN)));
    }

    /// Members of either transport.
    pub(super) fn member_count(&self) -> usize {
        self.members.len() + self.fallback_members.len()
    }

    /// Records message `seq` as sent at `sent` to every current member of `room`.
    pub(super) fn sent(&mut self, seq: u64, sent: Instant, room: usize) {
        let pending = Pending {
            sent,
            missing: self.room_members[room],
            measured: self.measuring,
            latest: sent,
        };
        if self.measuring {
            self.expected += pending.missing as u64;
        }
        self.pending.insert(seq, pending);
    }

    /// Deliveries still missing of the measured messages.
    pub(super) fn missing(&self) -> u64 {
        let measured = self.pending.values().filter(|p| p.measured);
        measured.map(|p| p.missing as u64).sum()
    }

    /// Whether measured messages are still on their way.
    pub(super) fn measured_pending(&self) -> bool {
        self.pending.values().any(|p| p.measured)
    }

    /// A chat message received at `now` by a client of `transport`, WebSocket client
    /// `receiver` (by number) if it is one.
    pub(super) fn on_chat_message(
        &mut self,
        text: &str,
        now: Instant,
        transport: Transport,
        receiver: Option<usize>,
    ) {
        let label = |range: std::ops::Range<usize>| {
            text.get(range)
                .and_then(|hex| u64::from_str_radix(hex, 16).ok())
        };
        let fields = [
            label(0..16),
            label(17..33),
            label(34..42),
            label(43..LABEL_LEN),
        ];
        let [Some(seq), Some(nanos), Some(sender), Some(sender_seq)] = fields else {
            self.strays += 1;
            return;
        };
        if let Some(receiver) = receiver {
            self.ledger
                .received(receiver as u32, sender as u32, sender_seq as u32);
        }
        let sent = self.base + Duration::from_nanos(nanos);
        let latency = now.saturating_duration_since(sent);
        self.window.record(latency);
        let Some(pending) = self.pending.get_mut(&seq) else {
            self.strays += 1;
            return;
        };
        if pending.measured {
            self.delivery.record(latency);
            self.deliveries += 1;
            let received = &mut self.by_transport[transport as usize];
            received.delivery.record(latency);
            received.deliveries += 1;
        }
        pending.missing = pending.missing.saturating_sub(1);
        pending.latest = pending.latest.max(now);
        if pending.missing == 0 {
            let pending = self.pending.remove(&seq).expect("present");
            if pending.measured {
                self.fanout
                    .record(pending.latest.duration_since(pending.sent));
                self.completed += 1;
            }
        }
    }

    fn on_welcome(&mut self, id: ClientId, users: usize) {
        if self.member_set.insert(id) {
            self.members.push(id);
            let room = self.rooms.of(self.number(id).unwrap_or_default());
            self.room_members[room] += 1;
        }
        self.known += users as i64;
        self.last_presence = Instant::now();
    }

    /// Applies what the fallback clients reported since the last call.
    pub(super) fn take_reports(&mut self) {
        let Some(fleet) = &self.fleet else { return };
        let reports: Vec<Report> = fleet.reports.try_iter().collect();
        for report in reports {
            self.on_report(report);
        }
    }

    /// What a fallback client saw (see [`Fleet`](super::fleet::Fleet)).
    pub(super) fn on_report(&mut self, report: Report) {
        match report {
            Report::Welcome { client, users } => {
                if !self.fallback_members.contains(&client) {
                    self.fallback_members.push(client);
                    self.room_members[0] += 1;
                }
                self.known += users as i64;
                self.last_presence = Instant::now();
            }
            Report::Presence(change) => self.on_presence(change),
            Report::Chat { label, at } => {
                self.on_chat_message(&label, at, Transport::Fallback, None)
            }
            Report::Error(code) => *self.errors.entry(code).or_default() += 1,
            Report::SendFailed(why) => *self.fallback_failures.entry(why).or_default() += 1,
            Report::Ended { client, why } => {
                match self.fallback_members.iter().position(|&m| m == client) {
                    Some(at) => {
                        self.fallback_members.remove(at);
                        self.room_members[0] -= 1;
                        self.dropped += 1;
                    }
                    None => self.failed += 1,
                }
                *self.fallback_failures.entry(why).or_default() += 1;
            }
        }
    }

    pub(super) fn on_presence(&mut self, change: i64) {
        self.known += change;
        self.last_presence = Instant::now();
        if change < 0 && self.measuring {
            self.left_notices += 1;
        }
    }
}

impl ClientHandler for Load {
    fn on_open(&mut self, conn: &mut ClientConn<'_>) {
        self.opened += 1;
        let number = self.number(conn.id()).unwrap_or_default();
        let join = serde_json::json!({
            "type": "join",
            "nick": format!("bench-{number}"),
            "room": self.rooms.name(self.rooms.of(number)),
        });
        let _ = conn.send_text(&join.to_string());
    }

    fn on_message(&mut self, conn: &mut ClientConn<'_>, message: Message<'_>) {
        let Message::Text(text) = message else {
            return;
        };
        let Ok(incoming) = serde_json::from_str::<Incoming<'_>>(text) else {
            *self.errors.entry("unreadable".into()).or_default() += 1;
            return;
        };
        match incoming.kind.as_ref() {
            "message" => {
                let text = incoming.text.as_deref().unwrap_or_default();
                let receiver = self.number(conn.id());
                self.on_chat_message(text, Instant::now(), Transport::WebSocket, receiver);
            }
            "welcome" => self.on_welcome(conn.id(), incoming.users.map_or(0, |u| u.len())),
            "joined" => self.on_presence(1),
            "left" => self.on_presence(-1),
            "error" => {
                let code = incoming.code.as_deref().unwrap_or("error");
                *self.errors.entry(code.to_owned()).or_default() += 1;
                if let Some(number) = self.number(conn.id()) {
                    self.ledger.refused(number as u32);
                }
            }
            _ => {}
        }
    }

    fn on_end(&mut self, id: ClientId, ended: &Ended) {
        self.websocket_ended += 1;
        if let Some(number) = self.number(id) {
            self.ledger.ended(number as u32);
        }
        if self.member_set.remove(&id) {
            self.members.retain(|&member| member != id);
            let room = self.rooms.of(self.number(id).unwrap_or_default());
            self.room_members[room] -= 1;
            self.dropped += usize::from(!self.failures.closing);
        } else {
            self.failed += 1;
        }
        self.failures.note(ended);
    }
}
