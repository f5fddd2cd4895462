//! What a server needs beyond its connections: worker threads, their mailboxes, a connection
//! count, the read buffers. Each connection's own limits, deflate and deadlines are the core's
//! [`Config`], which [`ServerConfig::connection`] holds.

use std::time::Duration;

use crate::config::Config;

/// A server's configuration: its connections' [`Config`] and its own limits.
///
/// A `Config` converts into one with the server's defaults, so `Server::new(config, handler)`
/// takes either.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// Every connection's limits, permessage-deflate, keepalive and deadlines, shared by all
    /// of them. Default: [`Config::default`].
    pub connection: Config,
    /// Most connections a server holds (open, in handshake or closing), counted exactly
    /// across workers; more are answered 503 and closed (a `wss://` server closes them
    /// without a byte: a plaintext 503 inside TLS would be garbage, and a TLS handshake
    /// only to refuse would spend the CPU the limit protects). Default: 100 000. The
    /// process's file descriptor limit must be higher: raise it with `ulimit -n` (e.g.
    /// `ulimit -n 200000`).
    pub max_connections: usize,
    /// Commands (sends, publishes, broadcasts, closes, subscriptions) that other threads may
    /// have waiting for one worker. Default: 65 536. When a worker's mailbox is full, the
    /// [`ServerHandle`](super::ServerHandle) method returns
    /// [`MailboxFull`](super::MailboxFull), a callback's [`Context`](super::Context) drops the
    /// command, and both count it in
    /// [`StatsSnapshot::mailbox_drops`](super::StatsSnapshot::mailbox_drops); a shutdown is
    /// never refused. Memory: about 64 bytes per waiting command, plus its message (one copy
    /// shared by every worker).
    pub max_mailbox: usize,
    /// Worker threads, each with its own event loop; 0 means one per CPU core. Default: 0.
    pub threads: usize,
    /// Bytes read from a socket at a time. Default: 64 KiB. Memory: buffers of this size are
    /// lent to connections while they read and returned to a per-thread pool, so an idle
    /// connection holds none.
    pub read_buffer_size: usize,
    /// Largest body of a plain HTTP request (its `Content-Length`); a larger one is answered
    /// 413 without being read. Default: 64 KiB. Memory: a request's body is held whole until
    /// the application has it ([`HttpRequest::body`](super::HttpRequest::body)), so up to this
    /// per connection sending one.
    pub max_request_body: usize,
    /// Longest a plain HTTP request may wait for a deferred answer
    /// ([`Reply::Later`](super::Reply::Later)); past it the server answers 503 and closes the
    /// connection. Default: 60 s (above the usual long-poll hold of 20 to 30 s, under the
    /// read timeouts of common proxies only if the application answers sooner).
    pub max_deferral: Duration,
    /// The event loop the workers run: mio's (epoll, every platform) or, on Linux with the
    /// `io-uring` feature, io_uring's. Default: [`EventLoop::Mio`].
    pub event_loop: EventLoop,
    /// How many of a connection's outgoing bytes the kernel may hold (see [`SendBuffer`]).
    /// Default: [`SendBuffer::DEFAULT`].
    pub send_buffer: SendBuffer,
}

/// Which event loop a server's workers run. Every one serves the same [`Handler`](super::Handler)
/// with the same limits, deadlines and policies; they differ in how they talk to the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EventLoop {
    /// mio: readiness from epoll (kqueue elsewhere), then one `recv`/`send` system call per
    /// read and write. Portable; the default.
    #[default]
    Mio,
    /// io_uring (Linux 6.0 or later, feature `io-uring`): completions instead of readiness,
    /// multishot accept, multishot receives into a ring of buffers the kernel picks from,
    /// every send of a loop turn submitted with the wait for the next completions in one
    /// system call, the sweep's timer and the mailbox's wake-up on the ring. The same handler,
    /// limits, deadlines, slow-consumer policy and shutdown as mio's, and TLS too.
    /// [`Server::bind`](super::Server::bind) fails, saying why, where io_uring is missing or
    /// forbidden (an old kernel, a seccomp filter, `kernel.io_uring_disabled`) or the build
    /// lacks the feature.
    ///
    /// Memory, per worker: the ring (4 096 submission and 16 384 completion entries, about
    /// 0.5 MiB of kernel memory) and 512 receive buffers of 16 KiB (8 MiB), which a connection
    /// borrows only while its received bytes wait to be read, so an idle connection holds
    /// none. Per connection: its stream's state (a 160-byte allocation beside what mio's loop
    /// holds), and up to 256 KiB written and not yet taken by the kernel, beside the output
    /// queue and its limit
    /// ([`Config::max_outbound_queue`](crate::Config::max_outbound_queue)) as on mio.
    /// Measured with 10 000 idle connections on one worker (`fullduplex bench connect`):
    /// 387 bytes resident per connection against mio's 226, and about 4 MiB more resident
    /// for the worker from the start.
    IoUring,
    /// io_uring where it works, else mio (the reason is printed on standard error once).
    /// [`RunningServer::event_loop`](super::RunningServer::event_loop) says which one runs.
    IoUringOrMio,
}

