//! Criterion benchmarks of the sans-I/O core: masking, header parse and encode, UTF-8
//! validation, and whole client→server message round trips in memory.
//!
//! `--features bench-hooks` adds the masking paths the library keeps out of its API: the
//! portable loop and the byte-at-a-time reference, next to `apply_mask`.

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use fullduplex::protocol::frame::MAX_HEADER_LEN;
use fullduplex::protocol::mask::apply_mask;
#[cfg(feature = "bench-hooks")]
use fullduplex::protocol::mask::{apply_mask_portable, apply_mask_reference};
use fullduplex::protocol::utf8::Utf8Validator;
use fullduplex::protocol::{Connection, Event, FrameHeader, Opcode};
use fullduplex::Config;

const SIZES: [usize; 4] = [16, 1 << 10, 64 << 10, 1 << 20];

fn size_label(n: usize) -> String {
    match n {
        n if n >= 1 << 20 => format!("{}MiB", n >> 20),
        n if n >= 1 << 10 => format!("{}KiB", n >> 10),
        n => format!("{n}B"),
    }
}

/// A buffer whose start is 64-byte aligned within its allocation (avoids measuring the
/// glibc memcpy 4K-aliasing trap instead of the code).
fn buffer(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 + 7) as u8).collect()
}

fn masking(c: &mut Criterion) {
    let mut group = c.benchmark_group("mask");
    for len in [1 << 10, 16 << 10, 1 << 20] {
        group.throughput(Throughput::Bytes(len as u64));
        let mut buf = buffer(len);
        let src = buffer(len);
        let label = size_label(len);
        group.bench_function(BenchmarkId::new("apply_mask", &label), |b| {
            b.iter(|| apply_mask(black_box(&mut buf), [1, 2, 3, 4], 1))
        });
        #[cfg(feature = "bench-hooks")]
        group.bench_function(BenchmarkId::new("apply_mask_portable", &label), |b| {
            b.iter(|| apply_mask_portable(black_box(&mut buf), [1, 2, 3, 4], 1))
        });
        group.bench_function(BenchmarkId::new("copy_from_slice", &label), |b| {
            b.iter(|| black_box(&mut buf).copy_from_slice(black_box(&src)))
        });
        #[cfg(feature = "bench-hooks")]
        if len <= 16 << 10 {
            group.bench_function(BenchmarkId::new("bytewise_reference", &label), |b| {
                b.iter(|| apply_mask_reference(black_box(&mut buf), [1, 2, 3, 4], 1))
            });
        }
    }
    group.finish();
}

fn headers(c: &mut Criterion) {
    let mut group = c.benchmark_group("header");
    for (name, len, mask) in [
        ("small_masked", 100u64, Some([1, 2, 3, 4])),
        ("medium_unmasked", 1000, None),
        ("large_masked", 1 << 20, Some([1, 2, 3, 4])),
    ] {
        let h = FrameHeader {
            fin: true,
            rsv: 0,
            opcode: Opcode::Binary,
            mask,
            payload_len: len,
        };
        let mut out = [0u8; MAX_HEADER_LEN];
        let n = h.encode(&mut out);
        group.bench_function(BenchmarkId::new("parse", name), |b| {
            b.iter(|| FrameHeader::parse(black_box(&out[..n])))
        });
        group.bench_function(BenchmarkId::new("encode", name), |b| {
            let mut o = [0u8; MAX_HEADER_LEN];
            b.iter(|| black_box(&h).encode(&mut o))
        });
    }
    group.finish();
}

