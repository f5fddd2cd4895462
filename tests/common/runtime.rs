//! Helpers for the loopback tests of the runtime: a test application, servers on
//! 127.0.0.1:0, raw sockets and blocking clients that never wait past a deadline.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fullduplex::client::{self, ClientOptions, MultiClient, WebSocket};
use fullduplex::protocol::handshake::{ClientOffer, Request};
use fullduplex::protocol::{Chunk, CloseCode, DataKind, FrameHeader, Message, Opcode, OwnedEvent};
use fullduplex::server::{
    CloseInfo, Conn, ConnId, Context, EventLoop, Handler, RunningServer, Server, ServerConfig,
};
use fullduplex::server::{HttpResponse, Upgrade};
use fullduplex::Config;

/// The longest any test waits for one thing to happen.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// The topic every connection of [`TestApp`] joins.
pub const TOPIC: &str = "all";

/// What [`TestApp`] reports to the test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppEvent {
    /// A connection opened.
    Opened(ConnId),
    /// A connection ended.
    Closed(ConnId, CloseInfo),
}

/// The application the tests run: echoes (whole messages, and streamed chunks as fragments), joins [`TOPIC`], rejects `/reject/<status>`,
/// chooses the subprotocol `chat`, answers `/health`, and obeys a few text commands:
/// `close <code>` closes with that code, `publish <text>` publishes to [`TOPIC`].
#[derive(Clone)]
pub struct TestApp {
    events: Arc<Mutex<mpsc::Sender<AppEvent>>>,
}

impl TestApp {
    /// The application and the receiving end of its reports.
    pub fn new() -> (Self, mpsc::Receiver<AppEvent>) {
        let (tx, rx) = mpsc::channel();
        let app = Self {
            events: Arc::new(Mutex::new(tx)),
        };
        (app, rx)
    }

    fn report(&self, event: AppEvent) {
        let _ = self.events.lock().unwrap().send(event);
    }
}

impl Handler for TestApp {
    type Session = ();

    fn upgrade(&mut self, request: &Request, offer: &ClientOffer) -> Upgrade<()> {
        if let Some(status) = request.path().strip_prefix("/reject/") {
            return Upgrade::reject(status.parse().unwrap_or(400), "refused by the test");
        }
        let chat = offer.subprotocols.iter().any(|p| p == "chat");
        Upgrade::accept(()).with_subprotocol(chat.then_some("chat"))
    }

    fn on_open(&mut self, conn: &mut Conn<'_, ()>) {
        conn.subscribe(TOPIC);
        self.report(AppEvent::Opened(conn.id()));
    }

    fn on_message(&mut self, conn: &mut Conn<'_, ()>, message: Message<'_>) {
        if let Message::Text(text) = message {
            if let Some(code) = text.strip_prefix("close ") {
                let code = CloseCode::try_from(code.parse::<u16>().unwrap()).unwrap();
                let _ = conn.close(code, "asked by the test");
                return;
            }
            if let Some(text) = text.strip_prefix("publish ") {
                conn.ctx().publish(TOPIC, DataKind::Text, text.as_bytes());
                return;
            }
        }
        let _ = conn.send(message);
    }

    fn on_chunk(&mut self, conn: &mut Conn<'_, ()>, chunk: Chunk<'_>) {
        let _ = conn.send_fragment(chunk.kind, chunk.data, chunk.last);
    }

    fn on_close(&mut self, _: &mut Context<'_>, id: ConnId, _: (), info: &CloseInfo) {
        self.report(AppEvent::Closed(id, info.clone()));
    }

    fn on_http(&mut self, request: &Request) -> HttpResponse {
        match request.path() {
            "/health" => HttpResponse::text(200, "ok"),
            _ => HttpResponse::not_found(),
        }
    }
}

/// A connection config for tests: the defaults, whose deadlines a test never reaches by
/// accident.
pub fn test_config() -> Config {
    Config::default()
}

/// A running server that stops when dropped: declared before the clients of a test, it is
/// dropped after them, so its shutdown never waits for a client that no longer reads.
pub struct TestServer(Option<RunningServer>);

