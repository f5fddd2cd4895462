//! The client's opening handshake as the server receives it: an HTTP/1.1 request head,
//! parsed incrementally within the configured limits, with accessors for what a server
//! routes and authorises on.
//!
//! Implements the reading half of
//! [RFC 6455 §4.2.1](https://www.rfc-editor.org/rfc/rfc6455#section-4.2.1): the request line
//! and header fields of [RFC 7230 §3](https://www.rfc-editor.org/rfc/rfc7230#section-3), with
//! the limits of [RFC 6455 §10.4](https://www.rfc-editor.org/rfc/rfc6455#section-10.4). The
//! WebSocket rules themselves are checked by [`validate_request`](super::validate_request).

use super::head::{self, Header};
use crate::config::Config;
use crate::error::HandshakeError;

/// A parsed request head, owned (it outlives the read buffer it came from).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    method: String,
    target: String,
    minor_version: u8,
    headers: Vec<Header>,
}

impl Request {
    /// Parses a request head from the start of `buf`.
    ///
    /// Returns `Ok(None)` while the head (up to its empty line) is incomplete and shorter
    /// than [`Config::max_handshake_size`]; [`HandshakeError::TooLarge`] once that many bytes
    /// hold no complete head; [`HandshakeError::TooManyHeaders`] for more than
    /// [`Config::max_headers`] fields; [`HandshakeError::Malformed`] for bytes that are not
    /// an HTTP/1.x request head. On success returns the request and the length of its head:
    /// the bytes after it are the client's first WebSocket frames and belong to the
    /// connection. Nothing is allocated before the head is complete and within the limits.
    pub fn parse(buf: &[u8], config: &Config) -> Result<Option<(Request, usize)>, HandshakeError> {
        head::parse_bounded(buf, config, |view, headers| {
            let mut request = httparse::Request::new(headers);
            Ok(match request.parse(view)? {
                httparse::Status::Partial => httparse::Status::Partial,
                httparse::Status::Complete(len) => {
                    httparse::Status::Complete((len, Request::from_parsed(&request)))
                }
            })
        })
    }

    /// Copies a complete request out of the parser's borrowed view.
    fn from_parsed(request: &httparse::Request<'_, '_>) -> Self {
        Self {
            method: request.method.unwrap_or_default().to_owned(),
            target: request.path.unwrap_or_default().to_owned(),
            minor_version: request.version.unwrap_or_default(),
            headers: request.headers.iter().map(Header::from_parsed).collect(),
        }
    }

    /// The method, as sent (methods are case-sensitive).
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The request target as sent: path and query, e.g. `/chat?room=1`.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The target's path: everything before the first `?`.
    pub fn path(&self) -> &str {
        self.target
            .split_once('?')
            .map_or(&self.target, |(path, _)| path)
    }

    /// The target's query: everything after the first `?`, if there is one.
    pub fn query(&self) -> Option<&str> {
        self.target.split_once('?').map(|(_, query)| query)
    }

