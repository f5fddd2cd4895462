//! The server's side of the opening handshake: deciding whether a request is a valid
//! WebSocket handshake, and choosing among what the client offered.
//!
//! Implements [RFC 6455 §4.2.1](https://www.rfc-editor.org/rfc/rfc6455#section-4.2.1) (the
//! checks, in the RFC's order) and the /subprotocol/ choice of
//! [RFC 6455 §4.2.2](https://www.rfc-editor.org/rfc/rfc6455#section-4.2.2). The response
//! itself is written by [`write_accept_response`](super::write_accept_response) or
//! [`write_handshake_error`](super::write_handshake_error).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use super::extensions::{parse_extension_headers, Extension};
use super::head::{self, Single};
use super::request::Request;
use crate::error::HandshakeError;

/// What a valid client handshake asks for: the key to answer and the subprotocols and
/// extensions it offers, each in the client's order of preference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientOffer {
    /// The `Sec-WebSocket-Key` value as sent (without surrounding whitespace): pass it to
    /// [`write_accept_response`](super::write_accept_response).
    pub key: String,
    /// The offered subprotocols, from every `Sec-WebSocket-Protocol` header, in order.
    pub subprotocols: Vec<String>,
    /// The offered extensions, from every `Sec-WebSocket-Extensions` header, in order. Their
    /// parameters are not checked here: that is each extension's business.
    pub extensions: Vec<Extension>,
}

/// Checks that `request` is a WebSocket opening handshake (RFC 6455 §4.2.1) and returns what
/// it offers.
///
/// The checks run in the RFC's order, so the first rule broken decides the error: method
/// (405), HTTP version (505), `Host`, `Upgrade`, `Connection`, `Sec-WebSocket-Key` (400),
/// `Sec-WebSocket-Version` (426), then the grammar of `Sec-WebSocket-Protocol` and
/// `Sec-WebSocket-Extensions` (400). Answer an error with
/// [`write_handshake_error`](super::write_handshake_error). The resource name, `Origin`,
/// cookies and authentication are the application's to judge.
pub fn validate_request(request: &Request) -> Result<ClientOffer, HandshakeError> {
    // RFC 6455 §4.2.1: "the server MUST stop processing the client's handshake and return an HTTP response with an appropriate error code (such as 400 Bad Request)."
    // RFC 6455 §4.2.1: "An HTTP/1.1 or higher GET request, including a "Request-URI" [RFC2616]"
    // RFC 7230 §3.1.1: "The request method is case-sensitive."
    if request.method() != "GET" {
        return Err(HandshakeError::MethodNotAllowed);
    }
    if request.minor_version() < 1 {
        return Err(HandshakeError::HttpVersion);
    }
    check_host(request)?;
    // RFC 6455 §4.2.1: "An |Upgrade| header field containing the value "websocket", treated as an ASCII case-insensitive value."
    if !request.is_websocket_upgrade() {
        return Err(HandshakeError::MissingUpgrade);
    }
    // RFC 6455 §4.2.1: "A |Connection| header field that includes the token "Upgrade", treated as an ASCII case-insensitive value."
    if !head::has_token(request.headers(), head::CONNECTION, "upgrade") {
        return Err(HandshakeError::MissingConnectionUpgrade);
    }
    let key = client_key(request)?;
    check_version(request)?;
    let subprotocols = offered_subprotocols(request)?;
    // RFC 6455 §4.2.1: "Optionally, a |Sec-WebSocket-Extensions| header field, with a list of values indicating which extensions the client would like to speak."
    let extensions = parse_extension_headers(request.headers_all(head::SEC_EXTENSIONS))?;
    Ok(ClientOffer {
        key,
        subprotocols,
        extensions,
    })
}

/// Exactly one non-empty `Host` header.
fn check_host(request: &Request) -> Result<(), HandshakeError> {
    // RFC 6455 §4.2.1: "A |Host| header field containing the server's authority."
    match head::single(request.headers(), head::HOST) {
        Single::One(host) if !host.is_empty() => Ok(()),
        Single::One(_) | Single::Missing => Err(HandshakeError::MissingHost),
        // RFC 7230 §5.4: "A server MUST respond with a 400 (Bad Request) status code to any HTTP/1.1 request message that lacks a Host header field and to any request message that contains more than one Host header field"
        Single::Repeated => Err(HandshakeError::InvalidHeader("more than one Host header")),
    }
}

