//! The opening handshake through the public API only: the RFC 6455 §1.3 example, requests as
//! real clients send them, every refusal with its HTTP status, the client's checks of
//! RFC 6455 §4.1, incremental input, limits, and header injection.

use fullduplex::protocol::handshake::{
    select_subprotocol, validate_request, write_accept_response, write_handshake_error,
    ClientHandshake, ClientRequest, Request,
};
use fullduplex::{Config, HandshakeError};

const RFC_REQUEST: &[u8] = include_bytes!("data/handshakes/rfc6455-request.txt");
const RFC_RESPONSE: &[u8] = include_bytes!("data/handshakes/rfc6455-response.txt");
const CHROMIUM: &[u8] = include_bytes!("data/handshakes/chromium.txt");
const FIREFOX: &[u8] = include_bytes!("data/handshakes/firefox.txt");
const NODE_WS: &[u8] = include_bytes!("data/handshakes/node-ws.txt");
const PYTHON_WEBSOCKETS: &[u8] = include_bytes!("data/handshakes/python-websockets.txt");

/// A minimal valid request, edited by the refusal tests.
const VALID: &str = "GET /chat HTTP/1.1\r\n\
    Host: server.example.com\r\n\
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

/// What a server answers to `buf`, as text.
fn answer(buf: &[u8], config: &Config) -> String {
    let mut out = Vec::new();
    match Request::parse(buf, config) {
        Ok(Some((request, _))) => match validate_request(&request) {
            Ok(offer) => write_accept_response(&mut out, &offer.key, None, None, &[]),
            Err(error) => write_handshake_error(&mut out, &error),
        },
        Ok(None) => panic!("incomplete request"),
        Err(error) => write_handshake_error(&mut out, &error),
    }
    String::from_utf8(out).unwrap()
}

/// The handshake of the RFC 6455 §1.3 example, from the client's side.
fn rfc_client() -> (Vec<u8>, ClientHandshake) {
    let request = ClientRequest {
        host: "server.example.com",
        target: "/chat",
        key: *b"the sample nonce",
        subprotocols: &["chat", "superchat"],
        extensions: None,
        origin: Some("http://example.com"),
        extra_headers: &[],
    };
    let mut out = Vec::new();
    let handshake = request.write(&mut out);
    (out, handshake)
}

#[test]
fn rfc6455_section_1_3_server_side() {
    let (request, len) = parse_whole(RFC_REQUEST);
    assert_eq!(len, RFC_REQUEST.len());
    assert_eq!(request.path(), "/chat");
    assert_eq!(request.host(), Some("server.example.com"));
    assert_eq!(request.origin(), Some("http://example.com"));
    let offer = validate_request(&request).unwrap();
    assert_eq!(offer.key, "dGhlIHNhbXBsZSBub25jZQ==");
    assert_eq!(offer.subprotocols, ["chat", "superchat"]);
    let chosen = select_subprotocol(&["chat"], &offer.subprotocols);
    let mut out = Vec::new();
    write_accept_response(&mut out, &offer.key, chosen, None, &[]);
    assert_eq!(out, RFC_RESPONSE);
}

#[test]
fn rfc6455_section_1_3_client_side() {
    let (request, handshake) = rfc_client();
    assert_eq!(
        request,
        RFC_REQUEST,
        "{}",
        String::from_utf8_lossy(&request)
    );
    assert_eq!(handshake.expected_accept(), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    let (accepted, len) = handshake
        .parse_response(RFC_RESPONSE, &Config::default())
        .unwrap()
        .unwrap();
    assert_eq!(len, RFC_RESPONSE.len());
    assert_eq!(accepted.status, 101);
    assert_eq!(accepted.subprotocol.as_deref(), Some("chat"));
    assert!(accepted.extensions.is_empty());
    assert_eq!(accepted.headers.len(), 4);
}

/// What a real client's request must yield.
struct RealClient {
    bytes: &'static [u8],
    key: &'static str,
    subprotocols: &'static [&'static str],
    extensions: &'static str,
    origin: Option<&'static str>,
}