    /// The value of the first query parameter named `name`, percent-decoded with `+` as a
    /// space (the `application/x-www-form-urlencoded` convention). Bytes that do not decode
    /// to UTF-8 become U+FFFD; a parameter without `=` has the empty value.
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query()?.split('&').find_map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(key) == name).then(|| percent_decode(value))
        })
    }

    /// The HTTP minor version: 1 for `HTTP/1.1`, 0 for `HTTP/1.0`.
    pub fn minor_version(&self) -> u8 {
        self.minor_version
    }

    /// Every header field, in the order received.
    pub fn headers(&self) -> &[Header] {
        &self.headers
    }

    /// The value of the first header named `name` (ignoring ASCII case).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        let mut found = self
            .headers
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case(name));
        found.next().map(|header| header.value.as_slice())
    }

    /// The value of the first header named `name`, if it is UTF-8.
    pub fn header_str(&self, name: &str) -> Option<&str> {
        std::str::from_utf8(self.header(name)?).ok()
    }

    /// The values of every header named `name` (ignoring ASCII case), in the order received.
    pub fn headers_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        head::values(&self.headers, name)
    }

    /// The `Host` header: the authority the client means to reach.
    pub fn host(&self) -> Option<&str> {
        self.header_str(head::HOST)
    }

    /// The `Origin` header, sent by browsers (RFC 6455 §10.2: servers for certain sites only
    /// "SHOULD verify the |Origin| field is an origin they expect").
    pub fn origin(&self) -> Option<&str> {
        self.header_str(head::ORIGIN)
    }

    /// The value of the cookie `name` (case-sensitive), from any `Cookie` header
    /// (`Cookie: a=1; b=2`, RFC 6265 §5.4). Surrounding double quotes are removed.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.headers_all("Cookie")
            .filter_map(|value| std::str::from_utf8(value).ok())
            .flat_map(|value| value.split(';'))
            .find_map(|pair| {
                let (key, value) = pair.split_once('=')?;
                (key.trim_matches([' ', '\t']) == name).then(|| unquote(value.trim()))
            })
    }

    /// Whether the client asks to switch to WebSocket: some `Upgrade` header lists the token
    /// `websocket` (ignoring ASCII case). A runtime hands requests without it to the
    /// application as plain HTTP; [`validate_request`](super::validate_request) does the
    /// full check.
    pub fn is_websocket_upgrade(&self) -> bool {
        head::has_token(&self.headers, head::UPGRADE, "websocket")
    }
}

/// Removes one pair of surrounding double quotes (RFC 6265 `cookie-value`).
fn unquote(value: &str) -> &str {
    value
        .strip_prefix('"')
        .and_then(|inner| inner.strip_suffix('"'))
        .unwrap_or(value)
}

