//! `fullduplex echo`: echoes every message back with its opcode. The Autobahn testsuite's
//! testee and the benchmarks' target.

use fullduplex::protocol::handshake::{ClientOffer, Request};
use fullduplex::protocol::{Chunk, DataKind, Message};
use fullduplex::server::{Conn, Handler, Upgrade};

/// Echoes every message (or streamed chunk) back as it came.
#[derive(Clone, Default)]
pub struct Echo;

impl Handler for Echo {
    type Session = ();

    fn upgrade(&mut self, _: &Request, _: &ClientOffer) -> Upgrade<()> {
        Upgrade::accept(())
    }

    fn on_message(&mut self, conn: &mut Conn<'_, ()>, message: Message<'_>) {
        let _ = conn.send(message);
    }

    fn on_chunk(&mut self, conn: &mut Conn<'_, ()>, chunk: Chunk<'_>) {
        let kind: DataKind = chunk.kind;
        let _ = conn.send_fragment(kind, chunk.data, chunk.last);
    }
}