#[test]
fn real_clients_requests_validate() {
    let client_max = "permessage-deflate; client_max_window_bits";
    let clients = [
        RealClient {
            bytes: CHROMIUM,
            key: "r6zqqOHcYTrsvyJ0aBfYzg==",
            subprotocols: &["chat", "superchat"],
            extensions: client_max,
            origin: Some("http://localhost:8080"),
        },
        RealClient {
            bytes: FIREFOX,
            key: "ihfX/dxr5+51hnJKVdXxig==",
            subprotocols: &["chat"],
            extensions: "permessage-deflate",
            origin: Some("http://localhost:8080"),
        },
        RealClient {
            bytes: NODE_WS,
            key: "v9t1JnKRQNyD49equ9xxkw==",
            subprotocols: &[],
            extensions: client_max,
            origin: None,
        },
        RealClient {
            bytes: PYTHON_WEBSOCKETS,
            key: "nHOIBMmGMdOfbQZIsOoF5Q==",
            subprotocols: &[],
            extensions: client_max,
            origin: None,
        },
    ];
    for client in clients {
        let (request, len) = parse_whole(client.bytes);
        assert_eq!(len, client.bytes.len());
        assert!(request.is_websocket_upgrade());
        assert_eq!(request.host(), Some("localhost:8080"));
        assert_eq!(request.origin(), client.origin);
        let offer = validate_request(&request).unwrap();
        assert_eq!(offer.key, client.key);
        assert_eq!(offer.subprotocols, client.subprotocols);
        assert_eq!(offer.extensions.len(), 1);
        assert_eq!(offer.extensions[0].to_string(), client.extensions);
    }
    let (chromium, _) = parse_whole(CHROMIUM);
    assert_eq!(chromium.query_param("room").as_deref(), Some("lobby"));
    assert_eq!(chromium.cookie("theme"), Some("dark"));
}

#[test]
fn a_request_fed_one_byte_at_a_time() {
    let frame = b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58";
    let buf = [CHROMIUM, frame].concat();
    let whole = parse_whole(&buf);
    assert_eq!(whole.1, CHROMIUM.len());
    for end in 0..=buf.len() {
        let result = Request::parse(&buf[..end], &Config::default()).unwrap();
        if end < CHROMIUM.len() {
            assert_eq!(result, None, "prefix of {end} bytes");
        } else {
            assert_eq!(result.as_ref(), Some(&whole), "prefix of {end} bytes");
        }
    }
    // The bytes after the head are the connection's first frame, not lost.
    assert_eq!(&buf[whole.1..], frame);
}

#[test]
fn every_refusal_has_its_status() {
    let many_headers = format!("Version: 13\r\n{}", "X-A: 1\r\n".repeat(64));
    let huge = format!("Version: 13\r\nX-Pad: {}", "a".repeat(16 << 10));
    let two_keys = "Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==";
    let key = "dGhlIHNhbXBsZSBub25jZQ==";
    let key_line = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
    let version_line = "Sec-WebSocket-Version: 13\r\n";
    let v13 = "Sec-WebSocket-Version: 13";
    // (what, edit from, edit to, status line, a header the answer must carry)
    #[rustfmt::skip]
    let table: [(&str, &str, &str, &str, &str); 17] = [
        ("POST", "GET", "POST", "405 Method Not Allowed", "Allow: GET"),
        ("HTTP/1.0", "HTTP/1.1", "HTTP/1.0", "505 HTTP Version Not Supported", ""),
        ("no Host", "Host: server.example.com\r\n", "", "400 Bad Request", ""),
        ("no Upgrade", "Upgrade: websocket\r\n", "", "400 Bad Request", ""),
        ("other Upgrade", "Upgrade: websocket", "Upgrade: h2c", "400 Bad Request", ""),
        ("no upgrade token", "Connection: Upgrade", "Connection: close", "400 Bad Request", ""),
        ("key not base64", key, "dGhlIHNhbXBsZSBub25jZ!==", "400 Bad Request", ""),
        ("15-byte key", key, "dGhlIHNhbXBsZSBub25j", "400 Bad Request", ""),
        ("17-byte key", key, "dGhlIHNhbXBsZSBub25jZS4=", "400 Bad Request", ""),
        ("two keys", "Version: 13", two_keys, "400 Bad Request", ""),
        ("no key", key_line, "", "400 Bad Request", ""),
        ("version 8", "Version: 13", "Version: 8", "426 Upgrade Required", v13),
        ("no version", version_line, "", "426 Upgrade Required", v13),
        ("too large", "Version: 13", &huge, "431 Request Header Fields Too Large", ""),
        ("too many headers", "Version: 13", &many_headers, "431 Request Header Fields Too Large", ""),
        ("bad subprotocol", "Version: 13", "Version: 13\r\nSec-WebSocket-Protocol: a b", "400 Bad Request", ""),
        ("bad extension", "Version: 13", "Version: 13\r\nSec-WebSocket-Extensions: ;", "400 Bad Request", ""),
    ];
    for (what, from, to, status, header) in table {
        assert!(VALID.contains(from), "{what}");
        let head = VALID.replacen(from, to, 1);
        let text = answer(head.as_bytes(), &Config::default());
        assert!(
            text.starts_with(&format!("HTTP/1.1 {status}\r\n")),
            "{what}: {text}"
        );
        assert!(text.contains(&format!("\r\n{header}")), "{what}: {text}");
        assert!(
            text.contains("\r\nConnection: close\r\n") || status.starts_with("426"),
            "{what}"
        );
    }
    for garbage in [
        &b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03"[..],
        b"HELLO\r\n\r\n",
        b"GET /\r\n\r\n",
    ] {
        let text = answer(garbage, &Config::default());
        assert!(
            text.starts_with("HTTP/1.1 400 Bad Request\r\n"),
            "{garbage:?}: {text}"
        );
    }
}

