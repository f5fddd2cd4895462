//! Moving the core's bytes over an `AsyncRead + AsyncWrite`: reads straight into the
//! connection's receive buffer, vectored writes of its output queue, and the end of the
//! transport after the close handshake.
//!
//! The TCP end follows [RFC 6455 §7.1.1](https://www.rfc-editor.org/rfc/rfc6455#section-7.1.1):
//! the server closes the TCP connection first; the client waits for it, then closes its side.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use ::tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::buffers::{self, READ_SIZE};
use crate::protocol::Connection;

/// Most runs of the output queue handed to one vectored write.
const MAX_SLICES: usize = 64;

/// What a read brought.
pub(crate) enum Read {
    /// Bytes (in the connection's receive buffer, for `poll_read_into`).
    Data,
    /// The end of the peer's stream.
    Eof,
}

/// Reads once into the connection's receive buffer, without a copy. The buffer comes from
/// this thread's pool and goes back to it when the transport has nothing more and the
/// buffer holds no unprocessed input.
pub(crate) fn poll_read_into<S: AsyncRead + Unpin>(
    io: &mut S,
    conn: &mut Connection,
    cx: &mut Context<'_>,
) -> Poll<io::Result<Read>> {
    buffers::lend(conn.receiver());
    let space = conn.read_space(READ_SIZE);
    let mut buf = ReadBuf::new(space);
    match Pin::new(io).poll_read(cx, &mut buf) {
        Poll::Ready(Ok(())) => {}
        Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
        Poll::Pending => {
            buffers::take_back(conn.receiver());
            return Poll::Pending;
        }
    }
    let n = buf.filled().len();
    if n == 0 {
        return Poll::Ready(Ok(Read::Eof));
    }
    conn.commit_read(n);
    Poll::Ready(Ok(Read::Data))
}

/// Reads once and drops what came (the peer's bytes after the close handshake).
pub(crate) fn poll_discard<S: AsyncRead + Unpin>(
    io: &mut S,
    cx: &mut Context<'_>,
) -> Poll<io::Result<Read>> {
    let mut scratch = [0u8; 2048];
    let mut buf = ReadBuf::new(&mut scratch);
    ready!(Pin::new(io).poll_read(cx, &mut buf))?;
    Poll::Ready(Ok(match buf.filled().len() {
        0 => Read::Eof,
        _ => Read::Data,
    }))
}

/// Writes the connection's output until at most `keep` bytes remain queued, with vectored
/// writes of the queue's runs; `Pending` when the transport is full. `unflushed` notes that
/// bytes went to the transport since its last flush.
pub(crate) fn poll_write_until<S: AsyncWrite + Unpin>(
    io: &mut S,
    conn: &mut Connection,
    keep: usize,
    unflushed: &mut bool,
    cx: &mut Context<'_>,
) -> Poll<io::Result<()>> {
    while conn.buffered_amount() > keep {
        let n = {
            let mut slices = [IoSlice::new(&[]); MAX_SLICES];
            let mut count = 0;
            for (slot, chunk) in slices.iter_mut().zip(conn.output_chunks()) {
                *slot = IoSlice::new(chunk);
                count += 1;
            }
            ready!(Pin::new(&mut *io).poll_write_vectored(cx, &slices[..count]))?
        };
        if n == 0 {
            return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
        }
        conn.consume_output(n);
        *unflushed = true;
    }
    Poll::Ready(Ok(()))
}

/// Writes all the connection's output and flushes the transport (a TLS stream holds records
/// until flushed).
pub(crate) fn poll_write_all<S: AsyncWrite + Unpin>(
    io: &mut S,
    conn: &mut Connection,
    unflushed: &mut bool,
    cx: &mut Context<'_>,
) -> Poll<io::Result<()>> {
    ready!(poll_write_until(io, conn, 0, unflushed, cx))?;
    if *unflushed {
        ready!(Pin::new(io).poll_flush(cx))?;
        *unflushed = false;
    }
    Poll::Ready(Ok(()))
}
