//! Hostile peers over loopback against the mio server (127.0.0.1, port 0): oversized and
//! crowded handshakes, a slowloris handshake, a request pipelined after a refusal, a ping
//! flood from a peer that never reads, protocol violations and oversized frames and messages
//! on an open connection. Each asserts the status or close code, that the server kept serving
//! others, and the heap growth. The attacks are `hostile/network.rs`'s, shared with
//! `tokio_hostile.rs`.
#![cfg(feature = "runtime")]

mod common;
mod hostile;

use common::counting::Counting;

#[global_allocator]
static ALLOCATOR: Counting = Counting;

hostile::network::attacks_on!(hostile::network::Mio);
