//! Writing HTTP/1.1 heads without letting a caller's value break out of its header field.
//!
//! Implements the field syntax of
//! [RFC 7230 §3.2](https://www.rfc-editor.org/rfc/rfc7230#section-3.2) for what we send, and
//! the reason phrases of [RFC 9110 §15](https://www.rfc-editor.org/rfc/rfc9110#section-15).
//!
//! Header injection policy, the same for every writer of the handshake:
//! - a value has its control characters (CR, LF, NUL and every other byte below 0x20 except
//!   HTAB, and DEL) **stripped**, then its leading and trailing whitespace trimmed, so it
//!   always stays inside its own field;
//! - an extra header whose name is not a `token` is **skipped** (a name cannot be repaired:
//!   `X: y\r\nEvil` is not a name with a typo);
//! - an extra header named like one the writer sets itself, or a message framing header
//!   (`Content-Length`, `Transfer-Encoding`), is **skipped**, so the handshake's own fields
//!   cannot be duplicated or contradicted.

use super::head::is_token;

/// Headers no caller may add: they decide where a message ends.
const FRAMING: [&str; 2] = ["Content-Length", "Transfer-Encoding"];

/// Appends `HTTP/1.1 <status> <reason phrase>\r\n`.
pub(super) fn write_status_line(out: &mut Vec<u8>, status: u16) {
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(reason_phrase(status).as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// Appends `name: value\r\n`, the value cleaned as the module doc says. `name` is ours.
pub(super) fn write_header(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    let is_junk = |byte: &u8| is_forbidden(*byte) || matches!(byte, b' ' | b'\t');
    let start = value
        .iter()
        .position(|b| !is_junk(b))
        .unwrap_or(value.len());
    let end = value
        .iter()
        .rposition(|b| !is_junk(b))
        .map_or(start, |end| end + 1);
    let kept = value.get(start..end).unwrap_or_default();
    out.extend(kept.iter().filter(|&&byte| !is_forbidden(byte)));
    out.extend_from_slice(b"\r\n");
}

/// Appends an optional header unless it would be empty once cleaned (an empty value is not
/// the same as an absent header, and not legal for the WebSocket fields).
pub(super) fn write_optional_header(out: &mut Vec<u8>, name: &str, value: Option<&str>) {
    if let Some(value) = value.filter(|value| !clean_is_empty(value.as_bytes())) {
        write_header(out, name, value.as_bytes());
    }
}

/// Appends the caller's extra headers, skipping those the module doc lists.
pub(super) fn write_extra_headers(out: &mut Vec<u8>, extra: &[(&str, &str)], own: &[&str]) {
    for &(name, value) in extra {
        let reserved = own.iter().chain(FRAMING.iter());
        let taken = reserved.clone().any(|own| own.eq_ignore_ascii_case(name));
        if is_token(name.as_bytes()) && !taken {
            write_header(out, name, value.as_bytes());
        }
    }
}

/// Whether the value would be empty after cleaning.
fn clean_is_empty(value: &[u8]) -> bool {
    value
        .iter()
        .all(|&byte| is_forbidden(byte) || matches!(byte, b' ' | b'\t'))
}

/// Bytes that may not appear in a field value: RFC 7230 §3.2 allows only HTAB, SP, VCHAR and
/// obs-text (`field-content = field-vchar [ 1*( SP / HTAB ) field-vchar ]`).
fn is_forbidden(byte: u8) -> bool {
    (byte < 0x20 && byte != b'\t') || byte == 0x7f
}

/// The standard reason phrase of a status code (RFC 9110 §15), or an empty one, which the
/// status line allows (`reason-phrase = *( HTAB / SP / VCHAR / obs-text )`).
pub(super) fn reason_phrase(status: u16) -> &'static str {
    match status {
        101 => "Switching Protocols",
        200 => "OK",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
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
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(name: &str, value: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        write_header(&mut out, name, value);
        out
    }

    #[test]
    fn values_lose_control_characters_and_outer_whitespace() {
        assert_eq!(header("X", b"plain"), b"X: plain\r\n");
        assert_eq!(header("X", b"  a\tb  "), b"X: a\tb\r\n");
        assert_eq!(
            header("X", b"a\r\nSet-Cookie: x=1"),
            b"X: aSet-Cookie: x=1\r\n"
        );
        assert_eq!(header("X", b"\r\n a \0\x7f"), b"X: a\r\n");
        assert_eq!(header("X", b"\r\n"), b"X: \r\n");
        assert_eq!(header("X", "é".as_bytes()), "X: é\r\n".as_bytes());
    }

    #[test]
    fn optional_headers_that_clean_to_nothing_are_left_out() {
        let mut out = Vec::new();
        write_optional_header(&mut out, "A", None);
        write_optional_header(&mut out, "B", Some(""));
        write_optional_header(&mut out, "C", Some(" \r\n "));
        assert!(out.is_empty());
        write_optional_header(&mut out, "D", Some("d"));
        assert_eq!(out, b"D: d\r\n");
    }

    #[test]
    fn extra_headers_with_bad_or_reserved_names_are_skipped() {
        let mut out = Vec::new();
        let extra = [
            ("X-Ok", "1"),
            ("Bad Name", "2"),
            ("X: y\r\nEvil", "3"),
            ("", "4"),
            ("upgrade", "5"),
            ("content-length", "6"),
            ("Transfer-Encoding", "7"),
        ];
        write_extra_headers(&mut out, &extra, &["Upgrade"]);
        assert_eq!(out, b"X-Ok: 1\r\n");
    }

    #[test]
    fn status_lines_carry_the_standard_phrase() {
        let mut out = Vec::new();
        write_status_line(&mut out, 426);
        write_status_line(&mut out, 599);
        assert_eq!(out, b"HTTP/1.1 426 Upgrade Required\r\nHTTP/1.1 599 \r\n");
    }
}
