//! Refusing connections: over `max_connections`, and while the process is out of file
//! descriptors, when a descriptor kept in reserve is let go so that each connection waiting in
//! the listen backlog can be accepted and refused at once (503) instead of waiting unanswered
//! until descriptors free up or its client gives up.
//!
//! Both event loops come here when an accept fails with `EMFILE` or `ENFILE`; accepting then
//! pauses for [`ACCEPT_PAUSE`] (the loop wakes when it is over), so a full descriptor table
//! costs one round of accepts every [`ACCEPT_PAUSE`], not a busy loop, and a connection that
//! comes meanwhile waits that long at most for its 503.

use std::fs::File;
use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use super::Worker;
use crate::server::handler::Handler;
use crate::server::stats::Stats;

/// How long accepting pauses after running out of descriptors.
pub(super) const ACCEPT_PAUSE: Duration = Duration::from_millis(100);

/// The most connections refused in one go (the listen backlog's depth).
const MAX_SHED: usize = 4096;

/// A descriptor held only to be given up when the others have run out.
pub(super) fn reserve() -> Option<File> {
    File::open("/dev/null").ok()
}

/// Whether `e` says the process or the system has no descriptor left (`EMFILE`, `ENFILE`).
fn out_of_descriptors(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(24) | Some(23))
}

/// Whether an accept failed for want of a resource: descriptors, or kernel memory (`ENOBUFS`,
/// `ENOMEM`). Both loops then call [`Worker::on_accept_exhausted`].
pub(super) fn is_resource_exhausted(e: &io::Error) -> bool {
    out_of_descriptors(e) || matches!(e.raw_os_error(), Some(105) | Some(12))
}

impl<H: Handler> Worker<H> {
    /// Refuses a connection. A plain listener answers 503 (one write into the fresh socket's
    /// empty buffer, which cannot block). A TLS listener closes the connection without a
    /// byte: a plaintext 503 would be garbage to a TLS client, and a TLS handshake just to
    /// refuse would spend the CPU that refusing is there to save. The request received so far
    /// is read and dropped first: closing a socket with unread input sends a reset, which can
    /// destroy the 503 before the client reads it.
    pub(super) fn refuse_over_limit(&mut self, mut stream: mio::net::TcpStream) {
        discard_received(&mut stream);
        if !self.is_tls() {
            let body = "server at capacity, try again later\n";
            let response = format!(
                "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n\
                 Content-Length: {}\r\nConnection: close\r\nRetry-After: 1\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write(response.as_bytes());
        }
        Stats::add(&self.stats.refused_over_limit, 1);
    }

    /// When the loop must wake next: at the sweep, or earlier when accepting resumes.
    pub(super) fn wake_at(&self, next_sweep: Instant) -> Instant {
        self.accept_paused_until
            .map_or(next_sweep, |until| until.min(next_sweep))
    }

    /// Accepting resumes once its pause is over (the listener's readiness came meanwhile and
    /// was let go, so accepting is tried now rather than at its next readiness).
    pub(super) fn resume_accepting(&mut self, now: Instant) {
        if self.accept_paused_until.is_some_and(|until| now >= until) {
            self.accept(now);
        }
    }

    /// An accept failed for want of a resource: pause accepting for [`ACCEPT_PAUSE`], and if
    /// descriptors are what ran out, refuse the connections already waiting. Says so once per
    /// shortage, not at every retry.
    pub(super) fn on_accept_exhausted(&mut self, err: &io::Error, now: Instant) {
        self.accept_paused_until = Some(now + ACCEPT_PAUSE);
        if !self.exhausted {
            eprintln!(
                "fullduplex: accept failed ({err}); refusing new connections until some close \
                 (raise `ulimit -n`)"
            );
            self.exhausted = true;
        }
        if out_of_descriptors(err) {
            self.shed_waiting();
        }
    }

    /// Refuses the connections in the listen backlog with the reserve descriptor's place,
    /// then takes the reserve back.
    ///
    /// The other workers' accepts wait meanwhile (the shared `accept_gate`): one of them would
    /// otherwise take the descriptor just freed, open a connection with it, and leave this
    /// worker without a reserve until descriptors free up. io_uring's multishot accept runs in
    /// the kernel, out of the gate's reach, so an io_uring worker out of descriptors gives it
    /// up and accepts here, gated, on a poll of the listener (`uring_loop`); only a worker
    /// that has not run out yet still has one armed, so the race remains at the onset of a
    /// shortage alone (the reserve is taken again when a descriptor frees up).
    fn shed_waiting(&mut self) {
        let shared = self.handle.shared.clone();
        let _gate = shared.accept_gate.write();
        if self.reserve.take().is_none() {
            self.reserve = reserve();
            return;
        }
        // Each refused connection's descriptor is given back before the next accept.
        for _ in 0..MAX_SHED {
            let Some(listener) = self.listener.as_ref() else {
                break;
            };
            let Ok((stream, _)) = listener.accept() else {
                break;
            };
            self.refuse_over_limit(stream);
        }
        self.reserve = reserve();
    }
}

/// Reads and drops what the peer has sent so far (a request head's worth at most).
fn discard_received(stream: &mut impl Read) {
    let mut buf = [0u8; 4096];
    for _ in 0..4 {
        match stream.read(&mut buf) {
            Ok(n) if n == buf.len() => {}
            _ => return,
        }
    }
}
