//! Plain HTTP on the server, over loopback: request bodies within
//! `ServerConfig::max_request_body` (413 past it, 411 without a length, RFC 9112 §6.3),
//! answers deferred by the application and given later (a long poll), and persistent
//! HTTP/1.1 connections (RFC 9112 §9.3) carrying one request after another.
#![cfg(feature = "runtime")]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::mpsc;
use std::time::Duration;

use common::runtime::{raw, read_to_end, start, DEADLINE};
use fullduplex::protocol::handshake::{ClientOffer, Request};
use fullduplex::protocol::Message;
use fullduplex::server::{
    Conn, Context, Handler, HttpRequest, HttpResponse, Reply, ResponseId, ServerConfig, Upgrade,
};

/// `/later` is answered later (its id goes to the test), `/echo` answers its body at once.
#[derive(Clone)]
struct Polls {
    ids: mpsc::Sender<ResponseId>,
}

impl Handler for Polls {
    type Session = ();

    fn upgrade(&mut self, _: &Request, _: &ClientOffer) -> Upgrade<()> {
        Upgrade::reject(404, "no WebSocket here")
    }

    fn on_message(&mut self, _: &mut Conn<'_, ()>, _: Message<'_>) {}

    fn on_request(&mut self, ctx: &mut Context<'_>, request: &HttpRequest<'_>) -> Reply {
        match request.head().path() {
            "/later" => {
                let _ = self.ids.send(request.id());
                Reply::Later
            }
            "/now-and-later" => {
                // Answering through the context at once is answering later too.
                ctx.respond(request.id(), HttpResponse::text(200, "from the context"));
                Reply::Later
            }
            _ => Reply::Now(HttpResponse::new(200, "text/plain", request.body())),
        }
    }
}

fn start_polls(config: ServerConfig) -> (common::runtime::TestServer, mpsc::Receiver<ResponseId>) {
    let (ids, receive) = mpsc::channel();
    (start(config, Polls { ids }), receive)
}

fn small_bodies() -> ServerConfig {
    ServerConfig {
        max_request_body: 1000,
        ..ServerConfig::default()
    }
}

/// Reads one response (head and `Content-Length` body); the status, head and body.
fn read_response(stream: &mut TcpStream) -> (u16, String, Vec<u8>) {
    let mut bytes = Vec::new();
    let mut byte = [0u8; 1];
    while !bytes.ends_with(b"\r\n\r\n") {
        assert_eq!(stream.read(&mut byte).expect("a response"), 1, "{bytes:?}");
        bytes.push(byte[0]);
    }
    let head = String::from_utf8(bytes).unwrap();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .expect("a length")
        .parse()
        .unwrap();
    let mut body = vec![0; length];
    stream.read_exact(&mut body).unwrap();
    (head[9..12].parse().unwrap(), head, body)
}

fn next_id(ids: &mpsc::Receiver<ResponseId>) -> ResponseId {
    ids.recv_timeout(DEADLINE)
        .expect("the request reaches the handler")
}

