//! Plain HTTP responses: what a server answers to requests that are not upgrades (a page,
//! a health check, metrics, a long poll) and to upgrades it refuses, for every runtime.
//!
//! The status line and fields follow [RFC 9110 §15](https://www.rfc-editor.org/rfc/rfc9110#section-15)
//! (status codes) and a refusal ends the connection, as
//! [RFC 6455 §4.2.2](https://www.rfc-editor.org/rfc/rfc6455#section-4.2.2) allows.

use std::fmt::Write as _;

/// An HTTP/1.1 response. [`encode`](Self::encode) and [`encode_with`](Self::encode_with) add
/// `Content-Length` and `Connection`.
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

    /// Appends the encoded response to `out`, saying whether the connection stays open for
    /// another request (`Connection: keep-alive`) or not (`Connection: close`).
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

/// The standard reason phrase of a status code (RFC 9110 §15), `Unknown` for a code without
/// one here.
pub fn reason_phrase(status: u16) -> &'static str {
    match super::write::reason_phrase(status) {
        "" => "Unknown",
        phrase => phrase,
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
