//! The echo server of `sans_io_echo.rs`, on the mio runtime: the handshake, the reading and
//! writing, the timers and the threads are the runtime's; the application is a [`Handler`].
//!
//! ```text
//! cargo run --example echo_server --features runtime -- [PORT]
//! cargo run --example client --features runtime              (or any WebSocket client)
//! ```

use fullduplex::config::DeflateConfig;
use fullduplex::protocol::handshake::{ClientOffer, Request};
use fullduplex::protocol::Message;
use fullduplex::server::{Conn, Handler, Server, Upgrade};
use fullduplex::Config;

/// The application. Each worker thread gets a clone, so callbacks take `&mut self` unlocked.
#[derive(Clone)]
struct Echo;

impl Handler for Echo {
    /// What the application keeps per connection: nothing here.
    type Session = ();

    /// The request is valid WebSocket (RFC 6455 §4.2.1, checked by the runtime): a real
    /// application would look at its path, `Origin` or cookies, and could refuse it.
    fn upgrade(&mut self, _request: &Request, _offer: &ClientOffer) -> Upgrade<()> {
        Upgrade::accept(())
    }

    /// A whole message: send it back. Pings, Pongs and the close handshake are the runtime's.
    fn on_message(&mut self, conn: &mut Conn<'_, ()>, message: Message<'_>) {
        // Fails only if the connection is closing, or closed as too slow a reader.
        let _ = conn.send(message);
    }
}

fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .map_or(9002, |p| p.parse().expect("PORT is a number"));
    let config = Config {
        // Accept permessage-deflate (RFC 7692) when a client offers it.
        deflate: Some(DeflateConfig::default()),
        ..Config::default()
    };
    let server = Server::new(config, Echo).bind(("127.0.0.1", port))?;
    println!("echo server on ws://{}/", server.local_addr());
    // The workers run until the process ends (`server.handle().shutdown()` would stop them).
    server.join();
    Ok(())
}
