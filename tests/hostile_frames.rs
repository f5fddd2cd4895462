//! Hostile frames, each an attack that has hit WebSocket libraries in the field, against the
//! sans-I/O core: each asserts the close code, that nothing panicked, and the heap growth.
//! (The rules themselves are tested one by one in `protocol_rules.rs`; here is the attack
//! list, with memory measured.)

mod common;
mod hostile;

use common::counting::Counting;
use common::*;
use fullduplex::config::DeflateConfig;
use fullduplex::protocol::deflate::DeflateParams;
use fullduplex::protocol::{CloseCode, Connection, OwnedEvent};
use fullduplex::{Config, ProtocolError};
use hostile::{bounded_here, limits, MAX_MESSAGE};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const FIN: u8 = 0x80;
/// Heap a failed connection may grow by: its buffers and the Close it queued.
const SMALL: usize = 64 << 10;

fn server_with_limits() -> Connection {
    Connection::server(limits())
}

fn client_with_limits() -> Connection {
    Connection::client(limits(), counting_keys())
}

/// A masked client frame header declaring `len` bytes (no payload).
fn header_declaring(b0: u8, len: u64) -> Vec<u8> {
    let mut out = vec![b0, 0x80 | 127];
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&[1, 2, 3, 4]);
    out
}

#[test]
fn a_64_bit_length_with_the_top_bit_set_fails_with_1002() {
    bounded_here(SMALL, || {
        let frame = header_declaring(FIN | 0x2, 1 << 63 | 5);
        assert_fails(server_with_limits, &frame, CloseCode::ProtocolError);
        let frame = header_declaring(FIN | 0x2, u64::MAX);
        assert_fails(server, &frame, CloseCode::ProtocolError);
    });
}

#[test]
fn a_header_declaring_16_mib_then_nothing_allocates_nothing_up_front() {
    let config = Config {
        max_frame_size: 16 << 20,
        max_message_size: 16 << 20,
        ..Config::default()
    };
    let mut conn = Connection::server(config.clone());
    let frame = header_declaring(FIN | 0x2, 16 << 20);
    bounded_here(SMALL, || {
        let (events, err) = feed(&mut conn, &frame);
        assert_eq!(
            (events, err),
            (vec![], None),
            "a legal frame, still arriving"
        );
        // Then a trickle of its payload: buffers grow with what arrived, not what was declared.
        for _ in 0..8 {
            let (events, err) = feed(&mut conn, &[0u8; 1024]);
            assert_eq!((events.len(), err), (0, None));
        }
    });
    // Over the limit, the same header fails at once, before any payload.
    bounded_here(SMALL, || {
        assert_fails(server_with_limits, &frame, CloseCode::TooBig);
    });
}

#[test]
fn a_control_frame_declaring_megabytes_fails_with_1002() {
    bounded_here(SMALL, || {
        for opcode in [0x8, 0x9, 0xA] {
            let frame = header_declaring(FIN | opcode, 4 << 20);
            assert_fails(server_with_limits, &frame, CloseCode::ProtocolError);
            let mut short = vec![FIN | opcode, 0x80 | 126, 0x00, 126];
            short.extend_from_slice(&[1, 2, 3, 4]);
            assert_fails(server_with_limits, &short, CloseCode::ProtocolError);
        }
    });
}

#[test]
fn reserved_opcodes_fail_with_1002() {
    bounded_here(SMALL, || {
        for opcode in (0x3..=0x7).chain(0xB..=0xF) {
            let frame = client_frame(FIN | opcode, b"?");
            assert_fails(server_with_limits, &frame, CloseCode::ProtocolError);
        }
    });
}

#[test]
fn endless_empty_continuation_frames_are_cut_by_the_fragment_limit() {
    bounded_here(SMALL, || {
        let mut conn = server_with_limits();
        conn.receive(&client_frame(0x1, b""));
        let empty = client_frame(0x0, b"");
        let mut failure = None;
        for _ in 0..limits().max_fragments + 10 {
            conn.receive(&empty);
            if let (_, Some(err)) = drain(&mut conn) {
                failure = Some(err);
                break;
            }
        }
        assert_eq!(failure, Some(ProtocolError::TooManyFragments));
        assert_eq!(last_close_frame(&take_output(&mut conn)).0, 1009);
    });
}

fn deflate_pair(config: &Config) -> (Connection, Connection) {
    let params = DeflateParams {
        client_no_context_takeover: true,
        server_no_context_takeover: true,
        ..DeflateParams::default()
    };
    let client = Connection::client(config.clone(), counting_keys()).with_deflate(params);
    (
        client,
        Connection::server(config.clone()).with_deflate(params),
    )
}

fn deflate_config(max_message_size: usize) -> Config {
    Config {
        max_message_size,
        max_frame_size: 1 << 20,
        deflate: Some(DeflateConfig {
            level: 9,
            min_message_size: 0,
            ..DeflateConfig::default()
        }),
        ..Config::default()
    }
}

/// 16 MiB of zeros compressed: about 16 KiB on the wire.
fn bomb() -> Vec<u8> {
    let (mut client, _) = deflate_pair(&deflate_config(usize::MAX));
    client.send_binary(&vec![0u8; 16 << 20]).unwrap();
    let bomb = take_output(&mut client);
    assert!(bomb.len() <= 20 << 10, "{} bytes", bomb.len());
    bomb
}