#[test]
fn a_deferred_answer_comes_when_the_application_gives_it_and_the_connection_stays_open() {
    let (server, ids) = start_polls(small_bodies());
    let mut stream = raw(server.local_addr());
    stream
        .write_all(b"GET /later HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let id = next_id(&ids);
    server
        .handle()
        .respond(id, HttpResponse::text(200, "at last"))
        .unwrap();
    let (status, head, body) = read_response(&mut stream);
    assert_eq!((status, &body[..]), (200, &b"at last\n"[..]));
    assert!(head.contains("Connection: keep-alive\r\n"), "{head}");

    // The same connection carries the next request, with a body.
    stream
        .write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
        .unwrap();
    assert_eq!(read_response(&mut stream).2, b"hello");
    assert_eq!(server.handle().stats().http_requests, 2);
}

#[test]
fn a_stale_answer_does_not_answer_the_next_request_on_the_connection() {
    let (server, ids) = start_polls(small_bodies());
    let mut stream = raw(server.local_addr());
    stream
        .write_all(b"GET /later HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let first = next_id(&ids);
    let handle = server.handle();
    handle
        .respond(first, HttpResponse::text(200, "one"))
        .unwrap();
    assert_eq!(read_response(&mut stream).2, b"one\n");
    stream
        .write_all(b"GET /later HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let second = next_id(&ids);
    assert_ne!(first, second);
    // Answering the first request again must not answer the second one.
    handle
        .respond(first, HttpResponse::text(200, "stale"))
        .unwrap();
    handle
        .respond(second, HttpResponse::text(200, "two"))
        .unwrap();
    assert_eq!(read_response(&mut stream).2, b"two\n");
}

#[test]
fn pipelined_requests_are_answered_in_order_and_close_is_honoured() {
    let (server, _ids) = start_polls(small_bodies());
    let mut stream = raw(server.local_addr());
    stream
        .write_all(
            b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nonePOST /b HTTP/1.1\r\n\
              Host: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\ntwo",
        )
        .unwrap();
    let (_, head, body) = read_response(&mut stream);
    assert_eq!(body, b"one");
    assert!(head.contains("Connection: keep-alive"));
    let (_, head, body) = read_response(&mut stream);
    assert_eq!(body, b"two");
    assert!(head.contains("Connection: close"));
    assert_eq!(
        read_to_end(&mut stream),
        b"",
        "the server closes after a close"
    );
}

#[test]
fn an_http_1_0_request_gets_its_answer_and_the_connection_closes() {
    let (server, _ids) = start_polls(small_bodies());
    let mut stream = raw(server.local_addr());
    stream.write_all(b"GET /echo HTTP/1.0\r\n\r\n").unwrap();
    let answer = String::from_utf8(read_to_end(&mut stream)).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("Connection: close\r\n"), "{answer}");
}

#[test]
fn a_body_arriving_in_pieces_is_read_whole_past_the_head_limit() {
    let (server, _ids) = start_polls(ServerConfig {
        max_request_body: 100_000,
        connection: fullduplex::Config {
            max_handshake_size: 1024,
            ..Default::default()
        },
        ..ServerConfig::default()
    });
    let mut stream = raw(server.local_addr());
    let body: Vec<u8> = (0..60_000u32).map(|i| (i % 251) as u8).collect();
    let head = format!(
        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    for piece in body.chunks(7000) {
        stream.write_all(piece).unwrap();
        stream.flush().unwrap();
    }
    assert_eq!(read_response(&mut stream).2, body);
}

#[test]
fn bodies_over_the_limit_or_without_a_length_are_refused() {
    let (server, ids) = start_polls(small_bodies());
    for (request, status) in [
        (
            "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1001\r\n\r\n",
            413,
        ),
        ("POST /echo HTTP/1.1\r\nHost: x\r\n\r\n", 411),
        (
            "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
            411,
        ),
        (
            "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: x\r\n\r\n",
            400,
        ),
    ] {
        let mut stream = raw(server.local_addr());
        stream.write_all(request.as_bytes()).unwrap();
        let answer = String::from_utf8(read_to_end(&mut stream)).unwrap();
        assert!(
            answer.starts_with(&format!("HTTP/1.1 {status}")),
            "{request}: {answer}"
        );
        assert!(answer.contains("Connection: close\r\n"));
    }
    assert!(ids.try_recv().is_err(), "the application saw none of them");
    assert_eq!(server.handle().stats().http_requests, 0);
}

#[test]
fn an_answer_through_the_context_and_one_never_given() {
    let (server, ids) = start_polls(ServerConfig {
        max_deferral: Duration::from_millis(200),
        ..small_bodies()
    });
    let mut stream = raw(server.local_addr());
    stream
        .write_all(b"GET /now-and-later HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut stream).2, b"from the context\n");

    // Nobody answers: the server does, with 503, after max_deferral, and closes.
    stream
        .write_all(b"GET /later HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    next_id(&ids);
    let answer = String::from_utf8(read_to_end(&mut stream)).unwrap();
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("did not answer in time"), "{answer}");
}

#[test]
fn a_request_waiting_at_shutdown_gets_503() {
    let (server, ids) = start_polls(small_bodies());
    let mut stream = raw(server.local_addr());
    stream
        .write_all(b"GET /later HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    next_id(&ids);
    server.handle().shutdown();
    let answer = String::from_utf8(read_to_end(&mut stream)).unwrap();
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("Connection: close\r\n"), "{answer}");
}

#[test]
fn an_idle_persistent_connection_is_closed_at_the_handshake_deadline() {
    let (server, _ids) = start_polls(ServerConfig {
        connection: fullduplex::Config {
            handshake_timeout: Duration::from_millis(200),
            ..Default::default()
        },
        ..small_bodies()
    });
    let mut stream = raw(server.local_addr());
    stream
        .write_all(b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let (status, head, _) = read_response(&mut stream);
    assert_eq!(status, 200);
    assert!(head.contains("Connection: keep-alive"));
    // No next request: the server hangs up (well before the test's read deadline).
    assert_eq!(read_to_end(&mut stream), b"");
}
