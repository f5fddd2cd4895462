//! HTTP/1.1 message heads as the handshake reads them: bounded parsing, header lookup, and
//! the list and token grammar that the WebSocket header fields are built from.
//!
//! Implements the parts of [RFC 7230 §3.2](https://www.rfc-editor.org/rfc/rfc7230#section-3.2)
//! (header fields), [RFC 7230 §3.2.6](https://www.rfc-editor.org/rfc/rfc7230#section-3.2.6)
//! (tokens) and [RFC 7230 §7](https://www.rfc-editor.org/rfc/rfc7230#section-7) (the `#rule`
//! for lists) that [RFC 6455 §4](https://www.rfc-editor.org/rfc/rfc6455#section-4) relies on.

use crate::config::Config;
use crate::error::HandshakeError;

/// `Host`.
pub(super) const HOST: &str = "Host";
/// `Upgrade`.
pub(super) const UPGRADE: &str = "Upgrade";
/// `Connection`.
pub(super) const CONNECTION: &str = "Connection";
/// `Origin`.
pub(super) const ORIGIN: &str = "Origin";
/// `Sec-WebSocket-Key`.
pub(super) const SEC_KEY: &str = "Sec-WebSocket-Key";
/// `Sec-WebSocket-Accept`.
pub(super) const SEC_ACCEPT: &str = "Sec-WebSocket-Accept";
/// `Sec-WebSocket-Version`.
pub(super) const SEC_VERSION: &str = "Sec-WebSocket-Version";
/// `Sec-WebSocket-Protocol`.
pub(super) const SEC_PROTOCOL: &str = "Sec-WebSocket-Protocol";
/// `Sec-WebSocket-Extensions`.
pub(super) const SEC_EXTENSIONS: &str = "Sec-WebSocket-Extensions";

/// Header arrays up to this size live on the stack while parsing (24 bytes each).
const STACK_HEADERS: usize = 128;

/// One header field of a parsed head, owned: the name as sent, the value without the
/// optional whitespace around it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The field name as sent (compare it ignoring ASCII case).
    pub name: String,
    /// The field value: bytes, since HTTP allows obs-text (bytes 0x80–0xFF) in values.
    pub value: Vec<u8>,
}

impl Header {
    /// Copies one header out of the parser's borrowed view.
    pub(super) fn from_parsed(header: &httparse::Header<'_>) -> Self {
        Self {
            name: header.name.to_owned(),
            value: header.value.to_vec(),
        }
    }
}

/// Parses a head with httparse inside the configured limits.
///
/// `parse` runs httparse on at most `max_handshake_size` bytes with a header array of
/// `max_headers` entries and converts a complete head to an owned value. Returns `Ok(None)`
/// while the head is incomplete and below the limit, `TooLarge` once `max_handshake_size`
/// bytes hold no complete head, and the head's length (up to and including the empty line)
/// with the value otherwise: bytes after it are not part of the head.
pub(super) fn parse_bounded<'b, T>(
    buf: &'b [u8],
    config: &Config,
    parse: impl FnOnce(
        &'b [u8],
        &mut [httparse::Header<'b>],
    ) -> Result<httparse::Status<(usize, T)>, httparse::Error>,
) -> Result<Option<(T, usize)>, HandshakeError> {
    // Never look past the limit: a complete head longer than it is as bad as an endless one.
    let view = &buf[..buf.len().min(config.max_handshake_size)];
    let status = if config.max_headers <= STACK_HEADERS {
        let mut headers = [httparse::EMPTY_HEADER; STACK_HEADERS];
        parse(view, &mut headers[..config.max_headers])
    } else {
        let mut headers = vec![httparse::EMPTY_HEADER; config.max_headers];
        parse(view, &mut headers)
    };
    match status {
        Ok(httparse::Status::Complete((len, value))) => Ok(Some((value, len))),
        Ok(httparse::Status::Partial) if view.len() >= config.max_handshake_size => {
            Err(HandshakeError::TooLarge)
        }
        Ok(httparse::Status::Partial) => Ok(None),
        Err(httparse::Error::TooManyHeaders) => Err(HandshakeError::TooManyHeaders),
        Err(error) => Err(HandshakeError::Malformed(describe(error))),
    }
}

/// A reason for each way httparse refuses a head.
fn describe(error: httparse::Error) -> &'static str {
    match error {
        httparse::Error::HeaderName => "invalid byte in a header name",
        httparse::Error::HeaderValue => "invalid byte in a header value",
        httparse::Error::NewLine => "invalid line ending",
        httparse::Error::Status => "invalid status code",
        httparse::Error::Token => "invalid request line",
        httparse::Error::Version => "invalid HTTP version",
        httparse::Error::TooManyHeaders => "too many header fields",
    }
}

