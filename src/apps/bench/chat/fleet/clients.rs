//! The fallback clients' thread: one event loop, and per client a session that opens (with
//! its `join`), keeps a poll held on one keep-alive connection (acknowledging what it
//! applied, each `seq` once, in order) and sends on another; docs/chat-protocol.md, "The HTTP
//! fallback".

use std::borrow::Cow;
use std::sync::mpsc::{Receiver, Sender};
use std::time::{Duration, Instant};

use mio::{Events, Poll, Token};
use serde::Deserialize;

use super::super::http::{Answer, HttpConn, Progress};
use super::super::load::{Incoming, LABEL_LEN};
use super::{Command, Report, Target, WAKER};

/// Most sessions opening at once.
const CONCURRENCY: usize = 256;
/// Longest wait for the sessions' `close` answers at the end.
const CLOSE_LIMIT: Duration = Duration::from_secs(10);

/// Where a session stands.
#[derive(PartialEq, Eq)]
enum Stage {
    /// Not started yet.
    Idle,
    /// `open` sent.
    Opening,
    /// Polling.
    Open,
    /// `close` sent.
    Closing,
    /// Over.
    Ended,
}

pub(super) struct Session {
    index: usize,
    number: usize,
    stage: Stage,
    sid: String,
    ack: u64,
    poll: HttpConn,
    send: HttpConn,
    /// Chat messages waiting for the send connection.
    queue: Vec<String>,
}

impl Session {
    pub(super) fn new(index: usize, number: usize) -> Self {
        Self {
            index,
            number,
            stage: Stage::Idle,
            sid: String::new(),
            ack: 0,
            poll: HttpConn::new(Token(index * 2)),
            send: HttpConn::new(Token(index * 2 + 1)),
            queue: Vec::new(),
        }
    }
}

/// A poll's answer, as far as the bench reads it.
#[derive(Deserialize)]
struct Batch<'a> {
    #[serde(borrow)]
    messages: Vec<Item<'a>>,
    #[serde(default)]
    closed: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Item<'a> {
    seq: u64,
    #[serde(default, borrow)]
    text: Option<Cow<'a, str>>,
}

/// The fleet's thread: its event loop and sessions.
pub(super) struct Clients {
    pub(super) poll: Poll,
    pub(super) targets: Vec<Target>,
    pub(super) sessions: Vec<Session>,
    pub(super) commands: Receiver<Command>,
    pub(super) reports: Sender<Report>,
    /// Sessions started so far (in order).
    pub(super) started: usize,
    /// When the run said stop.
    pub(super) stopping: Option<Instant>,
}

impl Clients {
    pub(super) fn run(&mut self) {
        let mut events = Events::with_capacity(1024);
        loop {
            self.start_more();
            if self.over() {
                return;
            }
            if self
                .poll
                .poll(&mut events, Some(Duration::from_millis(100)))
                .is_err()
            {
                return;
            }
            for event in events.iter() {
                match event.token() {
                    WAKER => self.commands(),
                    Token(token) => self.ready(token / 2, token % 2 == 1),
                }
            }
        }
    }

    /// Whether the run said stop and every session ended (or the close limit passed).
    fn over(&self) -> bool {
        self.stopping.is_some_and(|at| {
            at.elapsed() > CLOSE_LIMIT
                || self
                    .sessions
                    .iter()
                    .all(|s| matches!(s.stage, Stage::Ended | Stage::Idle))
        })
    }

    /// Opens sessions while fewer than [`CONCURRENCY`] are opening.
    fn start_more(&mut self) {
        let opening = self
            .sessions
            .iter()
            .filter(|s| s.stage == Stage::Opening)
            .count();
        let room = CONCURRENCY.saturating_sub(opening);
        let end = (self.started + room).min(self.sessions.len());
        if self.stopping.is_some() {
            return;
        }
        for index in self.started..end {
            let join = serde_json::json!({
                "type": "join",
                "nick": format!("bench-{}", self.sessions[index].number),
                "room": self.targets[0].room,
            });
            let body = serde_json::json!({"messages": [{"text": join.to_string()}]});
            self.sessions[index].stage = Stage::Opening;
            self.request(index, false, "POST", "open", &body.to_string());
        }
        self.started = end;
    }

    fn commands(&mut self) {
        while let Ok(command) = self.commands.try_recv() {
            match command {
                Command::Send { client, json } => {
                    let Some(session) = self.sessions.get_mut(client) else {
                        continue;
                    };
                    session.queue.push(json);
                    self.flush(client);
                }
                Command::Stop => self.stop(),
            }
        }
    }

    /// Closes every open session (`POST /fallback/close`).
    fn stop(&mut self) {
        self.stopping = Some(Instant::now());
        for index in 0..self.sessions.len() {
            let session = &mut self.sessions[index];
            session.poll.disconnect(self.poll.registry());
            match session.stage {
                Stage::Open => {
                    session.stage = Stage::Closing;
                    session.send.disconnect(self.poll.registry());
                    self.request(index, true, "POST", "close", "{}");
                }
                Stage::Opening => session.stage = Stage::Ended,
                _ => {}
            }
        }
    }

    /// Sends the queued chat messages, if the send connection is free.
    fn flush(&mut self, index: usize) {
        let session = &mut self.sessions[index];
        if session.stage != Stage::Open || session.send.busy || session.queue.is_empty() {
            return;
        }
        let items: Vec<_> = session
            .queue
            .drain(..)
            .map(|text| serde_json::json!({ "text": text }))
            .collect();
        let body = serde_json::json!({ "messages": items }).to_string();
        self.request(index, true, "POST", "send", &body);
    }

    fn begin_poll(&mut self, index: usize) {
        let target = format!("poll?ack={}", self.sessions[index].ack);
        self.request(index, false, "GET", &target, "");
    }

