//! Which event loop runs: the choice between mio's and io_uring's, made the same way for the
//! server and the many-connection client ([`EventLoop`]: mio when asked; io_uring when asked and
//! it works, else refused saying why, or mio when the fallback was asked for).

use std::io;

use super::EventLoop;

/// What `wanted` gives: `mio()` for [`EventLoop::Mio`], else `io_uring()`; where that fails,
/// the error, or for [`EventLoop::IoUringOrMio`] `mio()` after saying why on standard error
/// (`fallback` completes the sentence: "running on mio (epoll) instead").
pub(crate) fn choose<T>(
    wanted: EventLoop,
    fallback: &str,
    mio: impl FnOnce() -> io::Result<T>,
    io_uring: impl FnOnce() -> io::Result<T>,
) -> io::Result<T> {
    if wanted == EventLoop::Mio {
        return mio();
    }
    match io_uring() {
        Ok(chosen) => Ok(chosen),
        Err(why) if wanted == EventLoop::IoUringOrMio => {
            eprintln!("fullduplex: {why}; {fallback}");
            mio()
        }
        Err(why) => Err(why),
    }
}

/// The refusal of a build without the io_uring event loop.
#[cfg(not(all(feature = "io-uring", target_os = "linux")))]
pub(crate) fn not_in_this_build() -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        "io_uring is not in this build of fullduplex: it needs Linux and the `io-uring` feature",
    )
}

/// Whether this build and this system can run the io_uring event loop: a ring is set up and
/// probed for every operation the loop uses; the error is one sentence naming the cause and
/// what to do.
pub(crate) fn io_uring_support() -> io::Result<()> {
    // On a thread of its own, like the workers' rings (see `Server::bind`).
    #[cfg(all(feature = "io-uring", target_os = "linux"))]
    return std::thread::scope(|scope| {
        let probe = scope.spawn(crate::uring::setup::support);
        probe
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the io_uring probe failed")))
    });
    #[cfg(not(all(feature = "io-uring", target_os = "linux")))]
    Err(not_in_this_build())
}
