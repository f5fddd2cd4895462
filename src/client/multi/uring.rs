//! A [`MultiClient`](super::MultiClient) on io_uring (Linux, feature `io-uring`): the ring, the
//! ring of provided receive buffers and the byte streams of the server's io_uring loop
//! ([`crate::uring`]), driven so that the rest of the client sees what it sees over mio.
//!
//! - **Connecting.** The non-blocking `connect` is made as over mio; a one-shot poll for
//!   `POLLOUT` on the socket completes when it is connected (or failed): the connection is
//!   then "writable", and the handshake goes on as over mio.
//! - **Receiving.** Once connected, a multishot receive picks buffers from the ring; each
//!   completion moves its buffer into the connection's [`UringStream`], which the client reads
//!   like a non-blocking socket ("readable"). Buffers read to the end go back to the ring
//!   before the next wait. A receive the ring ran dry for (`ENOBUFS`) is armed again then.
//! - **Sending.** Writes copy into the stream; at the end of a turn every connection with bytes
//!   written and no send in flight gets one `send`, all submitted with the wait, in one system
//!   call. A send's completion is "writable".
//! - **Waiting.** One `io_uring_enter` submits the turn's operations and waits for a completion
//!   or the turn's timeout (the client's deadline sweep).
//! - **Removing.** A socket's descriptor is closed only when nothing is in flight on it: a
//!   connection removed with a receive armed, a send or a connect poll in flight has them
//!   cancelled and is kept until their completions came.

use std::io;
use std::os::fd::AsRawFd;
use std::time::Duration;

use io_uring::{cqueue, opcode, squeue, types, IoUring};

use super::peer::{Peer, Phase};
use super::turn::Ready;
use super::MultiClient;
use crate::transport::Transport;
use crate::uring::op::{Op, UserData};
use crate::uring::{setup, BufRing, UringStream};

/// Submission entries of the ring (completions: four times as many).
const ENTRIES: u32 = 256;
/// Receive buffers in the ring, and their size: 4 MiB shared by every connection.
const BUFFERS: u16 = 256;
const BUFFER_SIZE: usize = 16 << 10;
/// The buffer group of the ring's receive buffers.
const GROUP: u16 = 0;

/// A connection removed while operations on its socket were in flight.
struct Closing {
    slot: u32,
    generation: u32,
    transport: Transport,
    connect_poll: bool,
}

/// The ring and what the client keeps beside it.
pub(in crate::client) struct UringLoop {
    ring: IoUring,
    buffers: BufRing,
    /// By slot: a connect poll is in flight for the slot's connection.
    connect_polls: Vec<bool>,
    /// Slots that read, wrote or connected this turn: their buffers to give back, their
    /// receive to arm, their send to submit.
    touched: Vec<usize>,
    closing: Vec<Closing>,
    completions: Vec<(u64, i32, u32)>,
}

impl UringLoop {
    /// A ring checked for every operation the loop uses, and its buffers. The error is the
    /// probe's sentence: why io_uring cannot run here.
    pub(super) fn new() -> io::Result<Self> {
        let ring = setup::new_ring(ENTRIES)?;
        let buffers = BufRing::new(&ring, GROUP, BUFFERS, BUFFER_SIZE)?;
        Ok(Self {
            ring,
            buffers,
            connect_polls: Vec::new(),
            touched: Vec::new(),
            closing: Vec::new(),
            completions: Vec::new(),
        })
    }

    /// A connecting plain socket's stream.
    pub(super) fn plain(tcp: mio::net::TcpStream) -> Transport {
        Transport::Uring(Box::new(UringStream::new(tcp)))
    }

    /// A connecting socket's stream under TLS.
    #[cfg(feature = "tls")]
    pub(super) fn tls(tcp: mio::net::TcpStream, tls: rustls::Connection) -> Transport {
        let tcp = UringStream::new(tcp);
        Transport::UringTls(Box::new(crate::transport::TlsStream { tcp, tls }))
    }

    /// Polls a connecting socket for the end of its connect.
    pub(super) fn start_connect(&mut self, slot: usize, generation: u32, stream: &UringStream) {
        if self.connect_polls.len() <= slot {
            self.connect_polls.resize(slot + 1, false);
        }
        self.connect_polls[slot] = true;
        let fd = types::Fd(stream.as_raw_fd());
        let data = UserData::new(Op::Poll, slot as u32, generation);
        self.push(opcode::PollAdd::new(fd, libc::POLLOUT as u32).build(), data);
        self.touched.push(slot);
    }

