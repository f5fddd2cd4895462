//! The client's side of the opening handshake: writing the upgrade request, then checking
//! the server's response against it.
//!
//! Implements [RFC 6455 §4.1](https://www.rfc-editor.org/rfc/rfc6455#section-4.1): the
//! request's required and optional fields, and the client's checks 1–6 of the response. The
//! 16 random bytes of the key come from the caller (this module draws no randomness).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use super::accept_key;
use super::extensions::{parse_extension_headers, parse_extensions, Extension};
use super::head::{self, Header, Single};
use super::head::{CONNECTION, HOST, ORIGIN, SEC_EXTENSIONS, SEC_KEY, SEC_PROTOCOL};
use super::head::{SEC_VERSION, UPGRADE};
use super::write::{write_extra_headers, write_header, write_optional_header};
use crate::config::Config;
use crate::error::HandshakeError;

/// What the client asks for. [`write`](ClientRequest::write) turns it into request bytes.
///
/// Values are cleaned as [the module docs](super#values-from-the-application) say: control
/// characters are stripped, extra headers with an invalid or reserved name skipped, and
/// subprotocols that are not tokens or are repeated, and an `extensions` value that does not
/// parse, are left out of the request, since no valid handshake could carry them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientRequest<'a> {
    /// The `Host` value: the host, with `:port` when the port is not the scheme's default.
    pub host: &'a str,
    /// The request target: path and query, e.g. `/chat?room=1`; empty means `/`.
    pub target: &'a str,
    /// The 16 random bytes of `Sec-WebSocket-Key`, fresh for each connection.
    pub key: [u8; 16],
    /// The subprotocols to offer, most preferred first.
    pub subprotocols: &'a [&'a str],
    /// The `Sec-WebSocket-Extensions` offer, built by the caller (e.g. from the
    /// permessage-deflate configuration).
    pub extensions: Option<&'a str>,
    /// The `Origin` to send (browsers must; other clients may).
    pub origin: Option<&'a str>,
    /// More header fields, e.g. `Authorization` or `Cookie`.
    pub extra_headers: &'a [(&'a str, &'a str)],
}

impl ClientRequest<'_> {
    /// Appends the request to `out` and returns what its response must be checked against.
    ///
    /// The fields come in the order of the example of RFC 6455 §1.3: `Host`, `Upgrade`,
    /// `Connection`, `Sec-WebSocket-Key`, `Origin`, `Sec-WebSocket-Protocol`,
    /// `Sec-WebSocket-Extensions`, `Sec-WebSocket-Version`, then the extra headers.
    pub fn write(&self, out: &mut Vec<u8>) -> ClientHandshake {
        // RFC 6455 §4.1: "The method of the request MUST be GET, and the HTTP version MUST be at least 1.1."
        out.extend_from_slice(b"GET ");
        write_target(out, self.target);
        out.extend_from_slice(b" HTTP/1.1\r\n");
        // RFC 6455 §4.1: "The request MUST contain a |Host| header field whose value contains /host/ plus optionally ":" followed by /port/ (when not using the default port)."
        write_header(out, HOST, self.host.as_bytes());
        // RFC 6455 §4.1: "The request MUST contain an |Upgrade| header field whose value MUST include the "websocket" keyword."
        write_header(out, UPGRADE, b"websocket");
        // RFC 6455 §4.1: "The request MUST contain a |Connection| header field whose value MUST include the "Upgrade" token."
        write_header(out, CONNECTION, b"Upgrade");
        // RFC 6455 §4.1: "The value of this header field MUST be a nonce consisting of a randomly selected 16-byte value that has been base64-encoded"
        let key = STANDARD.encode(self.key);
        write_header(out, SEC_KEY, key.as_bytes());
        write_optional_header(out, ORIGIN, self.origin);
        let subprotocols = self.offered_subprotocols();
        if !subprotocols.is_empty() {
            write_header(out, SEC_PROTOCOL, subprotocols.join(", ").as_bytes());
        }
        let extensions = self.offered_extensions();
        if !extensions.is_empty() {
            write_optional_header(out, SEC_EXTENSIONS, self.extensions);
        }
        // RFC 6455 §4.1: "The request MUST include a header field with the name |Sec-WebSocket-Version|. The value of this header field MUST be 13."
        write_header(out, SEC_VERSION, b"13");
        let own = [
            HOST,
            UPGRADE,
            CONNECTION,
            SEC_KEY,
            ORIGIN,
            SEC_PROTOCOL,
            SEC_EXTENSIONS,
            SEC_VERSION,
        ];
        write_extra_headers(out, self.extra_headers, &own);
        out.extend_from_slice(b"\r\n");
        ClientHandshake {
            accept: accept_key(key.as_bytes()),
            subprotocols,
            extensions,
        }
    }

    /// The subprotocols worth sending: tokens, each once.
    fn offered_subprotocols(&self) -> Vec<String> {
        let mut offered: Vec<String> = Vec::new();
        for &subprotocol in self.subprotocols {
            // RFC 6455 §4.1: "The elements that comprise this value MUST be non-empty strings with characters in the range U+0021 to U+007E not including separator characters as defined in [RFC2616] and MUST all be unique strings."
            if head::is_token(subprotocol.as_bytes()) && !offered.iter().any(|o| o == subprotocol) {
                offered.push(subprotocol.to_owned());
            }
        }
        offered
    }

    /// The names of the offered extensions, each once (an extension may be offered several
    /// times with different parameters); none when the offer does not parse.
    fn offered_extensions(&self) -> Vec<String> {
        let offer = self
            .extensions
            .map(|value| parse_extensions(value.as_bytes()));
        let mut names: Vec<String> = Vec::new();
        for extension in offer.and_then(Result::ok).unwrap_or_default() {
            if !names
                .iter()
                .any(|name| name.eq_ignore_ascii_case(&extension.name))
            {
                names.push(extension.name);
            }
        }
        names
    }
}