/// The values of every header named `name` (ignoring ASCII case), in the order received.
pub(super) fn values<'a>(
    headers: &'a [Header],
    name: &'a str,
) -> impl Iterator<Item = &'a [u8]> + 'a {
    headers
        .iter()
        .filter(move |header| header.name.eq_ignore_ascii_case(name))
        .map(|header| header.value.as_slice())
}

/// The value of the header named `name` when it appears exactly once.
pub(super) enum Single<'a> {
    /// The header is absent.
    Missing,
    /// The header appears once, with this value (OWS trimmed).
    One(&'a [u8]),
    /// The header appears more than once.
    Repeated,
}

/// Looks a header up that may appear at most once.
pub(super) fn single<'a>(headers: &'a [Header], name: &'a str) -> Single<'a> {
    let mut found = values(headers, name);
    match (found.next(), found.next()) {
        (None, _) => Single::Missing,
        (Some(value), None) => Single::One(trim_ows(value)),
        (Some(_), Some(_)) => Single::Repeated,
    }
}

/// The non-empty elements of a comma-separated list value, OWS trimmed.
///
/// RFC 7230 §7: "a recipient MUST parse and ignore a reasonable number of empty list
/// elements". Splitting on commas is right for lists of tokens (which cannot contain one);
/// `Sec-WebSocket-Extensions` may hold quoted strings and has its own parser.
pub(super) fn list_elements(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&byte| byte == b',')
        .map(trim_ows)
        .filter(|element| !element.is_empty())
}

/// Whether any header named `name` lists `token` (ignoring ASCII case).
pub(super) fn has_token(headers: &[Header], name: &str, token: &str) -> bool {
    values(headers, name)
        .flat_map(list_elements)
        .any(|element| element.eq_ignore_ascii_case(token.as_bytes()))
}

/// Strips optional whitespace (SP and HTAB, RFC 7230 §3.2.3) from both ends.
pub(super) fn trim_ows(mut bytes: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = bytes {
        bytes = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = bytes {
        bytes = rest;
    }
    bytes
}

/// Whether `byte` is a `tchar` (RFC 7230 §3.2.6): a visible ASCII character other than a
/// delimiter.
pub(super) fn is_tchar(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}

/// Whether `bytes` is a `token` (RFC 7230 §3.2.6: `token = 1*tchar`).
pub(super) fn is_token(bytes: &[u8]) -> bool {
    !bytes.is_empty() && bytes.iter().all(|&byte| is_tchar(byte))
}

/// A token's bytes as a `String` (tokens are ASCII, so this is exact).
pub(super) fn token_string(token: &[u8]) -> String {
    token.iter().map(|&byte| char::from(byte)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> Vec<Header> {
        pairs
            .iter()
            .map(|(name, value)| Header {
                name: name.to_string(),
                value: value.as_bytes().to_vec(),
            })
            .collect()
    }

    #[test]
    fn trims_only_spaces_and_tabs() {
        assert_eq!(trim_ows(b" \t a b \t"), b"a b");
        assert_eq!(trim_ows(b"   "), b"");
        assert_eq!(trim_ows(b""), b"");
        assert_eq!(trim_ows(b"\r\na\r"), b"\r\na\r");
    }

    #[test]
    fn tokens_follow_rfc7230() {
        assert!(is_token(b"permessage-deflate"));
        assert!(is_token(b"!#$%&'*+-.^_`|~09AZaz"));
        for bad in [
            &b""[..],
            b"a b",
            b"a,b",
            b"a;b",
            b"a=b",
            b"\"a\"",
            b"a\x7f",
            b"\xc3\xa9",
        ] {
            assert!(!is_token(bad), "{bad:?}");
        }
    }

    #[test]
    fn list_elements_skip_empty_ones() {
        let elements: Vec<&[u8]> = list_elements(b" , a ,, b,\tc , ").collect();
        assert_eq!(elements, [&b"a"[..], b"b", b"c"]);
        assert_eq!(list_elements(b"").count(), 0);
    }

    #[test]
    fn tokens_are_found_across_headers_and_case() {
        let list = headers(&[("connection", "keep-alive"), ("CONNECTION", "x, UPGRADE")]);
        assert!(has_token(&list, "Connection", "upgrade"));
        assert!(!has_token(&list, "Connection", "close"));
        let glued = headers(&[("Connection", "keep-alive upgrade")]);
        assert!(!has_token(&glued, "Connection", "upgrade"));
    }

    #[test]
    fn single_tells_missing_one_and_repeated() {
        let list = headers(&[("A", " x "), ("B", "1"), ("b", "2")]);
        assert!(matches!(single(&list, "a"), Single::One(b"x")));
        assert!(matches!(single(&list, "B"), Single::Repeated));
        assert!(matches!(single(&list, "C"), Single::Missing));
    }
}
