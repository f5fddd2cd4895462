//! The ring side of a worker's io_uring event loop: the ring, its receive buffers, the
//! operations in flight for the loop itself (accept, wake-up, timer), and the connections that
//! ended but still have an operation in flight. What the worker does with a completion is in
//! `uring_loop`; this file only builds submissions and keeps their bookkeeping.
//!
//! Memory: per worker, a ring of [`RING_ENTRIES`] submissions (four times as many
//! completions) and [`RECV_BUFFERS`] receive buffers of [`RECV_BUFFER_SIZE`] bytes, which
//! connections borrow only while their bytes wait to be read.

use std::collections::HashMap;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use io_uring::{cqueue, opcode, squeue, types, IoUring};

use crate::transport::Transport;
use crate::uring::op::{Op, UserData};
use crate::uring::{setup, BufRing, Chunk, EventFd, UringStream};

/// Submission entries per ring.
pub(crate) const RING_ENTRIES: u32 = 4096;
/// Receive buffers per ring, and their size: 8 MiB per worker.
pub(crate) const RECV_BUFFERS: u16 = 512;
pub(crate) const RECV_BUFFER_SIZE: usize = 16 << 10;
/// Unread bytes past which a connection's receive is paused until it reads (the socket then
/// pushes back on the peer, as a full socket buffer does under mio).
pub(crate) const PAUSE_AT: usize = 256 << 10;
/// The buffer group of the receive buffers.
const GROUP: u16 = 0;

/// A connection removed while an operation on its socket was in flight: kept, descriptor open
/// and buffers alive, until the last completion.
struct Grave {
    transport: Transport,
    since: Instant,
    cancelled: bool,
}

/// A worker's ring and what it has in flight.
pub(crate) struct Driver {
    ring: IoUring,
    pub(crate) buffers: BufRing,
    wake: EventFd,
    /// The relative time of the armed timer (read by the kernel when submitted).
    timer: types::Timespec,
    /// When the timers in flight complete, earliest first: the sweep's, and at most one
    /// earlier (accepting resumes after a pause).
    timers: Vec<Instant>,
    pub(crate) wake_armed: bool,
    pub(crate) accept_armed: bool,
    /// Whether the one-shot poll of the listener (accepting out of descriptors) is in flight.
    pub(crate) listen_armed: bool,
    /// Connections to arm a multishot receive on.
    pub(crate) arm: Vec<usize>,
    /// Connections whose receive ended for want of buffers: armed again once some are back.
    pub(crate) starved: Vec<usize>,
    /// Connections whose receive is paused ([`PAUSE_AT`]).
    pub(crate) paused: Vec<usize>,
    /// Connections that received this turn, in order, each once (`seen` marks them).
    pub(crate) readable: Vec<usize>,
    seen: Vec<u32>,
    turn: u32,
    /// Connections written this turn (their sends go out at the end of the turn).
    pub(crate) touched: Vec<usize>,
    graves: HashMap<(u32, u32), Grave>,
    /// This turn's completions, copied out of the ring (user data, result, flags).
    pub(crate) completions: Vec<(u64, i32, u32)>,
}

impl Driver {
    /// A ring for one worker, woken through `wake` (the mailbox's eventfd).
    pub(crate) fn new(wake: EventFd) -> io::Result<Self> {
        let ring = setup::new_ring(RING_ENTRIES)?;
        let buffers = BufRing::new(&ring, GROUP, RECV_BUFFERS, RECV_BUFFER_SIZE)?;
        Ok(Self {
            ring,
            buffers,
            wake,
            timer: types::Timespec::new(),
            timers: Vec::with_capacity(2),
            wake_armed: false,
            accept_armed: false,
            listen_armed: false,
            arm: Vec::new(),
            starved: Vec::new(),
            paused: Vec::new(),
            readable: Vec::new(),
            seen: Vec::new(),
            turn: 0,
            touched: Vec::new(),
            graves: HashMap::new(),
            completions: Vec::with_capacity(1024),
        })
    }

    /// Submits everything queued and, if `wait`, waits for a completion (one system call),
    /// then copies the completions out.
    pub(crate) fn submit(&mut self, wait: bool) -> io::Result<()> {
        let submitted = if wait {
            self.ring.submit_and_wait(1)
        } else {
            self.ring.submit()
        };
        let result = match submitted {
            Ok(_) => Ok(()),
            // Interrupted, or completions overflowed: take those there are and go on.
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(()),
            Err(e) => Err(e),
        };
        self.completions.clear();
        self.completions.extend(
            self.ring
                .completion()
                .map(|cqe| (cqe.user_data(), cqe.result(), cqe.flags())),
        );
        self.turn = self.turn.wrapping_add(1);
        result
    }

