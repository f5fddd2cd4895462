//! Who sends in a chat run, on which transport, and where the fallback clients connect.

use std::net::ToSocketAddrs;

use super::fleet::{Command, Fleet, Target};
use super::{ChatBenchArgs, Load};
use fullduplex::client::{ClientId, MultiClient, WsUrl};
use fullduplex::protocol::Message;

/// A client that sends.
#[derive(Clone, Copy)]
pub(super) enum Sender {
    WebSocket(ClientId),
    /// A fallback client, by its number in the fleet.
    Fallback(usize),
}

/// The sender numbers of fallback clients start here, past any WebSocket client's number.
const FALLBACK_NUMBERS: u32 = 1 << 31;

impl Sender {
    /// The sender's number in the messages' labels: a WebSocket client's number, or a
    /// fallback client's number in the fleet past [`FALLBACK_NUMBERS`].
    pub(super) fn number(self, load: &Load) -> Option<u32> {
        match self {
            Sender::WebSocket(id) => load.number(id).map(|n| n as u32),
            Sender::Fallback(client) => Some(FALLBACK_NUMBERS | client as u32),
        }
    }

    /// Sends a chat message (its JSON); `Err` if the sender's connection had ended.
    pub(super) fn send(self, clients: &mut MultiClient, load: &Load, json: &str) -> Result<(), ()> {
        match self {
            Sender::WebSocket(id) => clients.send(id, Message::Text(json)).map_err(drop),
            Sender::Fallback(client) => match &load.fleet {
                Some(fleet) if load.fallback_members.contains(&client) => {
                    let json = json.to_owned();
                    fleet.tell(Command::Send { client, json });
                    Ok(())
                }
                _ => Err(()),
            },
        }
    }
}

/// The senders of each room: `count` of its members (in one room, see [`pick`]).
pub(super) fn pick_per_room(load: &Load, count: usize) -> Vec<Vec<Sender>> {
    if load.rooms.count() == 1 {
        return vec![pick(load, count)];
    }
    let mut rooms = vec![Vec::with_capacity(count); load.rooms.count()];
    for &id in &load.members {
        let room = &mut rooms[load.rooms.of(load.number(id).unwrap_or_default())];
        if room.len() < count {
            room.push(Sender::WebSocket(id));
        }
    }
    rooms
}

/// `count` senders among the members, alternating between the WebSocket and the fallback
/// members while both have some left.
fn pick(load: &Load, count: usize) -> Vec<Sender> {
    let mut websocket = load.members.iter().map(|&id| Sender::WebSocket(id));
    let mut fallback = load.fallback_members.iter().map(|&n| Sender::Fallback(n));
    let mut senders = Vec::with_capacity(count);
    while senders.len() < count {
        let next = match senders.len() % 2 {
            0 => websocket.next().or_else(|| fallback.next()),
            _ => fallback.next().or_else(|| websocket.next()),
        };
        let Some(sender) = next else { break };
        senders.push(sender);
    }
    senders
}

/// Starts the fallback clients: the last `--fallback` of the `-c` clients, spread over the
/// URLs as the WebSocket clients are.
pub(super) fn start_fleet(args: &ChatBenchArgs) -> Result<Fleet, String> {
    let targets = args
        .urls()
        .iter()
        .map(|url| target(url, args))
        .collect::<Result<Vec<_>, _>>()?;
    Fleet::start(targets, args.websocket_clients(), args.fallback)
}

/// Where the fallback clients of `url` (ws://HOST:PORT/ws?token=…) connect, and what they
/// present: the URL's query, the `--token` cookie and the `--origin`.
fn target(url: &str, args: &ChatBenchArgs) -> Result<Target, String> {
    let parsed = WsUrl::parse(url).map_err(|e| e.to_string())?;
    if parsed.secure {
        return Err(format!(
            "the fallback clients speak plain HTTP: give a ws:// URL, not {url}"
        ));
    }
    let addr = parsed
        .socket_addr_text()
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| format!("could not resolve the host of {url}"))?;
    let query = parsed
        .target
        .split_once('?')
        .map_or(String::new(), |(_, q)| format!("?{q}"));
    let mut headers = String::new();
    if let Some(origin) = &args.origin {
        headers.push_str(&format!("Origin: {origin}\r\n"));
    }
    if let Some(token) = &args.token {
        headers.push_str(&format!("Cookie: token={token}\r\n"));
    }
    Ok(Target {
        addr,
        host: parsed.host_header(),
        query,
        headers,
        room: args.room.clone(),
    })
}
