//! A connection's byte stream over io_uring: the received chunks held until read, and the
//! written bytes held until sent. `read` and `write_vectored` behave like the system calls on a
//! non-blocking socket, so the code that drives a connection over mio drives it here unchanged;
//! the event loop moves chunks in and bytes out with the methods below.
//!
//! Writing copies into a send buffer (from a per-thread pool, so an idle connection holds none)
//! and the loop submits it at the end of its turn, one send per connection at a time: bytes
//! written while a send is in flight wait in a second buffer and go in order after it. Past
//! [`SEND_LIMIT`] bytes not yet sent, a write says `WouldBlock`, like a full socket, and the
//! send's completion is the loop's "writable"; except that with no send in flight (a burst
//! within one turn, when nothing could be submitted yet) the buffer is first sent at once with
//! a direct non-blocking `send`, so that the kernel's socket buffer absorbs the burst as it does
//! under mio. A large write ([`DIRECT_WRITE`] bytes or more) with nothing held and no send in
//! flight goes to the socket at once from the caller's slices (`sendmsg`, non-blocking), and
//! only what the socket did not take is copied, under the same limit.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{self, IoSlice, Read, Write};
use std::net::Shutdown;
use std::os::fd::{AsRawFd, RawFd};

use mio::net::TcpStream;

use super::Chunk;

/// Most bytes written and not yet sent that a stream holds.
pub(crate) const SEND_LIMIT: usize = 256 << 10;
/// Bytes in a write's slices from which, with nothing held and no send in flight, the write
/// goes to the socket at once from the caller's slices (one copy fewer than through the send
/// buffer; smaller writes are batched into the turn's sends on the ring).
pub(crate) const DIRECT_WRITE: usize = 64 << 10;
/// Send buffers kept per thread for reuse, and the largest capacity kept.
const SPARE_BUFFERS: usize = 256;
const SPARE_CAPACITY: usize = 64 << 10;

thread_local! {
    static SPARE: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

fn spare_buffer() -> Vec<u8> {
    SPARE
        .with(|spare| spare.borrow_mut().pop())
        .unwrap_or_default()
}

fn keep_buffer(mut buffer: Vec<u8>) {
    if buffer.capacity() == 0 || buffer.capacity() > SPARE_CAPACITY {
        return;
    }
    buffer.clear();
    SPARE.with(|spare| {
        let mut spare = spare.borrow_mut();
        if spare.len() < SPARE_BUFFERS {
            spare.push(buffer);
        }
    });
}

/// Our direction of the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WriteSide {
    Open,
    /// Shut once everything written is sent.
    ShutWanted,
    Shut,
}

/// A socket whose reads and writes go through an io_uring event loop.
pub(crate) struct UringStream {
    tcp: TcpStream,
    /// Received chunks, oldest first; the front one may be partly read.
    input: VecDeque<Chunk>,
    /// Chunks read to the end, for the loop to give back to its buffer ring.
    spent: Vec<Chunk>,
    /// How receiving ended: 0 the end of the stream, else an errno.
    read_end: Option<i32>,
    /// Written, not yet submitted.
    pending: Vec<u8>,
    /// Submitted: `flight[flight_sent..]` is the send in flight (or to resubmit).
    flight: Vec<u8>,
    flight_sent: usize,
    sending: bool,
    write_error: Option<i32>,
    write_side: WriteSide,
    /// A multishot receive is armed on the socket (the loop's bookkeeping).
    pub(crate) recv_armed: bool,
    /// Receiving is paused while too much input waits to be read (the loop's bookkeeping).
    pub(crate) recv_paused: bool,
}

impl UringStream {
    pub(crate) fn new(tcp: TcpStream) -> Self {
        Self {
            tcp,
            input: VecDeque::new(),
            spent: Vec::new(),
            read_end: None,
            pending: Vec::new(),
            flight: Vec::new(),
            flight_sent: 0,
            sending: false,
            write_error: None,
            write_side: WriteSide::Open,
            recv_armed: false,
            recv_paused: false,
        }
    }

    /// The socket (for its address, options and descriptor).
    pub(crate) fn tcp(&mut self) -> &mut TcpStream {
        &mut self.tcp
    }

