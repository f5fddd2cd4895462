//! A blocking WebSocket client for simple programs and tests: connect, send, receive, close.
//!
//! It drives the same sans-I/O [`Connection`] as the server, over a blocking `TcpStream`
//! (or rustls over one for `wss://`).

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
#[cfg(feature = "tls")]
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::opening;
use super::url::WsUrl;
use super::ClientError;
use crate::protocol::close::CloseCode;
use crate::protocol::handshake::Accepted;
use crate::protocol::{Connection, DataKind, Message, OwnedEvent};
use crate::Config;

/// How to connect.
#[derive(Clone)]
pub struct ClientOptions {
    /// Limits and permessage-deflate (set `config.deflate` to offer it).
    pub config: Config,
    /// Subprotocols to offer, in order of preference.
    pub subprotocols: Vec<String>,
    /// Extra request headers (e.g. `Cookie`, `Authorization`).
    pub headers: Vec<(String, String)>,
    /// The `Origin` header to send.
    pub origin: Option<String>,
    /// TLS for `wss://` (see [`tls`](super::tls)); `None` trusts the operating system's
    /// roots.
    #[cfg(feature = "tls")]
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// Longest wait for the TCP connection and the handshake. Default: 10 s.
    pub connect_timeout: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            config: Config::default(),
            subprotocols: Vec::new(),
            headers: Vec::new(),
            origin: None,
            #[cfg(feature = "tls")]
            tls: None,
            connect_timeout: Duration::from_secs(10),
        }
    }
}

enum Stream {
    Plain(TcpStream),
    #[cfg(feature = "tls")]
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Stream {
    fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(tcp) => tcp,
            #[cfg(feature = "tls")]
            Stream::Tls(s) => &s.sock,
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.flush(),
        }
    }
}

/// A connected WebSocket.
pub struct WebSocket {
    stream: Stream,
    conn: Connection,
    accepted: Accepted,
    eof: bool,
    /// The end of the stream without a close handshake was reported.
    abnormal_reported: bool,
}

/// Connects to a `ws://` or `wss://` URL with default options.
pub fn connect(url: &str) -> Result<WebSocket, ClientError> {
    connect_with(url, &ClientOptions::default())
}

/// Connects with these options: TCP (and TLS), then the opening handshake (RFC 6455 §4.1).
pub fn connect_with(url: &str, options: &ClientOptions) -> Result<WebSocket, ClientError> {
    let url = WsUrl::parse(url)?;
    let deadline = Instant::now() + options.connect_timeout;
    let tcp = connect_tcp(&url, options.connect_timeout)?;
    tcp.set_nodelay(true)?;
    tcp.set_read_timeout(Some(options.connect_timeout))?;
    let mut stream = open_stream(&url, options, tcp)?;
    let opening = opening::begin(&url, options);
    stream.write_all(&opening.request)?;
    stream.flush()?;
    let mut buf = Vec::with_capacity(1024);
    let (accepted, head_len) = loop {
        if let Some(done) = opening.handshake.parse_response(&buf, &options.config)? {
            break done;
        }
        if Instant::now() >= deadline {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "handshake timed out").into());
        }
        let len = buf.len();
        buf.resize(len + 4096, 0);
        let n = stream.read(&mut buf[len..])?;
        buf.truncate(len + n);
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "closed during the handshake",
            )
            .into());
        }
    };
    let conn = opening::open(&accepted, options, opening.random, &buf[head_len..])?;
    stream.tcp().set_read_timeout(None)?;
    Ok(WebSocket {
        stream,
        conn,
        accepted,
        eof: false,
        abnormal_reported: false,
    })
}

/// The stream for `url`: the TCP connection, or TLS over it for `wss://`.
fn open_stream(
    url: &WsUrl,
    options: &ClientOptions,
    tcp: TcpStream,
) -> Result<Stream, ClientError> {
    if !url.secure {
        return Ok(Stream::Plain(tcp));
    }
    #[cfg(feature = "tls")]
    {
        let session = opening::tls_session(url, opening::tls_config(options)?)?;
        Ok(Stream::Tls(Box::new(rustls::StreamOwned::new(
            session, tcp,
        ))))
    }
    #[cfg(not(feature = "tls"))]
    {
        let _ = (options, tcp);
        Err(opening::no_tls())
    }
}

fn connect_tcp(url: &WsUrl, timeout: Duration) -> io::Result<TcpStream> {
    let mut last = io::Error::new(
        io::ErrorKind::NotFound,
        format!("{} did not resolve", url.host),
    );
    for addr in url.socket_addr_text().to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(tcp) => return Ok(tcp),
            Err(e) => last = e,
        }
    }
    Err(last)
}

impl WebSocket {
    /// The subprotocol the server chose.
    pub fn subprotocol(&self) -> Option<&str> {
        self.accepted.subprotocol.as_deref()
    }

    /// The server's 101 response.
    pub fn response(&self) -> &Accepted {
        &self.accepted
    }

    /// The connection underneath (its state, buffered amounts).
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Sends a text message.
    pub fn send_text(&mut self, text: &str) -> Result<(), ClientError> {
        self.conn.send_text(text)?;
        self.flush()
    }