/// Appends the request target: `/` when empty or when it starts with the query, and with
/// every byte that may not appear in a request line percent-encoded.
fn write_target(out: &mut Vec<u8>, target: &str) {
    // RFC 6455 §3: the resource name is made of ""/" if the path component is empty", then the path and query.
    if target.is_empty() || target.starts_with('?') {
        out.push(b'/');
    }
    for &byte in target.as_bytes() {
        // RFC 6455 §3: "the character "#", when not indicating the start of a fragment, MUST be escaped as %23."
        let allowed = byte.is_ascii_alphanumeric() || b"-._~:/?[]@!$&'()*+,;=%".contains(&byte);
        if allowed {
            out.push(byte);
        } else {
            out.extend_from_slice(format!("%{byte:02X}").as_bytes());
        }
    }
}

/// Whether the `Upgrade` headers hold exactly one protocol, `websocket` (ignoring case).
fn upgrades_to_websocket_only(headers: &[Header]) -> bool {
    let mut protocols = head::values(headers, UPGRADE).flat_map(head::list_elements);
    match (protocols.next(), protocols.next()) {
        (Some(protocol), None) => protocol.eq_ignore_ascii_case(b"websocket"),
        _ => false,
    }
}

/// What the client sent that the server's response must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientHandshake {
    accept: String,
    subprotocols: Vec<String>,
    extensions: Vec<String>,
}

/// A response that completes the handshake: the connection is open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The subprotocol the server chose, one of those offered.
    pub subprotocol: Option<String>,
    /// The extensions the server accepted, in the order it listed them (the order they
    /// apply in, RFC 6455 §9.1), each one that was offered. Their parameters are for each
    /// extension to validate.
    pub extensions: Vec<Extension>,
    /// The status code: always 101.
    pub status: u16,
    /// Every header field of the response, in the order received (e.g. `Set-Cookie`).
    pub headers: Vec<Header>,
}

/// A response head as received, before any check: its status and header fields.
///
/// [`ClientHandshake::parse_response`] checks it; a client that gets
/// [`UnexpectedStatus`](HandshakeError::UnexpectedStatus) parses it again with
/// [`ResponseHead::parse`] to read the refusal (its `Content-Length`, and the body after it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    /// The status code.
    pub status: u16,
    /// Every header field, in the order received.
    pub headers: Vec<Header>,
}

