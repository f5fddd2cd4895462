//! The opening handshake, both roles: the HTTP/1.1 upgrade that turns a connection into a
//! WebSocket, as bytes in and bytes out.
//!
//! Implements [RFC 6455 §1.3](https://www.rfc-editor.org/rfc/rfc6455#section-1.3) (the
//! accept key), [RFC 6455 §4.1](https://www.rfc-editor.org/rfc/rfc6455#section-4.1) (the
//! client: [`ClientRequest`], [`ClientHandshake::parse_response`]),
//! [RFC 6455 §4.2.1](https://www.rfc-editor.org/rfc/rfc6455#section-4.2.1) (reading the
//! client's handshake: [`Request::parse`], [`validate_request`]),
//! [RFC 6455 §4.2.2](https://www.rfc-editor.org/rfc/rfc6455#section-4.2.2) (the server's
//! answer: [`select_subprotocol`], [`write_accept_response`]),
//! [RFC 6455 §4.4](https://www.rfc-editor.org/rfc/rfc6455#section-4.4) (refusing another
//! version: [`write_handshake_error`]) and
//! [RFC 6455 §9.1](https://www.rfc-editor.org/rfc/rfc6455#section-9.1) (the extension
//! header grammar: [`parse_extensions`]).
//!
//! Nothing here reads a socket, a clock or a random source: the runtime feeds the bytes it
//! has read (parsers return `Ok(None)` until the head is complete, and the head's length so
//! that the bytes after it go to the connection), writes the bytes these functions append,
//! and passes in the client key's 16 random bytes. Heads are bounded by
//! [`Config::max_handshake_size`](crate::Config::max_handshake_size) and
//! [`Config::max_headers`](crate::Config::max_headers) before anything is allocated.
//!
//! # Values from the application
//!
//! The writers take header values from the application (host, origin, subprotocol, extra
//! headers …) and never let one break out of its field:
//! - control characters (CR, LF, NUL, every other byte below 0x20 except HTAB, and DEL) are
//!   **stripped** from values, then leading and trailing whitespace is trimmed;
//! - an extra header whose name is not a `token` is **skipped**, and so is one named like a
//!   field the writer sets itself or a framing field (`Content-Length`,
//!   `Transfer-Encoding`);
//! - an optional field that is empty once cleaned is left out (for the WebSocket fields "the
//!   empty string is not the same as the null value");
//! - the client leaves out subprotocols that are not tokens or are repeated, and an
//!   extension offer that does not parse, and percent-encodes request-target bytes that may
//!   not appear in a request line.
//!
//! # Example
//!
//! A server, in outline:
//!
//! ```
//! use fullduplex::protocol::handshake::{
//!     select_subprotocol, validate_request, write_accept_response, write_handshake_error,
//!     Request,
//! };
//! use fullduplex::Config;
//!
//! let received = b"GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
//!     Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
//!     Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Version: 13\r\n\r\n";
//! let mut out = Vec::new();
//! if let Some((request, head_len)) = Request::parse(received, &Config::default())? {
//!     match validate_request(&request) {
//!         Ok(offer) => {
//!             let subprotocol = select_subprotocol(&["chat"], &offer.subprotocols);
//!             write_accept_response(&mut out, &offer.key, subprotocol, None, &[]);
//!             // received[head_len..] goes to the WebSocket connection.
//!             assert_eq!(head_len, received.len());
//!         }
//!         Err(error) => write_handshake_error(&mut out, &error),
//!     }
//! }
//! assert!(out.starts_with(b"HTTP/1.1 101 Switching Protocols\r\n"));
//! # Ok::<(), fullduplex::HandshakeError>(())
//! ```

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use sha1::{Digest, Sha1};

mod client;
mod extensions;
mod head;
mod http;
mod request;
mod response;
mod server;
mod upgrade;
mod write;

pub use client::{Accepted, ClientHandshake, ClientRequest, ResponseHead};
pub use extensions::{parse_extension_headers, parse_extensions, Extension, ExtensionParam};
pub use head::Header;
pub use http::{reason_phrase, HttpResponse};
pub use request::Request;
pub use response::{write_accept_response, write_handshake_error, write_reject_response};
pub use server::{select_subprotocol, validate_request, ClientOffer};
pub use upgrade::Upgrade;

/// The GUID appended to the client's key before hashing it.
///
/// RFC 6455 §1.3: the server concatenates the key "with the Globally Unique Identifier (GUID,
/// \[RFC4122\]) "258EAFA5-E914-47DA-95CA-C5AB0DC85B11" in string form, which is unlikely to be
/// used by network endpoints that do not understand the WebSocket Protocol."
pub const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The `Sec-WebSocket-Accept` value answering the `Sec-WebSocket-Key` value `key`:
/// base64(SHA-1(`key` + [`GUID`])).
///
/// RFC 6455 §4.2.2: the value "is constructed by concatenating /key/ [...] with the string
/// "258EAFA5-E914-47DA-95CA-C5AB0DC85B11", taking the SHA-1 hash of this concatenated value
/// to obtain a 20-byte value and base64-encoding [...] this 20-byte hash." `key` is the
/// base64 text as sent, not the 16 bytes it decodes to.
pub fn accept_key(key: &[u8]) -> String {
    let mut sha1 = Sha1::new();
    sha1.update(key);
    sha1.update(GUID.as_bytes());
    STANDARD.encode(sha1.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_key_matches_rfc6455_section_1_3() {
        assert_eq!(
            accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn accept_key_matches_the_rfc6455_section_4_2_2_hash() {
        let hash = [
            0xb3, 0x7a, 0x4f, 0x2c, 0xc0, 0x62, 0x4f, 0x16, 0x90, 0xf6, 0x46, 0x06, 0xcf, 0x38,
            0x59, 0x45, 0xb2, 0xbe, 0xc4, 0xea,
        ];
        assert_eq!(
            accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
            STANDARD.encode(hash)
        );
    }
}
