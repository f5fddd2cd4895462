//! What wakes an event loop from another thread: mio's waker, or the eventfd an io_uring loop
//! polls ([`EventFd`](crate::uring::EventFd), Linux, feature `io-uring`).

use std::io;

/// Wakes one event loop.
pub(crate) enum LoopWaker {
    /// A mio loop's waker (registered with its `Poll`).
    Mio(mio::Waker),
    /// An io_uring loop's eventfd.
    #[cfg(all(feature = "io-uring", target_os = "linux"))]
    EventFd(crate::uring::EventFd),
}

impl LoopWaker {
    /// Interrupts the loop's wait.
    pub(crate) fn wake(&self) -> io::Result<()> {
        match self {
            LoopWaker::Mio(waker) => waker.wake(),
            #[cfg(all(feature = "io-uring", target_os = "linux"))]
            LoopWaker::EventFd(fd) => fd.wake(),
        }
    }
}
