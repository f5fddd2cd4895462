//! The server's opening handshake over loopback: the upgrade, every refusal with its HTTP
//! status (RFC 6455 §4.2.1, §4.2.2, §4.4), plain HTTP, the connection limit and the
//! handshake deadline.
#![cfg(feature = "runtime")]

mod common;

use std::io::Write;
use std::time::{Duration, Instant};

use common::runtime::*;
use fullduplex::client::{self, ClientError, ClientOptions};
use fullduplex::protocol::OwnedEvent;
use fullduplex::server::ServerConfig;
use fullduplex::Config;

#[test]
fn a_valid_upgrade_gets_101_and_the_accept_key() {
    let (server, _events) = start_app(test_config());
    let (mut stream, rest) = raw_upgrade(server.local_addr());
    assert!(rest.is_empty());
    stream
        .write_all(&common::client_frame(0x81, b"hi"))
        .unwrap();
    stream.shutdown(std::net::Shutdown::Write).unwrap();
    let frames = server_frames(&read_to_end(&mut stream));
    assert_eq!(frames[0].1, b"hi");
}

#[test]
fn the_101_response_is_exactly_what_rfc_6455_section_1_3_shows() {
    let (server, _events) = start_app(test_config());
    let mut stream = raw(server.local_addr());
    let request = upgrade_request("/chat", "Sec-WebSocket-Protocol: x, chat\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    stream.shutdown(std::net::Shutdown::Write).unwrap();
    let response = parse_response(&read_to_end(&mut stream));
    assert_eq!(response.status, 101);
    assert_eq!(
        response.header("Sec-WebSocket-Accept"),
        Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    );
    assert_eq!(response.header("Sec-WebSocket-Protocol"), Some("chat"));
    assert!(response
        .header("Upgrade")
        .unwrap()
        .eq_ignore_ascii_case("websocket"));
}

#[test]
fn frames_sent_right_after_the_request_head_are_not_lost() {
    let (server, _events) = start_app(test_config());
    let mut stream = raw(server.local_addr());
    let mut bytes = upgrade_request("/", "").into_bytes();
    bytes.extend_from_slice(&common::client_frame(0x82, b"early"));
    bytes.extend_from_slice(&common::client_frame(0x88, &1000u16.to_be_bytes()));
    stream.write_all(&bytes).unwrap();
    let response = read_to_end(&mut stream);
    let head_end = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let frames = server_frames(&response[head_end..]);
    assert_eq!(frames.len(), 2, "{frames:?}");
    assert_eq!(frames[0].1, b"early");
    assert_eq!(close_code(&frames[1].1), 1000);
}

/// The valid request with `from` replaced by `to`.
fn altered(from: &str, to: &str) -> String {
    let request = upgrade_request("/", "");
    assert!(request.contains(from), "{from:?}");
    request.replacen(from, to, 1)
}

/// Each refused request (what is wrong, the request, the status it must get).
fn refusals() -> Vec<(&'static str, String, u16)> {
    let key = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
    vec![
        ("no Sec-WebSocket-Key", altered(key, ""), 400),
        (
            "a key that is not 16 bytes",
            altered("dGhlIHNhbXBsZSBub25jZQ==", "c2hvcnQ="),
            400,
        ),
        (
            "no Connection: Upgrade",
            altered("Connection: Upgrade\r\n", ""),
            400,
        ),
        ("no Host", altered("Host: 127.0.0.1\r\n", ""), 400),
        (
            "no request line",
            "\x16\x03\x01 not http at all\r\n\r\n".to_owned(),
            400,
        ),
        ("POST", altered("GET", "POST"), 405),
        ("version 8", altered("Version: 13", "Version: 8"), 426),
        ("HTTP/1.0", altered("HTTP/1.1", "HTTP/1.0"), 505),
        (
            "rejected by the application",
            upgrade_request("/reject/401", ""),
            401,
        ),
        (
            "forbidden by the application",
            upgrade_request("/reject/403", ""),
            403,
        ),
    ]
}

#[test]
fn every_refused_upgrade_gets_its_status_and_the_connection_is_closed() {
    let (server, _events) = start_app(test_config());
    let addr = server.local_addr();
    let cases = refusals();
    for (what, request, status) in &cases {
        let response = exchange(addr, request.as_bytes());
        assert_eq!(response.status, *status, "{what}: {}", response.head);
        let connection = response.header("Connection").unwrap_or_default();
        assert!(connection.contains("close"), "{what}: {}", response.head);
        if *status == 426 {
            // RFC 6455 §4.4: the answer names the version the server speaks.
            assert_eq!(response.header("Sec-WebSocket-Version"), Some("13"));
        }
    }
    let rejects = server.handle().stats().handshake_rejects;
    assert_eq!(
        rejects.values().sum::<u64>(),
        cases.len() as u64,
        "{rejects:?}"
    );
}

#[test]
fn the_blocking_client_reports_a_refusal_with_its_status_and_explanation() {
    let (server, _events) = start_app(test_config());
    let url = ws_url(server.local_addr(), "/reject/403");
    match client::connect_with(&url, &ClientOptions::default()) {
        Err(ClientError::Refused(refusal)) => {
            assert_eq!(refusal.status, 403);
            assert_eq!(refusal.body, b"refused by the test\n");
            assert_eq!(
                ClientError::Refused(refusal).to_string(),
                "the server answered 403 Forbidden, not 101 Switching Protocols: \
                 refused by the test"
            );
        }
        Err(other) => panic!("expected a 403 refusal, got {other}"),
        Ok(_) => panic!("expected a 403 refusal, the upgrade succeeded"),
    }
}

/// A server that refuses the handshake with a 401 whose body is 10 MB, then returns how many
/// body bytes it wrote before the client went away (the whole body if the client read it).
fn refuse_with_a_10_mb_body(listener: std::net::TcpListener) -> usize {
    const BODY: usize = 10 << 20;
    let (mut stream, _) = listener.accept().unwrap();
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    stream.set_write_timeout(Some(DEADLINE)).unwrap();
    let mut request = Vec::new();
    let mut byte = [0u8; 1];
    while !request.ends_with(b"\r\n\r\n") {
        std::io::Read::read_exact(&mut stream, &mut byte).unwrap();
        request.push(byte[0]);
    }
    let head = format!(
        "HTTP/1.1 401 Unauthorized\r\nContent-Type: text/plain\r\n\
         Content-Length: {BODY}\r\n\r\na valid token is required\n"
    );
    stream.write_all(head.as_bytes()).unwrap();
    let filler = [b'x'; 64 << 10];
    let mut written = 0;
    while written < BODY {
        match stream.write(&filler[..filler.len().min(BODY - written)]) {
            Ok(n) => written += n,
            Err(_) => break,
        }
    }
    written
}

#[test]
fn a_refusal_body_is_read_only_up_to_its_bound() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = ws_url(listener.local_addr().unwrap(), "/");
    let server = std::thread::spawn(move || refuse_with_a_10_mb_body(listener));
    let started = Instant::now();
    let refusal = match client::connect_with(&url, &ClientOptions::default()) {
        Err(ClientError::Refused(refusal)) => refusal,
        Err(other) => panic!("expected a 401 refusal, got {other}"),
        Ok(_) => panic!("expected a 401 refusal, the upgrade succeeded"),
    };
    assert_eq!(refusal.body.len(), client::MAX_REFUSAL_BODY);
    assert!(refusal.body.starts_with(b"a valid token is required\nxxx"));
    let message = ClientError::Refused(refusal).to_string();
    assert!(
        message.starts_with("the server answered 401 Unauthorized, not 101 Switching Protocols: a valid token is required xxx"),
        "{message}"
    );
    assert!(message.len() < 400, "{} bytes: {message}", message.len());
    assert!(started.elapsed() < Duration::from_secs(5));
    // The client dropped the connection after 1 KiB: the server could not write it all.
    let written = server.join().unwrap();
    assert!(written < 10 << 20, "the client read the whole 10 MB body");
}