#[test]
fn upgrade_and_connection_are_tokens_in_any_case() {
    let accepted = [
        ("Connection: Upgrade", "Connection: keep-alive, Upgrade"),
        (
            "Connection: Upgrade",
            "Connection: keep-alive\r\nConnection: upgrade",
        ),
        ("Connection: Upgrade", "connection: UPGRADE"),
        ("Upgrade: websocket", "UPGRADE: WebSocket"),
        ("Upgrade: websocket", "Upgrade: websocket, h2c"),
    ];
    for (from, to) in accepted {
        let head = VALID.replacen(from, to, 1);
        let text = answer(head.as_bytes(), &Config::default());
        assert!(
            text.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
            "{to}: {text}"
        );
    }
}

#[test]
fn subprotocols_follow_the_servers_preference() {
    let head = VALID.replacen(
        "Version: 13",
        "Version: 13\r\nSec-WebSocket-Protocol: superchat, chat\r\nSec-WebSocket-Protocol: mqtt",
        1,
    );
    let offer = validate_request(&parse_whole(head.as_bytes()).0).unwrap();
    assert_eq!(offer.subprotocols, ["superchat", "chat", "mqtt"]);
    assert_eq!(
        select_subprotocol(&["chat", "superchat"], &offer.subprotocols),
        Some("chat")
    );
    assert_eq!(
        select_subprotocol(&["graphql-ws", "mqtt"], &offer.subprotocols),
        Some("mqtt")
    );
    assert_eq!(
        select_subprotocol(&["graphql-ws"], &offer.subprotocols),
        None
    );
}

#[test]
fn a_client_request_passes_the_servers_checks() {
    let request = ClientRequest {
        host: "example.com:9001",
        target: "/socket?token=a b#x",
        key: [7; 16],
        subprotocols: &["v2.chat", "v1.chat", "v2.chat", "not a token"],
        extensions: Some("permessage-deflate; client_max_window_bits, permessage-deflate"),
        origin: Some("https://example.com"),
        extra_headers: &[
            ("Authorization", "Bearer abc"),
            ("Sec-WebSocket-Version", "8"),
        ],
    };
    let mut bytes = Vec::new();
    let handshake = request.write(&mut bytes);
    assert_eq!(handshake.offered_subprotocols(), ["v2.chat", "v1.chat"]);
    assert_eq!(handshake.offered_extensions(), ["permessage-deflate"]);
    let (parsed, len) = parse_whole(&bytes);
    assert_eq!(len, bytes.len());
    assert_eq!(parsed.target(), "/socket?token=a%20b%23x");
    assert_eq!(parsed.query_param("token").as_deref(), Some("a b#x"));
    assert_eq!(parsed.host(), Some("example.com:9001"));
    assert_eq!(parsed.origin(), Some("https://example.com"));
    assert_eq!(parsed.header_str("authorization"), Some("Bearer abc"));
    assert_eq!(parsed.headers_all("Sec-WebSocket-Version").count(), 1);
    let offer = validate_request(&parsed).unwrap();
    assert_eq!(offer.subprotocols, ["v2.chat", "v1.chat"]);
    assert_eq!(offer.extensions.len(), 2);

    let mut response = Vec::new();
    let chosen = select_subprotocol(&["v1.chat"], &offer.subprotocols);
    let pmd = Some("permessage-deflate; client_max_window_bits=15");
    write_accept_response(
        &mut response,
        &offer.key,
        chosen,
        pmd,
        &[("Set-Cookie", "id=1")],
    );
    response.extend_from_slice(b"\x81\x02hi");
    let (accepted, len) = handshake
        .parse_response(&response, &Config::default())
        .unwrap()
        .unwrap();
    assert_eq!(&response[len..], b"\x81\x02hi");
    assert_eq!(accepted.subprotocol.as_deref(), Some("v1.chat"));
    assert_eq!(
        accepted.extensions[0].to_string(),
        "permessage-deflate; client_max_window_bits=15"
    );
    assert!(accepted
        .headers
        .iter()
        .any(|h| h.name == "Set-Cookie" && h.value == b"id=1"));
}

