//! One test per rule of RFC 6455 §5 and §7 that fails a connection, asserting the close code;
//! and the rules about what may still be sent and received around a close.

mod common;

use common::*;
use fullduplex::protocol::{CloseCode, Connection, DataKind, Initiator, OwnedEvent, State};
use fullduplex::{Config, ProtocolError, UsageError};

const TEXT: u8 = 0x01;
const BINARY: u8 = 0x02;
const FIN: u8 = 0x80;

#[test]
fn continuation_without_a_message_fails_with_1002() {
    assert_fails(server, &client_frame(FIN, b"x"), CloseCode::ProtocolError);
}

#[test]
fn new_data_frame_inside_a_fragmented_message_fails_with_1002() {
    let bytes = [client_frame(TEXT, b"a"), client_frame(FIN | TEXT, b"b")].concat();
    assert_fails(server, &bytes, CloseCode::ProtocolError);
    let bytes = [client_frame(BINARY, b"a"), client_frame(BINARY, b"b")].concat();
    assert_fails(server, &bytes, CloseCode::ProtocolError);
}

#[test]
fn control_frames_may_interleave_with_fragments() {
    let bytes = [
        client_frame(TEXT, b"Hel"),
        client_frame(FIN | 0x9, b"p1"),
        client_frame(0x00, b"l"),
        client_frame(FIN | 0xA, b"p2"),
        client_frame(FIN, b"o"),
    ]
    .concat();
    let expected = [
        OwnedEvent::Ping(b"p1".to_vec()),
        OwnedEvent::Pong(b"p2".to_vec()),
        OwnedEvent::Text("Hello".into()),
    ];
    assert_eq!(feed(&mut server(), &bytes), (expected.to_vec(), None));
    assert_eq!(
        feed_bytewise(&mut server(), &bytes),
        (expected.to_vec(), None)
    );
}

#[test]
fn every_control_frame_longer_than_125_bytes_fails_with_1002() {
    for opcode in [0x8, 0x9, 0xA] {
        assert_fails(
            server,
            &client_frame(FIN | opcode, &[b'a'; 126]),
            CloseCode::ProtocolError,
        );
    }
}

#[test]
fn every_fragmented_control_frame_fails_with_1002() {
    for opcode in [0x8, 0x9, 0xA] {
        assert_fails(server, &client_frame(opcode, b""), CloseCode::ProtocolError);
    }
}

#[test]
fn reserved_opcodes_fail_with_1002() {
    for opcode in [3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF] {
        assert_fails(
            server,
            &client_frame(FIN | opcode, b""),
            CloseCode::ProtocolError,
        );
    }
}

#[test]
fn reserved_bits_without_an_extension_fail_with_1002() {
    for rsv in [0x40, 0x20, 0x10, 0x70] {
        assert_fails(
            server,
            &client_frame(FIN | rsv | TEXT, b"x"),
            CloseCode::ProtocolError,
        );
        assert_fails(
            server,
            &client_frame(FIN | rsv | 0x9, b""),
            CloseCode::ProtocolError,
        );
    }
}

#[test]
fn a_server_requires_masked_frames() {
    // Autobahn does not test this: a server MUST close on an unmasked frame (§5.1).
    assert_fails(
        server,
        &server_frame(FIN | TEXT, b"hi"),
        CloseCode::ProtocolError,
    );
    assert_fails(
        server,
        &server_frame(FIN | 0x9, b""),
        CloseCode::ProtocolError,
    );
}

#[test]
fn a_client_rejects_masked_frames() {
    assert_fails(
        client,
        &client_frame(FIN | TEXT, b"hi"),
        CloseCode::ProtocolError,
    );
    assert_fails(
        client,
        &client_frame(FIN | 0xA, b""),
        CloseCode::ProtocolError,
    );
}

#[test]
fn length_with_top_bit_set_fails_with_1002() {
    let bytes = [0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4];
    assert_fails(server, &bytes, CloseCode::ProtocolError);
}

#[test]
fn non_minimal_length_fails_with_1002() {
    let bytes = [0x82, 0xFE, 0x00, 0x05, 1, 2, 3, 4, 0, 0, 0, 0, 0];
    assert_fails(server, &bytes, CloseCode::ProtocolError);
}