    /// Queues a submission, submitting the queue first if it is full.
    fn push(&mut self, entry: &squeue::Entry) {
        for _ in 0..4 {
            // SAFETY: every entry built here points only at memory that outlives its
            // completion: the timer's `Timespec` (this boxed driver's), a stream's send buffer
            // (kept until the send completes, see `UringStream::sent` and the graves).
            if unsafe { self.ring.submission().push(entry) }.is_ok() {
                return;
            }
            if self.ring.submit().is_err() {
                break;
            }
        }
        eprintln!("fullduplex: the io_uring submission queue stays full; an operation is lost");
    }

    /// Arms the multishot accept on `listener`.
    pub(crate) fn arm_accept(&mut self, listener: RawFd) {
        let accept = opcode::AcceptMulti::new(types::Fd(listener))
            .flags(libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC)
            .build()
            .user_data(UserData::of_loop(Op::Accept).encode());
        self.push(&accept);
        self.accept_armed = true;
    }

    /// Arms a one-shot poll for the listener's readiness: out of descriptors, the worker
    /// accepts itself when it completes, as mio's loop does (see `shed`), so that no accept of
    /// its runs in the kernel, beyond the reach of the accept gate.
    pub(crate) fn arm_listen(&mut self, listener: RawFd) {
        let poll = opcode::PollAdd::new(types::Fd(listener), libc::POLLIN as u32)
            .build()
            .user_data(UserData::of_loop(Op::Poll).encode());
        self.push(&poll);
        self.listen_armed = true;
    }

    /// Cancels the multishot accept (shutdown, or accepting paused).
    pub(crate) fn cancel_accept(&mut self) {
        if self.accept_armed {
            self.cancel(UserData::of_loop(Op::Accept));
        }
    }

    /// Cancels the listener's poll (shutdown).
    fn cancel_listen(&mut self) {
        if self.listen_armed {
            self.cancel(UserData::of_loop(Op::Poll));
        }
    }

    /// Arms the multishot poll of the mailbox's eventfd.
    pub(crate) fn arm_wake(&mut self) {
        let poll = opcode::PollAdd::new(types::Fd(self.wake.as_raw_fd()), libc::POLLIN as u32)
            .multi(true)
            .build()
            .user_data(UserData::of_loop(Op::Wake).encode());
        self.push(&poll);
        self.wake_armed = true;
    }

    /// Arms a timer to complete at `at`, unless one in flight completes by then. At most two
    /// are in flight: one armed for an earlier time leaves the later one running rather than
    /// cancel it (its completion is one more turn of the loop, no more).
    pub(crate) fn arm_timer_by(&mut self, at: Instant, now: Instant) {
        let wanted = match self.timers.as_slice() {
            [] => true,
            [due] => at < *due,
            _ => false,
        };
        if !wanted {
            return;
        }
        self.timer = types::Timespec::from(at.saturating_duration_since(now));
        let timeout = opcode::Timeout::new(&self.timer)
            .build()
            .user_data(UserData::of_loop(Op::Timer).encode());
        self.push(&timeout);
        self.timers.insert(0, at);
    }

    /// A timer completed: the one due first.
    pub(crate) fn timer_fired(&mut self) {
        if !self.timers.is_empty() {
            self.timers.remove(0);
        }
    }

    fn cancel(&mut self, target: UserData) {
        let cancel = opcode::AsyncCancel::new(target.encode())
            .build()
            .user_data(UserData::of_loop(Op::Cancel).encode());
        self.push(&cancel);
    }

    /// Arms a multishot receive on the stream of the connection in `slot`.
    pub(crate) fn arm_recv(&mut self, stream: &mut UringStream, slot: usize, generation: u32) {
        let recv = opcode::RecvMulti::new(types::Fd(stream.as_raw_fd()), self.buffers.group())
            .build()
            .user_data(UserData::new(Op::Recv, slot as u32, generation).encode());
        self.push(&recv);
        stream.recv_armed = true;
    }

    /// Cancels the receive of the connection in `slot` (its last completion says when).
    pub(crate) fn cancel_recv(&mut self, slot: usize, generation: u32) {
        self.cancel(UserData::new(Op::Recv, slot as u32, generation));
    }

    /// Submits what the stream has written, unless a send is in flight; `rest` a partial
    /// send's remainder instead.
    pub(crate) fn send(
        &mut self,
        stream: &mut UringStream,
        rest: Option<(*const u8, u32)>,
        slot: usize,
        generation: u32,
    ) {
        let Some((buf, len)) = rest.or_else(|| stream.start_send()) else {
            return;
        };
        let send = opcode::Send::new(types::Fd(stream.as_raw_fd()), buf, len)
            .flags(libc::MSG_NOSIGNAL)
            .build()
            .user_data(UserData::new(Op::Send, slot as u32, generation).encode());
        self.push(&send);
    }

