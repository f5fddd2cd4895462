//! The bench's HTTP fallback clients (docs/chat-protocol.md, "The HTTP fallback"), on a
//! thread and event loop of their own: each opens a session that joins the room, keeps a
//! poll held (acknowledging what it applied, each `seq` once) on one keep-alive connection,
//! and sends on another when the run tells it to. What they receive goes to the run as
//! [`Report`]s, each chat message with the instant it arrived, so the run times it as it
//! times a WebSocket's.

use std::net::SocketAddr;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use mio::{Poll, Token, Waker};

mod clients;

use clients::{Clients, Session};

/// The token of the waker: commands are waiting.
const WAKER: Token = Token(usize::MAX);

/// What the run tells the fallback clients.
pub(super) enum Command {
    /// Client `client` (of the fleet, from 0) sends this chat message (the WebSocket's JSON).
    Send { client: usize, json: String },
    /// Close every session and end.
    Stop,
}

/// What the fallback clients tell the run.
pub(super) enum Report {
    /// Client `client` was welcomed into a room of `users`.
    Welcome { client: usize, users: usize },
    /// A `joined` (+1) or `left` (-1).
    Presence(i64),
    /// A chat message's label (its first characters) and when it arrived.
    Chat { label: String, at: Instant },
    /// An `error` from the chat, by code.
    Error(String),
    /// A `send` that failed (its status, or the connection's failure).
    SendFailed(String),
    /// Client `client` ended (before its welcome or after), and why.
    Ended { client: usize, why: String },
}

/// Where the fallback clients connect and what they present.
pub(super) struct Target {
    pub(super) addr: SocketAddr,
    /// The `Host` header.
    pub(super) host: String,
    /// `?token=…` or empty.
    pub(super) query: String,
    /// Extra header lines (`Origin`, `Cookie`), each ending in CRLF.
    pub(super) headers: String,
    pub(super) room: String,
}

/// The run's end of the fleet.
pub(super) struct Fleet {
    commands: Sender<Command>,
    waker: Arc<Waker>,
    pub(super) reports: Receiver<Report>,
    thread: Option<JoinHandle<()>>,
}

impl Fleet {
    /// Starts `count` clients numbered `first..` (nicknames `bench-N`) on a thread.
    /// Client `i` connects to `targets[(first + i) % targets.len()]`.
    pub(super) fn start(targets: Vec<Target>, first: usize, count: usize) -> Result<Self, String> {
        let poll = Poll::new().map_err(super::super::start_failed)?;
        let waker =
            Arc::new(Waker::new(poll.registry(), WAKER).map_err(super::super::start_failed)?);
        let (commands, command_rx) = channel();
        let (report_tx, reports) = channel();
        let sessions = (0..count).map(|i| Session::new(i, first + i)).collect();
        let mut clients = Clients {
            poll,
            targets,
            sessions,
            commands: command_rx,
            reports: report_tx,
            started: 0,
            stopping: None,
        };
        let thread = std::thread::Builder::new()
            .name("bench-fallback".into())
            .spawn(move || clients.run())
            .map_err(|e| format!("could not start the fallback clients' thread: {e}"))?;
        Ok(Self {
            commands,
            waker,
            reports,
            thread: Some(thread),
        })
    }

    /// Tells the fleet something.
    pub(super) fn tell(&self, command: Command) {
        if self.commands.send(command).is_ok() {
            let _ = self.waker.wake();
        }
    }

    /// Closes every session and waits for the thread (at most about 10 s).
    pub(super) fn stop(&mut self) {
        self.tell(Command::Stop);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        self.stop();
    }
}
