//! A client and a server with permessage-deflate agreed, back to back in memory, in every
//! combination of context takeover and windows 9, 12 and 15 (and 8, stored blocks).

mod common;

use common::*;
use fullduplex::config::DeflateConfig;
use fullduplex::protocol::deflate::DeflateParams;
use fullduplex::protocol::{Connection, DataKind, OwnedEvent, SharedFrame};
use fullduplex::{Config, UsageError};

fn pair(params: DeflateParams, level: u32) -> (Connection, Connection) {
    let deflate = DeflateConfig {
        level,
        min_message_size: 0,
        ..DeflateConfig::default()
    };
    let config = Config {
        deflate: Some(deflate),
        ..Config::default()
    };
    let client = Connection::client(config.clone(), counting_keys()).with_deflate(params);
    let server = Connection::server(config.clone()).with_deflate(params);
    (client, server)
}

fn pump(from: &mut Connection, to: &mut Connection) -> Vec<OwnedEvent> {
    let bytes = take_output(from);
    let mut events = Vec::new();
    for piece in bytes.chunks(16 << 10) {
        to.receive(piece);
        let (mut got, err) = drain(to);
        assert_eq!(err, None);
        events.append(&mut got);
    }
    events
}

fn json_like(len: usize, seed: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 100);
    let mut i = seed;
    while out.len() < len {
        out.extend_from_slice(
            format!(
                "{{\"id\":{i},\"user\":\"user{}\",\"text\":\"message number {i}\"}},",
                i % 17
            )
            .as_bytes(),
        );
        i += 1;
    }
    out.truncate(len);
    out
}

fn all_params() -> Vec<DeflateParams> {
    let mut all = Vec::new();
    for server_no_context_takeover in [false, true] {
        for client_no_context_takeover in [false, true] {
            for (server_max_window_bits, client_max_window_bits) in
                [(9, 15), (12, 12), (15, 9), (15, 15), (8, 8)]
            {
                all.push(DeflateParams {
                    server_no_context_takeover,
                    client_no_context_takeover,
                    server_max_window_bits,
                    client_max_window_bits,
                });
            }
        }
    }
    all
}

#[test]
fn every_combination_round_trips_both_ways() {
    for params in all_params() {
        let (mut client, mut server) = pair(params, 6);
        for (i, len) in [0usize, 1, 100, 5000, 70_000].into_iter().enumerate() {
            let payload = json_like(len, i);
            let text = String::from_utf8(payload.clone()).unwrap();
            client.send_text(&text).unwrap();
            client.send_binary(&payload).unwrap();
            let got = pump(&mut client, &mut server);
            assert!(
                got == [
                    OwnedEvent::Text(text.clone()),
                    OwnedEvent::Binary(payload.clone())
                ],
                "{params:?} {len} c→s"
            );
            server.send_text(&text).unwrap();
            server.send_binary(&payload).unwrap();
            let got = pump(&mut server, &mut client);
            assert!(
                got == [OwnedEvent::Text(text), OwnedEvent::Binary(payload)],
                "{params:?} {len} s→c"
            );
        }
    }
}

#[test]
fn fragmented_compressed_messages_round_trip() {
    for params in all_params() {
        let (mut client, mut server) = pair(params, 6);
        let payload = json_like(50_000, 3);
        for _ in 0..2 {
            for (i, piece) in payload.chunks(7000).enumerate() {
                let fin = (i + 1) * 7000 >= payload.len();
                client.send_fragment(DataKind::Binary, piece, fin).unwrap();
                if i == 2 {
                    client.ping(b"between fragments").unwrap();
                }
            }
            let got = pump(&mut client, &mut server);
            assert!(
                got.last() == Some(&OwnedEvent::Binary(payload.clone())),
                "{params:?}"
            );
        }
    }
}

#[test]
fn large_messages_up_to_16_mib() {
    let params = DeflateParams {
        server_no_context_takeover: true,
        client_no_context_takeover: false,
        ..DeflateParams::default()
    };
    let (mut client, mut server) = pair(params, 1);
    for len in [1 << 20, 16 << 20] {
        let payload = json_like(len, 7);
        client.send_binary(&payload).unwrap();
        let wire = client.buffered_amount();
        assert!(wire < len / 4, "JSON compresses: {wire} of {len}");
        let got = pump(&mut client, &mut server);
        assert!(got == [OwnedEvent::Binary(payload.clone())], "{len} c→s");
        server.send_binary(&payload).unwrap();
        let got = pump(&mut server, &mut client);
        assert!(got == [OwnedEvent::Binary(payload)], "{len} s→c");
    }
}

#[test]
fn streamed_delivery_inflates_in_bounded_chunks() {
    let params = DeflateParams::default();
    let deflate = DeflateConfig {
        min_message_size: 0,
        ..DeflateConfig::default()
    };
    let config = Config {
        deflate: Some(deflate),
        message_delivery: fullduplex::config::MessageDelivery::Streamed,
        ..Config::default()
    };
    let mut client = Connection::client(config.clone(), counting_keys()).with_deflate(params);
    let mut server = Connection::server(config.clone()).with_deflate(params);
    let payload = json_like(4 << 20, 1);
    client
        .send_text(std::str::from_utf8(&payload).unwrap())
        .unwrap();
    let mut received = Vec::new();
    let mut biggest = 0;
    for event in pump(&mut client, &mut server) {
        if let OwnedEvent::Chunk { data, .. } = event {
            biggest = biggest.max(data.len());
            received.extend(data);
        }
    }
    assert_eq!(received.len(), payload.len());
    let first_difference = received.iter().zip(&payload).position(|(a, b)| a != b);
    assert_eq!(first_difference, None);
    assert!(biggest <= 64 << 10, "chunks are bounded: {biggest}");
}

#[test]
fn a_compressed_shared_frame_serves_receivers_without_server_context_takeover() {
    let fits = DeflateParams {
        server_no_context_takeover: true,
        ..DeflateParams::default()
    };
    let keeps_context = DeflateParams::default();
    let frame = SharedFrame::compressed(DataKind::Text, &json_like(5000, 0), 15, 6);
    assert!(frame.is_compressed());
    let (mut client, mut server) = pair(fits, 6);
    server.send_shared(&frame).unwrap();
    // The next message, compressed by the connection's own compressor, still decodes.
    server
        .send_text("after the shared frame, compressed per connection")
        .unwrap();
    let got = pump(&mut server, &mut client);
    assert_eq!(got.len(), 2);
    assert!(got[0] == OwnedEvent::Text(String::from_utf8(json_like(5000, 0)).unwrap()));
    let (_, mut keeps) = pair(keeps_context, 6);
    assert_eq!(
        keeps.send_shared(&frame),
        Err(UsageError::IncompatibleSharedFrame)
    );
    let small_window = DeflateParams {
        server_no_context_takeover: true,
        server_max_window_bits: 10,
        ..DeflateParams::default()
    };
    let (_, mut small) = pair(small_window, 6);
    assert_eq!(
        small.send_shared(&frame),
        Err(UsageError::IncompatibleSharedFrame)
    );
    // Uncompressed shared frames go to anyone.
    assert_eq!(
        keeps.send_shared(&SharedFrame::new(DataKind::Text, b"plain")),
        Ok(())
    );
}
