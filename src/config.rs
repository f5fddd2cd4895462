//! Every limit and knob of a connection, in one struct with documented defaults.
//!
//! Each limit is checked **before** the memory it guards is allocated: the frame length when
//! the header is parsed, the message size while reassembling, the handshake size while
//! buffering (see [RFC 6455 §10.4](https://www.rfc-editor.org/rfc/rfc6455#section-10.4):
//! "implementations SHOULD impose implementation-specific limits on frame sizes and the total
//! message size").

/// How received data messages reach the application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MessageDelivery {
    /// Reassemble each message and deliver it whole as
    /// [`Event::Message`](crate::protocol::Event::Message). Memory per message is bounded by
    /// [`Config::max_message_size`].
    #[default]
    Whole,
    /// Deliver payload as it arrives, frame by frame and within a frame, as
    /// [`Event::Chunk`](crate::protocol::Event::Chunk): nothing is buffered beyond what one
    /// read brings, so messages of any size stream through in bounded memory. Text is still
    /// validated as UTF-8 across chunks (a chunk may end inside a character).
    Streamed,
}

/// The limits and options of the protocol core.
///
/// Memory costs below are per connection and are only paid while a message or handshake is
/// in flight: an idle open connection holds no buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Largest payload of a single frame, checked at header parse, before any of the payload
    /// is buffered. A larger frame fails the connection with 1009.
    ///
    /// Default: 16 MiB. Memory: in [`MessageDelivery::Whole`] mode a frame is buffered whole
    /// (so it can be delivered without a copy), so this bounds the read buffer.
    pub max_frame_size: usize,
    /// Largest message, counted over all its fragments (after inflation with
    /// permessage-deflate). A larger message fails the connection with 1009 as soon as the
    /// limit is crossed.
    ///
    /// Default: 16 MiB, enough for the Autobahn testsuite's largest cases. Memory: a
    /// fragmented or compressed message is reassembled in a buffer of at most this size.
    pub max_message_size: usize,
    /// Most fragments (frames) one message may be split into; more fail with 1009. Bounds the
    /// work spent on a message that never ends (e.g. endless empty continuation frames).
    ///
    /// Default: 65 536 (the Autobahn testsuite sends 4 MiB in 64-byte fragments). Memory:
    /// none.
    pub max_fragments: usize,
    /// Whole messages or streamed chunks. Default: [`MessageDelivery::Whole`].
    pub message_delivery: MessageDelivery,
    /// Largest opening handshake head (request or response, up to its `\r\n\r\n`). A larger
    /// one is refused with 431.
    ///
    /// Default: 16 KiB, room for browsers' cookies. Memory: the handshake buffer, freed once
    /// the connection is open.
    pub max_handshake_size: usize,
    /// Most header fields in a handshake head; more are refused with 431.
    ///
    /// Default: 64 (browsers send about 15). Memory: parsing uses a stack array of this size
    /// up to 128, a heap one above.
    pub max_headers: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_frame_size: 16 << 20,
            max_message_size: 16 << 20,
            max_fragments: 65_536,
            message_delivery: MessageDelivery::Whole,
            max_handshake_size: 16 << 10,
            max_headers: 64,
        }
    }
}
