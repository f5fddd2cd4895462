//! `fullduplex bench echo --raw`: the same echo load over plain TCP, no WebSocket at all, for
//! a raw TCP echo server — what the machine's sockets can do, the ceiling of every WebSocket
//! server. Each connection keeps `--inflight` blocks of `--size` bytes on their way; a block
//! counts as echoed when that many bytes have come back.

use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::net::ToSocketAddrs;
use std::time::Instant;

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

use super::echo::{finish, EchoArgs, Outcome};
use super::failures::with_hint;
use super::histogram::Histogram;
use super::payload::Payload;
use super::{poll_failed, start_failed, Phases};
use fullduplex::client::ClientError;

/// One plain TCP connection's state.
struct Conn {
    stream: TcpStream,
    /// Bytes queued but not yet written.
    to_write: usize,
    /// Bytes of the block being received.
    received: usize,
    sent_at: VecDeque<Instant>,
    open: bool,
}

/// What the run measured so far.
struct Tally {
    measuring: bool,
    messages: u64,
    latency: Histogram,
}

/// Runs the raw TCP echo load and prints the result.
pub fn run(args: &EchoArgs) -> Result<(), String> {
    if args.payload != Payload::X || args.common.deflate || args.size == 0 {
        return Err("--raw sends runs of `x` of a fixed non-zero --size, without deflate".into());
    }
    let addr = address(&args.common.url)?;
    let mut poll = Poll::new().map_err(start_failed)?;
    let mut conns = Vec::with_capacity(args.connections);
    for i in 0..args.connections {
        let std = std::net::TcpStream::connect(addr).map_err(|e| {
            let e = ClientError::Io(e);
            with_hint(format!("could not connect to {addr}: {e}"), &e)
        })?;
        std.set_nodelay(true).map_err(|e| e.to_string())?;
        std.set_nonblocking(true).map_err(|e| e.to_string())?;
        let mut stream = TcpStream::from_std(std);
        poll.registry()
            .register(
                &mut stream,
                Token(i),
                Interest::READABLE | Interest::WRITABLE,
            )
            .map_err(|e| e.to_string())?;
        let now = Instant::now();
        conns.push(Conn {
            stream,
            to_write: args.size * args.inflight as usize,
            received: 0,
            sent_at: (0..args.inflight).map(|_| now).collect(),
            open: true,
        });
    }
    let block = vec![b'x'; (args.size * args.inflight as usize).clamp(1, 256 * 1024)];
    let mut scratch = vec![0u8; 256 * 1024];
    let mut tally = Tally {
        measuring: false,
        messages: 0,
        latency: Histogram::default(),
    };
    let mut events = Events::with_capacity(1024);
    let mut phases = Phases::start(&args.common);
    loop {
        let now = Instant::now();
        tally.measuring = phases.tick(now);
        if phases.done(now) {
            break;
        }
        let open = conns.iter().filter(|c| c.open).count();
        if open == 0 {
            return Err(format!(
                "the server at {addr} closed all {} connections before the run ended: \
                 is it an echo server?",
                args.connections
            ));
        }
        let rate = phases.rate(tally.messages, now);
        phases.progress(
            now,
            || format!("{open} open"),
            || format!("{rate:.0} msg/s"),
        );
        poll.poll(&mut events, Some(phases.poll_timeout(now)))
            .map_err(poll_failed)?;
        for event in &events {
            let conn = &mut conns[event.token().0];
            if conn.open {
                conn.open = serve(conn, args.size, &block, &mut scratch, &mut tally);
            }
        }
    }
    let seconds = phases.measured_secs();
    let cpu = phases.server_cpu();
    phases.finish();
    let outcome = Outcome {
        opened: args.connections,
        messages: tally.messages,
        strays: 0,
        failures: None,
        latency: &tally.latency,
        seconds,
        cpu,
    };
    finish(args, &outcome)
}

/// The host and port of a URL such as `ws://127.0.0.1:9001/` or `tcp://127.0.0.1:9001`.
pub(super) fn address(url: &str) -> Result<std::net::SocketAddr, String> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or(rest);
    authority
        .to_socket_addrs()
        .map_err(|e| format!("{url}: {e}"))?
        .next()
        .ok_or_else(|| format!("{url}: no address"))
}

/// Reads what came back, counts the blocks completed and queues the next ones, then writes
/// what is queued. Returns false when the connection is over.
fn serve(
    conn: &mut Conn,
    size: usize,
    block: &[u8],
    scratch: &mut [u8],
    tally: &mut Tally,
) -> bool {
    loop {
        let n = match conn.stream.read(scratch) {
            Ok(0) => return false,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => return false,
        };
        conn.received += n;
        let now = Instant::now();
        while conn.received >= size {
            conn.received -= size;
            if let Some(sent) = conn.sent_at.pop_front() {
                if tally.measuring {
                    tally.latency.record(now - sent);
                    tally.messages += 1;
                }
            }
            conn.sent_at.push_back(now);
            conn.to_write += size;
        }
        if n < scratch.len() {
            break;
        }
    }
    while conn.to_write > 0 {
        let chunk = conn.to_write.min(block.len());
        match conn.stream.write(&block[..chunk]) {
            Ok(0) => return false,
            Ok(n) => conn.to_write -= n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
    true
}
