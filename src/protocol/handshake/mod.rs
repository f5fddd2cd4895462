//! The opening handshake, both roles: the HTTP/1.1 upgrade that turns a connection into a
//! WebSocket, as bytes in and bytes out.
//!
//! Implements [RFC 6455 §1.3](https://www.rfc-editor.org/rfc/rfc6455#section-1.3) (the
//! accept key), [RFC 6455 §4.2](https://www.rfc-editor.org/rfc/rfc6455#section-4.2) (the server)
//! and [RFC 6455 §9.1](https://www.rfc-editor.org/rfc/rfc6455#section-9.1) (the extension
//! header grammar).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use sha1::{Digest, Sha1};

mod extensions;
mod head;
mod request;
mod response;
mod server;
mod write;

pub use extensions::{parse_extension_headers, parse_extensions, Extension, ExtensionParam};
pub use head::Header;
pub use request::Request;
pub use response::{write_accept_response, write_handshake_error, write_reject_response};
pub use server::{select_subprotocol, validate_request, ClientOffer};

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
