//! Helpers for the loopback tests of the tokio adapter: servers on 127.0.0.1:0 in the test's
//! own runtime, and a raw peer that does the handshake by hand, writes any bytes, and reads
//! the other side's frames through a core [`Connection`] (whose automatic answers it never
//! sends: it is a peer that does not answer).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use fullduplex::client::ClientOptions;
use fullduplex::protocol::{CloseCode, Connection, OwnedEvent};
use fullduplex::tokio::{accept, Error, Message, WebSocketStream};
use fullduplex::Config;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use super::counting_keys;

/// A listener on 127.0.0.1, port 0.
pub async fn listener() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local address");
    (listener, addr)
}

/// `ws://ADDR/PATH`.
pub fn url(addr: SocketAddr, path: &str) -> String {
    format!("ws://{addr}{path}")
}

/// Serves one connection: accepts it with `config`, then runs `serve` on it; the task's
/// result is `serve`'s (or the accept's error).
pub fn serve_one<F, Fut, T>(
    listener: TcpListener,
    config: Config,
    serve: F,
) -> JoinHandle<Result<T, Error>>
where
    F: FnOnce(WebSocketStream<TcpStream>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<T, Error>> + Send,
    T: Send + 'static,
{
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.expect("accept");
        let ws = accept(tcp, Arc::new(config)).await?;
        serve(ws).await
    })
}

/// Echoes every data message until the stream ends: `Ok` with the peer's Close frame code
/// (`NoStatus` when none came), or the error that ended it.
pub async fn echo<S>(mut ws: WebSocketStream<S>) -> Result<CloseCode, Error>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut code = CloseCode::NoStatus;
    while let Some(message) = ws.recv().await? {
        match message {
            Message::Close(Some(frame)) => code = frame.code,
            message if message.is_data() => ws.feed(message).await?,
            _ => {}
        }
    }
    Ok(code)
}

/// Client options with this connection config.
pub fn options(config: Config) -> ClientOptions {
    ClientOptions {
        config,
        ..ClientOptions::default()
    }
}

/// A client written by hand over a TCP stream.
pub struct RawPeer {
    pub tcp: TcpStream,
    /// Parses the server's frames (its queued answers are never written).
    pub frames: Connection,
    /// The server's response head.
    pub response: String,
}

impl RawPeer {
    /// Connects and sends an opening handshake for `path` with `extra` header lines; reads
    /// the response head.
    pub async fn connect(addr: SocketAddr, path: &str, extra: &str) -> Self {
        let mut tcp = TcpStream::connect(addr).await.expect("connect");
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
        );
        tcp.write_all(request.as_bytes())
            .await
            .expect("write request");
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            if tcp.read(&mut byte).await.expect("read response") == 0 {
                break;
            }
            head.push(byte[0]);
        }
        let frames = Connection::client(Config::default(), counting_keys());
        let response = String::from_utf8_lossy(&head).into_owned();
        Self {
            tcp,
            frames,
            response,
        }
    }

    /// Whether the server accepted the upgrade.
    pub fn upgraded(&self) -> bool {
        self.response.starts_with("HTTP/1.1 101 ")
    }

    /// Writes raw bytes.
    pub async fn write(&mut self, bytes: &[u8]) {
        self.tcp.write_all(bytes).await.expect("write");
    }

    /// Writes a text message as a proper (masked) client frame.
    pub async fn send_text(&mut self, text: &str) {
        let mut encoder = Connection::client(Config::default(), counting_keys());
        encoder.send_text(text).expect("send");
        let bytes: Vec<u8> = encoder.output_chunks().flatten().copied().collect();
        self.write(&bytes).await;
    }

    /// The server's next frame as an event; `None` when the server closed the TCP connection.
    pub async fn next_event(&mut self) -> Option<OwnedEvent> {
        loop {
            if let Ok(Some(event)) = self.frames.poll_event() {
                return Some(event.to_owned());
            }
            let mut buf = [0u8; 4096];
            match self.tcp.read(&mut buf).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.frames.receive(&buf[..n]),
            }
        }
    }

    /// Reads until the server's Close: its code. Panics if the TCP connection ends first.
    pub async fn close_code(&mut self) -> CloseCode {
        loop {
            match self.next_event().await {
                Some(OwnedEvent::Closed { code, .. }) => return code,
                Some(_) => {}
                None => panic!("the connection ended without a Close frame"),
            }
        }
    }

    /// Whether the server then closes the TCP connection (reads to the end).
    pub async fn ends(&mut self) -> bool {
        let mut buf = [0u8; 4096];
        loop {
            match self.tcp.read(&mut buf).await {
                Ok(0) => return true,
                Ok(_) => {}
                Err(_) => return true,
            }
        }
    }
}

/// A server written by hand: answers any handshake with 101, then writes raw bytes and reads
/// the client's frames through a core server [`Connection`].
pub struct RawServer {
    pub tcp: TcpStream,
    pub frames: Connection,
}

impl RawServer {
    /// Reads the request head and accepts it.
    pub async fn accept(mut tcp: TcpStream) -> Self {
        use fullduplex::protocol::handshake::{validate_request, write_accept_response, Request};
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            tcp.read_exact(&mut byte).await.expect("read request");
            head.push(byte[0]);
        }
        let (request, _) = Request::parse(&head, &Config::default()).unwrap().unwrap();
        let offer = validate_request(&request).expect("a valid handshake");
        let mut response = Vec::new();
        write_accept_response(&mut response, &offer.key, None, None, &[]);
        tcp.write_all(&response).await.expect("write response");
        Self {
            tcp,
            frames: Connection::server(Config::default()),
        }
    }

    /// Writes raw bytes.
    pub async fn write(&mut self, bytes: &[u8]) {
        self.tcp.write_all(bytes).await.expect("write");
    }

    /// Reads until the client's Close: its code.
    pub async fn close_code(&mut self) -> CloseCode {
        let mut buf = [0u8; 4096];
        loop {
            if let Ok(Some(OwnedEvent::Closed { code, .. })) =
                self.frames.poll_event().map(|e| e.map(|e| e.to_owned()))
            {
                return code;
            }
            match self.tcp.read(&mut buf).await {
                Ok(0) | Err(_) => panic!("the connection ended without a Close frame"),
                Ok(n) => self.frames.receive(&buf[..n]),
            }
        }
    }
}
