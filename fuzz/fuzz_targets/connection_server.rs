//! Arbitrary bytes in arbitrary splits into a server-side `Connection`, with and without
//! permessage-deflate: no panic, the heap within the limits, a valid Close after every
//! failure and nothing after it (see `fullduplex_fuzz::connection`).
#![no_main]

use fullduplex::protocol::Role;
use libfuzzer_sys::fuzz_target;

#[global_allocator]
static ALLOC: fullduplex_fuzz::Counting = fullduplex_fuzz::Counting;

fuzz_target!(|data: &[u8]| fullduplex_fuzz::connection::run(data, Role::Server));
