//! The sans-I/O core: the opening handshake, frames, messages and the close handshake.
//!
//! Implements [RFC 6455](https://www.rfc-editor.org/rfc/rfc6455) and
//! [RFC 7692](https://www.rfc-editor.org/rfc/rfc7692) (permessage-deflate) without touching a
//! socket, a clock or a global random number generator: callers feed received bytes in, take
//! events and bytes to send out. The crate docs map each section to its code and tests.

pub mod close;
pub mod connection;
pub mod deflate;
pub mod frame;
pub mod handshake;
mod large_buffers;
pub mod mask;
pub mod message;
pub mod output;
#[cfg(any(feature = "runtime", feature = "tokio"))]
pub(crate) mod read_buffers;
pub mod receiver;
pub mod sender;
mod spare;
pub mod timers;
pub mod utf8;

pub use close::CloseCode;
pub use connection::{Connection, Initiator, MaskKeys, Role, State};
pub use frame::{FrameHeader, Opcode};
pub use message::{Chunk, DataKind, Event, Message, OwnedEvent};
pub use output::SharedFrame;
pub use receiver::Receiver;
pub use sender::Sender;
pub use timers::Timeout;