fn limited(max_frame: usize, max_message: usize, max_fragments: usize) -> Connection {
    let config = Config {
        max_frame_size: max_frame,
        max_message_size: max_message,
        max_fragments,
        ..Config::default()
    };
    Connection::server(config.clone())
}

#[test]
fn frame_size_limit_is_checked_at_the_header() {
    // Only the header of a 16 MiB frame arrives: the connection fails at once, before any
    // payload is buffered.
    let mut header = vec![0x82, 0xFF];
    header.extend_from_slice(&(16u64 << 20).to_be_bytes());
    header.extend_from_slice(&[1, 2, 3, 4]);
    assert_fails(|| limited(1 << 20, 1 << 20, 10), &header, CloseCode::TooBig);
}

#[test]
fn message_size_limit_counts_the_whole_message() {
    let make = || limited(100, 250, 100);
    let ok = [
        client_frame(BINARY, &[0; 100]),
        client_frame(FIN, &[0; 100]),
    ]
    .concat();
    assert_eq!(
        feed(&mut make(), &ok),
        (vec![OwnedEvent::Binary(vec![0; 200])], None)
    );
    // Three frames each under the frame limit, together over the message limit.
    let too_big = [
        client_frame(BINARY, &[0; 100]),
        client_frame(0, &[0; 100]),
        client_frame(FIN, &[0; 100]),
    ]
    .concat();
    assert_fails(make, &too_big, CloseCode::TooBig);
}

#[test]
fn fragment_count_is_limited() {
    let make = || limited(100, 1000, 3);
    let mut bytes = client_frame(BINARY, b"");
    for _ in 0..3 {
        bytes.extend(client_frame(0, b""));
    }
    assert_fails(make, &bytes, CloseCode::TooBig);
}

/// Found by Autobahn 9.3.1 / 9.4.1: 4 MiB sent in 64-byte fragments and then an empty final
/// fragment is 65 537 frames; the default limit must admit it.
#[test]
fn default_fragment_limit_admits_autobahn_9_3_1() {
    let mut conn = server();
    let chunk = [b'*'; 64];
    let mut bytes = client_frame(TEXT, &chunk);
    for _ in 1..(4 << 20) / 64 {
        bytes.extend(client_frame(0, &chunk));
    }
    bytes.extend(client_frame(FIN, b""));
    let (events, error) = feed(&mut conn, &bytes);
    assert_eq!(error, None);
    match events.as_slice() {
        [OwnedEvent::Text(text)] => assert_eq!(text.len(), 4 << 20),
        other => panic!(
            "expected one 4 MiB text message, got {} events",
            other.len()
        ),
    }
}

#[test]
fn invalid_utf8_fails_with_1007_in_one_frame() {
    assert_fails(
        server,
        &client_frame(FIN | TEXT, b"ab\xff"),
        CloseCode::InvalidPayload,
    );
}

#[test]
fn invalid_utf8_across_fragments_fails_with_1007() {
    // "κ" is CE BA: split across two frames is valid; CE then 41 is not.
    let ok = [client_frame(TEXT, b"\xce"), client_frame(FIN, b"\xba")].concat();
    assert_eq!(
        feed(&mut server(), &ok),
        (vec![OwnedEvent::Text("κ".into())], None)
    );
    let bad = [client_frame(TEXT, b"\xce"), client_frame(FIN, b"A")].concat();
    assert_fails(server, &bad, CloseCode::InvalidPayload);
}

#[test]
fn text_ending_inside_a_character_fails_with_1007() {
    assert_fails(
        server,
        &client_frame(FIN | TEXT, b"ok\xe2\x82"),
        CloseCode::InvalidPayload,
    );
    let bytes = [client_frame(TEXT, b"ok"), client_frame(FIN, b"\xe2\x82")].concat();
    assert_fails(server, &bytes, CloseCode::InvalidPayload);
}

#[test]
fn invalid_utf8_fails_fast_inside_a_frame() {
    // Autobahn 6.4.x: the frame declares 21 bytes; the invalid byte arrives early and the
    // rest never does. The failure must come without waiting for the frame to end.
    let payload = b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80edited";
    let frame = client_frame(FIN | TEXT, payload);
    let cut = 6 + 13; // header + 11 bytes of valid text + F4 90
    let mut conn = server();
    let (events, err) = feed(&mut conn, &frame[..cut]);
    assert!(events.is_empty());
    assert_eq!(err, Some(ProtocolError::InvalidUtf8));
    assert_eq!(last_close_frame(&take_output(&mut conn)).0, 1007);
    // And byte by byte, it fails at the very byte (0x90) that makes the text impossible.
    let mut conn = server();
    for (i, b) in frame.iter().enumerate() {
        conn.receive(std::slice::from_ref(b));
        if conn.poll_event().is_err() {
            assert_eq!(i, cut - 1);
            return;
        }
    }
    panic!("never failed");
}