/// Exactly one `Sec-WebSocket-Key`, the base64 of 16 bytes.
fn client_key(request: &Request) -> Result<String, HandshakeError> {
    // RFC 6455 §11.3.1: "The |Sec-WebSocket-Key| header field MUST NOT appear more than once in an HTTP request."
    let Single::One(key) = head::single(request.headers(), head::SEC_KEY) else {
        return Err(HandshakeError::InvalidKey);
    };
    // RFC 6455 §4.2.1: "A |Sec-WebSocket-Key| header field with a base64-encoded (see Section 4 of [RFC4648]) value that, when decoded, is 16 bytes in length."
    // 16 bytes are 24 base64 characters, the last two `=`: anything longer is refused
    // before decoding, and decoding into an 18-byte buffer allocates nothing.
    let mut decoded = [0u8; 18];
    if key.len() == 24 && matches!(STANDARD.decode_slice(key, &mut decoded), Ok(16)) {
        Ok(head::token_string(key))
    } else {
        Err(HandshakeError::InvalidKey)
    }
}

/// Exactly one `Sec-WebSocket-Version: 13`.
fn check_version(request: &Request) -> Result<(), HandshakeError> {
    // RFC 6455 §4.2.1: "A |Sec-WebSocket-Version| header field, with a value of 13."
    // RFC 6455 §11.3.5: "the |Sec-WebSocket-Version| header field MUST NOT appear more than once in an HTTP request."
    match head::single(request.headers(), head::SEC_VERSION) {
        Single::One(b"13") => Ok(()),
        _ => Err(HandshakeError::UnsupportedVersion),
    }
}

/// The tokens of every `Sec-WebSocket-Protocol` header, in order.
fn offered_subprotocols(request: &Request) -> Result<Vec<String>, HandshakeError> {
    const NOT_TOKENS: HandshakeError =
        HandshakeError::InvalidHeader("Sec-WebSocket-Protocol must be a list of tokens");
    let mut present = false;
    let mut subprotocols = Vec::new();
    for value in request.headers_all(head::SEC_PROTOCOL) {
        present = true;
        for element in head::list_elements(value) {
            // RFC 6455 §4.1: "The ABNF for the value of this header field is 1#token"
            if !head::is_token(element) {
                return Err(NOT_TOKENS);
            }
            subprotocols.push(head::token_string(element));
        }
    }
    if present && subprotocols.is_empty() {
        return Err(NOT_TOKENS);
    }
    Ok(subprotocols)
}