impl TestServer {
    /// The server itself, for tests of how it stops.
    pub fn into_inner(mut self) -> RunningServer {
        self.0.take().expect("running")
    }
}

/// The environment variable that picks the event loop of the tests' servers: `mio` (the
/// default) or `io-uring`. `scripts/test.sh` runs the runtime and hostile-input tests once
/// with each.
pub const EVENT_LOOP_VAR: &str = "FULLDUPLEX_TEST_EVENT_LOOP";

/// The event loop [`EVENT_LOOP_VAR`] asks for; a value that names none fails the test.
pub fn test_event_loop() -> EventLoop {
    match std::env::var(EVENT_LOOP_VAR).as_deref() {
        Err(std::env::VarError::NotPresent) | Ok("" | "mio") => EventLoop::Mio,
        Ok("io-uring") => EventLoop::IoUring,
        other => panic!("{EVENT_LOOP_VAR}={other:?}: expected mio or io-uring"),
    }
}

/// `config` (a [`ServerConfig`] or a connection [`Config`]) on the event loop of
/// [`test_event_loop`]: every server a runtime test builds goes through here or [`start`].
pub fn server_config(config: impl Into<ServerConfig>) -> ServerConfig {
    ServerConfig {
        event_loop: test_event_loop(),
        ..config.into()
    }
}

impl TestServer {
    /// Takes `server`, checking that it runs `wanted`: a run on io_uring never passes on mio by
    /// mistake.
    pub fn on(server: RunningServer, wanted: EventLoop) -> Self {
        let running = server.event_loop();
        let server = Self(Some(server));
        assert_eq!(
            running, wanted,
            "the server runs {running:?}, not {wanted:?}"
        );
        server
    }
}

/// Takes a server built on [`server_config`], checking its event loop ([`TestServer::on`]).
impl From<RunningServer> for TestServer {
    fn from(server: RunningServer) -> Self {
        Self::on(server, test_event_loop())
    }
}

impl std::ops::Deref for TestServer {
    type Target = RunningServer;

    fn deref(&self) -> &RunningServer {
        self.0.as_ref().expect("running")
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(server) = self.0.take() {
            server.stop();
        }
    }
}

/// A [`MultiClient`] on the event loop of [`test_event_loop`], checked to run it.
pub fn multi_client(options: ClientOptions) -> MultiClient {
    multi_client_on(test_event_loop(), options)
}

/// A [`MultiClient`] on `wanted`, checked to run it.
pub fn multi_client_on(wanted: EventLoop, options: ClientOptions) -> MultiClient {
    let clients = MultiClient::with_event_loop(options, wanted)
        .unwrap_or_else(|e| panic!("a MultiClient on {wanted:?}: {e}"));
    assert_eq!(clients.event_loop(), wanted);
    clients
}

/// Starts `handler` on 127.0.0.1, port 0, on the event loop of [`test_event_loop`].
///
/// A config without a thread count gets two workers, so that tests cross workers.
pub fn start<H: Handler>(config: impl Into<ServerConfig>, handler: H) -> TestServer {
    start_on(test_event_loop(), config, handler)
}

/// [`start`] on the event loop given, whatever [`EVENT_LOOP_VAR`] says.
pub fn start_on<H: Handler>(
    event_loop: EventLoop,
    config: impl Into<ServerConfig>,
    handler: H,
) -> TestServer {
    let mut config = ServerConfig {
        event_loop,
        ..config.into()
    };
    if config.threads == 0 {
        config.threads = 2;
    }
    let server = Server::new(config, handler)
        .bind("127.0.0.1:0")
        .unwrap_or_else(|e| panic!("bind 127.0.0.1:0 on {event_loop:?}: {e}"));
    TestServer::on(server, event_loop)
}

/// Starts the [`TestApp`] with `config`.
pub fn start_app(config: impl Into<ServerConfig>) -> (TestServer, mpsc::Receiver<AppEvent>) {
    let (app, events) = TestApp::new();
    (start(config, app), events)
}

/// `ws://` URL of `path` on the server.
pub fn ws_url(addr: SocketAddr, path: &str) -> String {
    format!("ws://{addr}{path}")
}

