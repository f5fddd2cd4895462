//! A WebSocket echo server in one page: the sans-I/O core of `fullduplex` over blocking
//! `std::net` sockets, one thread per connection.
//!
//! ```text
//! cargo run --example sans_io_echo --no-default-features -- [PORT [PING_INTERVAL_MS]]
//! cargo run --release -- client ws://127.0.0.1:9002/        (lines typed are echoed)
//! ```
//!
//! or, in a browser's console: `ws = new WebSocket("ws://127.0.0.1:9002/");
//! ws.onmessage = e => console.log(e.data); ws.onopen = () => ws.send("hi")`.
//!
//! The core ([`fullduplex::protocol`]) never touches a socket or a clock. This file does
//! the I/O: it reads bytes and gives them to the core, writes the bytes the core queues, and
//! tells the core the time. The core does the protocol: the handshake's checks, frames,
//! masking, fragments, UTF-8, Ping and Close answers, keepalive, permessage-deflate.

use std::io::ErrorKind::{Interrupted, TimedOut, WouldBlock};
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fullduplex::config::DeflateConfig;
use fullduplex::protocol::deflate::negotiate_server;
use fullduplex::protocol::handshake::{
    validate_request, write_accept_response, write_handshake_error, Request,
};
use fullduplex::protocol::{Connection, Event};
use fullduplex::Config;

/// How long a peer may leave our writes unread before we give up on it.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1);
    let port: u16 = args
        .next()
        .map_or(9002, |p| p.parse().expect("PORT is a number"));
    let mut config = Config {
        // Accept permessage-deflate (RFC 7692) when a client offers it, as browsers do.
        deflate: Some(DeflateConfig::default()),
        ..Config::default()
    };
    // Keepalive (RFC 6455 §5.5.2): a Ping after this long without a word from the peer
    // (30 s unless given), and the peer given up if no answer comes within `pong_timeout`.
    if let Some(ms) = args.next() {
        let ms = ms.parse().expect("PING_INTERVAL_MS is a number");
        config.ping_interval = Some(Duration::from_millis(ms));
    }
    let config = Arc::new(config);
    let listener = TcpListener::bind(("127.0.0.1", port))?;
    println!("echo server on ws://{}/", listener.local_addr()?);
    // A failed accept (out of file descriptors, say) is skipped.
    for stream in listener.incoming().flatten() {
        let config = config.clone();
        std::thread::spawn(move || {
            if let Err(error) = serve(stream, config) {
                eprintln!("connection lost: {error}");
            }
        });
    }
    Ok(())
}

/// One connection, from its opening handshake to its close.
fn serve(mut stream: TcpStream, config: Arc<Config>) -> io::Result<()> {
    stream.set_nodelay(true)?;
    stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
    let Some(mut conn) = handshake(&mut stream, config)? else {
        return Ok(());
    };
    let mut buf = vec![0; 64 << 10];
    loop {
        // What arrived, as events. Frames are unmasked (RFC 6455 §5.3), fragments joined into
        // messages (§5.4), text checked as UTF-8 (§8.1). A Ping's Pong (§5.5.2) and the answer
        // to a Close (§5.5.1) are queued by the core itself: we only echo data (§5.6).
        let (rx, tx) = conn.split();
        loop {
            match rx.poll_event(tx) {
                // Sending fails only once we are closing; the message then goes nowhere.
                Ok(Some(Event::Message(message))) => {
                    let _ = tx.send(message);
                }
                Ok(Some(_)) => {}
                Ok(None) => break,
                // §7.1.7 "Fail the WebSocket Connection": the core has queued a Close frame
                // with the error's code (1002 protocol error, 1007 bad UTF-8, 1009 too big).
                Err(error) => {
                    eprintln!("failing the connection: {error}");
                    break;
                }
            }
        }
        // The time: the connection notes that the peer was heard from, and queues a keepalive
        // Ping, or gives up on a silent peer, when that is due. The first call starts its clock.
        conn.handle_timeout(Instant::now());
        // Everything queued goes out: the 101 response first, then echoes, Pongs, Pings, Close.
        while conn.wants_write() {
            let out = conn.pending_output();
            stream.write_all(out)?;
            let written = out.len();
            conn.consume_output(written);
        }
        // §5.5.1: once Close frames went both ways, "The server MUST close the underlying TCP
        // connection immediately" (returning drops the stream). So after a failure (§7.1.7) or
        // a deadline (the peer stopped answering): the connection is over.
        if conn.is_closed() {
            return Ok(());
        }
        // Wait for bytes, but not past the connection's next deadline.
        let wait = conn.poll_timeout().map(|deadline| {
            let left = deadline.saturating_duration_since(Instant::now());
            left.max(Duration::from_millis(1))
        });
        stream.set_read_timeout(wait)?;
        match stream.read(&mut buf) {
            // §7.1.5: the TCP connection closed without a Close frame: code 1006, abnormal.
            Ok(0) => return Ok(()),
            Ok(n) => conn.receive(&buf[..n]),
            // The wait is over (a deadline is due), or a signal interrupted it.
            Err(e) if matches!(e.kind(), WouldBlock | TimedOut | Interrupted) => {}
            Err(e) => return Err(e),
        }
    }
}

