//! `ClientOptions::local_addr` and `MultiClient::connect_from`: each client connects from the
//! local address asked for, as the server sees it (`Conn::peer_addr`); an address of the other
//! family is refused with a sentence. Linux: every address of 127.0.0.0/8 is local there.
#![cfg(all(feature = "runtime", target_os = "linux"))]

mod common;

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use common::runtime::*;
use fullduplex::client::{self, ClientConn, ClientHandler, ClientId, ClientOptions, Ended};
use fullduplex::protocol::handshake::{ClientOffer, Request};
use fullduplex::protocol::{Message, OwnedEvent};
use fullduplex::server::{Conn, Handler, Upgrade};

/// Tells each connection, on open, the address it came from.
#[derive(Clone)]
struct SaysPeer;

impl Handler for SaysPeer {
    type Session = ();

    fn upgrade(&mut self, _: &Request, _: &ClientOffer) -> Upgrade<()> {
        Upgrade::accept(())
    }

    fn on_open(&mut self, conn: &mut Conn<'_, ()>) {
        let peer = conn.peer_addr().ip().to_string();
        let _ = conn.send_text(&peer);
    }

    fn on_message(&mut self, _: &mut Conn<'_, ()>, _: Message<'_>) {}
}

fn loopback(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

fn from(local: IpAddr) -> ClientOptions {
    ClientOptions {
        local_addr: Some(local),
        ..ClientOptions::default()
    }
}

#[test]
fn the_blocking_client_connects_from_the_local_address() {
    let server = start(test_config(), SaysPeer);
    let url = ws_url(server.local_addr(), "/");
    let mut ws = connect_with(&url, &from(loopback(7)));
    assert_eq!(ws.recv().unwrap(), OwnedEvent::Text("127.0.0.7".into()));
    let wrong = client::connect_with(&url, &from(IpAddr::V6(Ipv6Addr::LOCALHOST)));
    let error = wrong
        .err()
        .expect("an IPv6 source to an IPv4 server")
        .to_string();
    assert!(
        error.contains("cannot connect to 127.0.0.1:") && error.contains("from ::1"),
        "{error}"
    );
}

/// Notes the first message of each connection.
#[derive(Default)]
struct FirstWords(BTreeSet<String>, usize);

impl ClientHandler for FirstWords {
    fn on_message(&mut self, _: &mut ClientConn<'_>, message: Message<'_>) {
        if let Message::Text(text) = message {
            self.0.insert(text.to_owned());
        }
    }

    fn on_end(&mut self, _: ClientId, _: &Ended) {
        self.1 += 1;
    }
}

#[test]
fn the_multi_client_connects_from_the_options_address_or_the_one_given() {
    let server = start(test_config(), SaysPeer);
    let url = ws_url(server.local_addr(), "/");
    let mut clients = multi_client(from(loopback(8)));
    clients.connect(&url).unwrap();
    clients.connect_from(&url, loopback(9)).unwrap();
    clients.connect_from(&url, loopback(10)).unwrap();
    let mut words = FirstWords::default();
    let deadline = Instant::now() + DEADLINE;
    while words.0.len() + words.1 < 3 && Instant::now() < deadline {
        clients
            .poll(&mut words, Some(Duration::from_millis(50)))
            .unwrap();
    }
    let expected: BTreeSet<String> = ["127.0.0.10", "127.0.0.8", "127.0.0.9"]
        .map(String::from)
        .into();
    assert_eq!(words.0, expected);
}

#[cfg(feature = "tokio")]
#[tokio::test]
async fn the_tokio_client_connects_from_the_local_address() {
    let server = start(test_config(), SaysPeer);
    let url = ws_url(server.local_addr(), "/");
    let mut ws = fullduplex::tokio::connect(&url, &from(loopback(11)))
        .await
        .unwrap();
    let first = ws.recv().await.unwrap();
    assert_eq!(first, Some(fullduplex::tokio::Message::text("127.0.0.11")));
}
