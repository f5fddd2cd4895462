//! Many WebSocket connections started at once from one `MultiClient`, and the outcome of each
//! counted: opened, refused (with which status), timed out, or failed otherwise.

use std::io::ErrorKind;
use std::time::{Duration, Instant};

use fullduplex::client::{
    ClientConn, ClientError, ClientHandler, ClientId, ClientOptions, Ended, MultiClient,
};
use fullduplex::protocol::{CloseCode, Message};

/// The outcome of every connection of a storm.
#[derive(Default, Debug)]
pub struct Tally {
    /// Connections that opened (some may have ended since: `ended_open`).
    pub opened: usize,
    /// Refused with 503 (at capacity, or out of descriptors).
    pub refused: usize,
    /// Gave up at the connect timeout: neither answered nor refused.
    pub timed_out: usize,
    /// Ended before opening for another reason (the first few, then only counted).
    pub other: Vec<String>,
    pub other_count: usize,
    /// Open connections that ended.
    pub ended_open: usize,
    /// The connections open now.
    pub open: Vec<ClientId>,
}

impl Tally {
    /// Connections whose outcome is known.
    pub fn settled(&self) -> usize {
        self.opened + self.refused + self.timed_out + self.other_count
    }
}

impl ClientHandler for Tally {
    fn on_open(&mut self, conn: &mut ClientConn<'_>) {
        self.opened += 1;
        self.open.push(conn.id());
    }

    fn on_message(&mut self, _: &mut ClientConn<'_>, _: Message<'_>) {}

    fn on_end(&mut self, id: ClientId, ended: &Ended) {
        match ended {
            Ended::NotOpened(ClientError::Refused(r)) if r.status == 503 => self.refused += 1,
            Ended::NotOpened(ClientError::Io(e)) if e.kind() == ErrorKind::TimedOut => {
                self.timed_out += 1
            }
            Ended::NotOpened(e) => {
                self.other_count += 1;
                if self.other.len() < 4 {
                    self.other.push(e.to_string());
                }
            }
            Ended::Closed(_) => {
                self.ended_open += 1;
                self.open.retain(|open| *open != id);
            }
        }
    }
}

/// A storm: `clients` connecting to `url`, every handshake started before the first poll.
pub struct Storm {
    pub clients: MultiClient,
    pub tally: Tally,
    /// Connections started.
    pub started: usize,
}

impl Storm {
    /// Starts `n` connections to `url` at once, each given `connect_timeout` to open.
    pub fn start(url: &str, n: usize, connect_timeout: Duration) -> Self {
        let options = ClientOptions {
            connect_timeout,
            ..ClientOptions::default()
        };
        let mut clients = MultiClient::new(options).expect("an event loop");
        for _ in 0..n {
            clients.connect(url).expect("a connection starts");
        }
        Self {
            clients,
            tally: Tally::default(),
            started: n,
        }
    }

    /// Runs the event loop until every connection has an outcome, or panics at `deadline`.
    pub fn settle(&mut self, deadline: Instant) {
        while self.tally.settled() < self.started {
            assert!(
                Instant::now() < deadline,
                "only {} of {} connections have an outcome: {:?}",
                self.tally.settled(),
                self.started,
                self.tally
            );
            self.poll();
        }
    }

    /// One turn of the event loop.
    pub fn poll(&mut self) {
        self.clients
            .poll(&mut self.tally, Some(Duration::from_millis(50)))
            .expect("the event loop turns");
    }

    /// Closes every open connection and runs the loop until they have all ended, or panics
    /// at `deadline`.
    pub fn close_all(&mut self, deadline: Instant) {
        for id in self.tally.open.clone() {
            let _ = self.clients.close(id, CloseCode::Normal, "");
        }
        while !self.tally.open.is_empty() {
            assert!(Instant::now() < deadline, "connections did not close");
            self.poll();
        }
    }
}
