//! A server's refusal of the opening handshake: its status, its header fields and the start
//! of the body that explains it ("a valid token is required", "the endpoint is /ws").
//!
//! RFC 6455 §4.1: "If the status code received from the server is not 101, the client handles
//! the response per HTTP [RFC2616] procedures." Those procedures are not ours to follow (no
//! redirects, no authentication here); reading the explanation is. The body is read only up to
//! [`MAX_REFUSAL_BODY`] bytes, however long the server says it is.

use std::fmt;
#[cfg(feature = "runtime")]
use std::io::{self, Read};
#[cfg(feature = "runtime")]
use std::time::Instant;

use super::ClientError;
use crate::protocol::handshake::{Header, ResponseHead};
use crate::{Config, HandshakeError};

/// The most of a refusal's body that a client reads: 1 KiB.
pub const MAX_REFUSAL_BODY: usize = 1024;

/// Characters of the body shown in the error's message before it is cut.
const SHOWN_CHARS: usize = 300;

/// A response to the opening handshake whose status is not `101 Switching Protocols`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The status code.
    pub status: u16,
    /// The header fields, in the order received (`Location`, `WWW-Authenticate` …).
    pub headers: Vec<Header>,
    /// The start of the body: at most [`MAX_REFUSAL_BODY`] bytes, fewer when `Content-Length`
    /// says so or the server closed sooner. Empty for a chunked body (not decoded). The
    /// blocking client waits for it (within its connect timeout); a
    /// `MultiClient` keeps what arrived with the head; the tokio adapter's client waits too.
    pub body: Vec<u8>,
}

impl Refusal {
    /// The body as one line for people, when it is plain text: `Content-Type` absent,
    /// `text/plain` or JSON. Whitespace runs become one space, other control characters are
    /// dropped, and a long text is cut.
    pub fn explanation(&self) -> Option<String> {
        let content_type = self.header("content-type").unwrap_or_default();
        let media_type = content_type.split(';').next().unwrap_or_default().trim();
        let plain = ["", "text/plain", "application/json"]
            .iter()
            .any(|t| media_type.eq_ignore_ascii_case(t));
        let text = plain.then(|| one_line(&String::from_utf8_lossy(&self.body)))?;
        (!text.is_empty()).then_some(text)
    }

    /// The value of the first header field named `name` (ignoring case), as text.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| String::from_utf8_lossy(&h.value).into_owned())
    }

    /// How many body bytes to keep: `Content-Length` up to the bound, the bound when the body
    /// runs to the end of the connection, none when it is chunked.
    pub(crate) fn body_wanted(&self) -> usize {
        let chunked = self
            .header("transfer-encoding")
            .is_some_and(|coding| coding.to_ascii_lowercase().contains("chunked"));
        let length = self
            .header("content-length")
            .and_then(|n| n.trim().parse::<usize>().ok());
        match (chunked, length) {
            (true, _) => 0,
            (false, Some(length)) => length.min(MAX_REFUSAL_BODY),
            (false, None) => MAX_REFUSAL_BODY,
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let phrase = crate::protocol::handshake::reason_phrase(self.status);
        write!(f, "the server answered {} {phrase}", self.status)?;
        f.write_str(", not 101 Switching Protocols")?;
        match self.explanation() {
            Some(text) => write!(f, ": {text}"),
            None => Ok(()),
        }
    }
}

/// `text` on one line: whitespace runs as one space, no other control character, at most
/// [`SHOWN_CHARS`] characters (then `…`).
fn one_line(text: &str) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    let joined: String = words
        .join(" ")
        .chars()
        .filter(|c| !c.is_control())
        .collect();
    match joined.char_indices().nth(SHOWN_CHARS) {
        Some((cut, _)) => format!("{}…", &joined[..cut]),
        None => joined,
    }
}

