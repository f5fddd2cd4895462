//! The runtime's byte streams: plain TCP or TLS (rustls) over TCP, each either a mio socket or
//! an io_uring one (`crate::uring::UringStream`, Linux, feature `io-uring`),
//! written from a connection's output queue with vectored writes and read into buffers lent
//! from a pool. The server and the [`MultiClient`](crate::client::MultiClient) read and write
//! WebSocket bytes through it without caring which (the blocking client has its own blocking
//! stream). TLS (feature `tls`) is in [`tls`].

use std::io::{self, IoSlice, Read, Write};
use std::net::Shutdown;
use std::time::Duration;

use mio::net::TcpStream;

pub(crate) use crate::protocol::read_buffers::ReadBuffers;
use crate::protocol::Sender;
#[cfg(all(feature = "io-uring", target_os = "linux"))]
use crate::uring::UringStream;

#[cfg(feature = "tls")]
pub(crate) mod tls;
mod waker;
#[cfg(feature = "tls")]
pub(crate) use tls::TlsStream;
pub(crate) use waker::LoopWaker;

/// Most output chunks handed to one vectored write.
const MAX_IOVECS: usize = 64;

/// The byte stream under a connection.
pub(crate) enum Transport {
    /// Plain TCP (`ws://`).
    Plain(TcpStream),
    /// TLS over TCP (`wss://`).
    #[cfg(feature = "tls")]
    Tls(Box<TlsStream>),
    /// Plain TCP through an io_uring event loop.
    #[cfg(all(feature = "io-uring", target_os = "linux"))]
    Uring(Box<UringStream>),
    /// TLS over TCP through an io_uring event loop.
    #[cfg(all(feature = "io-uring", target_os = "linux", feature = "tls"))]
    UringTls(Box<TlsStream<UringStream>>),
}

impl Transport {
    /// The TCP stream (to register with mio's event loop, or for its address and options).
    pub(crate) fn tcp(&mut self) -> &mut TcpStream {
        match self {
            Transport::Plain(tcp) => tcp,
            #[cfg(feature = "tls")]
            Transport::Tls(s) => &mut s.tcp,
            #[cfg(all(feature = "io-uring", target_os = "linux"))]
            Transport::Uring(s) => s.tcp(),
            #[cfg(all(feature = "io-uring", target_os = "linux", feature = "tls"))]
            Transport::UringTls(s) => s.tcp.tcp(),
        }
    }

    /// The io_uring stream under the connection, if it runs on io_uring.
    #[cfg(all(feature = "io-uring", target_os = "linux"))]
    pub(crate) fn uring(&mut self) -> Option<&mut UringStream> {
        match self {
            Transport::Uring(s) => Some(s),
            #[cfg(feature = "tls")]
            Transport::UringTls(s) => Some(&mut s.tcp),
            _ => None,
        }
    }

    /// Whether receiving ended (io_uring: the end of the stream or an error arrived, to be read
    /// after the bytes before it). A mio socket tells this through its readiness event.
    pub(crate) fn is_read_ended(&mut self) -> bool {
        #[cfg(all(feature = "io-uring", target_os = "linux"))]
        if let Some(stream) = self.uring() {
            return stream.is_read_ended();
        }
        false
    }

    /// Whether a read shorter than the buffer proves the socket drained (plain TCP: the
    /// kernel, or the received chunks, had no more; TLS: rustls may still hold decrypted
    /// records).
    pub(crate) fn short_read_drains(&self) -> bool {
        #[cfg(all(feature = "io-uring", target_os = "linux"))]
        if let Transport::Uring(_) = self {
            return true;
        }
        matches!(self, Transport::Plain(_))
    }

