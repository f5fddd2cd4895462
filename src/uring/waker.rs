//! The eventfd that wakes a ring's event loop from other threads: a write adds to its counter,
//! and the loop's multishot poll on it (`opcode::PollAdd` with `multi`) completes. The counter
//! is never read back: each write wakes the poll again, as mio's edge-triggered waker does.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// An eventfd (non-blocking, closed on exec).
pub(crate) struct EventFd(File);

impl EventFd {
    pub(crate) fn new() -> io::Result<Self> {
        // SAFETY: eventfd takes no pointers; a non-negative result is a new descriptor we own.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just created and is owned by nothing else.
        Ok(Self(File::from(unsafe { OwnedFd::from_raw_fd(fd) })))
    }

    /// Wakes the loop polling it. A counter at its maximum (never, in practice) means a wake-up
    /// is pending anyway.
    pub(crate) fn wake(&self) -> io::Result<()> {
        match (&self.0).write(&1u64.to_ne_bytes()) {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Another descriptor for the same eventfd, for the loop to poll (so that its poll never
    /// names a closed descriptor, whichever of the two is dropped first).
    pub(crate) fn try_clone(&self) -> io::Result<Self> {
        self.0.try_clone().map(Self)
    }
}

impl AsRawFd for EventFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::uring::op::{Op, UserData};
    use io_uring::{opcode, types};

    #[test]
    fn a_wake_completes_the_rings_poll_each_time() {
        let mut ring = crate::uring::setup::new_ring(8).unwrap();
        let waker = EventFd::new().unwrap();
        let polled = waker.try_clone().unwrap();
        let poll = opcode::PollAdd::new(types::Fd(polled.as_raw_fd()), libc::POLLIN as u32)
            .multi(true)
            .build()
            .user_data(UserData::of_loop(Op::Wake).encode());
        unsafe { ring.submission().push(&poll).unwrap() };
        for _ in 0..3 {
            waker.wake().unwrap();
            ring.submit_and_wait(1).unwrap();
            let cqe = ring.completion().next().unwrap();
            assert_eq!(UserData::decode(cqe.user_data()).unwrap().op, Op::Wake);
            assert!(io_uring::cqueue::more(cqe.flags()));
        }
    }
}