#[test]
fn a_16_kib_deflate_bomb_fails_with_1009_within_the_message_limit() {
    let bomb = bomb();
    let (_, mut server) = deflate_pair(&deflate_config(MAX_MESSAGE));
    bounded_here(2 * MAX_MESSAGE + bomb.len() * 2 + (256 << 10), || {
        let (events, err) = feed(&mut server, &bomb);
        assert_eq!(
            (events, err),
            (vec![], Some(ProtocolError::MessageTooLarge))
        );
        assert_eq!(last_close_frame(&take_output(&mut server)).0, 1009);
    });
}

/// Regression: a limit of `usize::MAX` overflowed in the inflater's `cap + 1`.
#[test]
fn a_message_limit_of_usize_max_inflates_without_overflow() {
    let bomb = bomb();
    let (_, mut server) = deflate_pair(&deflate_config(usize::MAX));
    let (events, err) = feed(&mut server, &bomb);
    assert_eq!(err, None);
    assert_eq!(events, vec![OwnedEvent::Binary(vec![0u8; 16 << 20])]);
}

#[test]
fn invalid_utf8_split_across_fragments_fails_with_1007() {
    bounded_here(SMALL, || {
        // U+D800 (a surrogate) as ED A0 80, cut after its first byte.
        let bytes = [
            client_frame(0x1, b"ok \xED"),
            client_frame(FIN, b"\xA0\x80"),
        ]
        .concat();
        assert_fails(server_with_limits, &bytes, CloseCode::InvalidPayload);
    });
}

#[test]
fn invalid_utf8_inside_a_frame_fails_before_the_frame_ends() {
    bounded_here(SMALL, || {
        // An overlong `/` (C0 AF) at the start of a 4 KiB text frame: refused as soon as it
        // arrives, without waiting for (or buffering) the rest of the frame.
        let frame = client_frame(
            FIN | 0x1,
            &[b"abc\xC0\xAF".as_slice(), &[b'x'; 4000]].concat(),
        );
        let mut conn = server_with_limits();
        let (events, err) = feed(&mut conn, &frame[..20]);
        assert_eq!((events, err), (vec![], Some(ProtocolError::InvalidUtf8)));
        assert_eq!(last_close_frame(&take_output(&mut conn)).0, 1007);
        assert_fails(server_with_limits, &frame, CloseCode::InvalidPayload);
    });
}

#[test]
fn invalid_utf8_in_a_close_reason_fails_with_1007() {
    bounded_here(SMALL, || {
        let payload = [&1000u16.to_be_bytes()[..], b"bye \xFF"].concat();
        assert_fails(
            server_with_limits,
            &client_frame(FIN | 0x8, &payload),
            CloseCode::InvalidPayload,
        );
    });
}

#[test]
fn close_payloads_of_one_byte_reserved_codes_and_126_bytes_fail_with_1002() {
    bounded_here(SMALL, || {
        let close = |payload: &[u8]| client_frame(FIN | 0x8, payload);
        assert_fails(
            server_with_limits,
            &close(&[0x03]),
            CloseCode::ProtocolError,
        );
        for code in [
            0u16, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
        ] {
            let frame = close(&code.to_be_bytes());
            assert_fails(server_with_limits, &frame, CloseCode::ProtocolError);
        }
        let long = [&1000u16.to_be_bytes()[..], &[b'a'; 124]].concat();
        assert_eq!(long.len(), 126);
        assert_fails(server_with_limits, &close(&long), CloseCode::ProtocolError);
    });
}

#[test]
fn an_unmasked_client_frame_fails_with_1002() {
    bounded_here(SMALL, || {
        let frame = server_frame(FIN | 0x1, b"unmasked");
        assert_fails(server_with_limits, &frame, CloseCode::ProtocolError);
    });
}

#[test]
fn a_masked_server_frame_fails_with_1002() {
    bounded_here(SMALL, || {
        let frame = client_frame(FIN | 0x1, b"masked");
        assert_fails(client_with_limits, &frame, CloseCode::ProtocolError);
    });
}

#[test]
fn a_ping_flood_from_a_peer_that_never_reads_queues_a_bounded_answer() {
    let ping = client_frame(FIN | 0x9, &[7; 125]);
    let mut conn = server_with_limits();
    bounded_here(SMALL, || {
        // 12.5 MiB of Pings; the peer reads nothing.
        for _ in 0..100_000 {
            conn.receive(&ping);
            let (events, err) = drain(&mut conn);
            assert_eq!((events.len(), err), (1, None));
        }
        assert!(
            conn.buffered_amount() <= 16 * 127,
            "{}",
            conn.buffered_amount()
        );
    });
    // The connection still works once the peer reads.
    take_output(&mut conn);
    let (events, err) = feed(&mut conn, &client_frame(FIN | 0x1, b"still here"));
    assert_eq!(
        (events, err),
        (vec![OwnedEvent::Text("still here".into())], None)
    );
}

/// The measure itself: an allocation on this thread over the budget fails the section.
#[test]
#[should_panic(expected = "peak heap growth on this thread")]
fn the_measure_sees_an_allocation_over_its_budget() {
    bounded_here(SMALL, || std::hint::black_box(vec![1u8; 4 * SMALL]).len());
}
