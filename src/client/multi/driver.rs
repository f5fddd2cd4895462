//! What a [`MultiClient`](super::MultiClient) waits on: mio's readiness (epoll), or an io_uring
//! ring's completions ([`super::uring`], Linux, feature `io-uring`), chosen with
//! [`EventLoop`] when the client is made. Either way a turn ends in the same list of
//! [`Ready`] connections, which the rest of the client handles without knowing which loop runs.

use std::io;
use std::time::Duration;

use mio::{Events, Interest, Poll, Token};

use super::turn::Ready;
use super::MultiClient;
use crate::server::event_loop;
use crate::server::EventLoop;
use crate::transport::Transport;

#[cfg(all(feature = "io-uring", target_os = "linux"))]
pub(super) use super::uring::UringLoop;

/// The event loop under a client.
pub(super) enum Driver {
    /// Readiness from epoll (kqueue elsewhere), sockets read and written by system calls.
    Mio { poll: Poll, events: Events },
    /// Completions from io_uring: receives into a ring of buffers, sends submitted per turn.
    #[cfg(all(feature = "io-uring", target_os = "linux"))]
    IoUring(Box<UringLoop>),
}

impl Driver {
    /// The loop `wanted` asks for, or why it cannot run ([`EventLoop::IoUringOrMio`] falls back
    /// to mio, saying why on standard error, as the server does).
    pub(super) fn new(wanted: EventLoop) -> io::Result<Self> {
        event_loop::choose(
            wanted,
            "the client runs on mio (epoll) instead",
            Self::mio,
            Self::io_uring,
        )
    }

    fn mio() -> io::Result<Self> {
        Ok(Driver::Mio {
            poll: Poll::new()?,
            events: Events::with_capacity(1024),
        })
    }

    #[cfg(all(feature = "io-uring", target_os = "linux"))]
    fn io_uring() -> io::Result<Self> {
        Ok(Driver::IoUring(Box::new(UringLoop::new()?)))
    }

    #[cfg(not(all(feature = "io-uring", target_os = "linux")))]
    fn io_uring() -> io::Result<Self> {
        Err(event_loop::not_in_this_build())
    }

    /// The loop that runs.
    pub(super) fn event_loop(&self) -> EventLoop {
        match self {
            Driver::Mio { .. } => EventLoop::Mio,
            #[cfg(all(feature = "io-uring", target_os = "linux"))]
            Driver::IoUring(_) => EventLoop::IoUring,
        }
    }

    /// Wraps a connecting socket for this loop; over mio, registers it for both directions
    /// once (readiness is edge-triggered: an idle connection costs no events).
    pub(super) fn plain(
        &mut self,
        mut tcp: mio::net::TcpStream,
        slot: usize,
    ) -> io::Result<Transport> {
        match self {
            Driver::Mio { poll, .. } => {
                let interest = Interest::READABLE | Interest::WRITABLE;
                poll.registry().register(&mut tcp, Token(slot), interest)?;
                Ok(Transport::Plain(tcp))
            }
            #[cfg(all(feature = "io-uring", target_os = "linux"))]
            Driver::IoUring(_) => Ok(UringLoop::plain(tcp)),
        }
    }

    /// A connection leaves the client (its id's `generation` in `slot`): its socket is closed,
    /// over io_uring once nothing is in flight on it.
    pub(super) fn release(&mut self, slot: usize, generation: u32, mut transport: Transport) {
        match self {
            Driver::Mio { poll, .. } => {
                let _ = poll.registry().deregister(transport.tcp());
            }
            #[cfg(all(feature = "io-uring", target_os = "linux"))]
            Driver::IoUring(ring) => ring.release(slot, generation, transport),
        }
        let _ = (slot, generation);
    }

    /// Waits at most `wait` and adds the connections that became ready to `ready` (mio; the
    /// io_uring loop's turn is [`MultiClient::wait_uring`](super::MultiClient)).
    pub(super) fn wait_mio(
        poll: &mut Poll,
        events: &mut Events,
        wait: Duration,
        ready: &mut Vec<(usize, Ready)>,
    ) -> io::Result<()> {
        let polled = poll.poll(events, Some(wait));
        for event in events.iter() {
            let state = Ready {
                readable: event.is_readable() || event.is_read_closed() || event.is_error(),
                read_closed: event.is_read_closed(),
                writable: event.is_writable(),
            };
            ready.push((event.token().0, state));
        }
        match polled {
            Err(e) if e.kind() != io::ErrorKind::Interrupted => Err(e),
            _ => Ok(()),
        }
    }
}

impl MultiClient {
    /// Waits at most `wait` for the loop's events; the connections ready go to `self.ready`.
    pub(super) fn wait(&mut self, wait: Duration) -> io::Result<()> {
        match &mut self.driver {
            Driver::Mio { poll, events } => Driver::wait_mio(poll, events, wait, &mut self.ready),
            #[cfg(all(feature = "io-uring", target_os = "linux"))]
            Driver::IoUring(_) => self.wait_uring(wait),
        }
    }

    /// Notes that a connection read, wrote or changed: over io_uring its buffers, receive and
    /// send are seen to before the next wait.
    pub(super) fn touch(&mut self, slot: usize) {
        #[cfg(all(feature = "io-uring", target_os = "linux"))]
        if let Driver::IoUring(ring) = &mut self.driver {
            ring.touch(slot);
        }
        #[cfg(not(all(feature = "io-uring", target_os = "linux")))]
        let _ = slot;
    }
}