    /// Marks a slot to be looked at before the next wait.
    pub(super) fn touch(&mut self, slot: usize) {
        self.touched.push(slot);
    }

    /// Queues a submission, submitting what is queued first if the queue is full.
    fn push(&mut self, entry: squeue::Entry, data: UserData) {
        let entry = entry.user_data(data.encode());
        loop {
            // SAFETY: every buffer an entry names (a stream's send buffer, the ring's receive
            // buffers) stays where it is until that entry's completion (see `crate::uring`).
            if unsafe { self.ring.submission().push(&entry) }.is_ok() {
                return;
            }
            if self.ring.submit().is_err() {
                // Nothing can be submitted: the entry waits for the next turn's attempt.
                return;
            }
        }
    }

    /// Submits the turn's operations and waits for a completion, at most `wait`; collects
    /// every completion there is.
    fn submit_and_wait(&mut self, wait: Duration) -> io::Result<()> {
        let submitted = match wait.is_zero() {
            true => self.ring.submit(),
            false => {
                let timespec = types::Timespec::from(wait);
                let args = types::SubmitArgs::new().timespec(&timespec);
                self.ring.submitter().submit_with_args(1, &args)
            }
        };
        match submitted {
            Err(e) if e.raw_os_error() == Some(libc::ETIME) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {}
            Err(e) => return Err(e),
            Ok(_) => {}
        }
        self.completions.extend(
            self.ring
                .completion()
                .map(|c| (c.user_data(), c.result(), c.flags())),
        );
        Ok(())
    }

    /// Gives a stream's read buffers back, arms its receive once connected, submits its send.
    fn prepare(&mut self, slot: usize, generation: u32, stream: &mut UringStream, armed: bool) {
        stream.recycle(|chunk| self.buffers.give_back(chunk));
        let fd = types::Fd(stream.as_raw_fd());
        if armed && !stream.recv_armed && !stream.is_read_ended() {
            stream.recv_armed = true;
            let recv = opcode::RecvMulti::new(fd, GROUP).build();
            self.push(recv, UserData::new(Op::Recv, slot as u32, generation));
        }
        if let Some((bytes, len)) = stream.start_send() {
            self.send(slot, generation, fd, bytes, len);
        }
    }

    fn send(&mut self, slot: usize, generation: u32, fd: types::Fd, bytes: *const u8, len: u32) {
        let send = opcode::Send::new(fd, bytes, len).build();
        self.push(send, UserData::new(Op::Send, slot as u32, generation));
    }

    /// Applies a completion to a live connection's stream; what it makes the connection.
    fn complete(
        &mut self,
        data: UserData,
        result: i32,
        flags: u32,
        stream: &mut UringStream,
    ) -> Ready {
        let slot = data.slot as usize;
        let mut ready = Ready {
            readable: false,
            read_closed: false,
            writable: false,
        };
        match data.op {
            Op::Poll => {
                self.connect_polls[slot] = false;
                ready.writable = true;
            }
            Op::Recv => {
                self.received(stream, result, flags);
                ready.readable = true;
                ready.read_closed = stream.is_read_ended();
            }
            Op::Send => match stream.sent(result) {
                Some((bytes, len)) => {
                    let fd = types::Fd(stream.as_raw_fd());
                    self.send(slot, data.generation, fd, bytes, len);
                }
                None => ready.writable = true,
            },
            Op::Accept | Op::Wake | Op::Timer | Op::Cancel => {}
        }
        ready
    }

    /// A receive's completion: a buffer of bytes, the end of the stream, or an error.
    fn received(&mut self, stream: &mut UringStream, result: i32, flags: u32) {
        if !cqueue::more(flags) {
            stream.recv_armed = false;
        }
        match result {
            0 => stream.receive_ended(0),
            n if n > 0 => {
                let taken =
                    cqueue::buffer_select(flags).and_then(|bid| self.buffers.take(bid, n as usize));
                match taken {
                    Some(chunk) => stream.received(chunk),
                    None => stream.receive_ended(libc::EIO),
                }
            }
            // The ring ran dry: the receive is armed again once buffers came back.
            n if n == -libc::ENOBUFS => {}
            n => stream.receive_ended(n.saturating_neg()),
        }
    }

