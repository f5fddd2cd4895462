//! Helpers for the chat tests: an in-process chat on port 0 and a JSON-speaking client with
//! bounded waits.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::apps::chat::{self, ChatOptions};
use fullduplex::client::{connect_with, ClientError, ClientOptions, WebSocket};
use fullduplex::protocol::{CloseCode, OwnedEvent};
use fullduplex::server::RunningServer;
use serde_json::{json, Value};

/// Longest wait for anything the server should send.
pub const WAIT: Duration = Duration::from_secs(5);

/// A chat running for one test; it stops when dropped. Declare it before the clients: they
/// are dropped first, so the shutdown does not wait for clients that no longer read.
pub struct TestChat(Option<RunningServer>);

impl std::ops::Deref for TestChat {
    type Target = RunningServer;

    fn deref(&self) -> &RunningServer {
        self.0.as_ref().expect("running until dropped")
    }
}

impl Drop for TestChat {
    fn drop(&mut self) {
        if let Some(server) = self.0.take() {
            server.stop();
        }
    }
}

/// Starts a quiet chat on a free loopback port.
pub fn start(options: ChatOptions) -> TestChat {
    let options = ChatOptions {
        log: false,
        ..options
    };
    TestChat(Some(
        chat::start("127.0.0.1:0", options).expect("the chat binds a loopback port"),
    ))
}

/// Options for a server with `threads` workers (one makes delivery order deterministic).
pub fn threads(threads: usize) -> ChatOptions {
    ChatOptions {
        threads,
        ..ChatOptions::default()
    }
}

/// The WebSocket URL of a running chat, with an optional query.
pub fn ws_url(addr: SocketAddr, query: &str) -> String {
    format!("ws://{addr}/ws{query}")
}

/// A chat client speaking JSON.
pub struct Client {
    pub ws: WebSocket,
}

impl Client {
    /// Connects with default options.
    pub fn connect(addr: SocketAddr) -> Self {
        Self::connect_with(&ws_url(addr, ""), &ClientOptions::default()).expect("connects")
    }

    /// Connects with these options.
    pub fn connect_with(url: &str, options: &ClientOptions) -> Result<Self, ClientError> {
        let mut ws = connect_with(url, options)?;
        ws.set_read_timeout(Some(WAIT))?;
        Ok(Self { ws })
    }

    /// Connects and joins `room` as `nick`; returns the client and its welcome.
    pub fn joined(addr: SocketAddr, nick: &str, room: &str) -> (Self, Value) {
        let mut client = Self::connect(addr);
        client.send(json!({"type": "join", "nick": nick, "room": room}));
        let welcome = client.expect("welcome");
        (client, welcome)
    }

    /// Sends a JSON value as a text message.
    pub fn send(&mut self, value: Value) {
        self.ws.send_text(&value.to_string()).expect("sends");
    }

    /// The next data message or close (pings are answered and skipped); panics after `WAIT`.
    pub fn next(&mut self) -> OwnedEvent {
        self.next_before(Instant::now() + WAIT)
            .unwrap_or_else(|| panic!("no message from the server within {WAIT:?}"))
    }

    /// The next data message or close that arrives before `deadline` (pings are answered
    /// and skipped), or `None` when nothing did. A read that times out is not an error here:
    /// the stream is left as it was and the wait goes on until the deadline.
    pub fn next_before(&mut self, deadline: Instant) -> Option<OwnedEvent> {
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            if left.is_zero() {
                return None;
            }
            self.ws
                .set_read_timeout(Some(left))
                .expect("sets a timeout");
            match self.ws.recv() {
                Ok(OwnedEvent::Ping(_)) | Ok(OwnedEvent::Pong(_)) => {}
                Ok(event) => return Some(event),
                Err(ClientError::Io(e))
                    if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) => panic!("no message from the server: {e}"),
            }
        }
    }

    /// The next text message, as JSON.
    pub fn next_json(&mut self) -> Value {
        self.json_before(Instant::now() + WAIT)
            .unwrap_or_else(|| panic!("no message from the server within {WAIT:?}"))
    }

    /// The next text message that arrives before `deadline`, as JSON.
    pub fn json_before(&mut self, deadline: Instant) -> Option<Value> {
        self.next_before(deadline).map(json_of)
    }

    /// The next text message, which must have this `type`.
    pub fn expect(&mut self, kind: &str) -> Value {
        let value = self.next_json();
        assert_eq!(value["type"], kind, "expected a {kind} message: {value}");
        value
    }

    /// The next message, which must be an error with this code.
    pub fn expect_error(&mut self, code: &str) -> Value {
        let value = self.expect("error");
        assert_eq!(value["code"], code, "{value}");
        value
    }

    /// Reads until the server's Close frame; returns its code.
    pub fn expect_close(&mut self) -> CloseCode {
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            match self.ws.recv() {
                Ok(OwnedEvent::Closed { code, .. }) => return code,
                Ok(_) => {}
                Err(e) => panic!("the connection ended without a close frame: {e}"),
            }
        }
        panic!("no close frame within {WAIT:?}");
    }
}

/// The nicknames in a welcome's user list.
pub fn nicks(welcome: &Value) -> Vec<String> {
    welcome["users"]
        .as_array()
        .expect("users is a list")
        .iter()
        .map(|u| u["nick"].as_str().expect("a nick").to_owned())
        .collect()
}

/// A file upload: header length, JSON header, bytes.
pub fn upload(name: &str, mime: &str, bytes: &[u8]) -> Vec<u8> {
    let header = json!({"name": name, "mime": mime}).to_string();
    chat::files::encode(header.as_bytes(), bytes)
}

/// Splits a relayed file into its JSON header and bytes.
pub fn split_file(data: &[u8]) -> (Value, Vec<u8>) {
    let len = usize::from(u16::from_be_bytes([data[0], data[1]]));
    let header = serde_json::from_slice(&data[2..2 + len]).expect("a JSON header");
    (header, data[2 + len..].to_vec())
}

/// A plain HTTP/1.1 GET; returns the status, the head and the body.
pub fn http_get(addr: SocketAddr, target: &str, headers: &str) -> (u16, String, String) {
    let mut tcp = TcpStream::connect(addr).expect("connects");
    tcp.set_read_timeout(Some(WAIT)).expect("sets a timeout");
    let request =
        format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{headers}\r\n");
    tcp.write_all(request.as_bytes()).expect("writes");
    let mut response = Vec::new();
    tcp.read_to_end(&mut response)
        .expect("the server closes after answering");
    let response = String::from_utf8(response).expect("a UTF-8 response");
    let (head, body) = response.split_once("\r\n\r\n").expect("a complete head");
    let status = head[9..12].parse().expect("a status code");
    (status, head.to_owned(), body.to_owned())
}

/// A text message's JSON; panics on anything else.
fn json_of(event: OwnedEvent) -> Value {
    match event {
        OwnedEvent::Text(text) => serde_json::from_str(&text).expect("the server sends JSON"),
        other => panic!("expected a text message, got {other:?}"),
    }
}