/// A blocking client whose reads give up after [`DEADLINE`].
pub fn connect(addr: SocketAddr) -> WebSocket {
    connect_with(&ws_url(addr, "/"), &ClientOptions::default())
}

/// [`connect`] with options.
pub fn connect_with(url: &str, options: &ClientOptions) -> WebSocket {
    let mut ws = client::connect_with(url, options).unwrap_or_else(|e| panic!("{url}: {e}"));
    ws.set_read_timeout(Some(DEADLINE)).unwrap();
    ws
}

/// A plain TCP connection whose reads and writes give up after [`DEADLINE`].
pub fn raw(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    stream.set_write_timeout(Some(DEADLINE)).unwrap();
    stream.set_nodelay(true).unwrap();
    stream
}

/// A valid upgrade request for `path` with `extra` header lines (each ending in CRLF).
pub fn upgrade_request(path: &str, extra: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
}

/// Reads everything until the server closes the connection (or resets it).
pub fn read_to_end(stream: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 16 << 10];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return out,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if is_reset(&e) => return out,
            Err(e) => panic!("read failed after {} bytes: {e}", out.len()),
        }
    }
}

/// Whether the peer cut the connection (rather than a timeout).
pub fn is_reset(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
    )
}

/// An HTTP response, split.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

impl Response {
    /// The value of a header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// Splits an HTTP response at its empty line.
pub fn parse_response(bytes: &[u8]) -> Response {
    let end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no response head in {:?}", String::from_utf8_lossy(bytes)));
    let head = String::from_utf8(bytes[..end].to_vec()).unwrap();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    Response {
        status,
        head,
        body: bytes[end + 4..].to_vec(),
    }
}

/// Sends `request` as it is and reads the response until the server closes.
pub fn exchange(addr: SocketAddr, request: &[u8]) -> Response {
    let mut stream = raw(addr);
    stream.write_all(request).unwrap();
    parse_response(&read_to_end(&mut stream))
}

/// Opens a WebSocket by hand: returns the socket and the bytes that followed the 101 head.
pub fn raw_upgrade(addr: SocketAddr) -> (TcpStream, Vec<u8>) {
    raw_upgrade_on(raw(addr))
}

/// A WebSocket opened by hand on a socket with a small receive buffer, that reads nothing.
pub fn silent_reader(addr: SocketAddr, receive_buffer: usize) -> (TcpStream, Vec<u8>) {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(receive_buffer).unwrap();
    socket.connect(&addr.into()).unwrap();
    raw_upgrade_on(socket.into())
}

/// [`raw_upgrade`] on a socket already connected.
pub fn raw_upgrade_on(mut stream: TcpStream) -> (TcpStream, Vec<u8>) {
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    stream.set_write_timeout(Some(DEADLINE)).unwrap();
    stream
        .write_all(upgrade_request("/", "").as_bytes())
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let end = loop {
        if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        let n = stream.read(&mut buf).expect("read the 101 response");
        assert!(n > 0, "closed during the handshake");
        got.extend_from_slice(&buf[..n]);
    };
    assert!(got.starts_with(b"HTTP/1.1 101 "), "{got:?}");
    let rest = got.split_off(end);
    (stream, rest)
}

/// Reads server frames from a raw socket one at a time.
pub struct FrameReader {
    buf: Vec<u8>,
    start: usize,
}

impl FrameReader {
    /// A reader that starts with `rest` (e.g. what followed the 101 head).
    pub fn new(rest: Vec<u8>) -> Self {
        Self {
            buf: rest,
            start: 0,
        }
    }

