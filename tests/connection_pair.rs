//! A client and a server `Connection` wired back to back in memory.

mod common;

use common::*;
use fullduplex::config::MessageDelivery;
use fullduplex::protocol::{CloseCode, Connection, DataKind, Initiator, OwnedEvent, State};
use fullduplex::Config;

/// Moves `from`'s output into `to` in pieces of `step` bytes, polling after each piece.
fn pump(from: &mut Connection, to: &mut Connection, step: usize) -> Vec<OwnedEvent> {
    let bytes = take_output(from);
    let mut events = Vec::new();
    for piece in bytes.chunks(step.max(1)) {
        to.receive(piece);
        let (mut got, err) = drain(to);
        assert_eq!(err, None);
        events.append(&mut got);
    }
    events
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn text_pattern(len: usize) -> String {
    // Multi-byte characters so that splits fall inside them.
    "aκ€😀"
        .chars()
        .cycle()
        .scan(0, |n, c| {
            *n += c.len_utf8();
            (*n <= len).then_some(c)
        })
        .collect()
}

const SIZES: [usize; 9] = [0, 1, 125, 126, 65_535, 65_536, 1 << 20, 4 << 20, 16 << 20];

#[test]
fn binary_messages_of_every_size_both_ways() {
    let (mut client, mut server) = (client(), server());
    for (i, &len) in SIZES.iter().enumerate() {
        let payload = pattern(len, i as u8);
        client.send_binary(&payload).unwrap();
        let step = if len > 1 << 20 { 1 << 16 } else { 997 };
        let got = pump(&mut client, &mut server, step);
        assert!(
            got == [OwnedEvent::Binary(payload.clone())],
            "client to server, {len} bytes"
        );
        server.send_binary(&payload).unwrap();
        let got = pump(&mut server, &mut client, step);
        assert!(
            got == [OwnedEvent::Binary(payload)],
            "server to client, {len} bytes"
        );
    }
}

#[test]
fn text_messages_of_every_size_both_ways() {
    let (mut client, mut server) = (client(), server());
    for &len in &SIZES {
        let text = text_pattern(len);
        client.send_text(&text).unwrap();
        let step = if len > 1 << 20 { 1 << 16 } else { 1001 };
        let got = pump(&mut client, &mut server, step);
        assert!(
            got == [OwnedEvent::Text(text.clone())],
            "client to server, {len} bytes"
        );
        server.send_text(&text).unwrap();
        let got = pump(&mut server, &mut client, step);
        assert!(
            got == [OwnedEvent::Text(text)],
            "server to client, {len} bytes"
        );
    }
}

#[test]
fn fragmented_messages_with_pings_interleaved() {
    let (mut client, mut server) = (client(), server());
    for (kind, payload) in [
        (DataKind::Text, text_pattern(100_000).into_bytes()),
        (DataKind::Binary, pattern(100_000, 3)),
        (DataKind::Binary, Vec::new()),
    ] {
        let pieces: Vec<&[u8]> = if payload.is_empty() {
            vec![&[], &[]]
        } else {
            payload.chunks(7_777).collect()
        };
        for (i, piece) in pieces.iter().enumerate() {
            let fin = i == pieces.len() - 1;
            client.send_fragment(kind, piece, fin).unwrap();
            if i % 3 == 0 && !fin {
                client.ping(&[i as u8]).unwrap();
            }
        }
        let events = pump(&mut client, &mut server, 4093);
        let pings = events
            .iter()
            .filter(|e| matches!(e, OwnedEvent::Ping(_)))
            .count();
        assert_eq!(pings, (0..pieces.len() - 1).filter(|i| i % 3 == 0).count());
        let whole = match kind {
            DataKind::Text => OwnedEvent::Text(String::from_utf8(payload.clone()).unwrap()),
            DataKind::Binary => OwnedEvent::Binary(payload.clone()),
        };
        assert_eq!(events.len(), pings + 1);
        assert!(
            events.last() == Some(&whole),
            "the message arrives whole, after the pings"
        );
        // Every Ping was answered with its Pong.
        let pongs = pump(&mut server, &mut client, 100);
        assert_eq!(pongs.len(), pings);
        assert!(pongs.iter().all(|e| matches!(e, OwnedEvent::Pong(_))));
    }
}

#[test]
fn messages_survive_every_split_position() {
    let mut client = client();
    client.send_text("hello κόσμε").unwrap();
    client
        .send_fragment(DataKind::Binary, b"ab", false)
        .unwrap();
    client.ping(b"x").unwrap();
    client.send_fragment(DataKind::Binary, b"cd", true).unwrap();
    let bytes = take_output(&mut client);
    let (whole, err) = feed(&mut server(), &bytes);
    assert_eq!(err, None);
    assert_eq!(whole.len(), 3);
    for cut in 0..=bytes.len() {
        let mut server = server();
        let (mut events, _) = feed(&mut server, &bytes[..cut]);
        let (mut rest, err) = feed(&mut server, &bytes[cut..]);
        events.append(&mut rest);
        assert_eq!((events, err), (whole.clone(), None), "cut at {cut}");
    }
}

#[test]
fn client_begins_the_close() {
    let (mut client, mut server) = (client(), server());
    client.close(CloseCode::Normal, "done").unwrap();
    assert_eq!(client.state(), State::Closing);
    let events = pump(&mut client, &mut server, 3);
    assert_eq!(
        events,
        [OwnedEvent::Closed {
            code: CloseCode::Normal,
            reason: "done".into()
        }]
    );
    assert_eq!(server.state(), State::Closed(Initiator::Remote));
    assert!(server.is_closed() && server.wants_write());
    let events = pump(&mut server, &mut client, 3);
    assert_eq!(
        events,
        [OwnedEvent::Closed {
            code: CloseCode::Normal,
            reason: String::new()
        }]
    );
    assert_eq!(client.state(), State::Closed(Initiator::Local));
    assert!(!client.wants_write() && !server.wants_write());
}

#[test]
fn server_begins_the_close_while_the_client_is_still_sending() {
    let (mut client, mut server) = (client(), server());
    server.close(CloseCode::GoingAway, "restart").unwrap();
    client.send_text("crossing the close").unwrap();
    // The client's message crosses the server's Close: the server still receives it.
    let events = pump(&mut client, &mut server, 5);
    assert_eq!(events, [OwnedEvent::Text("crossing the close".into())]);
    let events = pump(&mut server, &mut client, 5);
    assert_eq!(
        events,
        [OwnedEvent::Closed {
            code: CloseCode::GoingAway,
            reason: "restart".into()
        }]
    );
    assert_eq!(client.state(), State::Closed(Initiator::Remote));
    let events = pump(&mut client, &mut server, 5);
    assert_eq!(
        events,
        [OwnedEvent::Closed {
            code: CloseCode::GoingAway,
            reason: String::new()
        }]
    );
    assert_eq!(server.state(), State::Closed(Initiator::Local));
}

#[test]
fn both_close_at_once() {
    let (mut client, mut server) = (client(), server());
    client.close(CloseCode::Normal, "c").unwrap();
    server.close(CloseCode::Normal, "s").unwrap();
    let to_server = pump(&mut client, &mut server, 2);
    let to_client = pump(&mut server, &mut client, 2);
    assert_eq!(
        to_server,
        [OwnedEvent::Closed {
            code: CloseCode::Normal,
            reason: "c".into()
        }]
    );
    assert_eq!(
        to_client,
        [OwnedEvent::Closed {
            code: CloseCode::Normal,
            reason: "s".into()
        }]
    );
    assert_eq!(client.state(), State::Closed(Initiator::Local));
    assert_eq!(server.state(), State::Closed(Initiator::Local));
    assert!(!client.wants_write() && !server.wants_write());
}

fn streamed_server(max_message: usize) -> Connection {
    let config = Config {
        message_delivery: MessageDelivery::Streamed,
        max_message_size: max_message,
        max_frame_size: max_message,
        ..Config::default()
    };
    Connection::server(config.clone())
}

#[test]
fn streamed_delivery_hands_out_chunks_without_buffering_the_message() {
    let mut client = client();
    let mut server = streamed_server(64 << 20);
    let payload = pattern(32 << 20, 9);
    client.send_binary(&payload).unwrap();
    let bytes = take_output(&mut client);
    let mut received = Vec::new();
    let mut firsts = 0;
    let mut lasts = 0;
    for piece in bytes.chunks(64 << 10) {
        server.receive(piece);
        loop {
            match server.poll_event().unwrap() {
                Some(fullduplex::protocol::Event::Chunk(c)) => {
                    received.extend_from_slice(c.data);
                    firsts += c.first as usize;
                    lasts += c.last as usize;
                }
                Some(other) => panic!("unexpected {other:?}"),
                None => break,
            }
        }
        // The receive buffer never holds more than a couple of reads.
        let space = server.read_space(0).len();
        assert!(space <= 1 << 20, "receive buffer grew to {space}");
    }
    assert_eq!((firsts, lasts), (1, 1));
    assert!(received == payload);
}

#[test]
fn streamed_text_is_validated_across_chunks() {
    let mut client = client();
    let text = text_pattern(10_000);
    client
        .send_fragment(DataKind::Text, &text.as_bytes()[..5001], false)
        .unwrap();
    client
        .send_fragment(DataKind::Text, &text.as_bytes()[5001..], true)
        .unwrap();
    let bytes = take_output(&mut client);
    let mut server = streamed_server(1 << 20);
    let mut received = Vec::new();
    for piece in bytes.chunks(333) {
        let (events, err) = feed(&mut server, piece);
        assert_eq!(err, None);
        for e in events {
            if let OwnedEvent::Chunk { kind, data, .. } = e {
                assert_eq!(kind, DataKind::Text);
                received.extend(data);
            }
        }
    }
    assert_eq!(received, text.as_bytes());
    // Invalid text fails in streamed mode too.
    let mut server = streamed_server(1 << 20);
    let (_, err) = feed(&mut server, &client_frame(0x81, b"ok\xff"));
    assert_eq!(err, Some(fullduplex::ProtocolError::InvalidUtf8));
}

#[test]
fn streamed_empty_message_is_one_first_and_last_chunk() {
    let mut server = streamed_server(1 << 20);
    let (events, err) = feed(&mut server, &client_frame(0x82, b""));
    assert_eq!(err, None);
    assert_eq!(
        events,
        [OwnedEvent::Chunk {
            kind: DataKind::Binary,
            data: vec![],
            first: true,
            last: true
        }]
    );
}
