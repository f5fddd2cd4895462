//! RFC 7692 §7.2.3 examples, decoded byte for byte (whole and one byte at a time), and
//! encoded where zlib's output is the RFC's.

mod common;

use common::*;
use fullduplex::protocol::deflate::DeflateParams;
use fullduplex::protocol::{Connection, DataKind, OwnedEvent};
use fullduplex::{Config, ProtocolError};

fn params(no_context_takeover: bool) -> DeflateParams {
    DeflateParams {
        server_no_context_takeover: no_context_takeover,
        client_no_context_takeover: no_context_takeover,
        ..DeflateParams::default()
    }
}

/// A client that agreed permessage-deflate, receiving the RFC's (unmasked, server) frames.
fn client_with(no_context_takeover: bool) -> Connection {
    let config = Config {
        deflate: Some(Default::default()),
        ..Config::default()
    };
    Connection::client(config.clone(), counting_keys()).with_deflate(params(no_context_takeover))
}

fn server_with(no_context_takeover: bool, min_size: usize) -> Connection {
    let deflate = fullduplex::config::DeflateConfig {
        min_message_size: min_size,
        ..Default::default()
    };
    let config = Config {
        deflate: Some(deflate),
        ..Config::default()
    };
    Connection::server(config.clone()).with_deflate(params(no_context_takeover))
}

fn decodes(bytes: &[u8], expected: &[&str], no_context_takeover: bool) {
    let events: Vec<OwnedEvent> = expected
        .iter()
        .map(|t| OwnedEvent::Text(t.to_string()))
        .collect();
    assert_eq!(
        feed(&mut client_with(no_context_takeover), bytes),
        (events.clone(), None)
    );
    assert_eq!(
        feed_bytewise(&mut client_with(no_context_takeover), bytes),
        (events, None)
    );
}

const HELLO: [u8; 9] = [0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];

#[test]
fn s7_2_3_1_a_message_compressed_using_one_compressed_deflate_block() {
    decodes(&HELLO, &["Hello"], true);
    // "the same message fragmented": 0x41 0x03 0xf2 0x48 0xcd / 0x80 0x04 0xc9 0xc9 0x07 0x00
    decodes(
        &[
            0x41, 0x03, 0xf2, 0x48, 0xcd, 0x80, 0x04, 0xc9, 0xc9, 0x07, 0x00,
        ],
        &["Hello"],
        true,
    );
    let mut server = server_with(true, 0);
    server.send_text("Hello").unwrap();
    assert_eq!(take_output(&mut server), HELLO);
}

#[test]
fn s7_2_3_2_sharing_the_lz77_sliding_window() {
    // The second "Hello" refers back into the first: 0xc1 0x05 0xf2 0x00 0x11 0x00 0x00.
    let second = [0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00];
    decodes(
        &[&HELLO[..], &second[..]].concat(),
        &["Hello", "Hello"],
        false,
    );
    let mut server = server_with(false, 0);
    server.send_text("Hello").unwrap();
    server.send_text("Hello").unwrap();
    assert_eq!(take_output(&mut server), [&HELLO[..], &second[..]].concat());
    // Without context takeover the second message cannot be decoded: it refers to data the
    // decompressor no longer has.
    let (events, err) = feed(&mut client_with(true), &[&HELLO[..], &second[..]].concat());
    assert_eq!(events, [OwnedEvent::Text("Hello".into())]);
    assert_eq!(err, Some(ProtocolError::InvalidCompressedData));
}

#[test]
fn s7_2_3_3_deflate_block_with_no_compression() {
    let bytes = [
        0xc1, 0x0b, 0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
    ];
    decodes(&bytes, &["Hello"], true);
}

#[test]
fn s7_2_3_4_deflate_block_with_bfinal_set() {
    let bytes = [0xc1, 0x08, 0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00];
    decodes(&bytes, &["Hello"], true);
    // A new DEFLATE stream follows in the next message.
    decodes(
        &[&bytes[..], &bytes[..]].concat(),
        &["Hello", "Hello"],
        false,
    );
}

#[test]
fn s7_2_3_5_two_deflate_blocks_in_one_message() {
    let bytes = [
        0xc1, 0x0d, 0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00,
    ];
    decodes(&bytes, &["Hello"], true);
}

#[test]
fn an_empty_message_compresses_to_a_single_zero_byte() {
    let mut server = server_with(true, 0);
    server.send_binary(b"").unwrap();
    assert_eq!(take_output(&mut server), [0xc2, 0x01, 0x00]);
    let (events, err) = feed(&mut client_with(true), &[0xc2, 0x01, 0x00]);
    assert_eq!((events, err), (vec![OwnedEvent::Binary(vec![])], None));
}

#[test]
fn messages_below_the_threshold_go_uncompressed() {
    let mut server = server_with(true, 64);
    server.send_text("Hello").unwrap();
    assert_eq!(
        take_output(&mut server),
        [0x81, 0x05, b'H', b'e', b'l', b'l', b'o']
    );
    // A receiver with deflate agreed takes uncompressed messages too (RSV1 clear).
    let (events, err) = feed(
        &mut client_with(true),
        &[0x81, 0x05, b'H', b'e', b'l', b'l', b'o'],
    );
    assert_eq!(
        (events, err),
        (vec![OwnedEvent::Text("Hello".into())], None)
    );
}

#[test]
fn rsv1_on_a_continuation_or_control_frame_fails_with_1002() {
    use fullduplex::protocol::CloseCode;
    let make = || client_with(true);
    let continuation = [
        0x41, 0x03, 0xf2, 0x48, 0xcd, 0xc0, 0x04, 0xc9, 0xc9, 0x07, 0x00,
    ];
    assert_fails(make, &continuation, CloseCode::ProtocolError);
    assert_fails(make, &[0xc9, 0x00], CloseCode::ProtocolError);
    assert_fails(make, &[0xc8, 0x02, 0x03, 0xe8], CloseCode::ProtocolError);
    // Without the extension, RSV1 is a reserved bit everywhere.
    assert_fails(client, &HELLO, CloseCode::ProtocolError);
}

#[test]
fn corrupt_compressed_data_fails_with_1007() {
    use fullduplex::protocol::CloseCode;
    assert_fails(
        || client_with(true),
        &[0xc1, 0x04, 0xff, 0xff, 0xff, 0xff],
        CloseCode::InvalidPayload,
    );
}

#[test]
fn invalid_utf8_is_found_in_the_inflated_text() {
    use fullduplex::protocol::CloseCode;
    let mut server = server_with(true, 0);
    // Compress invalid UTF-8 as if it were text, by sending it as binary and flipping the opcode.
    server.send_binary(b"valid then \xff invalid").unwrap();
    let mut bytes = take_output(&mut server);
    bytes[0] = 0xc1;
    assert_fails(|| client_with(true), &bytes, CloseCode::InvalidPayload);
    let _ = DataKind::Text;
}