impl ResponseHead {
    /// Parses a response head from the start of `buf`, with no check of RFC 6455.
    ///
    /// Incomplete input, limits and the returned head length follow
    /// [`Request::parse`](super::Request::parse): bytes after the head are the body, or the
    /// server's first frames.
    pub fn parse(buf: &[u8], config: &Config) -> Result<Option<(Self, usize)>, HandshakeError> {
        head::parse_bounded(buf, config, |view, headers| {
            let mut response = httparse::Response::new(headers);
            Ok(match response.parse(view)? {
                httparse::Status::Partial => httparse::Status::Partial,
                httparse::Status::Complete(len) => httparse::Status::Complete((
                    len,
                    ResponseHead {
                        status: response.code.unwrap_or_default(),
                        headers: response.headers.iter().map(Header::from_parsed).collect(),
                    },
                )),
            })
        })
    }
}

impl ClientHandshake {
    /// The `Sec-WebSocket-Accept` value the server must answer with.
    pub fn expected_accept(&self) -> &str {
        &self.accept
    }

    /// The subprotocols offered, in order.
    pub fn offered_subprotocols(&self) -> &[String] {
        &self.subprotocols
    }

    /// The names of the extensions offered, each once.
    pub fn offered_extensions(&self) -> &[String] {
        &self.extensions
    }

    /// Parses and checks the server's response head from the start of `buf`.
    ///
    /// Incomplete input, limits and the returned head length follow
    /// [`Request::parse`](super::Request::parse): bytes after the head are the server's first
    /// frames. A complete head is checked as RFC 6455 §4.1 says, in its order: status 101
    /// ([`UnexpectedStatus`](HandshakeError::UnexpectedStatus)), `Upgrade`, `Connection`,
    /// `Sec-WebSocket-Accept`, `Sec-WebSocket-Extensions`, `Sec-WebSocket-Protocol`.
    pub fn parse_response(
        &self,
        buf: &[u8],
        config: &Config,
    ) -> Result<Option<(Accepted, usize)>, HandshakeError> {
        let Some((head, len)) = ResponseHead::parse(buf, config)? else {
            return Ok(None);
        };
        Ok(Some((self.check(head.status, head.headers)?, len)))
    }

    /// The client's checks 1–6 of RFC 6455 §4.1.
    fn check(&self, status: u16, headers: Vec<Header>) -> Result<Accepted, HandshakeError> {
        // RFC 6455 §4.1: "If the status code received from the server is not 101, the client handles the response per HTTP [RFC2616] procedures."
        if status != 101 {
            return Err(HandshakeError::UnexpectedStatus(status));
        }
        // RFC 6455 §4.1: "If the response lacks an |Upgrade| header field or the |Upgrade| header field contains a value that is not an ASCII case-insensitive match for the value "websocket", the client MUST _Fail the WebSocket Connection_."
        if !upgrades_to_websocket_only(&headers) {
            return Err(HandshakeError::MissingUpgrade);
        }
        // RFC 6455 §4.1: "If the response lacks a |Connection| header field or the |Connection| header field doesn't contain a token that is an ASCII case-insensitive match for the value "Upgrade", the client MUST _Fail the WebSocket Connection_."
        if !head::has_token(&headers, CONNECTION, "upgrade") {
            return Err(HandshakeError::MissingConnectionUpgrade);
        }
        // RFC 6455 §4.1: "If the response lacks a |Sec-WebSocket-Accept| header field or the |Sec-WebSocket-Accept| contains a value other than the base64-encoded SHA-1 of [...] the client MUST _Fail the WebSocket Connection_."
        // RFC 6455 §11.3.3: "The |Sec-WebSocket-Accept| header MUST NOT appear more than once in an HTTP response."
        match head::single(&headers, head::SEC_ACCEPT) {
            Single::One(accept) if accept == self.accept.as_bytes() => {}
            _ => return Err(HandshakeError::InvalidAccept),
        }
        let extensions = self.accepted_extensions(&headers)?;
        let subprotocol = self.accepted_subprotocol(&headers)?;
        Ok(Accepted {
            subprotocol,
            extensions,
            status,
            headers,
        })
    }