    /// Copies received bytes out. `Ok(0)` at the end of the stream; `WouldBlock` when nothing
    /// waits; the receive's error once it failed and everything before it was read.
    pub(crate) fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut filled = 0;
        while let Some(chunk) = self.input.front_mut().filter(|_| filled < buf.len()) {
            let unread = chunk.unread();
            let n = unread.len().min(buf.len() - filled);
            buf[filled..filled + n].copy_from_slice(&unread[..n]);
            chunk.start += n;
            filled += n;
            if chunk.start == chunk.end {
                self.spent.extend(self.input.pop_front());
            }
        }
        if filled > 0 || buf.is_empty() {
            return Ok(filled);
        }
        match self.read_end {
            None => Err(io::ErrorKind::WouldBlock.into()),
            Some(0) => Ok(0),
            Some(errno) => Err(io::Error::from_raw_os_error(errno)),
        }
    }

    /// Takes bytes to send: as many of `chunks` as fit under [`SEND_LIMIT`] (with no send in
    /// flight, after sending what is held at once); `WouldBlock` when none do; the send's
    /// error once one failed.
    pub(crate) fn write_vectored(&mut self, chunks: &[IoSlice<'_>]) -> io::Result<usize> {
        if self.write_side != WriteSide::Open {
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        let mut room = self.room();
        if room == 0 && !self.sending {
            self.send_now();
            room = self.room();
        }
        if let Some(errno) = self.write_error {
            return Err(io::Error::from_raw_os_error(errno));
        }
        if room == 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let sent = self.write_direct(chunks)?;
        Ok(sent + self.hold(chunks, sent, room))
    }

    /// A large write with nothing held and no send in flight goes to the socket at once from
    /// `chunks` (a non-blocking `sendmsg`, so the order holds): the bytes it took, 0 when the
    /// write is small or the socket is full.
    fn write_direct(&mut self, chunks: &[IoSlice<'_>]) -> io::Result<usize> {
        if self.sending || !self.pending.is_empty() {
            return Ok(0);
        }
        if chunks.iter().map(|c| c.len()).sum::<usize>() < DIRECT_WRITE {
            return Ok(0);
        }
        loop {
            match send_slices(self.tcp.as_raw_fd(), chunks) {
                Ok(0) => return Err(self.fail_now(libc::EPIPE)),
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(0),
                Err(e) => return Err(self.fail_now(e.raw_os_error().unwrap_or(libc::EIO))),
            }
        }
    }

    /// Copies `chunks` past their first `skip` bytes into the send buffer, at most `room`
    /// bytes: the bytes taken.
    fn hold(&mut self, chunks: &[IoSlice<'_>], mut skip: usize, room: usize) -> usize {
        let mut taken = 0;
        for chunk in chunks {
            let start = skip.min(chunk.len());
            skip -= start;
            let n = (chunk.len() - start).min(room - taken);
            if n == 0 {
                continue;
            }
            if self.pending.capacity() == 0 {
                self.pending = spare_buffer();
            }
            self.pending.extend_from_slice(&chunk[start..start + n]);
            taken += n;
            if taken == room {
                break;
            }
        }
        taken
    }

    fn fail_now(&mut self, errno: i32) -> io::Error {
        self.fail_direct(errno);
        io::Error::from_raw_os_error(errno)
    }

    /// Bytes a write may take now.
    fn room(&self) -> usize {
        let unsent = self.pending.len() + self.flight.len() - self.flight_sent;
        SEND_LIMIT.saturating_sub(unsent)
    }

    /// Sends what is held with a direct non-blocking `send` (no send is in flight, so the
    /// order holds): as much as the socket's buffer takes.
    fn send_now(&mut self) {
        while !self.pending.is_empty() {
            match self.tcp.write(&self.pending) {
                Ok(0) => return self.fail_direct(libc::EPIPE),
                Ok(n) => drop(self.pending.drain(..n)),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) => return self.fail_direct(e.raw_os_error().unwrap_or(libc::EIO)),
            }
        }
    }

    fn fail_direct(&mut self, errno: i32) {
        let _ = self.fail_sending(errno);
    }

    /// Shuts our direction once everything written is sent (see [`try_shutdown`](Self::try_shutdown)).
    pub(crate) fn shutdown_write(&mut self) {
        if self.write_side == WriteSide::Open {
            self.write_side = WriteSide::ShutWanted;
        }
        self.try_shutdown();
    }

    /// Shuts our direction if that was asked and nothing is left to send (a direct system
    /// call, once per connection).
    pub(crate) fn try_shutdown(&mut self) {
        if self.write_side == WriteSide::ShutWanted && !self.has_unsent() {
            let _ = self.tcp.shutdown(Shutdown::Write);
            self.write_side = WriteSide::Shut;
        }
    }

    /// A receive completed with `chunk`.
    pub(crate) fn received(&mut self, chunk: Chunk) {
        if chunk.start < chunk.end {
            self.input.push_back(chunk);
        } else {
            self.spent.push(chunk);
        }
    }

    /// Receiving ended: `0` at the end of the stream, else the errno. The first end counts.
    pub(crate) fn receive_ended(&mut self, errno: i32) {
        self.read_end.get_or_insert(errno);
    }

    /// Whether receiving ended (nothing more will arrive).
    pub(crate) fn is_read_ended(&self) -> bool {
        self.read_end.is_some()
    }

    /// Bytes received and not read.
    pub(crate) fn unread(&self) -> usize {
        self.input.iter().map(|c| c.end - c.start).sum()
    }

    /// Hands the chunks read to the end to `give_back` (for the buffer ring).
    ///
    /// Once everything received is read, the lists of chunks let their memory go: an idle
    /// connection keeps none (about 350 bytes each otherwise, the first capacity of two lists of
    /// 40-byte chunks), at the price of two small allocations in a turn that receives.
    pub(crate) fn recycle(&mut self, give_back: impl FnMut(Chunk)) {
        self.spent.drain(..).for_each(give_back);
        if self.input.is_empty() && self.input.capacity() > 0 {
            self.input = VecDeque::new();
        }
        if self.spent.capacity() > 0 {
            self.spent = Vec::new();
        }
    }

    /// Hands every chunk, read or not, to `give_back` (when the connection is removed).
    pub(crate) fn release_input(&mut self, mut give_back: impl FnMut(Chunk)) {
        self.spent.drain(..).for_each(&mut give_back);
        self.input.drain(..).for_each(give_back);
    }

    /// Whether bytes are written and not yet sent (submitted or not).
    pub(crate) fn has_unsent(&self) -> bool {
        self.sending || !self.pending.is_empty()
    }

    /// Whether an operation on the socket is in flight (its descriptor must stay open).
    pub(crate) fn is_busy(&self) -> bool {
        self.sending || self.recv_armed
    }

    /// Begins sending what was written, if no send is in flight: the bytes to submit (valid
    /// until [`sent`](Self::sent) is told of their completion).
    pub(crate) fn start_send(&mut self) -> Option<(*const u8, u32)> {
        if self.sending || self.pending.is_empty() || self.write_error.is_some() {
            return None;
        }
        std::mem::swap(&mut self.pending, &mut self.flight);
        self.flight_sent = 0;
        self.sending = true;
        Some(self.rest_of_flight())
    }

    /// The send in flight completed with `result` (bytes sent, or a negated errno): the rest
    /// to resubmit after a partial send, else `None` (the next send may start).
    pub(crate) fn sent(&mut self, result: i32) -> Option<(*const u8, u32)> {
        self.sending = false;
        match result {
            n if n > 0 => self.flight_sent += n as usize,
            n if n == -libc::EINTR || n == -libc::EAGAIN => {}
            0 => return self.fail_sending(libc::EPIPE),
            n => return self.fail_sending(n.saturating_neg()),
        }
        if self.flight_sent < self.flight.len() {
            self.sending = true;
            return Some(self.rest_of_flight());
        }
        self.flight.clear();
        self.flight_sent = 0;
        if self.pending.is_empty() {
            keep_buffer(std::mem::take(&mut self.pending));
            keep_buffer(std::mem::take(&mut self.flight));
        }
        self.try_shutdown();
        None
    }

    fn rest_of_flight(&self) -> (*const u8, u32) {
        let rest = &self.flight[self.flight_sent..];
        (rest.as_ptr(), rest.len().min(u32::MAX as usize) as u32)
    }

    fn fail_sending(&mut self, errno: i32) -> Option<(*const u8, u32)> {
        self.write_error = Some(errno);
        self.flight = Vec::new();
        self.pending = Vec::new();
        self.flight_sent = 0;
        None
    }
}

/// One non-blocking `sendmsg` of `chunks` (no `SIGPIPE`: a closed peer is an `EPIPE` error).
fn send_slices(fd: RawFd, chunks: &[IoSlice<'_>]) -> io::Result<usize> {
    // SAFETY: an all-zero `msghdr` is valid (no name, no control data).
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    // `IoSlice` is ABI-compatible with `iovec` on Unix; `sendmsg` only reads the slices.
    msg.msg_iov = chunks.as_ptr() as *mut libc::iovec;
    msg.msg_iovlen = chunks.len().min(libc::UIO_MAXIOV as usize) as _;
    // SAFETY: `msg` points at `chunks`, alive and unchanged for the call.
    let n = unsafe { libc::sendmsg(fd, &msg, libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

impl Drop for UringStream {
    fn drop(&mut self) {
        // A send in flight reads this buffer until its completion: never free it under the
        // kernel (the loop does not drop a busy stream; this guards a loop that exits).
        if self.sending {
            std::mem::forget(std::mem::take(&mut self.flight));
        }
    }
}

impl AsRawFd for UringStream {
    fn as_raw_fd(&self) -> RawFd {
        self.tcp.as_raw_fd()
    }
}

impl Read for UringStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        UringStream::read(self, buf)
    }
}

impl Write for UringStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_vectored(&[IoSlice::new(buf)])
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        UringStream::write_vectored(self, bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests;
