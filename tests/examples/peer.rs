//! The client the tests connect with: the library's blocking client
//! ([`fullduplex::client::WebSocket`]) when the runtime is built, and otherwise a small
//! blocking client made of the core alone, with the same methods.

use fullduplex::config::DeflateConfig;
use fullduplex::protocol::deflate::EXTENSION_NAME;
use fullduplex::Config;

use super::DEADLINE;

/// The configuration of a test client: no keepalive of its own (the tests watch the
/// server's), permessage-deflate offered if `deflate`.
fn config(deflate: bool) -> Config {
    Config {
        ping_interval: None,
        deflate: deflate.then(DeflateConfig::default),
        ..Config::default()
    }
}

#[cfg(feature = "runtime")]
pub use fullduplex::client::WebSocket as Peer;

/// Connects to `url`, offering permessage-deflate if `deflate`; every later wait for an
/// event is bounded by [`DEADLINE`].
#[cfg(feature = "runtime")]
pub fn connect(url: &str, deflate: bool) -> Peer {
    use fullduplex::client::{connect_with, ClientOptions};
    let options = ClientOptions {
        config: config(deflate),
        connect_timeout: DEADLINE,
        ..ClientOptions::default()
    };
    let mut ws = connect_with(url, &options).unwrap_or_else(|e| panic!("{url}: {e}"));
    ws.set_read_timeout(Some(DEADLINE)).unwrap();
    ws
}

/// Whether the server accepted permessage-deflate.
#[cfg(feature = "runtime")]
pub fn deflate_agreed(ws: &Peer) -> bool {
    ws.response()
        .extensions
        .iter()
        .any(|e| e.name == EXTENSION_NAME)
}

#[cfg(not(feature = "runtime"))]
pub use core_client::{connect, deflate_agreed, Peer};

/// A blocking client on the sans-I/O core, for builds without the runtime: the mirror image
/// of `examples/sans_io_echo.rs`, with [`DEADLINE`] on every read.
#[cfg(not(feature = "runtime"))]
mod core_client {
    use std::io::{self, Read, Write};
    use std::net::TcpStream;
    use std::time::Duration;

    use fullduplex::protocol::deflate::{client_accept, client_offer};
    use fullduplex::protocol::handshake::ClientRequest;
    use fullduplex::protocol::{CloseCode, Connection, OwnedEvent};
    use fullduplex::OsRandom;

    use super::{config, DEADLINE, EXTENSION_NAME};

    pub struct Peer {
        stream: TcpStream,
        conn: Connection,
        deflate: bool,
        eof: bool,
    }

    pub fn connect(url: &str, deflate: bool) -> Peer {
        let rest = url.strip_prefix("ws://").expect("a ws:// URL");
        let (addr, target) = match rest.find('/') {
            Some(slash) => rest.split_at(slash),
            None => (rest, "/"),
        };
        let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("{url}: {e}"));
        stream.set_read_timeout(Some(DEADLINE)).unwrap();
        let config = config(deflate);
        let offer = config.deflate.as_ref().map(client_offer);
        let mut random = OsRandom::new();
        let mut request = Vec::new();
        let handshake = ClientRequest {
            host: addr,
            target,
            key: random.handshake_key(),
            subprotocols: &[],
            extensions: offer.as_deref(),
            origin: None,
            extra_headers: &[],
        }
        .write(&mut request);
        stream.write_all(&request).unwrap();
        let mut received = Vec::new();
        let (accepted, head_len) = loop {
            if let Some(done) = handshake.parse_response(&received, &config).unwrap() {
                break done;
            }
            let mut chunk = [0; 4096];
            let n = stream.read(&mut chunk).expect("the server's response");
            assert!(n > 0, "{url} closed during the handshake");
            received.extend_from_slice(&chunk[..n]);
        };
        let agreed = match &config.deflate {
            Some(ours) => client_accept(&accepted.extensions, ours).unwrap(),
            None => None,
        };
        let mut conn = Connection::client(config, random);
        if let Some(params) = agreed {
            conn = conn.with_deflate(params);
        }
        conn.receive(&received[head_len..]);
        let deflate = accepted.extensions.iter().any(|e| e.name == EXTENSION_NAME);
        Peer {
            stream,
            conn,
            deflate,
            eof: false,
        }
    }

    pub fn deflate_agreed(peer: &Peer) -> bool {
        peer.deflate
    }

    impl Peer {
        pub fn send_text(&mut self, text: &str) -> io::Result<()> {
            self.conn.send_text(text).map_err(io::Error::other)?;
            self.flush()
        }

        pub fn send_binary(&mut self, data: &[u8]) -> io::Result<()> {
            self.conn.send_binary(data).map_err(io::Error::other)?;
            self.flush()
        }

        pub fn ping(&mut self, payload: &[u8]) -> io::Result<()> {
            self.conn.ping(payload).map_err(io::Error::other)?;
            self.flush()
        }

        pub fn send_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
            self.flush()?;
            self.stream.write_all(bytes)
        }

        fn flush(&mut self) -> io::Result<()> {
            while self.conn.wants_write() {
                let out = self.conn.pending_output();
                self.stream.write_all(out)?;
                let written = out.len();
                self.conn.consume_output(written);
            }
            Ok(())
        }

        /// The next event, waiting at most [`DEADLINE`] for each read.
        pub fn recv(&mut self) -> io::Result<OwnedEvent> {
            loop {
                let event = self.conn.poll_event().map_err(io::Error::other)?;
                let event = event.map(|event| event.to_owned());
                if !self.eof {
                    self.flush()?;
                }
                if let Some(event) = event {
                    return Ok(event);
                }
                if self.conn.is_closed() || self.eof {
                    return Err(io::ErrorKind::NotConnected.into());
                }
                let mut buf = [0; 64 << 10];
                match self.stream.read(&mut buf)? {
                    0 => self.eof = true,
                    n => self.conn.receive(&buf[..n]),
                }
            }
        }

        /// Sends a Close, then reads until the server's: its code and reason.
        pub fn close(
            &mut self,
            code: CloseCode,
            reason: &str,
            _timeout: Duration,
        ) -> io::Result<(CloseCode, String)> {
            self.conn.close(code, reason).map_err(io::Error::other)?;
            self.flush()?;
            loop {
                if let OwnedEvent::Closed { code, reason } = self.recv()? {
                    return Ok((code, reason));
                }
            }
        }

        /// Whether the server closes the TCP connection (within [`DEADLINE`]).
        pub fn wait_for_server_close(&mut self, _timeout: Duration) -> bool {
            let mut sink = [0; 1024];
            while !self.eof {
                match self.stream.read(&mut sink) {
                    Ok(0) => self.eof = true,
                    Ok(_) => {}
                    Err(_) => return false,
                }
            }
            true
        }
    }
}
