//! The worker's sizes: what an idle connection costs it.

use super::*;
use crate::protocol::{Connection, Receiver, Sender};
use crate::server::peer::Established;
use std::mem::size_of;

/// What an idle open connection costs the worker in user space, without its session:
/// its slot and its `Established` box, called `Open` in the history below (issue 9's goal
/// is 256 bytes in all, deflate aside).
#[test]
fn an_idle_connection_stays_small() {
    let sizes = [
        ("Slot", size_of::<Slot<()>>()),
        ("Established", size_of::<Established<()>>()),
        ("Connection", size_of::<Connection>()),
        ("Receiver", size_of::<Receiver>()),
        ("Sender", size_of::<Sender>()),
        #[cfg(all(feature = "io-uring", target_os = "linux"))]
        ("UringStream", size_of::<UringStream>()),
    ];
    eprintln!("{sizes:?}");
    // Before the slimming: Slot 120, Open 488 (Connection 344 = Receiver 200 + Sender 144).
    // Then: Slot 88 and Open 216; the peer address, mask-key source and release state
    // compacted: 72 and 200 (a 208-byte malloc chunk where 216 took 224); optional stamps
    // in 4 bytes and the Sender repacked: Open 184 (a 192-byte chunk). Then ids derived,
    // not stored, the generation in the peer and IPv6 addresses beside the slots: Slot 48;
    // the sender's client and deflate state behind one pointer, the receiver's limits
    // flattened and its release state in the flight, the closing stamp in `Rare`:
    // Open 152 (a 160-byte chunk). The receive buffer in the receiver's in-flight box:
    // Open 112 (128); the Ping held back by a flood with the sender's extras: Open 104
    // (a 112-byte chunk). The keepalive and close stamps moved into the core's
    // `Connection` (24 bytes of timers) and its limits behind the shared `Arc<Config>`:
    // Connection 88, Open still 104. `Open` renamed `Established`, unchanged.
    // With the io_uring streams the transport has four variants; mio's debug builds give
    // each socket a selector id, which leaves no room for the tag: 8 more bytes in debug
    // builds only (release: 48).
    let debug_extra = if cfg!(debug_assertions) { 8 } else { 0 };
    assert!(size_of::<Slot<()>>() <= 48 + debug_extra, "{sizes:?}");
    assert!(size_of::<Established<()>>() <= 104, "{sizes:?}");
}