    /// Notes that `slot` received this turn (once).
    pub(crate) fn note_readable(&mut self, slot: usize) {
        if self.seen.len() <= slot {
            self.seen.resize(slot + 1, self.turn.wrapping_sub(1));
        }
        if self.seen[slot] != self.turn {
            self.seen[slot] = self.turn;
            self.readable.push(slot);
        }
    }

    /// Puts a received chunk's buffer back in the ring.
    pub(crate) fn give_back(&mut self, chunk: Chunk) {
        self.buffers.give_back(chunk);
    }

    /// Takes in a removed connection: its buffers go back, its receive is cancelled, what it
    /// wrote is still sent; its socket closes when nothing is in flight on it.
    pub(crate) fn retire(&mut self, mut transport: Transport, slot: usize, generation: u32) {
        let Some(stream) = transport.uring() else {
            return;
        };
        stream.release_input(|chunk| self.buffers.give_back(chunk));
        if stream.recv_armed {
            self.cancel_recv(slot, generation);
        }
        self.send(stream, None, slot, generation);
        if stream.is_busy() {
            let key = (
                slot as u32,
                UserData::new(Op::Recv, 0, generation).generation,
            );
            let grave = Grave {
                transport,
                since: Instant::now(),
                cancelled: false,
            };
            self.graves.insert(key, grave);
        }
    }

    /// Cancels the sends of removed connections that waited `longer_than` (a peer that reads
    /// nothing must not keep a socket open for ever).
    pub(crate) fn sweep_graves(&mut self, now: Instant, longer_than: Duration) {
        let mut late = Vec::new();
        for (&(slot, generation), grave) in &mut self.graves {
            if !grave.cancelled && now.duration_since(grave.since) >= longer_than {
                grave.cancelled = true;
                late.push(UserData::new(Op::Send, slot, generation));
                late.push(UserData::new(Op::Recv, slot, generation));
            }
        }
        for target in late {
            self.cancel(target);
        }
    }

    /// Whether removed connections still wait for completions.
    pub(crate) fn has_graves(&self) -> bool {
        !self.graves.is_empty()
    }

    /// At exit: cancels the accept (the kernel holds the listening socket open while it is in
    /// flight) and the removed connections' operations, and waits (a bounded time) for their
    /// last completions, giving their buffers back. What is still in flight then is leaked,
    /// never freed under the kernel.
    pub(crate) fn finish(&mut self, within: Duration) {
        self.cancel_accept();
        self.cancel_listen();
        self.sweep_graves(Instant::now(), Duration::ZERO);
        let deadline = Instant::now() + within;
        while (self.has_graves() || self.accept_armed || self.listen_armed)
            && Instant::now() < deadline
        {
            let now = Instant::now();
            self.arm_timer_by(now + Duration::from_millis(10), now);
            if self.submit(true).is_err() {
                break;
            }
            for (user_data, result, flags) in std::mem::take(&mut self.completions) {
                match UserData::decode(user_data).map(|d| d.op) {
                    Some(Op::Timer) => self.timer_fired(),
                    Some(Op::Poll) => self.listen_armed = false,
                    Some(Op::Accept) => {
                        self.accept_armed &= cqueue::more(flags);
                        if result >= 0 {
                            // SAFETY: a successful accept's result is a new descriptor, ours.
                            drop(unsafe { OwnedFd::from_raw_fd(result) });
                        }
                    }
                    _ => self.settle_grave(user_data, result, flags),
                }
            }
        }
        for (_, grave) in self.graves.drain() {
            std::mem::forget(grave);
        }
    }

    /// A receive's or send's completion for a removed connection (or none): the buffer goes
    /// back, a partial send goes on, the socket closes once nothing is in flight on it.
    pub(crate) fn settle_grave(&mut self, user_data: u64, result: i32, flags: u32) {
        let Some(data) = UserData::decode(user_data) else {
            return;
        };
        let chunk = cqueue::buffer_select(flags)
            .and_then(|bid| self.buffers.take(bid, result.max(0) as usize));
        if let Some(chunk) = chunk {
            self.buffers.give_back(chunk);
        }
        let key = (data.slot, data.generation);
        let Some(mut grave) = self.graves.remove(&key) else {
            return;
        };
        if let Some(stream) = grave.transport.uring() {
            match data.op {
                Op::Recv if !cqueue::more(flags) => stream.recv_armed = false,
                Op::Send => {
                    let rest = stream.sent(result);
                    self.send(stream, rest, data.slot as usize, data.generation);
                }
                _ => {}
            }
            if !stream.is_busy() {
                return;
            }
        }
        self.graves.insert(key, grave);
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The kernel stops picking from the buffer ring before the buffers are freed.
        let _ = self
            .ring
            .submitter()
            .unregister_buf_ring(self.buffers.group());
    }
}