/// Decodes `%XX` escapes and `+`; a `%` not followed by two hex digits stays as it is.
fn percent_decode(input: &str) -> String {
    let mut out = Vec::with_capacity(input.len());
    let mut bytes = input.as_bytes();
    while let Some((&first, rest)) = bytes.split_first() {
        bytes = rest;
        match first {
            b'+' => out.push(b' '),
            b'%' => match rest {
                [high, low, tail @ ..] if high.is_ascii_hexdigit() && low.is_ascii_hexdigit() => {
                    out.push((hex(*high) << 4) | hex(*low));
                    bytes = tail;
                }
                _ => out.push(b'%'),
            },
            byte => out.push(byte),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The value of one hex digit (the caller checked it is one).
fn hex(digit: u8) -> u8 {
    match digit {
        b'0'..=b'9' => digit - b'0',
        b'a'..=b'f' => digit - b'a' + 10,
        b'A'..=b'F' => digit - b'A' + 10,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &[u8] = b"GET /chat?room=caf%C3%A9+au+lait&flag&x=%zz HTTP/1.1\r\n\
        Host: server.example.com\r\n\
        Upgrade: websocket\r\n\
        Connection: Upgrade\r\n\
        Cookie: session=abc; theme=\"dark\"\r\n\
        cookie: lang=fr\r\n\
        X-Bytes: caf\xe9\r\n\
        \r\n";

    fn parse(buf: &[u8]) -> Result<Option<(Request, usize)>, HandshakeError> {
        Request::parse(buf, &Config::default())
    }

    fn sample() -> Request {
        parse(SAMPLE).unwrap().unwrap().0
    }

    #[test]
    fn parses_the_request_line() {
        let (request, len) = parse(SAMPLE).unwrap().unwrap();
        assert_eq!(len, SAMPLE.len());
        assert_eq!(request.method(), "GET");
        assert_eq!(request.target(), "/chat?room=caf%C3%A9+au+lait&flag&x=%zz");
        assert_eq!(request.path(), "/chat");
        assert_eq!(request.query(), Some("room=caf%C3%A9+au+lait&flag&x=%zz"));
        assert_eq!(request.minor_version(), 1);
        assert_eq!(request.headers().len(), 6);
    }

    #[test]
    fn query_parameters_are_decoded() {
        let request = sample();
        assert_eq!(request.query_param("room").as_deref(), Some("café au lait"));
        assert_eq!(request.query_param("flag").as_deref(), Some(""));
        assert_eq!(request.query_param("x").as_deref(), Some("%zz"));
        assert_eq!(request.query_param("missing"), None);
        assert_eq!(percent_decode("%41%4a%4A%e9"), "AJJ\u{fffd}");
        assert_eq!(percent_decode("100%"), "100%");
    }

    #[test]
    fn no_query_without_a_question_mark() {
        let request = parse(b"GET /a/b HTTP/1.1\r\n\r\n").unwrap().unwrap().0;
        assert_eq!(request.path(), "/a/b");
        assert_eq!(request.query(), None);
        assert_eq!(request.query_param("a"), None);
    }

    #[test]
    fn headers_are_found_ignoring_case() {
        let request = sample();
        assert_eq!(request.header("HOST"), Some(&b"server.example.com"[..]));
        assert_eq!(request.host(), Some("server.example.com"));
        assert_eq!(request.origin(), None);
        assert_eq!(request.header("x-bytes"), Some(&b"caf\xe9"[..]));
        assert_eq!(request.header_str("x-bytes"), None);
        assert_eq!(request.headers_all("COOKIE").count(), 2);
    }

    #[test]
    fn cookies_come_from_every_cookie_header() {
        let request = sample();
        assert_eq!(request.cookie("session"), Some("abc"));
        assert_eq!(request.cookie("theme"), Some("dark"));
        assert_eq!(request.cookie("lang"), Some("fr"));
        assert_eq!(request.cookie("Session"), None);
        assert_eq!(request.cookie("abc"), None);
    }

    #[test]
    fn websocket_upgrade_is_recognised_in_lists_and_any_case() {
        assert!(sample().is_websocket_upgrade());
        let upgrade = |value: &str| {
            let head = format!("GET / HTTP/1.1\r\nUpgrade: {value}\r\n\r\n");
            parse(head.as_bytes())
                .unwrap()
                .unwrap()
                .0
                .is_websocket_upgrade()
        };
        assert!(upgrade("WebSocket"));
        assert!(upgrade("h2c, websocket"));
        assert!(!upgrade("h2c"));
        assert!(!upgrade("websockets"));
        let plain = parse(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
            .unwrap()
            .unwrap()
            .0;
        assert!(!plain.is_websocket_upgrade());
    }

    #[test]
    fn leftover_bytes_are_not_part_of_the_head() {
        let mut buf = SAMPLE.to_vec();
        buf.extend_from_slice(b"\x81\x85frame");
        let (_, len) = parse(&buf).unwrap().unwrap();
        assert_eq!(&buf[len..], b"\x81\x85frame");
    }

    #[test]
    fn incomplete_heads_wait_for_more() {
        for end in 0..SAMPLE.len() {
            assert_eq!(parse(&SAMPLE[..end]), Ok(None), "prefix of {end} bytes");
        }
    }

    fn limits(max_handshake_size: usize, max_headers: usize) -> Config {
        Config {
            max_handshake_size,
            max_headers,
            ..Config::default()
        }
    }

    #[test]
    fn limits_are_enforced() {
        let len = SAMPLE.len();
        assert!(Request::parse(SAMPLE, &limits(len, 64)).unwrap().is_some());
        let short = limits(len - 1, 64);
        assert_eq!(
            Request::parse(SAMPLE, &short),
            Err(HandshakeError::TooLarge)
        );
        assert_eq!(Request::parse(&SAMPLE[..20], &short), Ok(None));
        let few = limits(len, 5);
        assert_eq!(
            Request::parse(SAMPLE, &few),
            Err(HandshakeError::TooManyHeaders)
        );
        assert!(Request::parse(SAMPLE, &limits(len, 6)).unwrap().is_some());
        assert!(Request::parse(SAMPLE, &limits(len, 500)).unwrap().is_some());
        assert_eq!(
            Request::parse(b"", &limits(0, 64)),
            Err(HandshakeError::TooLarge)
        );
    }

    #[test]
    fn garbage_is_malformed() {
        for garbage in [
            &b"\x16\x03\x01\x02\x00"[..],
            b"GET / HTTP/1.1\r\nNo colon\r\n\r\n",
        ] {
            assert!(
                matches!(parse(garbage), Err(HandshakeError::Malformed(_))),
                "{garbage:?}"
            );
        }
    }
}
