//! `--slow N`: connections that open a WebSocket (RFC 6455 §4.1) and then never read, so that
//! their receive windows fill and the server's bytes for them pile up, in the kernel or in
//! the server's own queue (the case its slow-consumer policy is for).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use super::raw::address;

/// How long a slow connection's opening handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);
/// Most bytes of a response head read before giving up on it.
const MAX_HEAD: usize = 8 << 10;

/// Connections that stopped reading after their opening handshake.
pub struct SlowReaders {
    /// Held open until dropped.
    _streams: Vec<TcpStream>,
}

impl SlowReaders {
    /// Opens `count` WebSocket connections to the ws:// `url`, each read only up to the end of
    /// its 101 response.
    pub fn open(url: &str, count: usize) -> Result<Self, String> {
        if !url.starts_with("ws://") && count > 0 {
            return Err("--slow opens plain ws:// connections only".into());
        }
        let addr = address(url)?;
        let streams = (0..count)
            .map(|_| open_one(addr))
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Self { _streams: streams })
    }
}

/// One connection: the request written, the response read to the end of its head (and a
/// little beyond when the server's first messages came in the same read), then left alone.
fn open_one(addr: SocketAddr) -> Result<TcpStream, String> {
    let failed = |e: std::io::Error| format!("a slow connection to {addr} failed: {e}");
    let mut stream = TcpStream::connect_timeout(&addr, HANDSHAKE_TIMEOUT).map_err(failed)?;
    stream
        .set_read_timeout(Some(HANDSHAKE_TIMEOUT))
        .map_err(failed)?;
    let request = format!(
        "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: c2xvdyByZWFkZXIgMDAwMA==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).map_err(failed)?;
    let mut head = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut chunk).map_err(failed)?;
        if n == 0 || head.len() > MAX_HEAD {
            return Err(format!("a slow connection to {addr} got no 101 response"));
        }
        head.extend_from_slice(&chunk[..n]);
    }
    if !head.starts_with(b"HTTP/1.1 101") {
        let line = head.split(|&b| b == b'\r').next().unwrap_or_default();
        return Err(format!(
            "a slow connection to {addr} was refused: {}",
            String::from_utf8_lossy(line)
        ));
    }
    Ok(stream)
}
