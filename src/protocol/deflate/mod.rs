//! permessage-deflate: negotiation of its parameters and compression of messages.
//!
//! Implements [RFC 7692](https://www.rfc-editor.org/rfc/rfc7692): the extension negotiation
//! of [RFC 7692 §5](https://www.rfc-editor.org/rfc/rfc7692#section-5) and
//! [RFC 7692 §7.1](https://www.rfc-editor.org/rfc/rfc7692#section-7.1) (every parameter,
//! several offers), and the compression of
//! [RFC 7692 §6](https://www.rfc-editor.org/rfc/rfc7692#section-6) and
//! [RFC 7692 §7.2](https://www.rfc-editor.org/rfc/rfc7692#section-7.2) (RSV1 on a message's
//! first frame, the `00 00 ff ff` tail removed and restored, context takeover on or off for
//! each side, windows of 8 to 15 bits: zlib cannot deflate with 8, so an agreed 8 is sent as
//! stored blocks and inflated with 9).

pub(crate) mod codec;
mod negotiate;
mod pool;

/// The decompressor alone, for the fuzzers and benchmarks (not a stable API).
#[cfg(feature = "bench-hooks")]
pub use codec::{CorruptData, Decompressor};
pub use negotiate::{client_accept, client_offer, negotiate_server, EXTENSION_NAME};

/// The permessage-deflate parameters both ends agreed on (RFC 7692 §7.1), as the server's
/// response names them. A window absent from the response is 15.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DeflateParams {
    /// The server resets its compressor after each message.
    pub server_no_context_takeover: bool,
    /// The client resets its compressor after each message.
    pub client_no_context_takeover: bool,
    /// The server compresses with a window of at most 2^this bytes (8–15).
    pub server_max_window_bits: u8,
    /// The client compresses with a window of at most 2^this bytes (8–15).
    pub client_max_window_bits: u8,
}

impl Default for DeflateParams {
    /// The parameters of a bare `permessage-deflate` response: context kept, 15-bit windows.
    fn default() -> Self {
        Self {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
        }
    }
}

/// One direction's compression: its window and whether context is kept across messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Direction {
    pub(crate) window_bits: u8,
    pub(crate) context_takeover: bool,
}

impl DeflateParams {
    /// The direction `role` sends in (its compressor) and the one it receives in.
    pub(crate) fn directions(&self, role: crate::protocol::Role) -> (Direction, Direction) {
        let server = Direction {
            window_bits: self.server_max_window_bits,
            context_takeover: !self.server_no_context_takeover,
        };
        let client = Direction {
            window_bits: self.client_max_window_bits,
            context_takeover: !self.client_no_context_takeover,
        };
        match role {
            crate::protocol::Role::Server => (server, client),
            crate::protocol::Role::Client => (client, server),
        }
    }
}
