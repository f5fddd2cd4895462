//! `fullduplex autobahn-client --runtime io-uring`: the cases played by the many-connection
//! client ([`MultiClient`]) on the io_uring event loop, one connection at a time, through the
//! same three URLs as the blocking client's run ([`super::autobahn`]).

use std::time::{Duration, Instant};

use fullduplex::client::{ClientConn, ClientError, ClientHandler, ClientId, ClientOptions};
use fullduplex::client::{Ended, MultiClient};
use fullduplex::protocol::{Chunk, CloseCode, Message};
use fullduplex::server::EventLoop;

use super::autobahn::{chosen_cases, AutobahnArgs, Tally};

/// How long a connection that was asked to close may take to end.
const CLOSE_WAIT: Duration = Duration::from_secs(5);

/// Runs every case (or those chosen) with a [`MultiClient`] on `event_loop`, then asks the
/// fuzzing server to write its reports.
pub fn run(
    args: &AutobahnArgs,
    options: &ClientOptions,
    timeout: Duration,
    event_loop: EventLoop,
) -> Result<(), String> {
    let mut clients = MultiClient::with_event_loop(options.clone(), event_loop)
        .map_err(|e| format!("the many-connection client cannot start: {e}"))?;
    let base = args.url.trim_end_matches('/');
    let count = case_count(&mut clients, base)?;
    let cases = chosen_cases(&args.cases, count)?;
    let mut tally = Tally::new(cases.len(), args.verbose);
    for &case in &cases {
        let url = format!("{base}/runCase?case={case}&agent={}", args.agent);
        let played = play(&mut clients, &url, Role::Echo, timeout)?;
        tally.record(case, played.failure().map_or(Ok(()), Err));
    }
    tally.finish();
    let url = format!("{base}/updateReports?agent={}", args.agent);
    play(&mut clients, &url, Role::Listen, timeout).map(drop)
}

/// The number of cases, which `/getCaseCount` sends as its one text message.
fn case_count(clients: &mut MultiClient, base: &str) -> Result<usize, String> {
    let url = format!("{base}/getCaseCount");
    let played = play(clients, &url, Role::Listen, Duration::from_secs(10))?;
    if let Some(Outcome::NotOpened(why)) = &played.outcome {
        return Err(format!(
            "cannot reach the fuzzing server at {url}: {why} (is `wstest -m fuzzingserver` \
             running?)"
        ));
    }
    let text = played
        .first_text
        .ok_or_else(|| format!("{url}: no case count before the connection ended"))?;
    text.trim()
        .parse()
        .map_err(|_| format!("{url} answered {text:?}, not a case count"))
}

/// What the connection does with what it receives.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Echo every message and chunk back with its opcode (a case).
    Echo,
    /// Keep the first text message (the case count; the reports' end).
    Listen,
}

/// How a connection ended.
enum Outcome {
    /// With the close handshake.
    Clean,
    /// It never opened: why.
    NotOpened(String),
    /// Otherwise: how.
    Failed(String),
}

/// One connection's play.
struct Player {
    id: ClientId,
    role: Role,
    first_text: Option<String>,
    outcome: Option<Outcome>,
}

impl Player {
    /// Why the connection did not end with a clean close, if it did not.
    fn failure(&self) -> Option<String> {
        match &self.outcome {
            Some(Outcome::Clean) => None,
            Some(Outcome::NotOpened(why) | Outcome::Failed(why)) => Some(why.clone()),
            None => Some("the case did not end in time".into()),
        }
    }

    /// After an echo that failed: a close that is not under way yet begins.
    fn echoed(conn: &mut ClientConn<'_>, echoed: Result<(), ClientError>) {
        if let Err(e) = echoed {
            if !matches!(e, ClientError::Closed) {
                let _ = conn.close(CloseCode::Normal, "");
            }
        }
    }
}

impl ClientHandler for Player {
    fn on_message(&mut self, conn: &mut ClientConn<'_>, message: Message<'_>) {
        if let Message::Text(text) = message {
            self.first_text.get_or_insert_with(|| text.to_owned());
        }
        if self.role == Role::Echo {
            let echoed = conn.send(message);
            Self::echoed(conn, echoed);
        }
    }

    fn on_chunk(&mut self, conn: &mut ClientConn<'_>, chunk: Chunk<'_>) {
        if self.role == Role::Echo {
            let echoed = conn.send_fragment(chunk.kind, chunk.data, chunk.last);
            Self::echoed(conn, echoed);
        }
    }

    fn on_end(&mut self, id: ClientId, ended: &Ended) {
        if self.id != id {
            return;
        }
        self.outcome = Some(match ended {
            Ended::Closed(info) if info.clean => Outcome::Clean,
            Ended::NotOpened(_) => Outcome::NotOpened(ended.to_string()),
            Ended::Closed(_) => Outcome::Failed(ended.to_string()),
        });
    }
}

/// Opens `url`, plays `role` until the connection ended (the close handshake, then the server
/// closing TCP) or `timeout` passed, when it is closed (and waited for a little longer).
fn play(
    clients: &mut MultiClient,
    url: &str,
    role: Role,
    timeout: Duration,
) -> Result<Player, String> {
    let id = clients.connect(url).map_err(|e| format!("{url}: {e}"))?;
    let mut player = Player {
        id,
        role,
        first_text: None,
        outcome: None,
    };
    let mut until = Instant::now() + timeout;
    let mut closing = false;
    while player.outcome.is_none() {
        let now = Instant::now();
        if now >= until {
            if closing {
                break;
            }
            closing = true;
            until = now + CLOSE_WAIT;
            let _ = clients.close(id, CloseCode::GoingAway, "the case took too long");
        }
        clients
            .poll(&mut player, Some(until - now))
            .map_err(|e| format!("the client's event loop failed: {e}"))?;
    }
    Ok(player)
}