/// The refusal whose head starts `received`, with what of its body followed it. `None` if
/// `received` holds no complete response head.
fn parse(received: &[u8], config: &Config) -> Option<Refusal> {
    let (head, len) = ResponseHead::parse(received, config).ok()??;
    let mut refusal = Refusal {
        status: head.status,
        headers: head.headers,
        body: received[len..].to_vec(),
    };
    refusal.body.truncate(refusal.body_wanted());
    Some(refusal)
}

/// The error for a response with `status` (not 101) whose head `received` starts with:
/// [`ClientError::Refused`] with what of the body followed the head, or
/// [`UnexpectedStatus`](HandshakeError::UnexpectedStatus) if the head does not parse again.
pub(crate) fn error(received: &[u8], config: &Config, status: u16) -> ClientError {
    match parse(received, config) {
        Some(refusal) => ClientError::Refused(refusal),
        None => HandshakeError::UnexpectedStatus(status).into(),
    }
}

/// Reads the rest of the refusal's body from `stream`, up to what [`Refusal::body`] keeps:
/// until the server closes, a read fails, or `deadline` passes.
#[cfg(feature = "runtime")]
pub(crate) fn read_body(refusal: &mut Refusal, stream: &mut impl Read, deadline: Instant) {
    let wanted = refusal.body_wanted();
    let mut chunk = [0u8; MAX_REFUSAL_BODY];
    while refusal.body.len() < wanted && Instant::now() < deadline {
        let space = wanted - refusal.body.len();
        match stream.read(&mut chunk[..space]) {
            Ok(0) => break,
            Ok(n) => refusal.body.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(head: &str, body: &str) -> Refusal {
        let received = format!("HTTP/1.1 {head}\r\n\r\n{body}");
        parse(received.as_bytes(), &Config::default()).expect("a complete head")
    }

    #[test]
    fn the_explanation_is_the_plain_text_body_on_one_line() {
        let unauthorized = refusal(
            "401 Unauthorized\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 28",
            "a valid token\r\n\tis required\n",
        );
        assert_eq!(unauthorized.body, b"a valid token\r\n\tis required\n");
        assert_eq!(
            unauthorized.to_string(),
            "the server answered 401 Unauthorized, not 101 Switching Protocols: \
             a valid token is required"
        );
        let page = refusal("404 Not Found\r\nContent-Type: text/html", "<h1>404</h1>");
        assert_eq!(page.explanation(), None);
        assert_eq!(
            page.to_string(),
            "the server answered 404 Not Found, not 101 Switching Protocols"
        );
        let escape = refusal("403 Forbidden", "no\u{1b}[31m entry");
        assert_eq!(escape.explanation().as_deref(), Some("no[31m entry"));
    }

    #[test]
    fn the_body_kept_is_bounded_by_content_length_and_the_limit() {
        let short = refusal("400 Bad Request\r\nContent-Length: 4", "fourFRAMES");
        assert_eq!(short.body, b"four");
        let long = "x".repeat(3 * MAX_REFUSAL_BODY);
        let until_close = refusal("503 Service Unavailable", &long);
        assert_eq!(until_close.body.len(), MAX_REFUSAL_BODY);
        let text = until_close.explanation().unwrap();
        assert_eq!(text.chars().count(), SHOWN_CHARS + 1);
        assert!(text.ends_with('…'));
        let chunked = refusal("500 Oops\r\nTransfer-Encoding: chunked", "5\r\nhello\r\n");
        assert!(chunked.body.is_empty());
    }

    #[cfg(feature = "runtime")]
    #[test]
    fn reading_stops_at_the_length_the_server_gave() {
        let mut refusal = refusal("401 Unauthorized\r\nContent-Length: 10", "0123");
        let mut rest: &[u8] = b"456789 and what follows is not read";
        let deadline = Instant::now() + std::time::Duration::from_secs(5);
        read_body(&mut refusal, &mut rest, deadline);
        assert_eq!(refusal.body, b"0123456789");
        assert_eq!(rest, b" and what follows is not read");
    }
}
