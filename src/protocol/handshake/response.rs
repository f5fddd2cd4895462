//! The server's answer to a handshake: `101 Switching Protocols`, or a refusal with a status
//! and a short plain-text body.
//!
//! Implements [RFC 6455 §4.2.2](https://www.rfc-editor.org/rfc/rfc6455#section-4.2.2) (the
//! accepting response) and the refusals of
//! [RFC 6455 §4.2.1](https://www.rfc-editor.org/rfc/rfc6455#section-4.2.1) and
//! [RFC 6455 §4.4](https://www.rfc-editor.org/rfc/rfc6455#section-4.4). Values from the
//! application are cleaned as [the handshake docs](super#values-from-the-application) say:
//! control characters (CR, LF …) are stripped from values, extra headers with an invalid or
//! reserved name are skipped.

use super::accept_key;
use super::head::{CONNECTION, SEC_ACCEPT, SEC_EXTENSIONS, SEC_PROTOCOL, UPGRADE};
use super::write::{write_extra_headers, write_header, write_optional_header, write_status_line};
use crate::error::HandshakeError;

/// Appends the response accepting a handshake: `101 Switching Protocols` with `Upgrade`,
/// `Connection`, `Sec-WebSocket-Accept`, then the optional `Sec-WebSocket-Protocol` and
/// `Sec-WebSocket-Extensions`, then `extra_headers`, then the empty line.
///
/// `offer_key` is [`ClientOffer::key`](super::ClientOffer::key). `subprotocol` should come
/// from [`select_subprotocol`](super::select_subprotocol) and `extensions` from the
/// extensions' negotiation; `None`, or a value that is empty once cleaned, sends no header.
/// Extra headers named like one of the above, `Content-Length` or `Transfer-Encoding` are
/// skipped. After these bytes the connection speaks WebSocket.
pub fn write_accept_response(
    out: &mut Vec<u8>,
    offer_key: &str,
    subprotocol: Option<&str>,
    extensions: Option<&str>,
    extra_headers: &[(&str, &str)],
) {
    // RFC 6455 §4.2.2: "A Status-Line with a 101 response code as per RFC 2616 [RFC2616]."
    write_status_line(out, 101);
    // RFC 6455 §4.2.2: "An |Upgrade| header field with value "websocket" as per RFC 2616 [RFC2616]."
    write_header(out, UPGRADE, b"websocket");
    // RFC 6455 §4.2.2: "A |Connection| header field with value "Upgrade"."
    write_header(out, CONNECTION, b"Upgrade");
    // RFC 6455 §4.2.2: "A |Sec-WebSocket-Accept| header field."
    let accept = accept_key(offer_key.trim_matches([' ', '\t']).as_bytes());
    write_header(out, SEC_ACCEPT, accept.as_bytes());
    // RFC 6455 §4.2.2: "The empty string is not the same as the null value for these purposes and is not a legal value for this field."
    write_optional_header(out, SEC_PROTOCOL, subprotocol);
    write_optional_header(out, SEC_EXTENSIONS, extensions);
    let own = [
        UPGRADE,
        CONNECTION,
        SEC_ACCEPT,
        SEC_PROTOCOL,
        SEC_EXTENSIONS,
    ];
    write_extra_headers(out, extra_headers, &own);
    out.extend_from_slice(b"\r\n");
}

/// Appends a response refusing a handshake (or any request), then closing the connection.
///
/// The status line carries `status` and its standard reason phrase; a `status` outside
/// 300–599 (not a refusal) is written as 500. Then `Content-Type: text/plain;
/// charset=utf-8`, `Content-Length`, `Connection: close`, `extra_headers` (for example
/// `WWW-Authenticate` with 401, `Location` with a redirect; those named like the writer's
/// own, `Content-Length` or `Transfer-Encoding` are skipped), and the body `reason` + `\n`.
pub fn write_reject_response(
    out: &mut Vec<u8>,
    status: u16,
    reason: &str,
    extra_headers: &[(&str, &str)],
) {
    write_refusal(out, status, reason, "close", extra_headers);
}

/// Appends the response for a failed handshake: [`HandshakeError::status`] with
/// [`HandshakeError::reason`] as the body, and the headers that status calls for.
///
/// A 426 carries `Sec-WebSocket-Version: 13` and `Upgrade: websocket` (with `Upgrade` in
/// `Connection`), a 405 carries `Allow: GET`.
pub fn write_handshake_error(out: &mut Vec<u8>, error: &HandshakeError) {
    let status = error.status();
    match status {
        // RFC 6455 §4.2.2: the server "MUST abort the WebSocket handshake described in this section and instead send an appropriate HTTP error code (such as 426 Upgrade Required) and a |Sec-WebSocket-Version| header field"
        // RFC 9110 §15.5.22: "The server MUST send an Upgrade header field in a 426 response to indicate the required protocol(s)"
        // RFC 9110 §7.8: "A sender of Upgrade MUST also send an "Upgrade" connection option in the Connection header field"
        426 => {
            let extra = [("Sec-WebSocket-Version", "13"), (UPGRADE, "websocket")];
            write_refusal(out, status, error.reason(), "Upgrade, close", &extra);
        }
        // RFC 9110 §15.5.6: "The origin server MUST generate an Allow header field in a 405 response containing a list of the target resource's currently supported methods."
        405 => write_refusal(out, status, error.reason(), "close", &[("Allow", "GET")]),
        _ => write_refusal(out, status, error.reason(), "close", &[]),
    }
}