    /// A connection leaves the client: its socket is closed now if nothing is in flight on
    /// it, else once the cancelled operations completed.
    pub(super) fn release(&mut self, slot: usize, generation: u32, mut transport: Transport) {
        let connect_poll = std::mem::take(&mut self.connect_polls[slot]);
        let Some(stream) = transport.uring() else {
            return;
        };
        stream.recycle(|chunk| self.buffers.give_back(chunk));
        if !stream.is_busy() && !connect_poll {
            stream.release_input(|chunk| self.buffers.give_back(chunk));
            return;
        }
        let cancel = types::CancelBuilder::fd(types::Fd(stream.as_raw_fd())).all();
        self.push(
            opcode::AsyncCancel2::new(cancel).build(),
            UserData::of_loop(Op::Cancel),
        );
        self.closing.push(Closing {
            slot: slot as u32,
            generation,
            transport,
            connect_poll,
        });
    }

    /// A completion for a connection removed before it came.
    fn complete_closing(&mut self, data: UserData, result: i32, flags: u32) {
        let Some(at) = self
            .closing
            .iter()
            .position(|c| c.slot == data.slot && data.is_generation(c.generation))
        else {
            return;
        };
        let closing = &mut self.closing[at];
        let connect_poll = &mut closing.connect_poll;
        let Some(stream) = closing.transport.uring() else {
            return;
        };
        match data.op {
            Op::Poll => *connect_poll = false,
            Op::Recv => {
                if !cqueue::more(flags) {
                    stream.recv_armed = false;
                }
                if let Some(bid) = cqueue::buffer_select(flags) {
                    let taken = self.buffers.take(bid, result.max(0) as usize);
                    taken.into_iter().for_each(|c| self.buffers.give_back(c));
                }
            }
            // Nothing more is sent for a connection that left: a partial send ends here.
            Op::Send if stream.sent(result).is_some() => {
                stream.sent(-libc::ECANCELED);
            }
            _ => {}
        }
        if !stream.is_busy() && !*connect_poll {
            stream.release_input(|chunk| self.buffers.give_back(chunk));
            self.closing.swap_remove(at);
        }
    }
}

impl MultiClient {
    /// One wait of the io_uring loop: prepares the touched connections, submits, waits at most
    /// `wait`, and applies the completions; the connections that became ready go to `ready`.
    pub(super) fn wait_uring(&mut self, wait: Duration) -> io::Result<()> {
        let super::driver::Driver::IoUring(ring) = &mut self.driver else {
            return Ok(());
        };
        for slot in std::mem::take(&mut ring.touched) {
            let Some(entry) = self.slots.get_mut(slot) else {
                continue;
            };
            let generation = entry.generation;
            let Some(peer) = entry.peer.as_mut() else {
                continue;
            };
            let connected = !ring.connect_polls[slot] && is_connected(peer);
            if let Some(stream) = peer.transport.uring() {
                ring.prepare(slot, generation, stream, connected);
            }
        }
        ring.buffers.publish();
        ring.submit_and_wait(wait)?;
        for (raw, result, flags) in std::mem::take(&mut ring.completions) {
            let Some(data) = UserData::decode(raw) else {
                continue;
            };
            let slot = data.slot as usize;
            let live = self.slots.get_mut(slot).filter(|s| {
                s.peer.is_some() && data.is_generation(s.generation) && data.op != Op::Cancel
            });
            let Some(stream) = live.and_then(|s| s.peer.as_mut()?.transport.uring()) else {
                ring.complete_closing(data, result, flags);
                continue;
            };
            let ready = ring.complete(data, result, flags, stream);
            ring.touched.push(slot);
            match self.ready.last_mut() {
                // Completions for one connection often come together: one event for them.
                Some((last, state)) if *last == slot => state.merge(ready),
                _ => self.ready.push((slot, ready)),
            }
        }
        ring.buffers.publish();
        Ok(())
    }
}

/// Whether a connection's socket is connected (its receive may be armed).
fn is_connected(peer: &Peer) -> bool {
    match &peer.phase {
        Phase::Handshake(handshake) => handshake.connected,
        _ => true,
    }
}
