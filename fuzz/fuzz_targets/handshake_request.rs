//! The server's reading of an upgrade request (RFC 6455 §4.2.1): `Request::parse` within the
//! configured limits, `validate_request`, the permessage-deflate negotiation of what it
//! offers (RFC 7692 §5), and the answer written for each outcome (§4.2.2, §4.4).
#![no_main]

use fullduplex::config::DeflateConfig;
use fullduplex::protocol::deflate::negotiate_server;
use fullduplex::protocol::handshake::{
    accept_key, parse_extensions, select_subprotocol, validate_request, write_accept_response,
    write_handshake_error, Request,
};
use fullduplex::Config;
use libfuzzer_sys::fuzz_target;

fn config() -> Config {
    Config {
        max_handshake_size: 2048,
        max_headers: 24,
        ..Config::default()
    }
}

fn answer(request: &Request) {
    let mut out = Vec::new();
    let offer = match validate_request(request) {
        Ok(offer) => offer,
        Err(error) => {
            write_handshake_error(&mut out, &error);
            let status = format!("HTTP/1.1 {} ", error.status());
            assert!(out.starts_with(status.as_bytes()), "{error:?}");
            assert!((400..600).contains(&error.status()));
            return;
        }
    };
    let subprotocol = select_subprotocol(&["chat", "superchat"], &offer.subprotocols);
    let deflate = negotiate_server(&offer.extensions, &DeflateConfig::default());
    if let Some((params, response)) = &deflate {
        for bits in [params.server_max_window_bits, params.client_max_window_bits] {
            assert!((8..=15).contains(&bits), "{params:?}");
        }
        let parsed = parse_extensions(response.as_bytes()).expect("our answer parses");
        assert_eq!(parsed.len(), 1);
    }
    let extensions = deflate.as_ref().map(|(_, response)| response.as_str());
    write_accept_response(&mut out, &offer.key, subprotocol, extensions, &[]);
    assert!(out.starts_with(b"HTTP/1.1 101 Switching Protocols\r\n"));
    assert!(out.ends_with(b"\r\n\r\n"));
    let accept = format!(
        "\r\nSec-WebSocket-Accept: {}\r\n",
        accept_key(offer.key.as_bytes())
    );
    assert!(out.windows(accept.len()).any(|w| w == accept.as_bytes()));
}

fuzz_target!(|data: &[u8]| {
    let config = config();
    match Request::parse(data, &config) {
        Ok(Some((request, len))) => {
            assert!(len <= data.len() && len <= config.max_handshake_size);
            assert!(request.headers().len() <= config.max_headers);
            assert!(
                matches!(Request::parse(&data[..len - 1], &config), Ok(None)),
                "the head less its last byte is incomplete"
            );
            answer(&request);
        }
        Ok(None) => assert!(data.len() <= config.max_handshake_size),
        Err(error) => assert!((400..600).contains(&error.status()), "{error:?}"),
    }
});
