//! rustls over a non-blocking TCP stream (feature `tls`): a mio socket, or an io_uring one.
//!
//! rustls is itself sans-I/O: ciphertext moves between the socket and the TLS state with
//! `read_tls`/`write_tls`, plaintext with its reader and writer. A plaintext read that finds
//! no data pulls more ciphertext from the socket first.

use std::io::{self, IoSlice, Read, Write};

use mio::net::TcpStream;

/// rustls over a non-blocking byte stream (a mio socket unless said otherwise).
pub(crate) struct TlsStream<S = TcpStream> {
    pub(crate) tcp: S,
    pub(crate) tls: rustls::Connection,
}

impl<S: Read + Write> TlsStream<S> {
    pub(super) fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
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
                    if let Err(e) = self.tls.process_new_packets() {
                        // The alert rustls queued tells the peer why (a plaintext client
                        // learns that this is TLS); the connection ends anyway.
                        let _ = self.flush_tls();
                        return Err(io::Error::other(e));
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Takes plaintext into rustls once the ciphertext it already holds is sent. Reports
    /// `WouldBlock` only when the socket did: rustls's buffer is bounded (64 KiB), and a
    /// full buffer with a writable socket must not look blocked, or no WRITABLE event would
    /// ever come to resume the write.
    pub(super) fn write_vectored(&mut self, chunks: &[IoSlice<'_>]) -> io::Result<usize> {
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

    pub(super) fn flush_tls(&mut self) -> io::Result<bool> {
        while self.tls.wants_write() {
            match self.tls.write_tls(&mut self.tcp) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    /// Whether rustls holds ciphertext to send (e.g. its handshake answer).
    pub(super) fn has_pending_output(&self) -> bool {
        self.tls.wants_write()
    }

    /// Sends close_notify (the TCP shutdown is the caller's).
    pub(super) fn shutdown_write(&mut self) {
        self.tls.send_close_notify();
        let _ = self.flush_tls();
    }
}
