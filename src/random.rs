//! Randomness from the operating system, for a client's masking keys and handshake keys.
//!
//! The protocol core never calls it: a client [`Connection`](crate::protocol::Connection)
//! takes its [`MaskKeys`](crate::protocol::MaskKeys) from its caller, so that tests and fuzzers
//! can inject their own. Runtimes (ours, or one of yours) inject this one; its `MaskKeys` impl
//! is in `protocol::mask`, as this module is a leaf that imports nothing of the protocol.

/// Masking keys from the operating system's random number generator, read 64 keys at a time
/// (RFC 6455 §5.3: the key "MUST be derived from a strong source of entropy").
pub struct OsRandom {
    buf: [u8; 256],
    used: usize,
}

impl OsRandom {
    /// A source that draws from `getrandom`.
    pub fn new() -> Self {
        Self {
            buf: [0; 256],
            used: 256,
        }
    }

    /// Fills `out` with random bytes.
    pub fn fill(&mut self, out: &mut [u8]) {
        for byte in out {
            if self.used == self.buf.len() {
                // The OS generator does not fail on Linux once booted; if it ever did, a
                // predictable key would weaken masking, so refuse to go on.
                getrandom::fill(&mut self.buf)
                    .expect("the operating system's random source failed");
                self.used = 0;
            }
            *byte = self.buf[self.used];
            self.used += 1;
        }
    }

    /// 16 random bytes for `Sec-WebSocket-Key` (RFC 6455 §4.1: "randomly selected").
    pub fn handshake_key(&mut self) -> [u8; 16] {
        let mut key = [0; 16];
        self.fill(&mut key);
        key
    }
}

impl Default for OsRandom {
    fn default() -> Self {
        Self::new()
    }
}
