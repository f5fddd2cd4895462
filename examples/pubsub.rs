//! Topics on the mio runtime: a client connects to `/topic/NAME` to subscribe to NAME, and
//! what it sends is published to NAME's other subscribers. A subscriber that reads slower than
//! it is sent to is handled as [`Config::slow_consumer`] says; `/stats` counts what happened.
//!
//! ```text
//! cargo run --example pubsub --features runtime -- [PORT [close|drop]]
//! cargo run --release -- client ws://127.0.0.1:9003/topic/news      (twice: type in one)
//! curl http://127.0.0.1:9003/stats
//! ```

use std::sync::Arc;

use fullduplex::config::SlowConsumer;
use fullduplex::protocol::handshake::{ClientOffer, Request};
use fullduplex::protocol::Message;
use fullduplex::server::{CloseInfo, Conn, ConnId, Context, Handler, HttpResponse};
use fullduplex::server::{Server, ServerHandle, Upgrade};
use fullduplex::Config;

/// The application; each worker thread has a clone. The topics themselves are the runtime's:
/// each worker keeps the subscribers of its own connections.
#[derive(Clone, Default)]
struct PubSub {
    /// The server, for its statistics (handed to each worker's clone in `on_start`).
    server: Option<ServerHandle>,
}

impl Handler for PubSub {
    /// The connection's topic.
    type Session = Arc<str>;

    fn on_start(&mut self, server: &ServerHandle) {
        self.server = Some(server.clone());
    }

    fn upgrade(&mut self, request: &Request, _offer: &ClientOffer) -> Upgrade<Arc<str>> {
        match request.path().strip_prefix("/topic/") {
            Some(topic) if !topic.is_empty() => Upgrade::accept(topic.into()),
            _ => Upgrade::reject(404, "subscribe at /topic/NAME"),
        }
    }

    fn on_open(&mut self, conn: &mut Conn<'_, Arc<str>>) {
        let topic = conn.session().clone();
        conn.subscribe(&topic);
        println!("{} subscribed to {topic}", conn.id());
    }

    fn on_message(&mut self, conn: &mut Conn<'_, Arc<str>>, message: Message<'_>) {
        // Encoded once, whatever the number of subscribers, on every worker.
        let (topic, sender) = (conn.session().clone(), conn.id());
        let (kind, payload) = (message.kind(), message.as_bytes());
        conn.ctx()
            .publish_except(&topic, kind, payload, Some(sender));
    }

    fn on_close(&mut self, _: &mut Context<'_>, id: ConnId, topic: Arc<str>, info: &CloseInfo) {
        println!("{id} left {topic}: {} {}", info.code, info.reason);
    }

    /// Plain HTTP: `GET /stats`.
    fn on_http(&mut self, request: &Request) -> HttpResponse {
        let (Some(server), "/stats") = (&self.server, request.path()) else {
            return HttpResponse::not_found();
        };
        let stats = server.stats();
        let text = format!(
            "subscribers: {}\nslow consumers closed: {}\nmessages dropped: {}\n",
            stats.open, stats.slow_consumer_closes, stats.slow_consumer_drops
        );
        HttpResponse::text(200, &text)
    }
}

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let port: u16 = args
        .next()
        .map_or(9003, |p| p.parse().expect("PORT is a number"));
    let config = Config {
        // A subscriber is too slow once more than this is queued for it after writing what its
        // socket takes (the kernel's buffers hold a few MiB more). Default: 4 MiB.
        max_outbound_queue: 1 << 20,
        // Then: `Close` sends it a Close frame with 1008 (policy violation), after what is
        // queued, and sends it nothing more; `DropMessages` drops each message that finds its
        // queue full and keeps it open. Either way the other subscribers are not held back.
        slow_consumer: match args.next().as_deref() {
            None | Some("close") => SlowConsumer::Close,
            Some("drop") => SlowConsumer::DropMessages,
            Some(other) => panic!("{other}: the policy is close or drop"),
        },
        ..Config::default()
    };
    let server = Server::new(config, PubSub::default()).bind(("127.0.0.1", port))?;
    println!("pubsub server on ws://{}/topic/NAME", server.local_addr());
    server.join();
    Ok(())
}
