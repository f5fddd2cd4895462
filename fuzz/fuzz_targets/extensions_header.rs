//! The `Sec-WebSocket-Extensions` grammar (RFC 6455 §9.1) and the permessage-deflate
//! negotiation on what parses (RFC 7692 §5, §7.1): the server's choice under several
//! configurations must be a response that parses and that our client accepts with the same
//! parameters; the client's check of the value as a response must agree on windows 8–15.
#![no_main]

use fullduplex::config::DeflateConfig;
use fullduplex::protocol::deflate::{client_accept, negotiate_server, DeflateParams};
use fullduplex::protocol::handshake::{parse_extension_headers, parse_extensions};
use libfuzzer_sys::fuzz_target;

fn configs() -> [DeflateConfig; 3] {
    let default = DeflateConfig::default();
    [
        default.clone(),
        DeflateConfig {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            ..default.clone()
        },
        DeflateConfig {
            server_max_window_bits: 9,
            client_max_window_bits: 8,
            ..default
        },
    ]
}

fn windows_in_range(params: &DeflateParams) {
    for bits in [params.server_max_window_bits, params.client_max_window_bits] {
        assert!((8..=15).contains(&bits), "{params:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    // Several header fields form one list (RFC 6455 §9.1): split the input at each LF.
    let fields: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    let joined = parse_extension_headers(fields.iter().copied());
    let Ok(offers) = parse_extensions(data) else {
        return;
    };
    if fields.len() == 1 {
        assert_eq!(joined.as_ref().ok(), Some(&offers));
    }
    for extension in &offers {
        let again = parse_extensions(extension.to_string().as_bytes()).expect("Display parses");
        assert_eq!(again, std::slice::from_ref(extension), "Display round trip");
    }
    for config in configs() {
        if let Some((params, response)) = negotiate_server(&offers, &config) {
            windows_in_range(&params);
            let response = parse_extensions(response.as_bytes()).expect("our answer parses");
            let client = DeflateConfig {
                server_no_context_takeover: false,
                client_no_context_takeover: false,
                ..DeflateConfig::default()
            };
            if let Ok(Some(agreed)) = client_accept(&response, &client) {
                assert_eq!(agreed, params, "client and server agree");
            }
        }
        if let Ok(Some(params)) = client_accept(&offers, &config) {
            windows_in_range(&params);
        }
    }
});
