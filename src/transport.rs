//! A non-blocking byte stream: plain TCP, or TLS (rustls) over TCP. The runtime reads and
//! writes WebSocket bytes through it without caring which.
//!
//! rustls is itself sans-I/O: ciphertext moves between the socket and the TLS state with
//! `read_tls`/`write_tls`, plaintext with its reader and writer. A plaintext read that finds
//! no data pulls more ciphertext from the socket first.

use std::io::{self, IoSlice, Read, Write};
use std::net::Shutdown;

use mio::net::TcpStream;

/// The byte stream under a connection.
pub(crate) enum Transport {
    /// Plain TCP (`ws://`).
    Plain(TcpStream),
    /// TLS over TCP (`wss://`).
    Tls(Box<TlsStream>),
}

/// rustls over a non-blocking TCP stream.
pub(crate) struct TlsStream {
    pub(crate) tcp: TcpStream,
    pub(crate) tls: rustls::Connection,
}

impl Transport {
    /// The TCP stream (to register with the event loop).
    pub(crate) fn tcp(&mut self) -> &mut TcpStream {
        match self {
            Transport::Plain(tcp) => tcp,
            Transport::Tls(s) => &mut s.tcp,
        }
    }

    /// Whether a read shorter than the buffer proves the socket drained (plain TCP: the
    /// kernel had no more; TLS: rustls may still hold decrypted records).
    pub(crate) fn short_read_drains(&self) -> bool {
        matches!(self, Transport::Plain(_))
    }

    /// Reads received plaintext. `Ok(0)` is the end of the stream; `WouldBlock` means nothing
    /// more for now.
    pub(crate) fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(tcp) => tcp.read(buf),
            Transport::Tls(s) => s.read(buf),
        }
    }

    /// Writes plaintext from `chunks`, returning how much was taken.
    pub(crate) fn write_vectored(&mut self, chunks: &[IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Transport::Plain(tcp) => tcp.write_vectored(chunks),
            Transport::Tls(s) => s.write_vectored(chunks),
        }
    }

    /// Sends ciphertext rustls holds. `Ok(true)` when nothing is left to send.
    pub(crate) fn flush(&mut self) -> io::Result<bool> {
        match self {
            Transport::Plain(_) => Ok(true),
            Transport::Tls(s) => s.flush_tls(),
        }
    }

    /// Whether TLS has ciphertext waiting (e.g. its handshake answer).
    pub(crate) fn has_pending_output(&self) -> bool {
        match self {
            Transport::Plain(_) => false,
            Transport::Tls(s) => s.tls.wants_write(),
        }
    }

    /// Ends our direction of the stream (TLS close_notify, then TCP FIN); reading goes on.
    pub(crate) fn shutdown_write(&mut self) {
        if let Transport::Tls(s) = self {
            s.tls.send_close_notify();
            let _ = s.flush_tls();
        }
        let _ = self.tcp().shutdown(Shutdown::Write);
    }
}

impl TlsStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.tls.reader().read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
            // No plaintext: pull ciphertext from the socket.
            match self.tls.read_tls(&mut self.tcp) {
                Ok(0) => return Ok(0),
                Ok(_) => {
                    self.tls.process_new_packets().map_err(io::Error::other)?;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Takes plaintext into rustls once the ciphertext it already holds is sent. Reports
    /// `WouldBlock` only when the socket did: rustls's buffer is bounded (64 KiB), and a
    /// full buffer with a writable socket must not look blocked, or no WRITABLE event would
    /// ever come to resume the write.
    fn write_vectored(&mut self, chunks: &[IoSlice<'_>]) -> io::Result<usize> {
        if !self.flush_tls()? {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let mut taken = 0;
        for chunk in chunks {
            let n = self.tls.writer().write(chunk)?;
            taken += n;
            if n < chunk.len() {
                break;
            }
        }
        self.flush_tls()?;
        Ok(taken)
    }

    fn flush_tls(&mut self) -> io::Result<bool> {
        while self.tls.wants_write() {
            match self.tls.write_tls(&mut self.tcp) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }
}