    /// Check 5: every extension in the response was offered, and none is accepted twice.
    fn accepted_extensions(&self, headers: &[Header]) -> Result<Vec<Extension>, HandshakeError> {
        // RFC 6455 §11.3.2 says the header "MUST NOT appear more than once in an HTTP response",
        // but §4.2.2 lets the server split its extensions "between multiple instances of the
        // |Sec-WebSocket-Extensions| header field": we accept several, read as one list.
        let extensions = parse_extension_headers(head::values(headers, SEC_EXTENSIONS))?;
        for (index, extension) in extensions.iter().enumerate() {
            let same_name = |other: &String| other.eq_ignore_ascii_case(&extension.name);
            // RFC 6455 §4.1: "If the response includes a |Sec-WebSocket-Extensions| header field and this header field indicates the use of an extension that was not present in the client's handshake [...] the client MUST _Fail the WebSocket Connection_."
            let offered = self.extensions.iter().any(same_name);
            // An extension listed twice would be applied twice: no offer asks for that.
            let repeated = extensions[..index]
                .iter()
                .any(|earlier| same_name(&earlier.name));
            if !offered || repeated {
                return Err(HandshakeError::UnofferedExtension);
            }
        }
        Ok(extensions)
    }

    /// Check 6: at most one subprotocol, and one that was offered.
    fn accepted_subprotocol(&self, headers: &[Header]) -> Result<Option<String>, HandshakeError> {
        // RFC 6455 §11.3.4: "the |Sec-WebSocket-Protocol| header field MUST NOT appear more than once in an HTTP response."
        let chosen = match head::single(headers, SEC_PROTOCOL) {
            Single::Missing => return Ok(None),
            Single::One(chosen) => chosen,
            Single::Repeated => return Err(HandshakeError::UnofferedSubprotocol),
        };
        // RFC 6455 §4.1: "If the response includes a |Sec-WebSocket-Protocol| header field and this header field indicates the use of a subprotocol that was not present in the client's handshake [...] the client MUST _Fail the WebSocket Connection_."
        match self
            .subprotocols
            .iter()
            .find(|offered| offered.as_bytes() == chosen)
        {
            Some(offered) => Ok(Some(offered.clone())),
            None => Err(HandshakeError::UnofferedSubprotocol),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(target: &str) -> String {
        let mut out = Vec::new();
        write_target(&mut out, target);
        String::from_utf8(out).unwrap()
    }

    fn request(
        subprotocols: &'static [&'static str],
        extensions: Option<&'static str>,
    ) -> ClientRequest<'static> {
        ClientRequest {
            host: "example.com",
            target: "/",
            key: [0; 16],
            subprotocols,
            extensions,
            origin: None,
            extra_headers: &[],
        }
    }

    #[test]
    fn targets_are_resource_names() {
        assert_eq!(target(""), "/");
        assert_eq!(target("?a=1"), "/?a=1");
        assert_eq!(target("/chat?room=a%20b&x=1"), "/chat?room=a%20b&x=1");
        assert_eq!(target("/a b#c"), "/a%20b%23c");
        assert_eq!(target("/\r\n\"é"), "/%0D%0A%22%C3%A9");
    }

    #[test]
    fn subprotocols_are_tokens_sent_once() {
        let offered = request(&["b", "a", "b", "", "a b", "é"], None).offered_subprotocols();
        assert_eq!(offered, ["b", "a"]);
    }

    #[test]
    fn extension_names_are_recorded_once_and_only_from_a_valid_offer() {
        let twice = Some("permessage-deflate; client_max_window_bits, Permessage-Deflate, x");
        assert_eq!(
            request(&[], twice).offered_extensions(),
            ["permessage-deflate", "x"]
        );
        assert!(request(&[], Some("a;")).offered_extensions().is_empty());
        assert!(request(&[], None).offered_extensions().is_empty());
        let mut out = Vec::new();
        request(&[], Some("a;")).write(&mut out);
        assert!(!String::from_utf8(out).unwrap().contains("Extensions"));
    }

    #[test]
    fn the_key_is_sent_in_base64_and_its_answer_expected() {
        let mut out = Vec::new();
        let handshake = ClientRequest {
            key: *b"the sample nonce",
            ..request(&[], None)
        }
        .write(&mut out);
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"));
        assert_eq!(handshake.expected_accept(), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    #[test]
    fn upgrade_must_be_websocket_alone() {
        let header = |value: &str| Header {
            name: "upgrade".into(),
            value: value.into(),
        };
        assert!(upgrades_to_websocket_only(&[header("WebSocket")]));
        assert!(upgrades_to_websocket_only(&[header(" websocket ,")]));
        assert!(!upgrades_to_websocket_only(&[]));
        assert!(!upgrades_to_websocket_only(&[header("websocket, h2c")]));
        assert!(!upgrades_to_websocket_only(&[
            header("websocket"),
            header("websocket")
        ]));
    }
}
