//! The io_uring primitives the runtime's event loops share (Linux, feature `io-uring`): the
//! ring's setup and the probe that says in one sentence why it cannot run, the ring of
//! provided receive buffers, the byte stream a connection reads and writes through, and the
//! eventfd that wakes a ring from other threads.
//!
//! How an event loop uses them (the server's worker does, see `server::worker::uring`):
//!
//! - [`setup::new_ring`] creates the loop's ring, having checked every operation it needs
//!   ([`setup::support`] does the same check alone, for a fallback to mio). Create a ring on
//!   the thread that runs its loop (and probe on a thread of its own): when a ring ends, the
//!   kernel interrupts the blocking calls of the thread that created it (`EINTR`), which a
//!   caller of `bind` or `connect` doing blocking I/O would see.
//! - [`BufRing`] registers a group of receive buffers; a multishot receive
//!   (`opcode::RecvMulti` with [`BufRing::group`]) picks one per completion, and
//!   [`BufRing::take`] hands that buffer over as a [`Chunk`].
//! - A [`UringStream`] holds a connection's socket, the chunks received and not yet read,
//!   and the bytes written and not yet sent. Its `read` and `write_vectored` behave like the
//!   system calls on a non-blocking socket (`WouldBlock` when empty or full), so the code that
//!   drives the protocol over a mio socket drives it over the ring unchanged. The loop moves
//!   chunks in ([`UringStream::received`]), takes consumed ones back for the ring
//!   ([`UringStream::recycle`]), submits what was written ([`UringStream::start_send`]) and
//!   reports the send's completion ([`UringStream::sent`]).
//! - [`EventFd`] is a mailbox's waker; the loop keeps a multishot poll on it.
//! - [`op::UserData`] packs what a completion is for (operation, slot, generation), so that a
//!   completion for a connection that is gone, or for the slot's next occupant, is recognised.
//!
//! Memory rules, which every user must keep: a buffer the kernel may write (in the ring) or
//! read (a send in flight) is never freed or moved until its completion says so; a socket's
//! descriptor is closed only when no operation on it is in flight (so its number cannot be
//! reused under one).

pub(crate) mod buf_ring;
pub(crate) mod op;
pub(crate) mod setup;
pub(crate) mod stream;
pub(crate) mod waker;

pub(crate) use buf_ring::{BufRing, Chunk};
pub(crate) use stream::UringStream;
pub(crate) use waker::EventFd;