    /// The next whole frame; `None` when the connection ends (EOF or reset) first.
    pub fn next(&mut self, stream: &mut TcpStream) -> Option<(Opcode, Vec<u8>)> {
        loop {
            let bytes = &self.buf[self.start..];
            if let Ok(Some((header, n))) = FrameHeader::parse(bytes) {
                assert!(header.mask.is_none(), "a server frame is masked");
                let len = header.payload_len as usize;
                if bytes.len() >= n + len {
                    let payload = bytes[n..n + len].to_vec();
                    self.start += n + len;
                    return Some((header.opcode, payload));
                }
            }
            self.buf.drain(..self.start);
            self.start = 0;
            let len = self.buf.len();
            self.buf.resize(len + (64 << 10), 0);
            match stream.read(&mut self.buf[len..]) {
                Ok(0) => return None,
                Ok(n) => self.buf.truncate(len + n),
                Err(e) if is_reset(&e) => return None,
                Err(e) => panic!("read a frame: {e}"),
            }
        }
    }

    /// Frames until a Close frame (included) or the end of the connection.
    pub fn until_close(&mut self, stream: &mut TcpStream) -> Vec<(Opcode, Vec<u8>)> {
        let mut frames = Vec::new();
        while let Some(frame) = self.next(stream) {
            let close = frame.0 == Opcode::Close;
            frames.push(frame);
            if close {
                break;
            }
        }
        frames
    }
}

/// The server frames in `bytes` (unmasked), ignoring a trailing partial frame.
pub fn server_frames(mut bytes: &[u8]) -> Vec<(Opcode, Vec<u8>)> {
    let mut frames = Vec::new();
    while let Ok(Some((header, n))) = FrameHeader::parse(bytes) {
        assert!(header.mask.is_none(), "a server frame is masked");
        let len = header.payload_len as usize;
        if bytes.len() < n + len {
            break;
        }
        frames.push((header.opcode, bytes[n..n + len].to_vec()));
        bytes = &bytes[n + len..];
    }
    frames
}

/// The status code of a Close frame's payload.
pub fn close_code(payload: &[u8]) -> u16 {
    assert!(payload.len() >= 2, "close frame without a code");
    u16::from_be_bytes([payload[0], payload[1]])
}

/// The next event of a blocking client that is not a Ping (Pings are answered for us).
pub fn next_event(ws: &mut WebSocket) -> OwnedEvent {
    loop {
        match ws.recv() {
            Ok(OwnedEvent::Ping(_)) => {}
            Ok(event) => return event,
            Err(e) => panic!("recv: {e}"),
        }
    }
}

/// Waits until the server closes: the close code it sent, after every other event.
pub fn expect_close(ws: &mut WebSocket) -> (CloseCode, String) {
    loop {
        match next_event(ws) {
            OwnedEvent::Closed { code, reason } => return (code, reason),
            OwnedEvent::Text(_) | OwnedEvent::Binary(_) | OwnedEvent::Pong(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
}

/// Polls `condition` until it holds or [`DEADLINE`] passes (then panics with `what`).
pub fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The next report of the application, waiting at most [`DEADLINE`].
pub fn next_app_event(events: &mpsc::Receiver<AppEvent>) -> AppEvent {
    events
        .recv_timeout(DEADLINE)
        .expect("no report from the application")
}

/// Waits for the application to report the end of a connection.
pub fn next_close(events: &mpsc::Receiver<AppEvent>) -> (ConnId, CloseInfo) {
    loop {
        if let AppEvent::Closed(id, info) = next_app_event(events) {
            return (id, info);
        }
    }
}

/// Plays a server by hand: accepts one connection on `listener`, reads the upgrade request
/// and answers 101. Returns the socket, for the test to misbehave on.
pub fn accept_upgrade(listener: &std::net::TcpListener) -> TcpStream {
    let (mut stream, _) = listener.accept().unwrap();
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    let text = String::from_utf8(head).unwrap();
    let key = text
        .lines()
        .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
        .unwrap();
    let accept = fullduplex::protocol::handshake::accept_key(key.trim().as_bytes());
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
    );
    stream.write_all(response.as_bytes()).unwrap();
    stream
}

/// Raises this process's soft limit on open files to at least `wanted` (up to the hard
/// limit, which an unprivileged process can reach), and returns the new soft limit.
pub fn raise_fd_limit(wanted: libc::rlim_t) -> libc::rlim_t {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed to them.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        if limit.rlim_cur < wanted {
            limit.rlim_cur = limit.rlim_max.min(wanted);
            assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0);
        }
    }
    limit.rlim_cur
}