fn utf8(c: &mut Criterion) {
    let mut group = c.benchmark_group("utf8");
    let chat = r#"{"type":"message","room":"lobby","from":"ada","text":"Hello everyone, how is it going? 👋 Ça va très bien, merci!","ts":1700000000123}"#;
    let ascii: String = "The quick brown fox jumps over the lazy dog. ".repeat(400);
    let mixed: String = "Grüße, 世界! κόσμε 😀 ".repeat(400);
    for (name, text) in [
        ("chat_json", chat.repeat(100)),
        ("ascii", ascii),
        ("mixed", mixed),
    ] {
        let bytes = text.as_bytes();
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function(BenchmarkId::new("validator_whole", name), |b| {
            b.iter(|| {
                let mut v = Utf8Validator::new();
                v.feed(black_box(bytes)).unwrap();
                v.finish().unwrap()
            })
        });
        group.bench_function(BenchmarkId::new("validator_1k_pieces", name), |b| {
            b.iter(|| {
                let mut v = Utf8Validator::new();
                for piece in black_box(bytes).chunks(1000) {
                    v.feed(piece).unwrap();
                }
                v.finish().unwrap()
            })
        });
        group.bench_function(BenchmarkId::new("std_from_utf8", name), |b| {
            b.iter(|| std::str::from_utf8(black_box(bytes)).unwrap().len())
        });
    }
    group.finish();
}

fn keys() -> impl FnMut() -> [u8; 4] + Send {
    let mut n = 1u32;
    move || {
        n = n.wrapping_mul(747_796_405).wrapping_add(2_891_336_453);
        n.to_le_bytes()
    }
}

/// One message from a client connection to a server connection and back: client encodes
/// and masks, server unmasks, validates and delivers, server echoes, client receives.
fn round_trip(c: &mut Criterion) {
    let mut group = c.benchmark_group("round_trip");
    let config = Config::default();
    for len in SIZES {
        let payload = buffer(len);
        let text: String = "chat message text, ascii mostly. "
            .chars()
            .cycle()
            .take(len)
            .collect();
        group.throughput(Throughput::Bytes(len as u64));
        for (kind, bytes) in [("binary", &payload[..]), ("text", text.as_bytes())] {
            let mut client = Connection::client(config.clone(), keys());
            let mut server = Connection::server(config.clone());
            group.bench_function(BenchmarkId::new(kind, size_label(len)), |b| {
                b.iter(|| {
                    if kind == "text" {
                        client
                            .send_text(std::str::from_utf8(bytes).unwrap())
                            .unwrap();
                    } else {
                        client.send_binary(bytes).unwrap();
                    }
                    pump(&mut client, &mut server);
                    let (rx, tx) = server.split();
                    while let Some(event) = rx.poll_event(tx).unwrap() {
                        if let Event::Message(m) = event {
                            tx.send(m).unwrap();
                        }
                    }
                    pump(&mut server, &mut client);
                    let mut got = 0;
                    while let Some(event) = client.poll_event().unwrap() {
                        if let Event::Message(m) = event {
                            got += m.as_bytes().len();
                        }
                    }
                    assert_eq!(got, bytes.len());
                })
            });
        }
    }
    group.finish();
}

/// Moves queued output of `from` into `to` the way a runtime would: read into the
/// receiver's buffer, one copy (standing in for the kernel's).
fn pump(from: &mut Connection, to: &mut Connection) {
    while from.wants_write() {
        let chunk = from.pending_output();
        let n = chunk.len().min(256 << 10);
        to.read_space(n)[..n].copy_from_slice(&chunk[..n]);
        to.commit_read(n);
        from.consume_output(n);
    }
}

/// What a second UTF-8 pass over every delivered text message would cost (the receiver
/// avoids it by trusting its incremental validation).
fn text_validate_twice(c: &mut Criterion) {
    let mut group = c.benchmark_group("text_message");
    let text: String = "chat message text, ascii mostly. "
        .chars()
        .cycle()
        .take(16 << 10)
        .collect();
    group.throughput(Throughput::Bytes(text.len() as u64));
    let mut client = Connection::client(Config::default(), keys());
    let mut server = Connection::server(Config::default());
    for second_pass in [false, true] {
        let name = if second_pass {
            "validate_twice"
        } else {
            "validate_once"
        };
        group.bench_function(BenchmarkId::new(name, "16KiB"), |b| {
            b.iter(|| {
                client.send_text(&text).unwrap();
                pump(&mut client, &mut server);
                while let Some(event) = server.poll_event().unwrap() {
                    if let Event::Message(m) = event {
                        if second_pass {
                            black_box(std::str::from_utf8(m.as_bytes()).unwrap());
                        } else {
                            black_box(m.as_bytes());
                        }
                    }
                }
            })
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    masking,
    headers,
    utf8,
    round_trip,
    text_validate_twice
);
criterion_main!(benches);