/// How many of a connection's outgoing bytes the kernel may hold in the socket's send buffer.
///
/// What a connection writes goes first into its output queue, bounded by
/// [`Config::max_outbound_queue`] where the slow-consumer policy ([`Config::slow_consumer`])
/// applies, and from there into the kernel. Left to itself, Linux grows a socket's send buffer
/// up to `net.ipv4.tcp_wmem`'s maximum (4 MiB by default) even for a peer that reads nothing,
/// so a thousand stalled readers hold gigabytes of kernel memory: past `net.ipv4.tcp_mem`'s
/// pressure threshold the kernel then throttles every TCP socket of the machine, the fast
/// readers' too. Bounding the kernel's share keeps a slow reader's backlog in its own queue,
/// where the policy closes it or drops messages and `/metrics` counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendBuffer {
    /// The kernel's own sizing (`SO_SNDBUF` left alone, autotuned).
    Kernel,
    /// `TCP_NOTSENT_LOWAT`: the socket takes writes, and reports writable, only while fewer
    /// than this many bytes are written and not yet sent; bytes sent and not yet acknowledged
    /// are not counted, so a fast peer's throughput is the kernel's. The kernel then holds, per
    /// connection, about this bound (plus up to one segment of 64 KiB) and what the peer's
    /// receive window admits. Linux and Android; elsewhere as [`SendBuffer::Kernel`].
    NotSentLowat(u32),
    /// `SO_SNDBUF` set to this many bytes (Linux doubles it for its bookkeeping, and stops
    /// autotuning): bounds the sent and unacknowledged bytes too, so it also caps each
    /// connection's throughput at this size per round trip.
    Capped(usize),
}

impl SendBuffer {
    /// The default: `TCP_NOTSENT_LOWAT` of 64 KiB. Measured (docs/reliability.md, "Slow
    /// readers"; `scripts/slow-readers.sh pressure`: 50 readers and 1 000 clients that never
    /// read, 4 KiB messages at 200 a second): with [`SendBuffer::Kernel`] the machine's TCP
    /// memory went past `net.ipv4.tcp_mem`'s pressure threshold (406 851 pages against
    /// 383 877) and the throttled readers were closed as slow consumers themselves; with a
    /// low-water mark of 16 or 64 KiB it peaked at 46 000 to 56 000 pages and only the 1 000
    /// slow readers were closed. 64 KiB rather than 16: echoing 1 MiB messages on loopback
    /// (`fullduplex bench echo`), 16 KiB cost a third of the kernel default's throughput
    /// (medians 405 to 513 MB/s against 618 to 667), 64 KiB a tenth (601). A capped
    /// `SO_SNDBUF` of 64 KiB also held (71 909 pages) but limits every connection's bytes in
    /// flight, so its throughput on a path with a longer round trip.
    pub const DEFAULT: SendBuffer = SendBuffer::NotSentLowat(64 << 10);
}

impl Default for SendBuffer {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            connection: Config::default(),
            max_connections: 100_000,
            max_mailbox: 1 << 16,
            threads: 0,
            read_buffer_size: 64 << 10,
            max_request_body: 64 << 10,
            max_deferral: Duration::from_secs(60),
            event_loop: EventLoop::Mio,
            send_buffer: SendBuffer::DEFAULT,
        }
    }
}

impl From<Config> for ServerConfig {
    fn from(connection: Config) -> Self {
        Self {
            connection,
            ..Self::default()
        }
    }
}