#[test]
fn binary_messages_are_not_utf8_checked() {
    let bytes = client_frame(FIN | BINARY, b"\xff\xfe");
    assert_eq!(
        feed(&mut server(), &bytes),
        (vec![OwnedEvent::Binary(vec![0xff, 0xfe])], None)
    );
}

#[test]
fn ping_is_answered_with_pong_carrying_its_payload() {
    let mut conn = server();
    let (events, err) = feed(&mut conn, &client_frame(FIN | 0x9, b"are you there"));
    assert_eq!(
        (events, err),
        (vec![OwnedEvent::Ping(b"are you there".to_vec())], None)
    );
    assert_eq!(
        take_output(&mut conn),
        server_frame(FIN | 0xA, b"are you there")
    );
}

#[test]
fn an_unsolicited_pong_goes_out_and_comes_in_without_an_answer() {
    // §5.5.3: "A Pong frame MAY be sent unsolicited. [...] A response to an unsolicited Pong
    // frame is not expected."
    let mut conn = server();
    conn.pong(b"heartbeat").unwrap();
    assert_eq!(
        take_output(&mut conn),
        server_frame(FIN | 0xA, b"heartbeat")
    );
    let (events, err) = feed(&mut conn, &client_frame(FIN | 0xA, b"beat"));
    assert_eq!(
        (events, err),
        (vec![OwnedEvent::Pong(b"beat".to_vec())], None)
    );
    assert!(!conn.wants_write());
}

#[test]
fn a_ping_flood_from_a_peer_that_never_reads_stays_bounded() {
    let mut conn = server();
    let ping = client_frame(FIN | 0x9, &[7; 125]);
    for _ in 0..100_000 {
        conn.receive(&ping);
        drain(&mut conn);
    }
    // At most 16 Pongs of 127 bytes wait; the rest were coalesced into the latest.
    assert!(
        conn.buffered_amount() <= 16 * 127,
        "{}",
        conn.buffered_amount()
    );
    // Once the peer reads, the latest Ping is answered.
    let first = take_output(&mut conn);
    assert_eq!(first.len(), 16 * 127);
    assert_eq!(take_output(&mut conn), server_frame(FIN | 0xA, &[7; 125]));
}

#[test]
fn close_with_a_one_byte_payload_fails_with_1002() {
    assert_fails(
        server,
        &client_frame(FIN | 0x8, &[0x03]),
        CloseCode::ProtocolError,
    );
}

#[test]
fn close_with_an_invalid_code_fails_with_1002() {
    for code in [
        0u16, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535,
    ] {
        let bytes = client_frame(FIN | 0x8, &code.to_be_bytes());
        assert_fails(server, &bytes, CloseCode::ProtocolError);
    }
}

#[test]
fn close_with_an_invalid_utf8_reason_fails_with_1007() {
    let bytes = client_frame(FIN | 0x8, b"\x03\xe8\xce");
    assert_fails(server, &bytes, CloseCode::InvalidPayload);
}

#[test]
fn valid_close_codes_are_accepted_and_echoed() {
    for code in [
        1000u16, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999,
        4000, 4999,
    ] {
        let mut conn = server();
        let payload = [&code.to_be_bytes()[..], b"bye"].concat();
        let (events, err) = feed(&mut conn, &client_frame(FIN | 0x8, &payload));
        assert_eq!(err, None);
        let expected_code = CloseCode::try_from(code).unwrap();
        assert_eq!(
            events,
            [OwnedEvent::Closed {
                code: expected_code,
                reason: "bye".into()
            }]
        );
        assert_eq!(
            last_close_frame(&take_output(&mut conn)),
            (code, String::new())
        );
        assert_eq!(conn.state(), State::Closed(Initiator::Remote));
    }
}