#[test]
fn plain_http_is_404_by_default_and_the_application_may_answer() {
    let (server, _events) = start_app(test_config());
    let addr = server.local_addr();
    let get = |path: &str| format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let missing = exchange(addr, get("/index.html").as_bytes());
    assert_eq!(missing.status, 404);
    assert_eq!(missing.body, b"not found\n");
    let health = exchange(addr, get("/health").as_bytes());
    assert_eq!(health.status, 200);
    assert_eq!(health.header("Content-Length"), Some("3"));
    assert_eq!(health.body, b"ok\n");
    assert_eq!(server.handle().stats().http_requests, 2);
}

#[test]
fn an_oversized_head_gets_431_without_buffering_past_the_limit() {
    let config = Config {
        max_handshake_size: 1024,
        max_headers: 8,
        ..test_config()
    };
    let (server, _events) = start_app(config);
    let addr = server.local_addr();
    let big = format!("Cookie: {}\r\n", "a".repeat(2048));
    let response = exchange(addr, upgrade_request("/", &big).as_bytes());
    assert_eq!(response.status, 431, "{}", response.head);
    let many: String = (0..9).map(|i| format!("X-{i}: {i}\r\n")).collect();
    let response = exchange(addr, upgrade_request("/", &many).as_bytes());
    assert_eq!(response.status, 431, "{}", response.head);
}