#[test]
fn the_client_refuses_each_section_4_1_failure() {
    use HandshakeError::*;
    let valid = "HTTP/1.1 101 Switching Protocols\r\n\
        Upgrade: websocket\r\n\
        Connection: Upgrade\r\n\
        Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
        \r\n";
    let accept = "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n";
    let with = |header: &str| format!("{accept}{header}\r\n");
    let (protocol_chat, protocol_mqtt) = (
        with("Sec-WebSocket-Protocol: chat"),
        with("Sec-WebSocket-Protocol: mqtt"),
    );
    let protocol_two = with("Sec-WebSocket-Protocol: chat, superchat");
    let protocol_twice = with("Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Protocol: chat");
    let extension = with("Sec-WebSocket-Extensions: permessage-deflate");
    let spaced = "Accept:   s3pPLMBiTxaQ9kYGzzhZRbK+xOo=  ";
    #[rustfmt::skip]
    let table: [(&str, &str, Option<HandshakeError>); 19] = [
        ("101 Switching Protocols", "200 OK", Some(UnexpectedStatus(200))),
        ("101 Switching Protocols", "403 Forbidden", Some(UnexpectedStatus(403))),
        ("Upgrade: websocket\r\n", "", Some(MissingUpgrade)),
        ("Upgrade: websocket", "Upgrade: h2c", Some(MissingUpgrade)),
        ("Upgrade: websocket", "Upgrade: websocket, h2c", Some(MissingUpgrade)),
        ("Upgrade: websocket", "upgrade: WebSocket", None),
        ("Connection: Upgrade\r\n", "", Some(MissingConnectionUpgrade)),
        ("Connection: Upgrade", "Connection: close", Some(MissingConnectionUpgrade)),
        ("Connection: Upgrade", "CONNECTION: keep-alive, upgrade", None),
        (accept, "", Some(InvalidAccept)),
        ("xOo=", "xOo", Some(InvalidAccept)),
        ("s3pP", "S3pP", Some(InvalidAccept)),
        (accept, &accept.repeat(2), Some(InvalidAccept)),
        ("Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", spaced, None),
        (accept, &protocol_chat, None),
        (accept, &protocol_mqtt, Some(UnofferedSubprotocol)),
        (accept, &protocol_two, Some(UnofferedSubprotocol)),
        (accept, &protocol_twice, Some(UnofferedSubprotocol)),
        (accept, &extension, Some(UnofferedExtension)),
    ];
    let (_, handshake) = rfc_client();
    for (from, to, expected) in table {
        assert!(valid.contains(from), "{from:?}");
        let response = valid.replacen(from, to, 1);
        let result = handshake.parse_response(response.as_bytes(), &Config::default());
        match expected {
            Some(error) => assert_eq!(result, Err(error), "{to:?}"),
            None => assert!(matches!(result, Ok(Some(_))), "{to:?}: {result:?}"),
        }
    }
}

