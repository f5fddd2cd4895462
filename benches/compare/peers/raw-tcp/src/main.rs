//! The ceiling of the comparison: one thread, one mio loop, each readable socket read into a
//! 64 KiB buffer and the bytes written straight back. No framing, no masking, no handshake:
//! what the machine's syscalls cost per message, with nothing on top.
//!
//! Usage: raw-tcp-echo PORT

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};

const LISTENER: Token = Token(usize::MAX);

struct Conn {
    stream: TcpStream,
    /// Bytes read but not yet written back (the socket was full).
    pending: Vec<u8>,
}

fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("usage: raw-tcp-echo PORT");
    let mut listener = TcpListener::bind(([127, 0, 0, 1], port).into())?;
    let mut poll = Poll::new()?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    let mut conns: HashMap<usize, Conn> = HashMap::new();
    let mut next = 0usize;
    let mut buf = vec![0u8; 64 * 1024];
    let mut events = Events::with_capacity(1024);
    eprintln!("raw-tcp-echo listening on 127.0.0.1:{port}");
    loop {
        poll.poll(&mut events, None)?;
        for event in &events {
            if event.token() == LISTENER {
                while let Ok((mut stream, _)) = listener.accept() {
                    stream.set_nodelay(true)?;
                    poll.registry().register(
                        &mut stream,
                        Token(next),
                        Interest::READABLE | Interest::WRITABLE,
                    )?;
                    conns.insert(next, Conn { stream, pending: Vec::new() });
                    next += 1;
                }
                continue;
            }
            let id = event.token().0;
            let Some(conn) = conns.get_mut(&id) else { continue };
            if !serve(conn, &mut buf) {
                let _ = poll.registry().deregister(&mut conn.stream);
                conns.remove(&id);
            }
        }
    }
}

/// Flushes what is pending, then reads and writes back until the socket would block.
/// Returns false when the connection is over.
fn serve(conn: &mut Conn, buf: &mut [u8]) -> bool {
    if !flush(conn) {
        return false;
    }
    while conn.pending.is_empty() {
        let n = match conn.stream.read(buf) {
            Ok(0) => return false,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return true,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => return false,
        };
        conn.pending.extend_from_slice(&buf[..n]);
        if !flush(conn) {
            return false;
        }
        if n < buf.len() {
            return true;
        }
    }
    true
}

fn flush(conn: &mut Conn) -> bool {
    while !conn.pending.is_empty() {
        match conn.stream.write(&conn.pending) {
            Ok(0) => return false,
            Ok(n) => {
                conn.pending.drain(..n);
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return true,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
    true
}