/// Chooses the subprotocol to answer with: the first of `server_preference` that the client
/// offered, compared exactly (the client checks the answer against what it sent).
///
/// RFC 6455 §4.2.2: the value is chosen "by selecting one of the values from the
/// |Sec-WebSocket-Protocol| field that the server is willing to use for this connection (if
/// any)". The server's order wins over the client's. `None` means: send no
/// `Sec-WebSocket-Protocol` header at all.
pub fn select_subprotocol<'a>(
    server_preference: &[&'a str],
    offered: &[String],
) -> Option<&'a str> {
    server_preference
        .iter()
        .copied()
        .find(|candidate| offered.iter().any(|offer| offer == candidate))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    const VALID: &str = "GET /chat HTTP/1.1\r\n\
        Host: server.example.com\r\n\
        Upgrade: websocket\r\n\
        Connection: Upgrade\r\n\
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Sec-WebSocket-Version: 13\r\n\
        \r\n";

    /// Validates `VALID` with `from` replaced by `to`.
    fn validate_edited(from: &str, to: &str) -> Result<ClientOffer, HandshakeError> {
        assert!(VALID.contains(from), "{from:?}");
        let head = VALID.replacen(from, to, 1);
        let (request, _) = Request::parse(head.as_bytes(), &Config::default())
            .unwrap()
            .unwrap();
        validate_request(&request)
    }

    #[test]
    fn a_minimal_handshake_is_valid() {
        let offer = validate_edited("", "").unwrap();
        assert_eq!(offer.key, "dGhlIHNhbXBsZSBub25jZQ==");
        assert!(offer.subprotocols.is_empty());
        assert!(offer.extensions.is_empty());
    }

    #[test]
    fn each_rule_has_its_error() {
        use HandshakeError::*;
        let key = "dGhlIHNhbXBsZSBub25jZQ==";
        let two_versions = "Version: 13\r\nSec-WebSocket-Version: 13\r\n";
        #[rustfmt::skip]
        let table: [(&str, &str, HandshakeError); 19] = [
            ("GET", "POST", MethodNotAllowed),
            ("GET", "get", MethodNotAllowed),
            ("HTTP/1.1", "HTTP/1.0", HttpVersion),
            ("Host: server.example.com\r\n", "", MissingHost),
            ("Host: server.example.com", "Host: ", MissingHost),
            ("Host: server.example.com\r\n", "Host: a\r\nHost: b\r\n", InvalidHeader("")),
            ("Upgrade: websocket\r\n", "", MissingUpgrade),
            ("Upgrade: websocket", "Upgrade: h2c", MissingUpgrade),
            ("Connection: Upgrade\r\n", "", MissingConnectionUpgrade),
            ("Connection: Upgrade", "Connection: keep-alive", MissingConnectionUpgrade),
            ("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", "", InvalidKey),
            (key, "not base64!", InvalidKey),
            (key, "dGhlIHNhbXBsZSBub25j", InvalidKey),
            (key, "dGhlIHNhbXBsZSBub25jZS4=", InvalidKey),
            (key, "dGhlIHNhbXBsZSBub25jZR==", InvalidKey),
            ("Sec-WebSocket-Version: 13\r\n", "", UnsupportedVersion),
            ("Version: 13", "Version: 8", UnsupportedVersion),
            ("Version: 13", "Version: 013", UnsupportedVersion),
            ("Version: 13\r\n", two_versions, UnsupportedVersion),
        ];
        for (from, to, expected) in table {
            let result = validate_edited(from, to);
            let same = match (&result, &expected) {
                (Err(InvalidHeader(_)), InvalidHeader(_)) => true,
                (Err(got), want) => got == want,
                (Ok(_), _) => false,
            };
            assert!(
                same,
                "{from:?} -> {to:?}: {result:?}, expected {expected:?}"
            );
        }
    }

    #[test]
    fn tokens_match_ignoring_case_and_inside_lists() {
        assert!(validate_edited("Upgrade: websocket", "UPGRADE: WebSocket").is_ok());
        assert!(validate_edited("Upgrade: websocket", "Upgrade: foo, websocket").is_ok());
        assert!(validate_edited("Connection: Upgrade", "Connection: keep-alive, Upgrade").is_ok());
        assert!(validate_edited("Connection: Upgrade", "connection: UPGRADE").is_ok());
        let split = "Connection: keep-alive\r\nConnection: upgrade";
        assert!(validate_edited("Connection: Upgrade", split).is_ok());
        let glued = validate_edited("Connection: Upgrade", "Connection: keep-alive Upgrade");
        assert_eq!(glued, Err(HandshakeError::MissingConnectionUpgrade));
    }

    #[test]
    fn two_keys_are_refused() {
        let twice = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n".repeat(2);
        let once = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
        assert_eq!(
            validate_edited(once, &twice),
            Err(HandshakeError::InvalidKey)
        );
    }

    #[test]
    fn subprotocols_come_from_every_header_in_order() {
        let headers = "Version: 13\r\nSec-WebSocket-Protocol: chat, , superchat\r\n\
            sec-websocket-protocol: v2.json";
        let offer = validate_edited("Version: 13", headers).unwrap();
        assert_eq!(offer.subprotocols, ["chat", "superchat", "v2.json"]);
        for bad in ["a b", "", " , ", "chat, \"x\"", "é"] {
            let headers = format!("Version: 13\r\nSec-WebSocket-Protocol: {bad}");
            let result = validate_edited("Version: 13", &headers);
            assert!(
                matches!(result, Err(HandshakeError::InvalidHeader(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn extensions_are_parsed_but_not_judged() {
        let headers = "Version: 13\r\nSec-WebSocket-Extensions: permessage-deflate; \
            client_max_window_bits\r\nSec-WebSocket-Extensions: x-unknown; p=\"1\"";
        let offer = validate_edited("Version: 13", headers).unwrap();
        let names: Vec<&str> = offer.extensions.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["permessage-deflate", "x-unknown"]);
        let bad = "Version: 13\r\nSec-WebSocket-Extensions: permessage-deflate;";
        let result = validate_edited("Version: 13", bad);
        assert!(matches!(result, Err(HandshakeError::InvalidHeader(_))));
    }

    #[test]
    fn the_servers_preference_wins() {
        let offered = ["superchat".to_string(), "chat".to_string()];
        assert_eq!(
            select_subprotocol(&["chat", "superchat"], &offered),
            Some("chat")
        );
        assert_eq!(
            select_subprotocol(&["superchat", "chat"], &offered),
            Some("superchat")
        );
        assert_eq!(
            select_subprotocol(&["mqtt", "chat"], &offered),
            Some("chat")
        );
        assert_eq!(select_subprotocol(&["mqtt"], &offered), None);
        assert_eq!(select_subprotocol(&["CHAT"], &offered), None);
        assert_eq!(select_subprotocol(&[], &offered), None);
        assert_eq!(select_subprotocol(&["chat"], &[]), None);
    }
}
