//! Creating an event loop's ring, and the probe that says, in one sentence, why io_uring cannot
//! run here: no io_uring in the kernel (`ENOSYS`), io_uring forbidden (`EPERM`: a seccomp
//! filter, or the sysctl `kernel.io_uring_disabled`), no memory for the ring (`ENOMEM`), or a
//! kernel too old for an operation the loops use (multishot accept needs Linux 5.19; multishot
//! receive into provided buffer rings, Linux 6.0).

use std::io;

use io_uring::{opcode, IoUring, Probe};

/// What to do instead, ending every sentence [`new_ring`] and [`support`] give.
const INSTEAD: &str =
    "run on mio instead (without --io-uring), or ask for the fallback (EventLoop::IoUringOrMio)";

/// The operations an event loop submits, each with the Linux release that brought it.
const NEEDED: [(u8, &str, &str); 7] = [
    (opcode::AcceptMulti::CODE, "accept", "5.5"),
    (opcode::RecvMulti::CODE, "recv", "5.6"),
    (opcode::Send::CODE, "send", "5.6"),
    (opcode::PollAdd::CODE, "poll", "5.1"),
    (opcode::Timeout::CODE, "timeout", "5.4"),
    (opcode::AsyncCancel::CODE, "cancel", "5.5"),
    // Multishot receive and its buffer selection from a ring came with zero-copy send, in
    // 6.0: that operation's presence is how a probe tells a 6.0 kernel (multishot accept,
    // from 5.19, comes with it).
    (opcode::SendZc::CODE, "multishot receive", "6.0"),
];

/// A ring with `entries` submission entries (and four times as many completion entries, so
/// that a turn's multishot completions rarely overflow), checked to support every operation
/// the loops use. The error is one sentence naming the cause and what to do.
pub(crate) fn new_ring(entries: u32) -> io::Result<IoUring> {
    let ring = build(entries).map_err(|e| explain_setup(&e))?;
    check_operations(&ring)?;
    Ok(ring)
}

/// Whether io_uring can run the loops here: a small ring is set up, probed, and given a buffer
/// ring. `Err` holds the sentence [`new_ring`] would give.
pub(crate) fn support() -> io::Result<()> {
    let ring = new_ring(8)?;
    super::BufRing::new(&ring, 0, 1, 64).map(drop).map_err(|e| {
        unsupported(&format!(
            "no provided buffer rings ({e}): Linux 6.0 is needed"
        ))
    })
}

fn build(entries: u32) -> io::Result<IoUring> {
    let completions = entries.saturating_mul(4);
    // Cooperative task running (5.19) spares an interrupt per completion; without it the
    // ring works the same.
    IoUring::builder()
        .setup_coop_taskrun()
        .setup_cqsize(completions)
        .build(entries)
        .or_else(|_| IoUring::builder().setup_cqsize(completions).build(entries))
}

fn explain_setup(err: &io::Error) -> io::Error {
    let (kind, cause) = match err.raw_os_error() {
        Some(libc::ENOSYS) => (
            io::ErrorKind::Unsupported,
            "this kernel has no io_uring (ENOSYS; Linux 6.0 or later is needed)",
        ),
        Some(libc::EPERM) => (
            io::ErrorKind::PermissionDenied,
            "io_uring is forbidden here (EPERM: a seccomp filter, as in many containers, or the \
             sysctl kernel.io_uring_disabled)",
        ),
        Some(libc::ENOMEM) => (
            io::ErrorKind::OutOfMemory,
            "the kernel could not allocate the ring (ENOMEM: memory or the locked-memory limit, \
             ulimit -l)",
        ),
        _ => (err.kind(), "setting up io_uring failed"),
    };
    io::Error::new(
        kind,
        format!("io_uring cannot run: {cause} ({err}); {INSTEAD}"),
    )
}

fn check_operations(ring: &IoUring) -> io::Result<()> {
    let mut probe = Probe::new();
    if let Err(e) = ring.submitter().register_probe(&mut probe) {
        return Err(unsupported(&format!(
            "the kernel cannot list its io_uring operations ({e}): Linux 6.0 or later is needed"
        )));
    }
    match NEEDED.iter().find(|(code, ..)| !probe.is_supported(*code)) {
        Some((_, name, since)) => Err(unsupported(&format!(
            "the kernel lacks the io_uring operation `{name}` (Linux {since}; multishot receive \
             needs 6.0)"
        ))),
        None => Ok(()),
    }
}

fn unsupported(cause: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        format!("io_uring cannot run: {cause}; {INSTEAD}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setup_errors_name_the_cause_and_the_way_out() {
        for (errno, words) in [
            (libc::ENOSYS, "no io_uring"),
            (libc::EPERM, "kernel.io_uring_disabled"),
            (libc::ENOMEM, "ENOMEM"),
            (libc::EINVAL, "failed"),
        ] {
            let told = explain_setup(&io::Error::from_raw_os_error(errno)).to_string();
            assert!(told.contains(words), "{told}");
            assert!(told.contains("without --io-uring"), "{told}");
        }
    }

    #[test]
    fn this_machine_runs_io_uring() {
        // The project's machines run Linux 6.x without a seccomp filter on io_uring.
        support().unwrap();
    }
}
