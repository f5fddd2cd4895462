//! The decompression bomb: a small compressed message that inflates past the message size
//! limit fails with 1009 after inflating no more than the limit, with peak memory bounded.
//! (Its own test binary: it counts every allocation of the process.)

mod common;

use common::counting::{self, Counting};
use common::*;
use fullduplex::config::DeflateConfig;
use fullduplex::protocol::deflate::DeflateParams;
use fullduplex::protocol::{CloseCode, Connection};
use fullduplex::{Config, ProtocolError};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

#[test]
fn a_16_kib_message_that_inflates_to_1_gib_fails_with_1009_in_bounded_memory() {
    let params = DeflateParams {
        client_no_context_takeover: true,
        server_no_context_takeover: true,
        ..DeflateParams::default()
    };
    let limit = 1 << 20;
    let config = Config {
        max_message_size: limit,
        deflate: Some(DeflateConfig {
            level: 9,
            min_message_size: 0,
            ..DeflateConfig::default()
        }),
        ..Config::default()
    };
    // Build the bomb: 16 MiB of zeros compressed, then repeated: about 16 KiB on the wire
    // for every 16 MiB, 64 times over (1 GiB).
    let mut client = Connection::client(
        Config {
            max_message_size: 2 << 30,
            ..config.clone()
        },
        counting_keys(),
    )
    .with_deflate(params);
    let zeros = vec![0u8; 16 << 20];
    for i in 0..64 {
        client
            .send_fragment(fullduplex::protocol::DataKind::Binary, &zeros, i == 63)
            .unwrap();
    }
    drop(zeros);
    let bomb = take_output(&mut client);
    assert!(
        bomb.len() < 1 << 20,
        "the bomb is {} bytes on the wire",
        bomb.len()
    );

    let mut server = Connection::server(config.clone()).with_deflate(params);
    let before = counting::reset_peak();
    server.receive(&bomb);
    let (_, err) = drain(&mut server);
    assert_eq!(err, Some(ProtocolError::MessageTooLarge));
    assert_eq!(err.unwrap().close_code(), CloseCode::TooBig);
    let peak = counting::peak() - before;
    // The receive buffer holds the wire bytes; inflated output stays within the limit;
    // zlib's inflate state is about 40 KiB.
    let bound = bomb.len() * 2 + limit + (256 << 10);
    println!(
        "bomb: {} bytes on the wire, peak heap growth {peak} bytes (limit {limit})",
        bomb.len()
    );
    assert!(peak <= bound, "peak {peak} bytes above the bound {bound}");
    assert_eq!(last_close_frame(&take_output(&mut server)).0, 1009);
}