#[test]
fn empty_close_is_answered_with_an_empty_close() {
    let mut conn = server();
    let (events, err) = feed(&mut conn, &client_frame(FIN | 0x8, b""));
    assert_eq!(err, None);
    assert_eq!(
        events,
        [OwnedEvent::Closed {
            code: CloseCode::NoStatus,
            reason: String::new()
        }]
    );
    assert_eq!(take_output(&mut conn), server_frame(FIN | 0x8, b""));
}

#[test]
fn nothing_is_read_after_the_peers_close() {
    let mut conn = server();
    let bytes = [
        client_frame(FIN | 0x8, b"\x03\xe8"),
        client_frame(FIN | TEXT, b"late"),
    ]
    .concat();
    let (events, err) = feed(&mut conn, &bytes);
    assert_eq!(err, None);
    assert_eq!(events.len(), 1);
    conn.receive(&client_frame(FIN | TEXT, b"later"));
    assert_eq!(conn.poll_event(), Ok(None));
}

#[test]
fn after_our_close_no_frame_is_sent_but_messages_still_arrive() {
    let mut conn = server();
    conn.close(CloseCode::GoingAway, "shutting down").unwrap();
    assert_eq!(conn.state(), State::Closing);
    assert_eq!(
        last_close_frame(&take_output(&mut conn)),
        (1001, "shutting down".into())
    );
    assert_eq!(conn.send_text("x"), Err(UsageError::Closed));
    assert_eq!(conn.send_binary(b"x"), Err(UsageError::Closed));
    assert_eq!(conn.ping(b""), Err(UsageError::Closed));
    assert_eq!(conn.close(CloseCode::Normal, ""), Err(UsageError::Closed));
    // A message in flight from the peer is still delivered, and its pings are not answered.
    let bytes = [
        client_frame(FIN | TEXT, b"in flight"),
        client_frame(FIN | 0x9, b"p"),
    ]
    .concat();
    let (events, _) = feed(&mut conn, &bytes);
    assert_eq!(events[0], OwnedEvent::Text("in flight".into()));
    assert!(!conn.wants_write());
    let (events, _) = feed(&mut conn, &client_frame(FIN | 0x8, b"\x03\xe9"));
    assert_eq!(
        events,
        [OwnedEvent::Closed {
            code: CloseCode::GoingAway,
            reason: String::new()
        }]
    );
    assert_eq!(conn.state(), State::Closed(Initiator::Local));
    assert!(conn.is_closed());
    assert!(!conn.wants_write(), "no second Close frame");
}

#[test]
fn close_arguments_are_checked() {
    let mut conn = server();
    assert_eq!(
        conn.close(CloseCode::Abnormal, ""),
        Err(UsageError::CloseCodeNotSendable)
    );
    assert_eq!(
        conn.close(CloseCode::Private(1000), ""),
        Err(UsageError::CloseCodeNotSendable)
    );
    let long = "x".repeat(124);
    assert_eq!(
        conn.close(CloseCode::Normal, &long),
        Err(UsageError::CloseReasonTooLong)
    );
    assert_eq!(conn.ping(&[0; 126]), Err(UsageError::ControlPayloadTooLong));
    assert_eq!(conn.state(), State::Open);
    conn.close(CloseCode::NoStatus, "").unwrap();
    assert_eq!(take_output(&mut conn), server_frame(FIN | 0x8, b""));
}

#[test]
fn fragments_cannot_interleave_with_whole_messages_on_send() {
    let mut conn = server();
    conn.send_fragment(DataKind::Text, b"a", false).unwrap();
    assert_eq!(conn.send_text("b"), Err(UsageError::MessageInProgress));
    assert_eq!(
        conn.send_fragment(DataKind::Binary, b"c", true),
        Err(UsageError::MessageInProgress)
    );
    conn.ping(b"allowed").unwrap();
    conn.send_fragment(DataKind::Text, b"d", true).unwrap();
    conn.send_text("e").unwrap();
}

#[test]
fn a_failure_is_reported_once_then_the_connection_is_silent() {
    let mut conn = server();
    conn.receive(&client_frame(FIN | 0x3, b""));
    assert_eq!(conn.poll_event(), Err(ProtocolError::ReservedOpcode(3)));
    assert_eq!(conn.poll_event(), Ok(None));
    assert_eq!(
        conn.state(),
        State::Failed(ProtocolError::ReservedOpcode(3))
    );
    conn.receive(&client_frame(FIN | TEXT, b"ignored"));
    assert_eq!(conn.poll_event(), Ok(None));
}
