//! A blocking WebSocket client for simple programs and tests: connect, send, receive, close.
//!
//! It drives the same sans-I/O [`Connection`] as the server, over a blocking `TcpStream`
//! (or rustls over one for `wss://`).

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::opening::{self, Opening};
use super::refusal;
use super::url::WsUrl;
use super::{ClientError, ClientOptions};
use crate::protocol::close::CloseCode;
use crate::protocol::handshake::Accepted;
use crate::protocol::{Connection, DataKind, Message, OwnedEvent, State};
use crate::Config;

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
    /// How long [`recv`](WebSocket::recv) waits (`None`: as long as it takes).
    read_timeout: Option<Duration>,
}

/// Connects to a `ws://` or `wss://` URL with default options.
pub fn connect(url: &str) -> Result<WebSocket, ClientError> {
    connect_with(url, &ClientOptions::default())
}

/// Connects with these options: TCP (and TLS), then the opening handshake (RFC 6455 §4.1).
pub fn connect_with(url: &str, options: &ClientOptions) -> Result<WebSocket, ClientError> {
    let url = WsUrl::parse(url)?;
    let deadline = Instant::now() + options.connect_timeout;
    let tcp = connect_tcp(&url, options)?;
    tcp.set_nodelay(true)?;
    tcp.set_read_timeout(Some(options.connect_timeout))?;
    let mut stream = open_stream(&url, options, tcp)?;
    let opening = opening::begin(&url, options);
    let (accepted, leftover) =
        shake_hands(&mut stream, &opening, &options.config, deadline).map_err(opening::explain)?;
    let config = Arc::new(options.config.clone());
    let conn = opening::open(&accepted, options, config, opening.random, &leftover)?;
    stream.tcp().set_read_timeout(None)?;
    let mut ws = WebSocket {
        stream,
        conn,
        accepted,
        eof: false,
        abnormal_reported: false,
        read_timeout: None,
    };
    // The connection's clock starts now: keepalive runs while `recv` waits.
    ws.conn.handle_timeout(Instant::now());
    Ok(ws)
}

/// Sends the opening request (after the TLS handshake, for `wss://`) and reads the answer
/// until its head is complete. Returns the accepted response and the bytes after its head.
fn shake_hands(
    stream: &mut Stream,
    opening: &Opening,
    config: &Config,
    deadline: Instant,
) -> Result<(Accepted, Vec<u8>), ClientError> {
    stream.write_all(&opening.request)?;
    stream.flush()?;
    let mut answer = Vec::with_capacity(1024);
    let mut ended = false;
    loop {
        match opening.read_response(&answer, config, ended) {
            Ok(Some((accepted, head_len))) => {
                answer.drain(..head_len);
                return Ok((accepted, answer));
            }
            Ok(None) => {}
            Err(ClientError::Refused(mut refusal)) => {
                refusal::read_body(&mut refusal, stream, deadline);
                return Err(ClientError::Refused(refusal));
            }
            Err(e) => return Err(e),
        }
        if Instant::now() >= deadline {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "handshake timed out").into());
        }
        let len = answer.len();
        answer.resize(len + 4096, 0);
        let read = stream.read(&mut answer[len..]);
        answer.truncate(len + *read.as_ref().unwrap_or(&0));
        ended = read? == 0;
    }
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
        Err(opening::no_tls("tls"))
    }
}

/// Whether a read error is the socket's read timeout.
fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

fn connect_tcp(url: &WsUrl, options: &ClientOptions) -> io::Result<TcpStream> {
    let mut last = io::Error::new(
        io::ErrorKind::NotFound,
        format!("{} did not resolve", url.host),
    );
    let timeout = options.connect_timeout;
    for addr in url.socket_addr_text().to_socket_addrs()? {
        let connected = match options.local_addr {
            Some(local) => super::bind::connect_timeout(addr, local, timeout),
            None => TcpStream::connect_timeout(&addr, timeout),
        };
        match connected {
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

    /// Waits at most this long in [`recv`](Self::recv) (`None`: forever); past it, `recv`
    /// returns the read's `WouldBlock` or `TimedOut` error.
    pub fn set_read_timeout(&mut self, timeout: Option<Duration>) -> Result<(), ClientError> {
        if timeout == Some(Duration::ZERO) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "a zero read timeout").into());
        }
        self.read_timeout = timeout;
        Ok(())
    }

    /// The next event: a message, a Ping (already answered), a Pong, or the server's Close.
    /// When the server ends the TCP connection without the close handshake, returns
    /// [`ClientError::Abnormal`] once (code 1006); after the Close, or after that, returns
    /// [`ClientError::Closed`].
    ///
    /// While it waits, the connection's keepalive runs ([`Config::ping_interval`]): a Ping
    /// after that long without a word from the server, and [`ClientError::Abnormal`] if the
    /// server then stays silent for [`Config::pong_timeout`]. It runs only while someone
    /// waits here.
    pub fn recv(&mut self) -> Result<OwnedEvent, ClientError> {
        let until = self.read_timeout.map(|timeout| Instant::now() + timeout);
        loop {
            let event = self.conn.poll_event().map(|e| e.map(|e| e.to_owned()));
            if !self.eof {
                self.flush()?;
            }
            match event? {
                Some(event) => return Ok(event),
                None if self.conn.is_closed() => return Err(self.closed()),
                None if self.eof => return Err(self.ended_abnormally()),
                None => self.read_some(until)?,
            }
        }
    }

    /// The error for a connection that is over: [`ClientError::Abnormal`] once if a deadline
    /// ended it, [`ClientError::Closed`] otherwise.
    fn closed(&mut self) -> ClientError {
        match self.conn.state() {
            State::TimedOut(timeout) if !self.abnormal_reported => {
                self.abnormal_reported = true;
                ClientError::Abnormal(timeout.reason().into())
            }
            _ => ClientError::Closed,
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

    /// Reads once, waiting until `until` (the caller's read timeout) or the connection's
    /// next deadline, whichever comes first; at the deadline, gives the connection the time.
    fn read_some(&mut self, until: Option<Instant>) -> Result<(), ClientError> {
        let wake = [self.conn.poll_timeout(), until]
            .into_iter()
            .flatten()
            .min();
        let wait = wake.map(|at| {
            at.saturating_duration_since(Instant::now())
                .max(Duration::from_millis(1))
        });
        self.stream.tcp().set_read_timeout(wait)?;
        let space = self.conn.read_space(64 << 10);
        match self.stream.read(space) {
            Ok(0) => self.eof = true,
            Ok(n) => self.conn.commit_read(n),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => self.eof = true,
            // A signal arrived during the read: nothing was read, read again.
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if is_timeout(&e) && until.is_none_or(|until| Instant::now() < until) => {}
            Err(e) => return Err(e.into()),
        }
        self.conn.handle_timeout(Instant::now());
        Ok(())
    }

    /// Sends a Close frame without waiting: messages already on their way still arrive from
    /// [`recv`](Self::recv), then the server's Close.
    pub fn start_close(&mut self, code: CloseCode, reason: &str) -> Result<(), ClientError> {
        if self.conn.state() == State::Open {
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
        if self.conn.state() == State::Open {
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
        if self.stream.tcp().set_read_timeout(Some(timeout)).is_err() {
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
