//! A `Connection` driven by a script: the peer's bytes, time passing, our sends of every kind
//! and size, a peer that reads slowly: the timers, back-pressure and the large-message send
//! path under the checks of `fullduplex_fuzz::driven` (no spin, bounded queue and heap,
//! well-formed frames and messages in order).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[global_allocator]
static ALLOC: fullduplex_fuzz::Counting = fullduplex_fuzz::Counting;

fuzz_target!(|data: &[u8]| fullduplex_fuzz::driven::run(data));
