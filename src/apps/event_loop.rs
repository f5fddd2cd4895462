//! `--io-uring`: which event loop a server of the command runs (the mio runtime's epoll loop
//! by default, io_uring on Linux when asked), and how the choice is said at start.

use clap::ValueEnum;

use fullduplex::server::EventLoop;

/// What `--io-uring[=MODE]` asks for.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum IoUringMode {
    /// io_uring or nothing: the server does not start where io_uring is missing or forbidden
    /// (`--io-uring` alone means this).
    Require,
    /// io_uring where it works, else the epoll loop, saying why on standard error.
    Fallback,
}

/// The event loop the server is asked to run: `--io-uring` absent, `require` or `fallback`.
pub fn wanted(mode: Option<IoUringMode>) -> EventLoop {
    match mode {
        None => EventLoop::Mio,
        Some(IoUringMode::Require) => EventLoop::IoUring,
        Some(IoUringMode::Fallback) => EventLoop::IoUringOrMio,
    }
}

/// How the startup line names the event loop that runs.
pub fn name(running: EventLoop) -> &'static str {
    match running {
        EventLoop::IoUring => "io_uring",
        EventLoop::Mio | EventLoop::IoUringOrMio => "mio",
    }
}

/// Whether a failed bind was the refusal of io_uring (the server names io_uring in it)
/// rather than a problem with the address.
pub fn is_refusal(e: &std::io::Error) -> bool {
    e.to_string().contains("io_uring")
}

/// The library's own advice at the end of a refusal, which names its API
/// (`EventLoop::IoUringOrMio`): the command gives its flags instead.
const LIBRARY_ADVICE: &str = "; run on mio instead";

/// The one-line error for a server that asked for io_uring and could not have it: the cause,
/// then what to do with this command's flags.
pub fn refused(why: &std::io::Error) -> String {
    let text = why.to_string();
    let cause = text.split(LIBRARY_ADVICE).next().unwrap_or_default();
    format!(
        "--io-uring: {cause}; run without --io-uring for the epoll loop, or with \
         --io-uring=fallback to use it when io_uring is unavailable"
    )
}

/// The refusal of `--io-uring` beside `--runtime tokio`, whose loop is tokio's.
pub const NOT_WITH_TOKIO: &str = "--io-uring chooses the event loop of the mio runtime, and \
     --runtime tokio runs on tokio's own: leave out --runtime tokio (or --io-uring)";
