//! `fullduplex broadcast`, the fan-out testee: every message goes to every client, the
//! sender included, with its opcode, over loopback.

use std::time::Duration;

use crate::apps::broadcast::Broadcast;
use fullduplex::client::{connect, WebSocket};
use fullduplex::protocol::OwnedEvent;
use fullduplex::server::{Server, ServerConfig};

fn next_message(ws: &mut WebSocket) -> OwnedEvent {
    loop {
        match ws.recv().expect("the connection stays open") {
            OwnedEvent::Ping(_) | OwnedEvent::Pong(_) => continue,
            event => return event,
        }
    }
}

#[test]
fn every_message_reaches_every_client_with_its_opcode() {
    let config = ServerConfig {
        threads: 2,
        ..ServerConfig::default()
    };
    let server = Server::new(config, Broadcast).bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/", server.local_addr());
    let mut clients: Vec<WebSocket> = (0..5).map(|_| connect(&url).unwrap()).collect();
    for ws in &mut clients {
        ws.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    }
    clients[0].send_text("hello").unwrap();
    clients[3].send_binary(&[1, 2, 3]).unwrap();
    for ws in &mut clients {
        // Each sender's messages arrive in order; the two senders' order may interleave.
        let mut got = [next_message(ws), next_message(ws)];
        got.sort_by_key(|e| matches!(e, OwnedEvent::Binary(_)));
        assert_eq!(got[0], OwnedEvent::Text("hello".into()));
        assert_eq!(got[1], OwnedEvent::Binary(vec![1, 2, 3]));
    }
    drop(clients);
    server.stop();
}
