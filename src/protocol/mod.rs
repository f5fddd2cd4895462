//! The sans-I/O core: the opening handshake, frames, messages and the close handshake.
//!
//! Implements [RFC 6455](https://www.rfc-editor.org/rfc/rfc6455) without touching a socket, a
//! clock or a global random number generator: callers feed received bytes in, take events
//! and bytes to send out.

pub mod close;
pub mod handshake;