/// The refusal writer behind the two above.
fn write_refusal(
    out: &mut Vec<u8>,
    status: u16,
    reason: &str,
    connection: &str,
    extra_headers: &[(&str, &str)],
) {
    let status = if (300..=599).contains(&status) {
        status
    } else {
        500
    };
    write_status_line(out, status);
    write_header(out, "Content-Type", b"text/plain; charset=utf-8");
    let length = reason.len() + 1;
    write_header(out, "Content-Length", length.to_string().as_bytes());
    write_header(out, CONNECTION, connection.as_bytes());
    write_extra_headers(out, extra_headers, &["Content-Type", CONNECTION]);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(reason.as_bytes());
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(bytes: &[u8]) -> &str {
        std::str::from_utf8(bytes).unwrap()
    }

    #[test]
    fn accepts_like_rfc6455_section_1_3() {
        let mut out = Vec::new();
        write_accept_response(
            &mut out,
            "dGhlIHNhbXBsZSBub25jZQ==",
            Some("chat"),
            None,
            &[],
        );
        assert_eq!(
            text(&out),
            "HTTP/1.1 101 Switching Protocols\r\n\
             Upgrade: websocket\r\n\
             Connection: Upgrade\r\n\
             Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
             Sec-WebSocket-Protocol: chat\r\n\
             \r\n"
        );
    }

    #[test]
    fn accept_carries_extensions_and_clean_extras() {
        let mut out = Vec::new();
        let extra = [
            ("Set-Cookie", "id=1\r\nX-Evil: 1"),
            ("sec-websocket-accept", "forged"),
            ("Content-Length", "0"),
        ];
        let pmd = Some("permessage-deflate; client_max_window_bits=15");
        write_accept_response(&mut out, "dGhlIHNhbXBsZSBub25jZQ==", Some(""), pmd, &extra);
        let text = text(&out);
        assert!(text.contains("\r\nSec-WebSocket-Extensions: permessage-deflate; "));
        assert!(
            text.ends_with("\r\nSet-Cookie: id=1X-Evil: 1\r\n\r\n"),
            "{text}"
        );
        assert!(!text.contains("Sec-WebSocket-Protocol"));
        assert!(!text.contains("forged") && !text.contains("Content-Length"));
    }

    #[test]
    fn rejects_with_a_plain_text_body() {
        let mut out = Vec::new();
        write_reject_response(&mut out, 403, "origin not allowed", &[("X-Id", "7")]);
        assert_eq!(
            text(&out),
            "HTTP/1.1 403 Forbidden\r\n\
             Content-Type: text/plain; charset=utf-8\r\n\
             Content-Length: 19\r\n\
             Connection: close\r\n\
             X-Id: 7\r\n\
             \r\n\
             origin not allowed\n"
        );
    }

    #[test]
    fn statuses_that_are_not_refusals_become_500() {
        for status in [0, 101, 200, 600, 1000] {
            let mut out = Vec::new();
            write_reject_response(&mut out, status, "x", &[]);
            assert!(
                out.starts_with(b"HTTP/1.1 500 Internal Server Error\r\n"),
                "{status}"
            );
        }
    }

    #[test]
    fn handshake_errors_carry_their_headers() {
        let mut out = Vec::new();
        write_handshake_error(&mut out, &HandshakeError::UnsupportedVersion);
        let text426 = text(&out).to_owned();
        assert!(text426.starts_with("HTTP/1.1 426 Upgrade Required\r\n"));
        assert!(text426.contains("\r\nSec-WebSocket-Version: 13\r\n"));
        assert!(text426.contains("\r\nUpgrade: websocket\r\n"));
        assert!(text426.contains("\r\nConnection: Upgrade, close\r\n"));
        out.clear();
        write_handshake_error(&mut out, &HandshakeError::MethodNotAllowed);
        assert!(text(&out).starts_with("HTTP/1.1 405 Method Not Allowed\r\n"));
        assert!(text(&out).contains("\r\nAllow: GET\r\n"));
        out.clear();
        write_handshake_error(&mut out, &HandshakeError::TooLarge);
        assert!(text(&out).starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
        assert!(text(&out).ends_with("\r\n\r\nrequest head too large\n"));
    }
}