#[test]
fn the_client_checks_extensions_against_its_offer() {
    let request = ClientRequest {
        host: "localhost",
        target: "/",
        key: [0; 16],
        subprotocols: &[],
        extensions: Some("permessage-deflate; client_max_window_bits, x-webkit-deflate-frame"),
        origin: None,
        extra_headers: &[],
    };
    let handshake = request.write(&mut Vec::new());
    let respond = |extensions: &str| {
        let response = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {}\r\n{extensions}\r\n",
            handshake.expected_accept()
        );
        handshake
            .parse_response(response.as_bytes(), &Config::default())
            .map(|accepted| accepted.map(|(accepted, _)| accepted.extensions.len()))
    };
    assert_eq!(respond(""), Ok(Some(0)));
    assert_eq!(
        respond("Sec-WebSocket-Extensions: Permessage-Deflate\r\n"),
        Ok(Some(1))
    );
    let both = "Sec-WebSocket-Extensions: permessage-deflate\r\n\
        Sec-WebSocket-Extensions: x-webkit-deflate-frame\r\n";
    assert_eq!(respond(both), Ok(Some(2)));
    let twice = "Sec-WebSocket-Extensions: permessage-deflate, permessage-deflate\r\n";
    assert_eq!(respond(twice), Err(HandshakeError::UnofferedExtension));
    let other = "Sec-WebSocket-Extensions: permessage-bzip2\r\n";
    assert_eq!(respond(other), Err(HandshakeError::UnofferedExtension));
    let malformed = "Sec-WebSocket-Extensions: permessage-deflate; =1\r\n";
    assert!(matches!(
        respond(malformed),
        Err(HandshakeError::InvalidHeader(_))
    ));
}

#[test]
fn a_response_fed_one_byte_at_a_time() {
    let (_, handshake) = rfc_client();
    let buf = [RFC_RESPONSE, b"\x81\x00"].concat();
    let config = Config::default();
    for end in 0..RFC_RESPONSE.len() {
        assert_eq!(
            handshake.parse_response(&buf[..end], &config),
            Ok(None),
            "{end}"
        );
    }
    let (_, len) = handshake.parse_response(&buf, &config).unwrap().unwrap();
    assert_eq!(&buf[len..], b"\x81\x00");
}

#[test]
fn response_limits_are_enforced() {
    let (_, handshake) = rfc_client();
    let small = Config {
        max_handshake_size: RFC_RESPONSE.len() - 1,
        ..Config::default()
    };
    assert_eq!(
        handshake.parse_response(RFC_RESPONSE, &small),
        Err(HandshakeError::TooLarge)
    );
    let few = Config {
        max_headers: 3,
        ..Config::default()
    };
    let result = handshake.parse_response(RFC_RESPONSE, &few);
    assert_eq!(result, Err(HandshakeError::TooManyHeaders));
    let garbage = handshake.parse_response(b"SSH-2.0-OpenSSH_9.6\r\n\r\n", &Config::default());
    assert!(matches!(garbage, Err(HandshakeError::Malformed(_))));
}

#[test]
fn application_values_cannot_inject_headers() {
    let request = ClientRequest {
        host: "example.com\r\nX-Injected: 1",
        target: "/\r\nX-Injected: 2",
        key: [1; 16],
        subprotocols: &["chat\r\nX-Injected: 3"],
        extensions: Some("permessage-deflate\r\nX-Injected: 4"),
        origin: Some("null\r\n\r\nGET /evil HTTP/1.1"),
        extra_headers: &[("X-Ok", "a\r\nX-Injected: 5"), ("X-Injected: 6\r\nX", "b")],
    };
    let mut bytes = Vec::new();
    request.write(&mut bytes);
    let (parsed, len) = parse_whole(&bytes);
    assert_eq!(len, bytes.len(), "{}", String::from_utf8_lossy(&bytes));
    assert!(parsed
        .headers()
        .iter()
        .all(|h| !h.name.eq_ignore_ascii_case("X-Injected")));
    assert!(validate_request(&parsed).is_ok());

    let mut response = Vec::new();
    let evil = [
        ("Set-Cookie", "a=1\r\nX-Injected: 7"),
        ("X-Injected: 8\r\nX", "c"),
    ];
    let chat = Some("\r\nchat\r\n");
    write_accept_response(&mut response, "dGhlIHNhbXBsZSBub25jZQ==", chat, None, &evil);
    let (_, handshake) = rfc_client();
    let (accepted, len) = handshake
        .parse_response(&response, &Config::default())
        .unwrap()
        .unwrap();
    assert_eq!(len, response.len());
    assert!(accepted
        .headers
        .iter()
        .all(|h| !h.name.eq_ignore_ascii_case("X-Injected")));
}
