//! Property tests: frame headers round-trip, and no input, however split, panics a connection
//! or changes what it reports.

mod common;

use common::*;
use fullduplex::protocol::frame::MAX_HEADER_LEN;
use fullduplex::protocol::{Connection, DataKind, FrameHeader, Opcode, OwnedEvent};
use fullduplex::Config;
use proptest::prelude::*;

fn opcode() -> impl Strategy<Value = Opcode> {
    prop_oneof![
        Just(Opcode::Continuation),
        Just(Opcode::Text),
        Just(Opcode::Binary),
        Just(Opcode::Close),
        Just(Opcode::Ping),
        Just(Opcode::Pong),
    ]
}

fn header() -> impl Strategy<Value = FrameHeader> {
    (
        opcode(),
        any::<bool>(),
        0u8..8,
        any::<Option<[u8; 4]>>(),
        0u64..(1 << 63),
        0u64..200,
    )
        .prop_map(|(opcode, fin, rsv, mask, big, small)| {
            let control = opcode.is_control();
            FrameHeader {
                fin: fin || control,
                rsv,
                opcode,
                mask,
                payload_len: if control {
                    small % 126
                } else if big % 3 == 0 {
                    small
                } else {
                    big >> (big % 60)
                },
            }
        })
}

/// Feeds `bytes` in pieces cut at `cuts`, collecting events and the error.
fn feed_split(
    conn: &mut Connection,
    bytes: &[u8],
    cuts: &[usize],
) -> (Vec<OwnedEvent>, Option<fullduplex::ProtocolError>) {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    points.push(0);
    points.push(bytes.len());
    points.sort_unstable();
    let mut events = Vec::new();
    for w in points.windows(2) {
        conn.receive(&bytes[w[0]..w[1]]);
        let (mut got, err) = drain(conn);
        events.append(&mut got);
        if err.is_some() {
            return (events, err);
        }
    }
    (events, None)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn header_encode_then_parse_round_trips(h in header()) {
        let mut out = [0u8; MAX_HEADER_LEN];
        let n = h.encode(&mut out);
        prop_assert_eq!(n, h.encoded_len());
        prop_assert_eq!(FrameHeader::parse(&out[..n]), Ok(Some((h, n))));
    }

    #[test]
    fn header_parse_of_any_bytes_never_panics_and_is_canonical(bytes in proptest::collection::vec(any::<u8>(), 0..20)) {
        if let Ok(Some((h, n))) = FrameHeader::parse(&bytes) {
            let mut out = [0u8; MAX_HEADER_LEN];
            let m = h.encode(&mut out);
            prop_assert_eq!(&out[..m], &bytes[..n]);
        }
    }

    #[test]
    fn any_bytes_in_any_split_never_panic_and_agree(
        bytes in proptest::collection::vec(any::<u8>(), 0..300),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
        client_role in any::<bool>(),
    ) {
        let make = || if client_role { client() } else { server() };
        let whole = feed(&mut make(), &bytes);
        let mut conn = make();
        let split = feed_split(&mut conn, &bytes, &cuts);
        prop_assert_eq!(&whole, &split);
        if let Some(err) = split.1 {
            let out = take_output(&mut conn);
            prop_assert_eq!(last_close_frame(&out).0, u16::from(err.close_code()));
            prop_assert!(conn.is_closed());
        }
    }

    #[test]
    fn whatever_a_client_sends_the_server_receives(
        messages in proptest::collection::vec((any::<bool>(), proptest::collection::vec(any::<u8>(), 0..2000), 1usize..5), 1..6),
        cuts in proptest::collection::vec(any::<usize>(), 0..10),
    ) {
        let mut client = client();
        let mut expected = Vec::new();
        for (text, payload, pieces) in &messages {
            let (kind, payload) = if *text {
                (DataKind::Text, String::from_utf8_lossy(payload).into_owned().into_bytes())
            } else {
                (DataKind::Binary, payload.clone())
            };
            let step = payload.len().div_ceil(*pieces).max(1);
            let chunks: Vec<&[u8]> = if payload.is_empty() { vec![&[]] } else { payload.chunks(step).collect() };
            for (i, chunk) in chunks.iter().enumerate() {
                client.send_fragment(kind, chunk, i + 1 == chunks.len()).unwrap();
            }
            expected.push(match kind {
                DataKind::Text => OwnedEvent::Text(String::from_utf8(payload).unwrap()),
                DataKind::Binary => OwnedEvent::Binary(payload),
            });
        }
        let bytes = take_output(&mut client);
        let (events, err) = feed_split(&mut server(), &bytes, &cuts);
        prop_assert_eq!(err, None);
        prop_assert_eq!(events, expected);
    }

    #[test]
    fn streamed_delivery_concatenates_to_the_same_messages(
        payload in proptest::collection::vec(any::<u8>(), 0..3000),
        pieces in 1usize..6,
        cuts in proptest::collection::vec(any::<usize>(), 0..10),
    ) {
        let mut client = client();
        let step = payload.len().div_ceil(pieces).max(1);
        let chunks: Vec<&[u8]> = if payload.is_empty() { vec![&[]] } else { payload.chunks(step).collect() };
        for (i, chunk) in chunks.iter().enumerate() {
            client.send_fragment(DataKind::Binary, chunk, i + 1 == chunks.len()).unwrap();
        }
        let bytes = take_output(&mut client);
        let config = Config { message_delivery: fullduplex::config::MessageDelivery::Streamed, ..Config::default() };
        let (events, err) = feed_split(&mut Connection::server(config.clone()), &bytes, &cuts);
        prop_assert_eq!(err, None);
        let mut data = Vec::new();
        let (mut firsts, mut lasts) = (0, 0);
        for e in events {
            if let OwnedEvent::Chunk { data: d, first, last, .. } = e {
                data.extend(d);
                firsts += first as u32;
                lasts += last as u32;
            }
        }
        prop_assert_eq!((firsts, lasts), (1, 1));
        prop_assert_eq!(data, payload);
    }
}