#[test]
fn above_max_connections_the_server_answers_503_and_keeps_serving() {
    let config = ServerConfig {
        max_connections: 2,
        ..ServerConfig::default()
    };
    let (server, _events) = start_app(config);
    let addr = server.local_addr();
    let mut first = connect(addr);
    let mut second = connect(addr);
    for _ in 0..3 {
        let response = exchange(addr, upgrade_request("/", "").as_bytes());
        assert_eq!(response.status, 503, "{}", response.head);
        assert!(response.header("Retry-After").is_some());
    }
    assert_eq!(server.handle().stats().refused_over_limit, 3);
    first.send_text("still here").unwrap();
    assert_eq!(
        next_event(&mut first),
        OwnedEvent::Text("still here".into())
    );
    first
        .close(fullduplex::protocol::CloseCode::Normal, "", DEADLINE)
        .unwrap();
    drop(first);
    // A place is free again once the server has let go of the first connection.
    wait_until("the first connection to be released", || {
        server.handle().stats().connections < 2
    });
    let mut third = connect(addr);
    third.send_text("in").unwrap();
    assert_eq!(next_event(&mut third), OwnedEvent::Text("in".into()));
    second.send_text("also").unwrap();
    assert_eq!(next_event(&mut second), OwnedEvent::Text("also".into()));
}

#[test]
fn a_slowloris_handshake_is_cut_at_the_handshake_deadline() {
    let timeout = Duration::from_millis(300);
    let config = Config {
        handshake_timeout: timeout,
        ..test_config()
    };
    let (server, _events) = start_app(config);
    let addr = server.local_addr();
    let started = Instant::now();
    let mut slow = raw(addr);
    let request = upgrade_request("/", "");
    slow.write_all(&request.as_bytes()[..40]).unwrap();
    // The server says nothing and closes once the deadline passes.
    let answer = read_to_end(&mut slow);
    let waited = started.elapsed();
    assert!(answer.is_empty(), "{answer:?}");
    assert!(
        waited >= timeout,
        "cut after {waited:?}, before the deadline"
    );
    // A well-behaved client is served meanwhile and afterwards.
    let mut ws = connect(addr);
    ws.send_text("fine").unwrap();
    assert_eq!(next_event(&mut ws), OwnedEvent::Text("fine".into()));
    assert_eq!(server.handle().stats().connections, 1);
}

/// Regression: frames that arrived with the head, beyond the head's buffer, sat in the socket
/// with no readiness event to announce them.
#[test]
fn frames_beyond_a_full_head_buffer_are_read_without_a_new_event() {
    let config = Config {
        max_handshake_size: 256,
        ..test_config()
    };
    let (server, _events) = start_app(config);
    let mut stream = raw(server.local_addr());
    let mut bytes = upgrade_request("/", "").into_bytes();
    assert!(bytes.len() < 256);
    let message = vec![b'x'; 1000];
    bytes.extend_from_slice(&common::client_frame(0x81, &message));
    stream.write_all(&bytes).unwrap();
    let mut rest = Vec::new();
    let mut frames = loop {
        let mut buf = [0u8; 4096];
        let n = std::io::Read::read(&mut stream, &mut buf).unwrap();
        assert!(n > 0, "closed");
        rest.extend_from_slice(&buf[..n]);
        if let Some(end) = rest.windows(4).position(|w| w == b"\r\n\r\n") {
            break FrameReader::new(rest.split_off(end + 4));
        }
    };
    let echo = frames.next(&mut stream).expect("the echo");
    assert_eq!(echo.1, message);
}

/// Regression: a request whose end of stream came with it (`nc -N`) is answered, and the
/// connection released at once, not at the close deadline.
#[test]
fn a_request_that_ends_the_stream_is_answered_and_released() {
    let config = Config {
        close_timeout: Duration::from_secs(3600),
        ..test_config()
    };
    let (server, _events) = start_app(config);
    let mut stream = raw(server.local_addr());
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    stream.shutdown(std::net::Shutdown::Write).unwrap();
    let response = parse_response(&read_to_end(&mut stream));
    assert_eq!(response.status, 200);
    wait_until("the connection to be released", || {
        server.handle().stats().connections == 0
    });
}
