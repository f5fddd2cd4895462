//! Hostile peers over loopback against the server, on mio and on io_uring (127.0.0.1, port 0):
//! oversized and crowded handshakes, a slowloris handshake, a request pipelined after a
//! refusal, a ping flood from a peer that never reads, protocol violations and oversized frames and messages
//! on an open connection. Each asserts the status or close code, that the server kept serving
//! others, and the heap growth. The attacks are `hostile/network.rs`'s, shared with
//! `tokio_hostile.rs`.
#![cfg(feature = "runtime")]

mod common;
mod hostile;

use common::counting::Counting;

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The attacks on the epoll loop.
mod on_mio {
    use super::hostile;
    hostile::network::attacks_on!(hostile::network::Mio);
}

/// The same attacks on the io_uring loop.
#[cfg(all(feature = "io-uring", target_os = "linux"))]
mod on_io_uring {
    use super::hostile;
    hostile::network::attacks_on!(hostile::network::IoUring);
}
