//! One non-blocking HTTP/1.1 connection of a fallback client (RFC 9112): a request written
//! whole, its answer read to the end of its `Content-Length` (RFC 9112 §6.3), the connection
//! kept for the next request unless the server said `Connection: close` or closed it.

use std::io::{self, Read, Write};
use std::net::SocketAddr;

use mio::net::TcpStream;
use mio::{Interest, Registry, Token};

/// Most header lines read of an answer.
const MAX_HEADERS: usize = 32;
/// Most bytes of an answer's head.
const MAX_HEAD: usize = 16 << 10;
/// Most bytes of an answer's body (a poll answers about 1 MiB at most).
const MAX_BODY: usize = 8 << 20;

/// An answer: its status and body.
pub(super) struct Answer {
    pub(super) status: u16,
    pub(super) body: Vec<u8>,
}

/// Where a connection's request stands.
pub(super) enum Progress {
    /// No request, or its answer is not complete yet.
    Waiting,
    /// The request's answer.
    Answered(Answer),
    /// The request failed (refused, reset, closed before its answer, a malformed answer).
    Failed(String),
}

/// A keep-alive connection and the request under way on it, if any.
pub(super) struct HttpConn {
    token: Token,
    stream: Option<TcpStream>,
    out: Vec<u8>,
    written: usize,
    input: Vec<u8>,
    /// Whether a request is under way.
    pub(super) busy: bool,
}

impl HttpConn {
    pub(super) fn new(token: Token) -> Self {
        Self {
            token,
            stream: None,
            out: Vec::new(),
            written: 0,
            input: Vec::new(),
            busy: false,
        }
    }

    /// Starts a request (connecting first if the last connection ended).
    pub(super) fn request(
        &mut self,
        registry: &Registry,
        addr: SocketAddr,
        head: &str,
        body: &[u8],
    ) -> Progress {
        if self.stream.is_none() {
            match TcpStream::connect(addr) {
                Ok(mut stream) => {
                    let interest = Interest::READABLE | Interest::WRITABLE;
                    if let Err(e) = registry.register(&mut stream, self.token, interest) {
                        return Progress::Failed(format!("could not register a socket: {e}"));
                    }
                    self.stream = Some(stream);
                }
                Err(e) => return Progress::Failed(format!("could not connect to {addr}: {e}")),
            }
        }
        self.out.clear();
        self.out.extend_from_slice(head.as_bytes());
        self.out.extend_from_slice(body);
        self.written = 0;
        self.input.clear();
        self.busy = true;
        self.ready(registry)
    }

    /// Writes what is pending, reads what arrived; the answer once it is complete.
    pub(super) fn ready(&mut self, registry: &Registry) -> Progress {
        let Some(stream) = self.stream.as_mut() else {
            return Progress::Waiting;
        };
        let open = match pump(stream, &self.out, &mut self.written, &mut self.input) {
            Ok(open) => open,
            Err(e) => return self.fail(registry, e.to_string()),
        };
        if !self.busy {
            // An idle connection the server closed: the next request opens another.
            if !open {
                self.disconnect(registry);
            }
            return Progress::Waiting;
        }
        match parse(&self.input) {
            Err(why) => self.fail(registry, why),
            Ok(Some((answer, close))) => {
                self.busy = false;
                self.input.clear();
                if close || !open {
                    self.disconnect(registry);
                }
                Progress::Answered(answer)
            }
            Ok(None) if open => Progress::Waiting,
            Ok(None) => self.fail(registry, "the server closed the connection".into()),
        }
    }

    /// Ends the request under way, if any, with `why`, and drops the connection.
    fn fail(&mut self, registry: &Registry, why: String) -> Progress {
        let was_busy = std::mem::take(&mut self.busy);
        self.disconnect(registry);
        match was_busy {
            true => Progress::Failed(why),
            false => Progress::Waiting,
        }
    }

    /// Drops the connection (a request under way is abandoned).
    pub(super) fn disconnect(&mut self, registry: &Registry) {
        if let Some(mut stream) = self.stream.take() {
            let _ = registry.deregister(&mut stream);
        }
        self.input.clear();
    }
}

/// Writes until done or `WouldBlock`, then reads until `WouldBlock`; `Ok(false)` at the end
/// of the stream.
fn pump(
    stream: &mut TcpStream,
    out: &[u8],
    written: &mut usize,
    input: &mut Vec<u8>,
) -> io::Result<bool> {
    while *written < out.len() {
        match stream.write(&out[*written..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => *written += n,
            Err(e) if would_block(&e) => break,
            Err(e) => return Err(e),
        }
    }
    let mut chunk = [0u8; 16 << 10];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => return Ok(false),
            Ok(n) if input.len() + n > MAX_HEAD + MAX_BODY => {
                return Err(io::Error::other("an answer larger than any the chat sends"))
            }
            Ok(n) => input.extend_from_slice(&chunk[..n]),
            Err(e) if would_block(&e) => return Ok(true),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// `WouldBlock`, or `NotConnected` while a connect is under way.
fn would_block(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::NotConnected
    )
}

/// A complete answer at the start of `input` and whether the server closes after it.
fn parse(input: &[u8]) -> Result<Option<(Answer, bool)>, String> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let head_len = match response.parse(input) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if input.len() > MAX_HEAD => {
            return Err("an answer's head is too large".into())
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(format!("a malformed answer: {e}")),
    };
    let header = |name: &str| {
        let found = response
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name));
        found.and_then(|h| std::str::from_utf8(h.value).ok())
    };
    let length = match header("Content-Length") {
        Some(n) => n
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|n| *n <= MAX_BODY)
            .ok_or("an answer with a bad Content-Length")?,
        None => 0,
    };
    let close = header("Connection").is_some_and(|c| c.eq_ignore_ascii_case("close"));
    let status = response.code.unwrap_or_default();
    if input.len() < head_len + length {
        return Ok(None);
    }
    let body = input[head_len..head_len + length].to_vec();
    Ok(Some((Answer { status, body }, close)))
}
