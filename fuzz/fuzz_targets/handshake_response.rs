//! The client's reading of the server's answer (RFC 6455 §4.1) to a fixed request whose key
//! is the "the sample nonce" of RFC 6455 §1.3 (so the seeds' `Sec-WebSocket-Accept` matches),
//! offering two subprotocols and permessage-deflate; when it is accepted, the agreed deflate
//! parameters (RFC 7692 §7.1) and the bytes after the head go into a client `Connection`.
#![no_main]

use fullduplex::config::DeflateConfig;
use fullduplex::protocol::deflate::{client_accept, client_offer};
use fullduplex::protocol::handshake::{ClientHandshake, ClientRequest};
use fullduplex::protocol::{Connection, Role};
use fullduplex::Config;
use fullduplex_fuzz::connection::Options;
use libfuzzer_sys::fuzz_target;

#[global_allocator]
static ALLOC: fullduplex_fuzz::Counting = fullduplex_fuzz::Counting;

fn handshake(deflate: &DeflateConfig) -> ClientHandshake {
    let offer = client_offer(deflate);
    let request = ClientRequest {
        host: "server.example.com",
        target: "/chat",
        key: *b"the sample nonce",
        subprotocols: &["chat", "superchat"],
        extensions: Some(&offer),
        origin: Some("http://example.com"),
        extra_headers: &[],
    };
    request.write(&mut Vec::new())
}

fuzz_target!(|data: &[u8]| {
    let deflate = DeflateConfig::default();
    let config = Config {
        max_handshake_size: 2048,
        max_headers: 24,
        deflate: Some(deflate.clone()),
        ..Config::default()
    };
    let client = handshake(&deflate);
    let (accepted, len) = match client.parse_response(data, &config) {
        Ok(Some(parsed)) => parsed,
        Ok(None) => return assert!(data.len() <= config.max_handshake_size),
        Err(_) => return,
    };
    assert!(len <= data.len() && len <= config.max_handshake_size);
    assert_eq!(accepted.status, 101);
    if let Some(chosen) = &accepted.subprotocol {
        assert!(client.offered_subprotocols().contains(chosen));
    }
    for extension in &accepted.extensions {
        assert!(client
            .offered_extensions()
            .iter()
            .any(|offered| offered.eq_ignore_ascii_case(&extension.name)));
    }
    let Ok(params) = client_accept(&accepted.extensions, &deflate) else {
        return;
    };
    let mut conn = Connection::client(config.clone(), || [1, 2, 3, 4]);
    if let Some(params) = params {
        for bits in [params.server_max_window_bits, params.client_max_window_bits] {
            assert!((8..=15).contains(&bits), "{params:?}");
        }
        conn = conn.with_deflate(params);
    }
    // The server's first frames, read with the rest of the head: whole, as the runtime does.
    let options = Options {
        flags: 0,
        seed: 0,
        max_split: 0,
    };
    fullduplex_fuzz::connection::exercise(&mut conn, &data[len..], &options, Role::Client);
});