    /// Reads received plaintext. `Ok(0)` is the end of the stream; `WouldBlock` means nothing
    /// more for now.
    pub(crate) fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(tcp) => tcp.read(buf),
            #[cfg(feature = "tls")]
            Transport::Tls(s) => s.read(buf),
            #[cfg(all(feature = "io-uring", target_os = "linux"))]
            Transport::Uring(s) => s.read(buf),
            #[cfg(all(feature = "io-uring", target_os = "linux", feature = "tls"))]
            Transport::UringTls(s) => s.read(buf),
        }
    }

    /// Writes plaintext from `chunks`, returning how much was taken. A single chunk goes
    /// with `send`, cheaper in the kernel than a one-element `writev`.
    pub(crate) fn write_vectored(&mut self, chunks: &[IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Transport::Plain(tcp) => match chunks {
                [one] => tcp.write(one),
                _ => tcp.write_vectored(chunks),
            },
            #[cfg(feature = "tls")]
            Transport::Tls(s) => s.write_vectored(chunks),
            #[cfg(all(feature = "io-uring", target_os = "linux"))]
            Transport::Uring(s) => s.write_vectored(chunks),
            #[cfg(all(feature = "io-uring", target_os = "linux", feature = "tls"))]
            Transport::UringTls(s) => s.write_vectored(chunks),
        }
    }

    /// Sends ciphertext rustls holds. `Ok(true)` when nothing is left to send.
    pub(crate) fn flush(&mut self) -> io::Result<bool> {
        match self {
            Transport::Plain(_) => Ok(true),
            #[cfg(feature = "tls")]
            Transport::Tls(s) => s.flush_tls(),
            #[cfg(all(feature = "io-uring", target_os = "linux"))]
            Transport::Uring(_) => Ok(true),
            #[cfg(all(feature = "io-uring", target_os = "linux", feature = "tls"))]
            Transport::UringTls(s) => s.flush_tls(),
        }
    }

    /// Whether TLS has ciphertext waiting (e.g. its handshake answer).
    pub(crate) fn has_pending_output(&self) -> bool {
        match self {
            Transport::Plain(_) => false,
            #[cfg(feature = "tls")]
            Transport::Tls(s) => s.has_pending_output(),
            #[cfg(all(feature = "io-uring", target_os = "linux"))]
            Transport::Uring(_) => false,
            #[cfg(all(feature = "io-uring", target_os = "linux", feature = "tls"))]
            Transport::UringTls(s) => s.has_pending_output(),
        }
    }

    /// Ends our direction of the stream (TLS close_notify, then TCP FIN); reading goes on.
    /// Over io_uring the FIN follows the last send's completion.
    pub(crate) fn shutdown_write(&mut self) {
        match self {
            #[cfg(feature = "tls")]
            Transport::Tls(s) => s.shutdown_write(),
            #[cfg(all(feature = "io-uring", target_os = "linux", feature = "tls"))]
            Transport::UringTls(s) => s.shutdown_write(),
            _ => {}
        }
        #[cfg(all(feature = "io-uring", target_os = "linux"))]
        if let Some(stream) = self.uring() {
            return stream.shutdown_write();
        }
        let _ = self.tcp().shutdown(Shutdown::Write);
    }
}

/// How often a mio event loop sweeps its connections' deadlines, for timeouts as short as
/// `shortest`: a quarter of it, between 5 ms and 1 s (so a deadline is met within a quarter
/// of its length, and an idle loop wakes at most once a second). Each sweep asks every
/// established connection when it is due
/// ([`Connection::poll_timeout`](crate::protocol::Connection::poll_timeout)) rather than
/// keeping a timer per connection.
pub(crate) fn sweep_interval(shortest: Duration) -> Duration {
    (shortest / 4).clamp(Duration::from_millis(5), Duration::from_secs(1))
}

/// What a flush achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flushed {
    /// Everything queued was written.
    All,
    /// The socket is full: wait for WRITABLE.
    Blocked,
}

/// Writes a sender's queued frames with vectored writes until done or blocked.
pub(crate) fn write_queue(transport: &mut Transport, tx: &mut Sender) -> io::Result<Flushed> {
    while tx.buffered_amount() > 0 {
        let mut slices = [IoSlice::new(&[]); MAX_IOVECS];
        let mut count = 0;
        for chunk in tx.output_chunks().take(MAX_IOVECS) {
            slices[count] = IoSlice::new(chunk);
            count += 1;
        }
        match transport.write_vectored(&slices[..count]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => tx.consume_output(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Flushed::Blocked),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    if transport.flush()? {
        Ok(Flushed::All)
    } else {
        Ok(Flushed::Blocked)
    }
}

/// Writes `bytes[*written..]` until done or blocked, advancing `written`.
pub(crate) fn write_bytes(
    transport: &mut Transport,
    bytes: &[u8],
    written: &mut usize,
) -> io::Result<Flushed> {
    while *written < bytes.len() {
        match transport.write_vectored(&[IoSlice::new(&bytes[*written..])]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => *written += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Flushed::Blocked),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    if transport.flush()? {
        Ok(Flushed::All)
    } else {
        Ok(Flushed::Blocked)
    }
}

/// Reads and discards what a closing peer still sends; `Ok(true)` once it has closed.
pub(crate) fn discard_input(transport: &mut Transport) -> io::Result<bool> {
    let mut sink = [0u8; 4096];
    loop {
        match transport.read(&mut sink) {
            Ok(0) => return Ok(true),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}
