//! A client of the chat's HTTP fallback for the tests: plain HTTP/1.1 requests (one
//! connection each), the session id in its header, and polls that acknowledge what they
//! applied, each `seq` applied once.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::support::WAIT;

/// An answer: status and body.
pub struct Answer {
    pub status: u16,
    pub body: String,
}

impl Answer {
    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

/// Sends a request (with `Connection: close`) and starts reading nothing yet.
pub fn begin(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &str,
    body: &[u8],
) -> TcpStream {
    let mut tcp = TcpStream::connect(addr).expect("connects");
    tcp.set_read_timeout(Some(WAIT * 2))
        .expect("sets a timeout");
    let head = format!(
        "{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Length: {}\r\n{headers}\r\n",
        body.len()
    );
    tcp.write_all(head.as_bytes()).expect("writes");
    tcp.write_all(body).expect("writes");
    tcp
}

/// Reads the answer to a request begun with [`begin`].
pub fn finish(mut tcp: TcpStream) -> Answer {
    let mut bytes = Vec::new();
    tcp.read_to_end(&mut bytes)
        .expect("the server answers and closes");
    let text = String::from_utf8(bytes).expect("UTF-8");
    let (head, body) = text.split_once("\r\n\r\n").expect("a complete head");
    Answer {
        status: head[9..12].parse().expect("a status"),
        body: body.to_owned(),
    }
}

/// One request, answered.
pub fn request(addr: SocketAddr, method: &str, target: &str, headers: &str, body: &[u8]) -> Answer {
    finish(begin(addr, method, target, headers, body))
}

/// The body of a `send` or `open` with these text messages.
pub fn texts(messages: &[Value]) -> Vec<u8> {
    let items: Vec<Value> = messages
        .iter()
        .map(|m| json!({"text": m.to_string()}))
        .collect();
    json!({ "messages": items }).to_string().into_bytes()
}

/// A fallback session.
pub struct Poller {
    pub addr: SocketAddr,
    pub sid: String,
    /// The last `seq` applied.
    pub ack: u64,
    /// Applied messages not yet taken by `next`: text as JSON, binary as `{"binary": ...}`.
    inbox: VecDeque<Value>,
    /// How the server ended the session, once a poll said so.
    pub closed: Option<Value>,
}

const JSON: &str = "Content-Type: application/json\r\n";

impl Poller {
    /// Opens a session that joins `room` as `nick`; returns it and its welcome.
    pub fn joined(addr: SocketAddr, nick: &str, room: &str) -> (Self, Value) {
        let join = json!({"type": "join", "nick": nick, "room": room});
        let mut poller = Self::open(addr, &texts(&[join]));
        let welcome = poller.expect("welcome");
        (poller, welcome)
    }

    /// Opens a session with this body.
    pub fn open(addr: SocketAddr, body: &[u8]) -> Self {
        let answer = request(addr, "POST", "/fallback/open", JSON, body);
        assert_eq!(answer.status, 200, "{}", answer.body);
        let sid = answer.json()["sid"].as_str().expect("a sid").to_owned();
        Self {
            addr,
            sid,
            ack: 0,
            inbox: VecDeque::new(),
            closed: None,
        }
    }

    /// The session header.
    pub fn header(&self) -> String {
        format!("X-Fullduplex-Session: {}\r\n", self.sid)
    }

    /// Sends these chat messages; the status.
    pub fn send(&self, messages: &[Value]) -> u16 {
        self.send_body(&texts(messages)).status
    }

    /// Sends a `send` body as it is.
    pub fn send_body(&self, body: &[u8]) -> Answer {
        let headers = format!("{JSON}{}", self.header());
        request(self.addr, "POST", "/fallback/send", &headers, body)
    }

    /// Begins a poll acknowledging what was applied.
    pub fn begin_poll(&self) -> TcpStream {
        let target = format!("/fallback/poll?ack={}", self.ack);
        begin(self.addr, "GET", &target, &self.header(), b"")
    }

    /// Applies a poll's answer: each `seq` after the last applied, once.
    pub fn apply(&mut self, answer: &Answer) {
        assert_eq!(answer.status, 200, "{}", answer.body);
        let batch = answer.json();
        for message in batch["messages"].as_array().expect("messages") {
            let seq = message["seq"].as_u64().expect("a seq");
            if seq <= self.ack {
                continue;
            }
            assert_eq!(seq, self.ack + 1, "no gaps: {batch}");
            self.ack = seq;
            self.inbox.push_back(match message["text"].as_str() {
                Some(text) => serde_json::from_str(text).expect("JSON text"),
                None => json!({"binary": message["binary"]}),
            });
        }
        if !batch["closed"].is_null() {
            self.closed = Some(batch["closed"].clone());
        }
    }

    /// Polls once.
    pub fn poll(&mut self) {
        let answer = finish(self.begin_poll());
        self.apply(&answer);
    }

    /// The next message, polling as needed; panics after a generous deadline.
    pub fn next(&mut self) -> Value {
        let deadline = Instant::now() + WAIT * 2;
        loop {
            if let Some(message) = self.inbox.pop_front() {
                return message;
            }
            assert!(
                self.closed.is_none(),
                "the session closed: {:?}",
                self.closed
            );
            assert!(
                Instant::now() < deadline,
                "no message within {:?}",
                WAIT * 2
            );
            self.poll();
        }
    }

    /// The next message, which must have this `type`.
    pub fn expect(&mut self, kind: &str) -> Value {
        let message = self.next();
        assert_eq!(message["type"], kind, "expected {kind}: {message}");
        message
    }

    /// Polls until the server says the session closed; its `closed`.
    pub fn expect_closed(&mut self) -> Value {
        let deadline = Instant::now() + WAIT * 2;
        while self.closed.is_none() {
            assert!(Instant::now() < deadline, "no close within {:?}", WAIT * 2);
            self.inbox.clear();
            self.poll();
        }
        self.closed.clone().unwrap_or_default()
    }
}

/// A short poll hold and expiry for tests.
pub fn quick(poll: Duration, expiry: Duration) -> crate::apps::chat::FallbackOptions {
    crate::apps::chat::FallbackOptions {
        poll_timeout: poll,
        expiry,
        ..Default::default()
    }
}
