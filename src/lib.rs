//! fullduplex: a WebSocket stack written from the protocol up.
//!
//! The [`protocol`] module is a sans-I/O implementation of
//! [RFC 6455](https://www.rfc-editor.org/rfc/rfc6455) (bytes in, events and bytes out, no
//! socket, clock or global randomness inside).
#![deny(missing_docs)]
#![forbid(unsafe_op_in_unsafe_fn)]

pub mod apps;
pub mod client;
pub mod config;
pub mod error;
pub mod protocol;
pub mod server;
mod transport;

pub use config::Config;
pub use error::{HandshakeError, ProtocolError, UsageError};
