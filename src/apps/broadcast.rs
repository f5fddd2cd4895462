//! `fullduplex broadcast`: relays every message it receives, with the same opcode, to every
//! connected client, the sender included (what uWebSockets' `app.publish` does). The
//! benchmarks' fan-out testee. `GET /metrics` answers the server's counters (Prometheus text),
//! so that a run can read what the slow-consumer policy did.

use fullduplex::protocol::handshake::{ClientOffer, Request};
use fullduplex::protocol::{DataKind, Message};
use fullduplex::server::prometheus::{Exposition, CONTENT_TYPE};
use fullduplex::server::{Conn, Context, Handler, HttpRequest, HttpResponse, Reply, Upgrade};

/// The topic every connection joins.
const EVERYONE: &str = "everyone";

/// Relays each message to all connections; the frame is encoded once for all of them.
#[derive(Clone, Default)]
pub struct Broadcast;

impl Handler for Broadcast {
    type Session = ();

    fn upgrade(&mut self, _: &Request, _: &ClientOffer) -> Upgrade<()> {
        Upgrade::accept(())
    }

    fn on_open(&mut self, conn: &mut Conn<'_, ()>) {
        conn.subscribe(EVERYONE);
    }

    fn on_message(&mut self, conn: &mut Conn<'_, ()>, message: Message<'_>) {
        let (kind, payload) = match message {
            Message::Text(text) => (DataKind::Text, text.as_bytes()),
            Message::Binary(data) => (DataKind::Binary, data),
        };
        conn.ctx().publish(EVERYONE, kind, payload);
    }

    fn on_request(&mut self, ctx: &mut Context<'_>, request: &HttpRequest<'_>) -> Reply {
        if request.head().path() != "/metrics" {
            return Reply::Now(HttpResponse::not_found());
        }
        let mut metrics = Exposition::new("fullduplex_");
        ctx.handle().stats().write_prometheus(&mut metrics);
        Reply::Now(HttpResponse::new(200, CONTENT_TYPE, metrics.into_string()))
    }
}
