//! The `fullduplex` command's applications (`src/apps/`: the chat, the echo and broadcast
//! testees, the client, the load generator, the command line), tested in this process. They
//! are the binary's code, not the library's, so this test crate compiles their modules into
//! itself, as `src/main.rs` does.
//!
//! `scale_out::` needs a `redis-server` (see `scripts/redis-tests.sh`); `tls::` runs the
//! binary over TLS; `faults::` cuts links in network namespaces, as root (see
//! `scripts/test.sh faults`).
#![cfg(feature = "cli")]

#[allow(dead_code, unused_imports)]
#[path = "../src/apps/mod.rs"]
mod apps;

#[path = "apps/bench.rs"]
mod bench;
#[path = "apps/broadcast.rs"]
mod broadcast;
#[path = "apps/chat.rs"]
mod chat;
#[path = "apps/cli.rs"]
mod cli;
#[path = "apps/client.rs"]
mod client;
#[cfg(target_os = "linux")]
#[path = "faults/mod.rs"]
mod faults;
#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
#[path = "apps/io_uring.rs"]
mod io_uring;
#[path = "apps/scale_out.rs"]
mod scale_out;
#[allow(dead_code)]
#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
#[path = "common/seccomp.rs"]
mod seccomp;
#[path = "apps/tls.rs"]
mod tls;
