//! Plain HTTP: the requests that are not upgrades (a page, a health check, metrics, a long
//! poll) with their bodies, the answers to them, now or later, and to upgrades the server
//! refuses.
//!
//! Message framing follows [RFC 9112 §6](https://www.rfc-editor.org/rfc/rfc9112#section-6):
//! a request's body is its `Content-Length` bytes (chunked bodies are refused with 411), and
//! persistent connections [RFC 9112 §9.3](https://www.rfc-editor.org/rfc/rfc9112#section-9.3):
//! an HTTP/1.1 connection stays open for the next request unless either side says `close`.

use std::fmt::Write as _;

use crate::protocol::handshake::Request;
use crate::server::handler::ConnId;

/// A plain HTTP request as the application sees it: the head, the body, and the id to answer
/// it by later ([`Reply::Later`]).
#[derive(Debug, Clone, Copy)]
pub struct HttpRequest<'a> {
    pub(crate) head: &'a Request,
    pub(crate) body: &'a [u8],
    pub(crate) id: ResponseId,
}

impl<'a> HttpRequest<'a> {
    /// The request line and header fields.
    pub fn head(&self) -> &'a Request {
        self.head
    }

    /// The body: `Content-Length` bytes, at most
    /// [`ServerConfig::max_request_body`](super::ServerConfig::max_request_body) (empty when
    /// the request has none).
    pub fn body(&self) -> &'a [u8] {
        self.body
    }

    /// The id of the answer, for [`Reply::Later`].
    pub fn id(&self) -> ResponseId {
        self.id
    }
}

/// Names one request's answer: its connection and the request's number on it (a persistent
/// connection carries several, one after the other). Answering a request that was answered
/// already, or whose connection ended, does nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ResponseId {
    pub(crate) conn: ConnId,
    pub(crate) number: u32,
}

/// The application's answer to a plain HTTP request.
#[derive(Debug)]
pub enum Reply {
    /// This response, now.
    Now(HttpResponse),
    /// A response later (a long poll): the application keeps the request's
    /// [`id`](HttpRequest::id) and answers with [`Context::respond`](super::Context::respond)
    /// or [`ServerHandle::respond`](super::ServerHandle::respond), within
    /// [`ServerConfig::max_deferral`](super::ServerConfig::max_deferral) (past it the server
    /// answers 503 itself).
    Later,
}

/// An HTTP/1.1 response. The server adds `Content-Length` and `Connection` (`keep-alive`
/// when the connection stays open for another request, `close` otherwise).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// Header fields (name, value). CR and LF are removed from both when written.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// A response with a body of the given content type.
    pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Self {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            body: body.into(),
        }
    }

    /// A plain-text response (the body ends with a newline).
    pub fn text(status: u16, text: &str) -> Self {
        Self::new(status, "text/plain; charset=utf-8", format!("{text}\n"))
    }

    /// 404 Not Found.
    pub fn not_found() -> Self {
        Self::text(404, "not found")
    }

    /// Adds a header field.
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Appends the encoded response to `out`, with `Connection: close`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        self.encode_with(out, false);
    }

    /// Appends the encoded response to `out`, saying whether the connection stays open.
    pub fn encode_with(&self, out: &mut Vec<u8>, keep_alive: bool) {
        let mut head = String::with_capacity(128);
        let _ = write!(
            head,
            "HTTP/1.1 {} {}\r\n",
            self.status,
            reason_phrase(self.status)
        );
        for (name, value) in &self.headers {
            let _ = write!(head, "{}: {}\r\n", clean(name), clean(value));
        }
        let _ = write!(
            head,
            "Content-Length: {}\r\nConnection: {}\r\n\r\n",
            self.body.len(),
            if keep_alive { "keep-alive" } else { "close" }
        );
        out.extend_from_slice(head.as_bytes());
        out.extend_from_slice(&self.body);
    }
}

/// A header name or value with CR and LF removed (no response splitting).
fn clean(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains(['\r', '\n']) {
        s.replace(['\r', '\n'], "").into()
    } else {
        s.into()
    }
}

/// The standard reason phrase of a status code (RFC 9110 §15).
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        101 => "Switching Protocols",
        200 => "OK",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_with_length_and_without_injected_lines() {
        let mut out = Vec::new();
        HttpResponse::text(200, "ok")
            .with_header("X-Evil", "a\r\nSet-Cookie: x=1")
            .encode(&mut out);
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(text.contains("X-Evil: aSet-Cookie: x=1\r\n"));
        assert!(text.contains("Content-Length: 3\r\n"));
        assert!(text.ends_with("\r\n\r\nok\n"));
    }
}
