//! Every limit and knob of a connection, in one struct with documented defaults. What a
//! server needs beyond its connections (threads, a mailbox, a connection count) is the
//! runtime's `ServerConfig`, which holds one of these.
//!
//! Each limit is checked **before** the memory it guards is allocated: the frame length when
//! the header is parsed, the message size while reassembling, the handshake size while
//! buffering (see [RFC 6455 §10.4](https://www.rfc-editor.org/rfc/rfc6455#section-10.4):
//! "implementations SHOULD impose implementation-specific limits on frame sizes and the total
//! message size").

use std::time::Duration;

/// What to do with a peer that reads slower than we send: decided by
/// [`Sender::make_room`](crate::protocol::Sender::make_room) for every runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SlowConsumer {
    /// Queue a Close frame with 1008 (policy violation) and stop sending it messages; cut the
    /// connection if it does not drain within [`Config::close_timeout`].
    #[default]
    Close,
    /// Drop the messages that find its queue full (counted in the server's statistics).
    /// A message sent fragment by fragment cannot be dropped in part: a fragment that finds
    /// the queue full closes the connection as [`SlowConsumer::Close`] does.
    DropMessages,
}

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

/// The limits and options of one connection, for either role and any runtime.
///
/// Memory costs below are per connection and are only paid while a message or handshake is
/// in flight: an idle open connection holds no buffer. A [`Connection`](crate::protocol::Connection)
/// shares its `Config` (an `Arc`) with the other connections made with it.
///
/// The timeouts are decided by the connection itself
/// ([`Connection::handle_timeout`](crate::protocol::Connection::handle_timeout)), in whole
/// milliseconds; a timeout longer than 12 days counts as 12 days.
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
    /// Default: 131 072. The Autobahn testsuite (9.3.1) sends 4 MiB in 64-byte fragments
    /// followed by an empty final one: 65 537 frames. Memory: none (fragments are appended
    /// to one buffer); an endless stream of empty frames is cut after 131 072 × 2 bytes.
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

    /// Time a new connection has to complete its opening handshake (slowloris guard): the
    /// runtime's, since the handshake comes before the [`Connection`](crate::protocol::Connection).
    /// Default: 10 s.
    pub handshake_timeout: Duration,
    /// Send a Ping after this long without receiving anything, to find dead peers (RFC 6455
    /// §5.5.2 keepalive), in both roles. `None` sends none. Default: 30 s.
    pub ping_interval: Option<Duration>,
    /// After our keepalive Ping, the peer must send something (a Pong, usually) within this
    /// long, or the connection is given up as dead
    /// ([`State::TimedOut`](crate::protocol::State::TimedOut)). Default: 10 s.
    pub pong_timeout: Duration,
    /// Close (1001) a connection that received no message for this long, even if it answers
    /// Pings. `None`: no limit (the default).
    pub idle_timeout: Option<Duration>,
    /// After our Close frame (or a failure), wait this long for the peer's Close and for our
    /// last frames to be written, then give up (RFC 6455 §7.1.1). Default: 5 s.
    pub close_timeout: Duration,
    /// Bytes queued for one peer beyond which it is a slow consumer: a send that finds more
    /// than this queued first writes what the socket takes, and only if more than this is
    /// still queued applies [`Config::slow_consumer`] (a single message larger than this
    /// still goes). So a peer is judged by what it failed to drain, and a burst of messages
    /// within one tick does not close a reader that keeps up. Default: 4 MiB. Memory: bounds
    /// each connection's output queue to this plus one message.
    pub max_outbound_queue: usize,
    /// What to do with a slow consumer. Default: [`SlowConsumer::Close`] (1008).
    pub slow_consumer: SlowConsumer,
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
/// Measured with a counting allocator (`cargo bench --bench deflate_memory`, zlib-rs
/// backend): the heap a connection holds with deflate minus what it holds without, after one
/// message each way. The compression level does not change it (levels 1, 6 and 9 measure
/// the same); zlib-rs's inflate state does not shrink with the window.
///
/// | window bits | compressor | decompressor | both (context takeover on both sides) |
/// | ---: | ---: | ---: | ---: |
/// | 8 (sent as stored blocks, zlib window 9) | 245.5 KiB | 46.6 KiB | 292 KiB |
/// | 9  | 245.5 KiB | 46.6 KiB | 292 KiB |
/// | 10 | 247.5 KiB | 46.6 KiB | 294 KiB |
/// | 11 | 251.5 KiB | 46.6 KiB | 298 KiB |
/// | 12 | 259.5 KiB | 46.6 KiB | 306 KiB |
/// | 13 | 275.5 KiB | 46.6 KiB | 322 KiB |
/// | 14 | 307.5 KiB | 46.6 KiB | 354 KiB |
/// | 15 | 371.5 KiB | 46.6 KiB | 418 KiB |
///
/// With context takeover a side's state lives as long as the connection: a server keeping
/// it on both sides at 15 bits pays about 418 KiB per connection (4 GiB for 10 000
/// connections). A side with *no context takeover* needs its state only while one message is
/// compressed or inflated; states then come from a per-thread pool, so an idle connection
/// holds none (measured: 0.0 KiB per idle connection) and a worker thread holds one state per
/// window and level its connections use at the same time (at most 32 kept).
/// `server_no_context_takeover` and `client_no_context_takeover` (the default here) trade
/// that memory for compression ratio and speed on small messages that repeat earlier ones:
/// on 1000 chat messages of 110–263 bytes, level 6, 15-bit windows, the bytes on the wire
/// are 27 % of those without deflate with context takeover and 81 % without
/// (`cargo bench --bench deflate` prints the full ratio table and the throughputs).
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
    /// zlib and zlib-rs cannot compress raw DEFLATE with an 8-bit window (they need 9); when
    /// 8 is agreed, messages are sent as DEFLATE stored blocks (zlib window 9, level 0), which
    /// refer to no earlier data and so fit any window, but are not compressed. Peers built on
    /// zlib may fail the same way when asked for 8 (Python's zlib refuses it), so prefer 9.
    pub server_max_window_bits: u8,
    /// Largest LZ77 window (8–15) the client compresses with (RFC 7692 §7.1.2.2). A server
    /// can only lower it when the client's offer carries `client_max_window_bits`. Default: 15.
    ///
    /// 8 works with our own compressor (stored blocks, as for
    /// [`server_max_window_bits`](Self::server_max_window_bits)), but a client on zlib may
    /// fail when a server answers 8; prefer 9.
    pub client_max_window_bits: u8,
    /// zlib compression level, 0 (store) to 9 (smallest). Default: 6, zlib's own default.
    ///
    /// Measured on chat messages (`cargo bench --bench deflate`, window 15, context takeover,
    /// one core): level 1 compresses at about 180 MiB/s to 33 % of the size, level 6 at about
    /// 19 MiB/s to 27 %. The level does not change the memory.
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

impl Config {
    /// The shortest of the timeouts that are set: what a runtime checking its connections'
    /// deadlines periodically must check often enough for.
    pub fn shortest_timeout(&self) -> Duration {
        [self.ping_interval, self.idle_timeout]
            .into_iter()
            .flatten()
            .fold(
                self.handshake_timeout
                    .min(self.close_timeout)
                    .min(self.pong_timeout),
                Duration::min,
            )
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_frame_size: 16 << 20,
            max_message_size: 16 << 20,
            max_fragments: 131_072,
            message_delivery: MessageDelivery::Whole,
            max_handshake_size: 16 << 10,
            max_headers: 64,
            deflate: None,
            handshake_timeout: Duration::from_secs(10),
            ping_interval: Some(Duration::from_secs(30)),
            pong_timeout: Duration::from_secs(10),
            idle_timeout: None,
            close_timeout: Duration::from_secs(5),
            max_outbound_queue: 4 << 20,
            slow_consumer: SlowConsumer::Close,
        }
    }
}