    /// Sends a binary message.
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), ClientError> {
        self.conn.send_binary(data)?;
        self.flush()
    }

    /// Sends a message.
    pub fn send(&mut self, message: Message<'_>) -> Result<(), ClientError> {
        self.conn.send(message)?;
        self.flush()
    }

    /// Sends one fragment of a streamed message.
    pub fn send_fragment(
        &mut self,
        kind: DataKind,
        data: &[u8],
        fin: bool,
    ) -> Result<(), ClientError> {
        self.conn.send_fragment(kind, data, fin)?;
        self.flush()
    }

    /// Sends a Ping.
    pub fn ping(&mut self, payload: &[u8]) -> Result<(), ClientError> {
        self.conn.ping(payload)?;
        self.flush()
    }

    /// Sends raw bytes as they are (for tests that play a misbehaving client).
    pub fn send_raw(&mut self, bytes: &[u8]) -> Result<(), ClientError> {
        self.flush()?;
        self.stream.write_all(bytes)?;
        Ok(self.stream.flush()?)
    }

    /// Writes everything queued. [`ClientError::Closed`] once the connection ended
    /// abnormally (see [`recv`](Self::recv)).
    pub fn flush(&mut self) -> Result<(), ClientError> {
        if self.abnormal_reported {
            return Err(ClientError::Closed);
        }
        while self.conn.wants_write() {
            let n = self.stream.write(self.conn.pending_output())?;
            if n == 0 {
                return Err(io::Error::from(io::ErrorKind::WriteZero).into());
            }
            self.conn.consume_output(n);
        }
        Ok(self.stream.flush()?)
    }

    /// Waits at most this long in [`recv`](Self::recv) (`None`: forever).
    pub fn set_read_timeout(&mut self, timeout: Option<Duration>) -> Result<(), ClientError> {
        Ok(self.stream.tcp().set_read_timeout(timeout)?)
    }

    /// The next event: a message, a Ping (already answered), a Pong, or the server's Close.
    /// When the server ends the TCP connection without the close handshake, returns
    /// [`ClientError::Abnormal`] once (code 1006); after the Close, or after that, returns
    /// [`ClientError::Closed`].
    pub fn recv(&mut self) -> Result<OwnedEvent, ClientError> {
        loop {
            let event = self.conn.poll_event().map(|e| e.map(|e| e.to_owned()));
            if !self.eof {
                self.flush()?;
            }
            match event? {
                Some(event) => return Ok(event),
                None if self.conn.is_closed() => return Err(ClientError::Closed),
                None if self.eof => return Err(self.ended_abnormally()),
                None => self.read_some()?,
            }
        }
    }

    /// The error for a stream that ended before the close handshake did: once
    /// [`ClientError::Abnormal`], then [`ClientError::Closed`].
    fn ended_abnormally(&mut self) -> ClientError {
        if std::mem::replace(&mut self.abnormal_reported, true) {
            return ClientError::Closed;
        }
        let why = if self.conn.receiver().has_buffered_input() {
            "the server closed the connection in the middle of a frame"
        } else {
            "the server closed the connection without a close frame"
        };
        ClientError::Abnormal(why.into())
    }

    fn read_some(&mut self) -> Result<(), ClientError> {
        let space = self.conn.read_space(64 << 10);
        match self.stream.read(space) {
            Ok(0) => {
                self.eof = true;
                Ok(())
            }
            Ok(n) => {
                self.conn.commit_read(n);
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                self.eof = true;
                Ok(())
            }
            // A signal arrived during the read: nothing was read, read again.
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Sends a Close frame without waiting: messages already on their way still arrive from
    /// [`recv`](Self::recv), then the server's Close.
    pub fn start_close(&mut self, code: CloseCode, reason: &str) -> Result<(), ClientError> {
        if self.conn.state() == crate::protocol::State::Open {
            self.conn.close(code, reason)?;
        }
        self.flush()
    }

    /// Closes: sends a Close frame, waits (at most `timeout`) for the server's, then for the
    /// server to close the TCP connection (RFC 6455 §7.1.1: the client "SHOULD wait for the
    /// server to close the connection"). Returns the server's close code and reason.
    pub fn close(
        &mut self,
        code: CloseCode,
        reason: &str,
        timeout: Duration,
    ) -> Result<(CloseCode, String), ClientError> {
        if self.conn.state() == crate::protocol::State::Open {
            self.conn.close(code, reason)?;
        }
        self.flush()?;
        self.set_read_timeout(Some(timeout))?;
        let mut peer = (CloseCode::Abnormal, String::new());
        loop {
            match self.recv() {
                Ok(OwnedEvent::Closed { code, reason }) => peer = (code, reason),
                Ok(_) => {}
                Err(ClientError::Closed | ClientError::Abnormal(_)) => break,
                Err(e) => return Err(e),
            }
        }
        self.wait_for_server_close(timeout);
        Ok(peer)
    }

    /// Waits at most `timeout` for the server to close the TCP connection, discarding what
    /// still arrives: after the close handshake the client "SHOULD wait for the server to
    /// close the connection" (RFC 6455 §7.1.1). Returns whether the server closed it.
    pub fn wait_for_server_close(&mut self, timeout: Duration) -> bool {
        if self.set_read_timeout(Some(timeout)).is_err() {
            return false;
        }
        let mut sink = [0u8; 1024];
        while !self.eof {
            match self.stream.read(&mut sink) {
                Ok(0) => self.eof = true,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => self.eof = true,
                Err(_) => break,
            }
        }
        self.eof
    }
}