/// The opening handshake (RFC 6455 §4.2): reads the client's request, checks it, and answers
/// it. `Some`: a connection, with the `101 Switching Protocols` queued as its first output.
/// `None`: the request was refused with the status the core chose, or never came.
fn handshake(stream: &mut TcpStream, config: Arc<Config>) -> io::Result<Option<Connection>> {
    let deadline = Instant::now() + config.handshake_timeout;
    let mut received = Vec::new();
    let mut chunk = [0; 4096];
    // §4.2.1 "Reading the Client's Opening Handshake": an HTTP/1.1 GET request. `parse` says
    // `Ok(None)` until the head's empty line has arrived, and refuses a head larger than
    // `config.max_handshake_size`; `validate_request` checks `Upgrade: websocket`,
    // `Connection: Upgrade`, `Sec-WebSocket-Key`, `Sec-WebSocket-Version: 13` and the rest.
    let checked = loop {
        match Request::parse(&received, &config) {
            Ok(None) => {}
            Ok(Some((request, head_len))) => {
                break validate_request(&request).map(|offer| (offer, head_len));
            }
            Err(error) => break Err(error),
        }
        let left = deadline.saturating_duration_since(Instant::now());
        stream.set_read_timeout(Some(left.max(Duration::from_millis(1))))?;
        match stream.read(&mut chunk)? {
            0 => return Ok(None),
            n => received.extend_from_slice(&chunk[..n]),
        }
    };
    let (offer, head_len) = match checked {
        Ok(checked) => checked,
        // §4.2.1: the server "MUST stop processing the client's handshake and return an HTTP
        // response with an appropriate error code" (400; 426 for another version, §4.4).
        Err(error) => {
            let mut response = Vec::new();
            write_handshake_error(&mut response, &error);
            stream.write_all(&response)?;
            return Ok(None);
        }
    };
    // RFC 7692 §5: of the client's permessage-deflate offers, accept the first we can honour.
    let deflate = config
        .deflate
        .as_ref()
        .and_then(|ours| negotiate_server(&offer.extensions, ours));
    // §4.2.2 "Sending the Server's Opening Handshake": 101, `Upgrade`, `Connection`, and
    // `Sec-WebSocket-Accept`, the key hashed with the GUID of §1.3; no subprotocol here.
    let mut response = Vec::new();
    let agreed = deflate.as_ref().map(|(_, header)| header.as_str());
    write_accept_response(&mut response, &offer.key, None, agreed, &[]);
    let mut conn = Connection::server(config);
    if let Some((params, _)) = deflate {
        conn = conn.with_deflate(params);
    }
    conn.queue_raw(&response);
    // Bytes after the head's empty line are already WebSocket frames.
    conn.receive(&received[head_len..]);
    Ok(Some(conn))
}