    /// Starts a request on the session's poll (`send_side` false) or send connection.
    fn request(&mut self, index: usize, send_side: bool, method: &str, endpoint: &str, body: &str) {
        let session = &mut self.sessions[index];
        let target = &self.targets[session.number % self.targets.len()];
        let query = match (target.query.is_empty(), endpoint.contains('?')) {
            (true, _) => String::new(),
            (false, true) => format!("&{}", &target.query[1..]),
            (false, false) => target.query.clone(),
        };
        let mut head = format!(
            "{method} /fallback/{endpoint}{query} HTTP/1.1\r\nHost: {}\r\n{}",
            target.host, target.headers
        );
        if !session.sid.is_empty() {
            head.push_str(&format!("X-Fullduplex-Session: {}\r\n", session.sid));
        }
        if method == "POST" {
            head.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        head.push_str("\r\n");
        let conn = if send_side {
            &mut session.send
        } else {
            &mut session.poll
        };
        let progress = conn.request(self.poll.registry(), target.addr, &head, body.as_bytes());
        self.progress(index, send_side, progress);
    }

    fn ready(&mut self, index: usize, send_side: bool) {
        let Some(session) = self.sessions.get_mut(index) else {
            return;
        };
        let conn = if send_side {
            &mut session.send
        } else {
            &mut session.poll
        };
        let progress = conn.ready(self.poll.registry());
        self.progress(index, send_side, progress);
    }

    fn progress(&mut self, index: usize, send_side: bool, progress: Progress) {
        match (progress, send_side) {
            (Progress::Waiting, _) => {}
            (Progress::Answered(answer), false) => self.on_poll_side(index, answer),
            (Progress::Answered(answer), true) => self.on_send_side(index, &answer),
            (Progress::Failed(why), false) => self.end(index, why),
            (Progress::Failed(why), true) => {
                if self.sessions[index].stage == Stage::Closing {
                    self.sessions[index].stage = Stage::Ended;
                } else {
                    let _ = self.reports.send(Report::SendFailed(why));
                }
            }
        }
    }

    /// The answer to `open` or to a poll: the session id, or messages to apply; then the
    /// next poll.
    fn on_poll_side(&mut self, index: usize, answer: Answer) {
        let session = &mut self.sessions[index];
        if answer.status != 200 {
            let why = format!(
                "HTTP {} to a fallback request: {}",
                answer.status,
                String::from_utf8_lossy(&answer.body)
            );
            return self.end(index, why);
        }
        if session.stage == Stage::Opening {
            let opened: serde_json::Value =
                serde_json::from_slice(&answer.body).unwrap_or_default();
            let Some(sid) = opened["sid"].as_str() else {
                return self.end(index, "an open answered without a session id".into());
            };
            session.sid = sid.to_owned();
            session.stage = Stage::Open;
        } else if let Err(why) = self.apply(index, &answer.body) {
            return self.end(index, why);
        }
        if self.sessions[index].stage == Stage::Open {
            self.begin_poll(index);
            self.flush(index);
        }
    }

    /// Applies a poll's batch: each `seq` after the last applied, once, in order.
    fn apply(&mut self, index: usize, body: &[u8]) -> Result<(), String> {
        let at = Instant::now();
        let batch: Batch<'_> =
            serde_json::from_slice(body).map_err(|e| format!("an unreadable poll answer: {e}"))?;
        for item in batch.messages {
            let session = &mut self.sessions[index];
            if item.seq <= session.ack {
                continue;
            }
            session.ack = item.seq;
            let Some(text) = item.text else { continue };
            if let Some(report) = self.read(index, &text, at) {
                let _ = self.reports.send(report);
            }
        }
        match batch.closed {
            Some(closed) => Err(format!("the chat closed the session: {closed}")),
            None => Ok(()),
        }
    }

    /// What one of the chat's text messages tells the run.
    fn read(&self, index: usize, text: &str, at: Instant) -> Option<Report> {
        let Ok(incoming) = serde_json::from_str::<Incoming<'_>>(text) else {
            return Some(Report::Error("unreadable".into()));
        };
        Some(match incoming.kind.as_ref() {
            "message" => {
                let text = incoming.text.as_deref().unwrap_or_default();
                let label = text.get(..LABEL_LEN).unwrap_or(text).to_owned();
                Report::Chat { label, at }
            }
            "welcome" => {
                let users = incoming.users.map_or(0, |u| u.len());
                Report::Welcome {
                    client: index,
                    users,
                }
            }
            "joined" => Report::Presence(1),
            "left" => Report::Presence(-1),
            "error" => Report::Error(incoming.code.as_deref().unwrap_or("error").to_owned()),
            _ => return None,
        })
    }

    fn on_send_side(&mut self, index: usize, answer: &Answer) {
        let session = &mut self.sessions[index];
        if session.stage == Stage::Closing {
            session.stage = Stage::Ended;
            session.send.disconnect(self.poll.registry());
            return;
        }
        if answer.status != 204 {
            let why = format!("HTTP {} to a send", answer.status);
            let _ = self.reports.send(Report::SendFailed(why));
        }
        self.flush(index);
    }

    /// The session is over (the chat ended it, or a request failed).
    fn end(&mut self, index: usize, why: String) {
        let session = &mut self.sessions[index];
        if session.stage == Stage::Ended {
            return;
        }
        let closing = session.stage == Stage::Closing || self.stopping.is_some();
        session.stage = Stage::Ended;
        session.poll.disconnect(self.poll.registry());
        session.send.disconnect(self.poll.registry());
        if !closing {
            let _ = self.reports.send(Report::Ended {
                client: session.index,
                why,
            });
        }
    }
}
