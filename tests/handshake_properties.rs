//! Property tests of the opening handshake: no input panics a parser, and a request split
//! anywhere parses as it does whole.

use fullduplex::protocol::handshake::{
    parse_extensions, validate_request, write_accept_response, ClientHandshake, ClientRequest,
    Request,
};
use fullduplex::Config;
use proptest::prelude::*;

/// The header fields of a minimal valid request, after its request line.
const VALID_FIELDS: &str = "Host: server.example.com\r\n\
    Upgrade: websocket\r\n\
    Connection: Upgrade\r\n\
    Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    Sec-WebSocket-Version: 13\r\n\
    \r\n";

/// Parses a buffer that must hold a complete request head.
fn parse_whole(buf: &[u8]) -> (Request, usize) {
    match Request::parse(buf, &Config::default()) {
        Ok(Some(parsed)) => parsed,
        other => panic!("expected a complete request, got {other:?}"),
    }
}

/// A client handshake offering two subprotocols.
fn client() -> ClientHandshake {
    let request = ClientRequest {
        host: "server.example.com",
        target: "/chat",
        key: *b"the sample nonce",
        subprotocols: &["chat", "superchat"],
        extensions: Some("permessage-deflate"),
        origin: None,
        extra_headers: &[],
    };
    request.write(&mut Vec::new())
}

/// A valid request head with random target, extra headers and case, then trailing bytes.
fn request_and_leftover() -> impl Strategy<Value = (Vec<u8>, usize)> {
    let header = ("[A-Za-z][A-Za-z0-9-]{0,12}", "[ -~]{0,30}");
    (
        "/[a-z0-9/._~-]{0,20}(\\?[a-z0-9=&%+]{0,20})?",
        prop::collection::vec(header, 0..8),
        prop::collection::vec(any::<u8>(), 0..16),
    )
        .prop_map(|(target, headers, leftover)| {
            let mut head = format!("GET {target} HTTP/1.1\r\n");
            for (name, value) in headers {
                head.push_str(&format!("X-{name}: {}\r\n", value.trim()));
            }
            head.push_str(VALID_FIELDS);
            let len = head.len();
            let mut bytes = head.into_bytes();
            bytes.extend(leftover);
            (bytes, len)
        })
}

proptest! {
    #[test]
    fn request_parse_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..1024)) {
        let small = Config { max_handshake_size: 64, max_headers: 2, ..Config::default() };
        for config in [Config::default(), small] {
            if let Ok(Some((request, len))) = Request::parse(&bytes, &config) {
                prop_assert!(len <= bytes.len());
                let _ = validate_request(&request);
            }
        }
    }

    #[test]
    fn request_like_bytes_never_panic(
        bytes in "(GET|POST) /[ -~]{0,20} HTTP/1\\.[01]\r\n([!-~]{1,10}:[ -~\u{80}-\u{ff}]{0,20}\r\n){0,6}\r\n",
    ) {
        if let Ok(Some((request, _))) = Request::parse(bytes.as_bytes(), &Config::default()) {
            let _ = validate_request(&request);
            let _ = request.cookie("a");
            let _ = request.query_param("a");
        }
    }

    #[test]
    fn response_parse_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..1024)) {
        let handshake = client();
        let _ = handshake.parse_response(&bytes, &Config::default());
    }

    #[test]
    fn parse_extensions_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = parse_extensions(&bytes);
    }

    #[test]
    fn extension_like_values_round_trip(value in "[a-z;=, \"\\\\\t]{0,40}") {
        if let Ok(extensions) = parse_extensions(value.as_bytes()) {
            let canonical: Vec<String> = extensions.iter().map(ToString::to_string).collect();
            let again = parse_extensions(canonical.join(", ").as_bytes());
            prop_assert_eq!(again, Ok(extensions));
        }
    }

    #[test]
    fn any_split_parses_like_the_whole(
        (bytes, head_len) in request_and_leftover(),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..6),
    ) {
        let whole = Request::parse(&bytes, &Config::default()).unwrap().unwrap();
        prop_assert_eq!(whole.1, head_len);
        prop_assert!(validate_request(&whole.0).is_ok());
        let mut ends: Vec<usize> = cuts.iter().map(|cut| cut.index(bytes.len() + 1)).collect();
        ends.push(bytes.len());
        ends.sort_unstable();
        // The runtime re-parses its growing buffer after each read.
        for end in ends {
            let result = Request::parse(&bytes[..end], &Config::default()).unwrap();
            if end < head_len {
                prop_assert_eq!(result, None);
            } else {
                prop_assert_eq!(result.as_ref(), Some(&whole));
            }
        }
    }

    #[test]
    fn client_requests_round_trip(
        key in any::<[u8; 16]>(),
        subprotocols in prop::collection::vec("[a-z][a-z0-9.]{0,8}", 0..4),
        target in "(/[a-z0-9]{0,8}){0,3}",
    ) {
        let subprotocols: Vec<&str> = subprotocols.iter().map(String::as_str).collect();
        let request = ClientRequest {
            host: "example.com",
            target: &target,
            key,
            subprotocols: &subprotocols,
            extensions: None,
            origin: None,
            extra_headers: &[],
        };
        let mut bytes = Vec::new();
        let handshake = request.write(&mut bytes);
        let (parsed, _) = parse_whole(&bytes);
        let offer = validate_request(&parsed).unwrap();
        prop_assert_eq!(&offer.subprotocols, handshake.offered_subprotocols());
        let chosen = subprotocols.last().copied();
        let mut response = Vec::new();
        write_accept_response(&mut response, &offer.key, chosen, None, &[]);
        let (accepted, _) = handshake.parse_response(&response, &Config::default()).unwrap().unwrap();
        prop_assert_eq!(accepted.subprotocol.as_deref(), chosen);
    }
}
