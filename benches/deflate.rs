//! Criterion benchmarks of permessage-deflate (RFC 7692) through the public
//! [`Connection`] API: compression (a server sending) and decompression (a client receiving)
//! of 1000 chat-style JSON messages and of one 1 MiB message of random bytes, with and
//! without context takeover, windows 15 and 9, beside the same traffic uncompressed.
//!
//! Before the timings it prints the compression ratios (wire bytes with deflate over wire
//! bytes without), for levels 1, 6 and 9 and windows 8 (stored), 9, 12 and 15.

mod common;

use common::{chat_messages, config, params, random_bytes};
use criterion::{black_box, criterion_group, BenchmarkId, Criterion, Throughput};
use fullduplex::protocol::deflate::DeflateParams;
use fullduplex::protocol::Connection;
use fullduplex::Config;

/// The messages of one benchmark input.
enum Corpus {
    Text(Vec<String>),
    Binary(Vec<Vec<u8>>),
}

impl Corpus {
    fn bytes(&self) -> usize {
        match self {
            Corpus::Text(all) => all.iter().map(String::len).sum(),
            Corpus::Binary(all) => all.iter().map(Vec::len).sum(),
        }
    }

    fn len(&self) -> usize {
        match self {
            Corpus::Text(all) => all.len(),
            Corpus::Binary(all) => all.len(),
        }
    }
}

fn corpora() -> [(&'static str, Corpus); 2] {
    [
        ("chat_1000", Corpus::Text(chat_messages(1000))),
        ("random_1MiB", Corpus::Binary(vec![random_bytes(1 << 20)])),
    ]
}

/// One timed variant: the window and context takeover (`None`: no deflate at all), and the
/// compression level.
struct Variant {
    label: &'static str,
    deflate: Option<(u8, bool)>,
    level: u32,
}

const fn variant(label: &'static str, deflate: Option<(u8, bool)>, level: u32) -> Variant {
    Variant {
        label,
        deflate,
        level,
    }
}

const VARIANTS: [Variant; 6] = [
    variant("plain", None, 6),
    variant("w15_takeover", Some((15, true)), 6),
    variant("w15_no_takeover", Some((15, false)), 6),
    variant("w9_takeover", Some((9, true)), 6),
    variant("w9_no_takeover", Some((9, false)), 6),
    variant("w15_takeover_level1", Some((15, true)), 1),
];

fn server(config: &Config, agreed: Option<DeflateParams>) -> Connection {
    let conn = Connection::server(config.clone());
    match agreed {
        Some(params) => conn.with_deflate(params),
        None => conn,
    }
}

fn client(config: &Config, agreed: Option<DeflateParams>) -> Connection {
    let conn = Connection::client(config.clone(), || [0x37, 0xfa, 0x21, 0x3d]);
    match agreed {
        Some(params) => conn.with_deflate(params),
        None => conn,
    }
}

/// Sends every message of `corpus`, calling `written` after each with its frames queued.
fn send_each(conn: &mut Connection, corpus: &Corpus, mut written: impl FnMut(&mut Connection)) {
    match corpus {
        Corpus::Text(all) => all.iter().for_each(|m| {
            conn.send_text(m).unwrap();
            written(conn);
        }),
        Corpus::Binary(all) => all.iter().for_each(|m| {
            conn.send_binary(m).unwrap();
            written(conn);
        }),
    }
}

/// Sends every message of `corpus` and drops the output; returns the wire bytes.
fn send_all(conn: &mut Connection, corpus: &Corpus) -> usize {
    let mut wire = 0;
    send_each(conn, corpus, |conn| {
        let len = conn.buffered_amount();
        wire += len;
        conn.consume_output(len);
    });
    wire
}

/// The frames a server sends for `corpus`.
fn wire_of(config: &Config, agreed: Option<DeflateParams>, corpus: &Corpus) -> Vec<u8> {
    let mut wire = Vec::new();
    send_each(&mut server(config, agreed), corpus, |conn| {
        conn.output_chunks().for_each(|c| wire.extend_from_slice(c));
        conn.consume_output(conn.buffered_amount());
    });
    wire
}

/// Feeds `wire` to a fresh client in 64 KiB reads and takes every message; returns how many.
fn receive_all(config: &Config, agreed: Option<DeflateParams>, wire: &[u8]) -> usize {
    let mut conn = client(config, agreed);
    let mut messages = 0;
    for read in wire.chunks(64 << 10) {
        conn.receive(read);
        while let Some(event) = conn.poll_event().unwrap() {
            black_box(&event);
            messages += 1;
        }
    }
    messages
}

fn compress(c: &mut Criterion) {
    for (name, corpus) in corpora() {
        let mut group = c.benchmark_group(format!("deflate_compress/{name}"));
        group.throughput(Throughput::Bytes(corpus.bytes() as u64));
        for Variant {
            label,
            deflate,
            level,
        } in VARIANTS
        {
            let config = config(level);
            let agreed = deflate.map(|(window, takeover)| params(window, takeover));
            let mut conn = server(&config, agreed);
            group.bench_function(BenchmarkId::from_parameter(label), |b| {
                b.iter(|| send_all(&mut conn, black_box(&corpus)))
            });
        }
        group.finish();
    }
}

fn decompress(c: &mut Criterion) {
    for (name, corpus) in corpora() {
        let mut group = c.benchmark_group(format!("deflate_decompress/{name}"));
        group.throughput(Throughput::Bytes(corpus.bytes() as u64));
        for Variant {
            label,
            deflate,
            level,
        } in VARIANTS
        {
            let config = config(level);
            let agreed = deflate.map(|(window, takeover)| params(window, takeover));
            let wire = wire_of(&config, agreed, &corpus);
            assert_eq!(receive_all(&config, agreed, &wire), corpus.len());
            group.bench_function(BenchmarkId::from_parameter(label), |b| {
                b.iter(|| receive_all(&config, agreed, black_box(&wire)))
            });
        }
        group.finish();
    }
}

/// Prints the ratio table (markdown): wire bytes with deflate / wire bytes without.
fn print_ratios() {
    let sizes: Vec<usize> = chat_messages(1000).iter().map(String::len).collect();
    println!(
        "chat corpus: {} messages, {}..{} bytes, mean {} bytes",
        sizes.len(),
        sizes.iter().min().unwrap(),
        sizes.iter().max().unwrap(),
        sizes.iter().sum::<usize>() / sizes.len()
    );
    println!("\n| input | window | context takeover | level 1 | level 6 | level 9 |");
    println!("| --- | ---: | --- | ---: | ---: | ---: |");
    for (name, corpus) in corpora() {
        let plain = send_all(&mut server(&config(6), None), &corpus) as f64;
        for window in [15, 12, 9, 8] {
            for takeover in [true, false] {
                let ratios: Vec<String> = [1, 6, 9]
                    .iter()
                    .map(|&level| {
                        let agreed = Some(params(window, takeover));
                        let wire = send_all(&mut server(&config(level), agreed), &corpus);
                        format!("{:.3}", wire as f64 / plain)
                    })
                    .collect();
                let takeover = if takeover { "on" } else { "off" };
                println!(
                    "| {name} | {window} | {takeover} | {} |",
                    ratios.join(" | ")
                );
            }
        }
    }
    println!();
}

criterion_group!(benches, compress, decompress);

fn main() {
    print_ratios();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
