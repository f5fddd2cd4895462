//! Helpers shared by the fuzz targets: a counting allocator to check memory bounds, and the
//! checks of what a `Connection` writes (RFC 6455 §5.2 frames, a valid Close, then silence).

pub mod connection;
pub mod driven;

// The counting allocator of the stable test suite, shared rather than copied: `Counting`
// forwards to the system allocator and counts live heap bytes and their peak; each target
// that checks memory declares it with `#[global_allocator]`.
#[path = "../../tests/common/counting.rs"]
mod counting;

pub use counting::{live, peak, reset_peak, Counting};

/// A tiny deterministic generator (xorshift) for splits and keys derived from fuzz input.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed (any value, 0 included).
    pub fn new(seed: u64) -> Self {
        Self(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    /// The next value.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A value in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}
