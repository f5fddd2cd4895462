//! The receiver's own invariants: its size, the exact errors of RSV1 while a compressed
//! message is open (RFC 7692 §6), and the release of its in-flight state when idle.

use super::*;
use crate::config::{DeflateConfig, MessageDelivery};
use crate::protocol::deflate::DeflateParams;
use crate::protocol::message::{Chunk, Message};
use crate::protocol::Connection;

/// RFC 7692 §7.2.3.1: "Hello" compressed in one frame (server to client, unmasked).
const HELLO: [u8; 9] = [0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
/// The first fragment of the same message (RSV1, no FIN): the message stays open.
const HELLO_OPENS: [u8; 5] = [0x41, 0x03, 0xf2, 0x48, 0xcd];
/// The final fragment that completes it.
const HELLO_ENDS: [u8; 6] = [0x80, 0x04, 0xc9, 0xc9, 0x07, 0x00];

fn client(delivery: MessageDelivery, deflate: bool) -> Connection {
    let config = Config {
        message_delivery: delivery,
        deflate: deflate.then(DeflateConfig::default),
        ..Config::default()
    };
    let client = Connection::client(config, || [0u8; 4]);
    if deflate {
        client.with_deflate(DeflateParams::default())
    } else {
        client
    }
}

/// Feeds `bytes`, then polls until there is nothing more: the error it ended with, if any.
fn error_after(conn: &mut Connection, bytes: &[u8]) -> Option<ProtocolError> {
    conn.receive(bytes);
    loop {
        match conn.poll_event() {
            Ok(Some(_)) => {}
            Ok(None) => return None,
            Err(err) => return Some(err),
        }
    }
}

/// The error after `first` then `then`, fed whole, in each delivery mode.
fn errors(deflate: bool, first: &[u8], then: &[u8]) -> [Option<ProtocolError>; 2] {
    [MessageDelivery::Whole, MessageDelivery::Streamed].map(|delivery| {
        let mut conn = client(delivery, deflate);
        assert_eq!(error_after(&mut conn, first), None, "{delivery:?}");
        error_after(&mut conn, then)
    })
}

#[test]
fn a_receiver_stays_within_32_bytes() {
    // An idle connection holds a Receiver (the server's per-connection budget counts it).
    assert!(std::mem::size_of::<Receiver>() <= 32);
}

#[test]
fn rsv1_inside_an_open_compressed_message_fails_with_the_rfc_7692_error() {
    // RFC 7692 §6.1: RSV1 on a continuation or a control frame, while the decompressor is
    // busy with the open message.
    let rsv1 = Some(ProtocolError::CompressedControlOrContinuation);
    assert_eq!(errors(true, &HELLO_OPENS, &[0xc0, 0x00]), [rsv1; 2]);
    assert_eq!(errors(true, &HELLO_OPENS, &[0xc9, 0x00]), [rsv1; 2]);
    // A new compressed message is legal RSV1, but not while one is open (RFC 6455 §5.4).
    let interleaved = Some(ProtocolError::ExpectedContinuation);
    assert_eq!(errors(true, &HELLO_OPENS, &[0xc1, 0x00]), [interleaved; 2]);
    // RSV2 means nothing to permessage-deflate.
    let rsv2 = Some(ProtocolError::ReservedBits(0x20));
    assert_eq!(errors(true, &HELLO_OPENS, &[0xa0, 0x00]), [rsv2; 2]);
}

#[test]
fn rsv1_outside_a_message_is_checked_against_the_agreement() {
    let rsv1 = Some(ProtocolError::CompressedControlOrContinuation);
    assert_eq!(errors(true, &HELLO, &[0xc0, 0x00]), [rsv1; 2]);
    assert_eq!(errors(true, &HELLO, &[0xc9, 0x00]), [rsv1; 2]);
    let reserved = Some(ProtocolError::ReservedBits(0x40));
    assert_eq!(errors(false, &[0x89, 0x00], &HELLO), [reserved; 2]);
}

#[test]
fn control_frames_between_compressed_fragments_leave_the_message_intact() {
    let mut conn = client(MessageDelivery::Whole, true);
    conn.receive(&[&HELLO_OPENS[..], &[0x89, 0x00], &HELLO_ENDS, &HELLO].concat());
    let mut texts = Vec::new();
    while let Some(event) = conn.poll_event().unwrap() {
        match event {
            Event::Message(Message::Text(text)) => texts.push(text.to_owned()),
            Event::Ping(_) => texts.push("ping".to_owned()),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(texts, ["ping", "Hello", "Hello"]);
}

#[test]
fn an_idle_receiver_gives_back_its_in_flight_state_and_reuses_it() {
    let mut conn = client(MessageDelivery::Whole, true);
    let (rx, tx) = conn.split();
    rx.receive(&HELLO);
    let at = rx.flight.as_deref().map(|f| f as *const Flight);
    assert!(matches!(
        rx.poll_event(tx),
        Ok(Some(Event::Message(Message::Text("Hello"))))
    ));
    assert!(rx.poll_event(tx).unwrap().is_none());
    assert!(rx.take_idle_buffer().is_some());
    assert!(
        rx.flight.is_none(),
        "an idle receiver holds no in-flight state"
    );
    assert!(
        rx.inflater.is_some(),
        "the decompressor outlives the message"
    );
    rx.receive(&HELLO);
    assert_eq!(rx.flight.as_deref().map(|f| f as *const Flight), at);
    assert!(matches!(
        rx.poll_event(tx),
        Ok(Some(Event::Message(Message::Text("Hello"))))
    ));
}

#[test]
fn an_open_message_survives_giving_back_the_buffer() {
    for delivery in [MessageDelivery::Whole, MessageDelivery::Streamed] {
        let mut conn = client(delivery, true);
        let (rx, tx) = conn.split();
        rx.receive(&HELLO_OPENS);
        let mut text = String::new();
        while let Some(event) = rx.poll_event(tx).unwrap() {
            if let Event::Chunk(Chunk { data, .. }) = event {
                text.push_str(std::str::from_utf8(data).unwrap());
            }
        }
        assert!(rx.take_idle_buffer().is_some(), "{delivery:?}");
        assert!(
            rx.flight.is_some(),
            "{delivery:?}: the open message is kept"
        );
        rx.receive(&HELLO_ENDS);
        while let Some(event) = rx.poll_event(tx).unwrap() {
            match event {
                Event::Message(Message::Text(t)) => text.push_str(t),
                Event::Chunk(Chunk { data, .. }) => {
                    text.push_str(std::str::from_utf8(data).unwrap())
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(text, "Hello", "{delivery:?}");
    }
}
