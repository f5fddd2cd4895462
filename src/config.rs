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
    /// permessage-deflate (RFC 7692): `None` (the default) neither offers nor accepts it.
    ///
    /// Off by default, as in the other servers of the field: compression costs CPU and, with
    /// context takeover, memory (see [`DeflateConfig`] for the table).
    pub deflate: Option<DeflateConfig>,
}

/// What we offer or accept of permessage-deflate (RFC 7692 §7.1), and how we compress.
///
/// The four negotiation fields name the RFC's parameters and mean "the agreed parameters
/// should include this": a client puts them in its offer, a server puts them in its response
/// (a server may always ask for either `*_no_context_takeover` and may lower either window;
/// it honours what the client's offer demands, or declines that offer).
///
/// # Memory per connection
///
/// Measured with a counting allocator (`cargo bench --bench deflate`, zlib-rs backend, level 6).
/// A side with *no context takeover* needs its state only while one message is compressed or
/// inflated; such states come from a per-thread pool, so an idle connection holds none.
/// With context takeover the state lives as long as the connection.
///
/// | window bits | compressor | decompressor |
/// | ---: | ---: | ---: |
/// | 9  | 137 KiB | 7.5 KiB |
/// | 12 | 151 KiB | 11 KiB |
/// | 15 | 263 KiB | 39 KiB |
///
/// So a server that keeps context takeover on both sides pays about 300 KiB per connection
/// (3 GiB for 10 000 connections); with `server_no_context_takeover` and
/// `client_no_context_takeover` (the default here) it pays nothing while idle, at some cost in
/// compression ratio for small messages that repeat earlier ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeflateConfig {
    /// The server resets its compressor after each message (RFC 7692 §7.1.1.1).
    /// Default: `true` (no per-connection compressor memory on a server).
    pub server_no_context_takeover: bool,
    /// The client resets its compressor after each message (RFC 7692 §7.1.1.2).
    /// Default: `true` (no per-connection decompressor memory on a server).
    pub client_no_context_takeover: bool,
    /// Largest LZ77 window, as a power of two (8–15), the server compresses with
    /// (RFC 7692 §7.1.2.1). Default: 15.
    ///
    /// zlib cannot compress with an 8-bit window; when 8 is agreed, messages are sent as
    /// DEFLATE stored blocks, which refer to no earlier data and so fit any window.
    pub server_max_window_bits: u8,
    /// Largest LZ77 window (8–15) the client compresses with (RFC 7692 §7.1.2.2). A server
    /// can only lower it when the client's offer carries `client_max_window_bits`. Default: 15.
    pub client_max_window_bits: u8,
    /// zlib compression level, 0 (store) to 9 (smallest). Default: 6, zlib's own default.
    pub level: u32,
    /// Messages shorter than this are sent uncompressed (RSV1 clear), which RFC 7692 §6 allows;
    /// compressing a few bytes costs more than it saves. Default: 64 bytes.
    pub min_message_size: usize,
}

impl Default for DeflateConfig {
    fn default() -> Self {
        Self {
            server_no_context_takeover: true,
            client_no_context_takeover: true,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
            level: 6,
            min_message_size: 64,
        }
    }
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
            deflate: None,
        }
    }
}
