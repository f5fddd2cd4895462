//! RFC 6455 §5.7 examples, each decoded (whole and one byte at a time) and encoded, and the
//! §1.3 accept key (the whole §1.3 handshake is in `tests/handshake.rs`).

mod common;

use common::*;
use fullduplex::protocol::handshake::accept_key;
use fullduplex::protocol::{Connection, DataKind, OwnedEvent};
use fullduplex::Config;

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

fn client_with_rfc_key() -> Connection {
    Connection::client(Config::default(), fixed_key(KEY))
}

/// Decodes `bytes` with `make()` both whole and byte by byte, expecting `events`.
fn decodes_to(make: impl Fn() -> Connection, bytes: &[u8], events: &[OwnedEvent]) {
    let (got, err) = feed(&mut make(), bytes);
    assert_eq!(err, None);
    assert_eq!(got, events);
    let (got, err) = feed_bytewise(&mut make(), bytes);
    assert_eq!(err, None);
    assert_eq!(got, events, "byte at a time");
}

#[test]
fn single_frame_unmasked_text() {
    // "A single-frame unmasked text message (contains "Hello")"
    let bytes = [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
    decodes_to(client, &bytes, &[OwnedEvent::Text("Hello".into())]);
    let mut server = server();
    server.send_text("Hello").unwrap();
    assert_eq!(take_output(&mut server), bytes);
}

#[test]
fn single_frame_masked_text() {
    // "A single-frame masked text message (contains "Hello")"
    let bytes = [
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    decodes_to(server, &bytes, &[OwnedEvent::Text("Hello".into())]);
    let mut client = client_with_rfc_key();
    client.send_text("Hello").unwrap();
    assert_eq!(take_output(&mut client), bytes);
}

#[test]
fn fragmented_unmasked_text() {
    // "A fragmented unmasked text message": "Hel" then "lo".
    let first = [0x01, 0x03, 0x48, 0x65, 0x6c];
    let second = [0x80, 0x02, 0x6c, 0x6f];
    let bytes = [&first[..], &second[..]].concat();
    decodes_to(client, &bytes, &[OwnedEvent::Text("Hello".into())]);
    let mut server = server();
    server.send_fragment(DataKind::Text, b"Hel", false).unwrap();
    assert_eq!(take_output(&mut server), first);
    server.send_fragment(DataKind::Text, b"lo", true).unwrap();
    assert_eq!(take_output(&mut server), second);
}

#[test]
fn unmasked_ping_and_masked_pong() {
    // "Unmasked Ping request and masked Ping response": a client receiving the Ping answers
    // with exactly the RFC's Pong when its masking key is the RFC's.
    let ping = [0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
    let pong = [
        0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    decodes_to(
        client_with_rfc_key,
        &ping,
        &[OwnedEvent::Ping(b"Hello".to_vec())],
    );
    let mut client = client_with_rfc_key();
    let (events, _) = feed(&mut client, &ping);
    assert_eq!(events, [OwnedEvent::Ping(b"Hello".to_vec())]);
    assert_eq!(take_output(&mut client), pong);
    decodes_to(server, &pong, &[OwnedEvent::Pong(b"Hello".to_vec())]);
    let mut server = server();
    server.ping(b"Hello").unwrap();
    assert_eq!(take_output(&mut server), ping);
}

#[test]
fn binary_256_bytes_in_one_unmasked_frame() {
    // "256 bytes binary message in a single unmasked frame: 0x82 0x7E 0x0100 [256 bytes]"
    let payload: Vec<u8> = (0..=255).collect();
    let bytes = [&[0x82, 0x7E, 0x01, 0x00][..], &payload].concat();
    decodes_to(client, &bytes, &[OwnedEvent::Binary(payload.clone())]);
    let mut server = server();
    server.send_binary(&payload).unwrap();
    assert_eq!(take_output(&mut server), bytes);
}

#[test]
fn binary_64_kib_in_one_unmasked_frame() {
    // "64KiB binary message in a single unmasked frame: 0x82 0x7F 0x0000000000010000 [65536]"
    let payload: Vec<u8> = (0..65536u32).map(|i| (i % 251) as u8).collect();
    let head = [0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0];
    let bytes = [&head[..], &payload].concat();
    let (got, err) = feed(&mut client(), &bytes);
    assert_eq!(
        (got, err),
        (vec![OwnedEvent::Binary(payload.clone())], None)
    );
    let (got, err) = feed_bytewise(&mut client(), &bytes);
    assert_eq!(
        (got, err),
        (vec![OwnedEvent::Binary(payload.clone())], None)
    );
    let mut server = server();
    server.send_binary(&payload).unwrap();
    assert_eq!(take_output(&mut server), bytes);
}

#[test]
fn section_1_3_accept_key() {
    // "the server would concatenate the string "258EAFA5-E914-47DA-95CA-C5AB0DC85B11" [...]
    // This value is then base64-encoded [...] to give the value "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="."
    assert_eq!(
        accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    );
}
