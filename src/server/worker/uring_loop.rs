//! A worker's io_uring event loop: the same turn as mio's (`Worker::run`), over completions
//! instead of readiness, with the same handling of input, commands, deadlines, output and
//! ends (the other `worker` files serve both loops through
//! [`Transport`](crate::transport::Transport)).
//!
//! Each turn: one `io_uring_enter` submits everything the previous turn queued (every send,
//! receives to arm, the timer for the next sweep) and waits for a completion; then the
//! completions are taken (accepted sockets, received chunks, sends done, the mailbox's
//! wake-up, the timer); the connections that received are read as mio's loop reads a
//! readable socket; commands, the sweep, writing and removal follow as in mio's loop; last,
//! the turn's sends and receives are queued and read buffers go back to the ring.
//!
//! A completion names its connection by slot and generation ([`UserData`]): one for a
//! connection that was removed goes to the driver's graves (its buffer back to the ring, its
//! socket closed after its last completion), never to the slot's next occupant.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use io_uring::cqueue;

use super::shed::is_resource_exhausted;
use super::uring::{Driver, PAUSE_AT};
use super::{Io, Slot, Worker};
use crate::server::handler::Handler;
use crate::transport::sweep_interval;
use crate::uring::op::{Op, UserData};
use crate::uring::UringStream;

/// How long an exiting worker waits for the last sends of removed connections.
const EXIT_WAIT: Duration = Duration::from_secs(1);

impl<H: Handler> Worker<H> {
    /// Runs the io_uring event loop until the server shuts down.
    pub(super) fn run_uring(mut self) {
        self.handler.on_start(&self.handle);
        let sweep_every = sweep_interval(self.config.shortest_timeout());
        let mut next_sweep = Instant::now() + sweep_every;
        self.queue_submissions();
        loop {
            let wait = self.more_to_read.is_empty();
            let wake_at = self.wake_at(next_sweep);
            let Io::Uring(driver) = &mut self.io else {
                return;
            };
            if wait {
                driver.arm_timer_by(wake_at, Instant::now());
            }
            if let Err(err) = driver.submit(wait) {
                eprintln!("fullduplex: worker {}: io_uring failed: {err}", self.index);
                break;
            }
            let now = Instant::now();
            self.take_completions(now);
            self.read_received(now);
            self.read_more(now);
            self.run_commands(now);
            self.resume_accepting(now);
            if now >= next_sweep {
                self.sweep_deadlines(now);
                let close_timeout = self.config.close_timeout;
                if let Io::Uring(driver) = &mut self.io {
                    driver.sweep_graves(now, close_timeout);
                }
                next_sweep = now + sweep_every;
            }
            self.flush_dirty(now);
            self.remove_dead();
            self.queue_submissions();
            if self.shutdown_done(now) {
                break;
            }
        }
        self.kill_all();
        if let Io::Uring(driver) = &mut self.io {
            driver.finish(EXIT_WAIT);
        }
    }

    fn take_completions(&mut self, now: Instant) {
        let Io::Uring(driver) = &mut self.io else {
            return;
        };
        let completions = std::mem::take(&mut driver.completions);
        for &(user_data, result, flags) in &completions {
            let Some(data) = UserData::decode(user_data) else {
                continue;
            };
            match data.op {
                Op::Accept => self.on_accepted(result, flags, now),
                Op::Poll => {
                    if let Io::Uring(driver) = &mut self.io {
                        driver.listen_armed = false;
                    }
                    self.accept(now);
                }
                Op::Recv => self.on_received(data, result, flags),
                Op::Send => self.on_sent(data, result, flags),
                Op::Wake => {
                    if let Io::Uring(driver) = &mut self.io {
                        driver.wake_armed &= cqueue::more(flags);
                    }
                    self.take_mail();
                }
                Op::Timer => {
                    if let Io::Uring(driver) = &mut self.io {
                        driver.timer_fired();
                    }
                }
                Op::Cancel => {}
            }
        }
        if let Io::Uring(driver) = &mut self.io {
            driver.completions = completions;
        }
    }

    /// A multishot accept's completion: a new connection, or an error (out of descriptors:
    /// accepting pauses and waiting connections are refused, as in mio's loop: `shed`).
    fn on_accepted(&mut self, result: i32, flags: u32, now: Instant) {
        let Io::Uring(driver) = &mut self.io else {
            return;
        };
        driver.accept_armed &= cqueue::more(flags);
        if result >= 0 {
            // SAFETY: a successful accept's result is a new descriptor, ours alone.
            let socket = std::net::TcpStream::from(unsafe { OwnedFd::from_raw_fd(result) });
            if self.listener.is_none() {
                return;
            }
            if let Ok(addr) = socket.peer_addr() {
                self.take_connection(mio::net::TcpStream::from_std(socket), addr, now);
            }
            return;
        }
        let err = io::Error::from_raw_os_error(result.saturating_neg());
        if is_resource_exhausted(&err) {
            driver.cancel_accept();
            self.on_accept_exhausted(&err, now);
        }
    }

    /// A multishot receive's completion: a chunk, the end of the stream, an error, or the end
    /// of the multishot (armed again at the end of the turn unless receiving is over).
    fn on_received(&mut self, data: UserData, result: i32, flags: u32) {
        let Io::Uring(driver) = &mut self.io else {
            return;
        };
        let slot = data.slot as usize;
        let Some(stream) = live_stream(&mut self.slots, data) else {
            return driver.settle_grave(data.encode(), result, flags);
        };
        let chunk = cqueue::buffer_select(flags)
            .and_then(|bid| driver.buffers.take(bid, result.max(0) as usize));
        match (result, chunk) {
            (1.., Some(chunk)) => stream.received(chunk),
            // A receive that names no buffer of ours cannot be believed.
            (1.., None) => stream.receive_ended(libc::EIO),
            (0, chunk) => {
                if let Some(chunk) = chunk {
                    driver.give_back(chunk);
                }
                stream.receive_ended(0);
            }
            (errno, chunk) => {
                if let Some(chunk) = chunk {
                    driver.give_back(chunk);
                }
                match errno.saturating_neg() {
                    libc::ENOBUFS => driver.starved.push(slot),
                    libc::ECANCELED | libc::EINTR | libc::EAGAIN => {}
                    errno => stream.receive_ended(errno),
                }
            }
        }
        if !cqueue::more(flags) {
            stream.recv_armed = false;
            if result != -libc::ENOBUFS && !stream.is_read_ended() && !stream.recv_paused {
                driver.arm.push(slot);
            }
        }
        if result > 0 || stream.is_read_ended() {
            driver.note_readable(slot);
        }
    }

    /// A send's completion: the rest of a partial send goes on, or the next bytes written;
    /// a connection whose output was stuck is written again.
    fn on_sent(&mut self, data: UserData, result: i32, flags: u32) {
        let Io::Uring(driver) = &mut self.io else {
            return;
        };
        let slot = data.slot as usize;
        let Some(stream) = live_stream(&mut self.slots, data) else {
            return driver.settle_grave(data.encode(), result, flags);
        };
        let rest = stream.sent(result);
        driver.send(stream, rest, slot, data.generation);
        let stuck = self.slots[slot].peer.as_ref().is_some_and(|p| p.writable);
        if stuck || result < 0 {
            self.mark_dirty(slot);
        }
    }

    /// Reads the connections that received this turn, as mio's loop reads a readable socket.
    fn read_received(&mut self, now: Instant) {
        let Io::Uring(driver) = &mut self.io else {
            return;
        };
        let readable = std::mem::take(&mut driver.readable);
        for &slot in &readable {
            self.on_readable(slot, false, now);
        }
        if let Io::Uring(driver) = &mut self.io {
            driver.readable = readable;
        }
    }

    /// Queues the turn's submissions: the loop's own (accept, wake-up), receives to arm or
    /// pause, every connection's new sends; and gives read buffers back to the ring.
    fn queue_submissions(&mut self) {
        let Io::Uring(driver) = &mut self.io else {
            return;
        };
        if !driver.wake_armed {
            driver.arm_wake();
        }
        if let Some(listener) = &self.listener {
            if self.accept_paused_until.is_some() {
                // Accepting resumes when the pause is over.
            } else if self.exhausted {
                if !driver.listen_armed {
                    driver.arm_listen(listener.as_raw_fd());
                }
            } else if !driver.accept_armed {
                driver.arm_accept(listener.as_raw_fd());
            }
        }
        pause_or_resume(driver, &mut self.slots);
        arm_receives(driver, &mut self.slots);
        let mut touched = std::mem::take(&mut driver.touched);
        for slot in touched.drain(..) {
            if let Some((stream, generation)) = stream_in(&mut self.slots, slot) {
                stream.recycle(|chunk| driver.give_back(chunk));
                driver.send(stream, None, slot, generation);
            }
        }
        driver.touched = touched;
        driver.buffers.publish();
    }
}

/// Gives read buffers back, pauses the receive of connections holding [`PAUSE_AT`] unread
/// bytes, and resumes paused ones that read enough.
fn pause_or_resume<S>(driver: &mut Driver, slots: &mut [Slot<S>]) {
    let mut readable = std::mem::take(&mut driver.readable);
    for slot in readable.drain(..) {
        let Some((stream, generation)) = stream_in(slots, slot) else {
            continue;
        };
        stream.recycle(|chunk| driver.give_back(chunk));
        if stream.unread() >= PAUSE_AT && stream.recv_armed && !stream.recv_paused {
            stream.recv_paused = true;
            driver.cancel_recv(slot, generation);
            driver.paused.push(slot);
        }
    }
    driver.readable = readable;
    let mut paused = std::mem::take(&mut driver.paused);
    paused.retain(|&slot| {
        let Some((stream, _)) = stream_in(slots, slot) else {
            return false;
        };
        if stream.unread() >= PAUSE_AT {
            return true;
        }
        stream.recv_paused = false;
        driver.arm.push(slot);
        false
    });
    driver.paused = paused;
}

/// Arms the receives of new connections, of those whose multishot ended, and of those starved
/// of buffers once some are back.
fn arm_receives<S>(driver: &mut Driver, slots: &mut [Slot<S>]) {
    if !driver.starved.is_empty() && driver.buffers.lent() < usize::from(super::uring::RECV_BUFFERS)
    {
        let starved = std::mem::take(&mut driver.starved);
        driver.arm.extend(starved);
    }
    let mut arm = std::mem::take(&mut driver.arm);
    for slot in arm.drain(..) {
        if let Some((stream, generation)) = stream_in(slots, slot) {
            if !stream.recv_armed && !stream.recv_paused && !stream.is_read_ended() {
                driver.arm_recv(stream, slot, generation);
            }
        }
    }
    driver.arm = arm;
}

/// The io_uring stream of the connection in `slot`, with its generation.
fn stream_in<S>(slots: &mut [Slot<S>], slot: usize) -> Option<(&mut UringStream, u32)> {
    let peer = slots.get_mut(slot)?.peer.as_mut()?;
    let generation = peer.generation;
    Some((peer.transport.uring()?, generation))
}

/// The stream of the connection a completion names, if it is still in its slot.
fn live_stream<S>(slots: &mut [Slot<S>], data: UserData) -> Option<&mut UringStream> {
    let peer = slots.get_mut(data.slot as usize)?.peer.as_mut()?;
    if !data.is_generation(peer.generation) {
        return None;
    }
    peer.transport.uring()
}
