//! Inputs shared by the deflate benchmarks: chat-style JSON messages and random bytes, both
//! generated deterministically so every run measures the same data.
#![allow(dead_code)]

use fullduplex::config::DeflateConfig;
use fullduplex::protocol::deflate::DeflateParams;
use fullduplex::Config;

/// xorshift64*: fast, deterministic, good enough to pick words and fill buffers.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const USERS: [&str; 12] = [
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory",
    "oscar",
];
const ROOMS: [&str; 5] = ["general", "random", "dev", "support", "music"];
const EMOJI: [&str; 6] = ["thumbsup", "tada", "eyes", "heart", "laughing", "rocket"];
const WORDS: [&str; 64] = [
    "the", "deploy", "is", "done", "can", "you", "check", "the", "logs", "on", "staging", "lunch",
    "today?", "meeting", "moved", "to", "3pm", "thanks!", "looks", "good", "to", "me", "I",
    "think", "we", "should", "ship", "it", "ok", "haha", "build", "failed", "again", "fixed",
    "the", "typo", "in", "README", "merge", "request", "review", "please", "coffee", "anyone?",
    "back", "in", "5", "min", "server", "restart", "tonight", "weekend", "plans", "nice", "😀",
    "👍", "café", "déjà", "vu", "for", "a", "second", "sure", "tomorrow",
];

fn user(rng: &mut Rng) -> String {
    let index = rng.below(USERS.len());
    format!(
        "{{\"id\":{},\"name\":\"{}\"}}",
        1000 + index * 37,
        USERS[index]
    )
}

/// One chat event, as a chat server would broadcast it: mostly messages with 3 to 25 words,
/// some reactions and presence updates. 100 to 300 bytes each.
fn chat_event(rng: &mut Rng, seq: usize) -> String {
    let ts = 1_718_031_234_567u64 + seq as u64 * 1_733;
    match rng.below(10) {
        0 => format!(
            "{{\"type\":\"reaction\",\"room\":\"{}\",\"message_id\":\"m-{:08x}\",\"user\":{},\"emoji\":\"{}\",\"ts\":{ts}}}",
            rng.pick(&ROOMS),
            rng.next() as u32,
            user(rng),
            rng.pick(&EMOJI)
        ),
        1 => format!(
            "{{\"type\":\"presence\",\"user\":{},\"status\":\"{}\",\"rooms\":[\"{}\",\"{}\"],\"ts\":{ts}}}",
            user(rng),
            rng.pick(&["online", "away", "offline"]),
            rng.pick(&ROOMS),
            rng.pick(&ROOMS)
        ),
        _ => {
            let words: Vec<&str> = (0..3 + rng.below(23)).map(|_| rng.pick(&WORDS)).collect();
            format!(
                "{{\"type\":\"message\",\"id\":\"m-{:08x}\",\"room\":\"{}\",\"user\":{},\"text\":\"{}\",\"ts\":{ts}}}",
                rng.next() as u32,
                rng.pick(&ROOMS),
                user(rng),
                words.join(" ")
            )
        }
    }
}

/// `count` chat events (seeded, so always the same ones).
pub fn chat_messages(count: usize) -> Vec<String> {
    let mut rng = Rng::new(0x5eed);
    (0..count).map(|seq| chat_event(&mut rng, seq)).collect()
}

/// `len` random bytes (seeded): incompressible data.
pub fn random_bytes(len: usize) -> Vec<u8> {
    let mut rng = Rng::new(0xdead_beef);
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        out.extend_from_slice(&rng.next().to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Both directions with the same window and context takeover.
pub fn params(window_bits: u8, context_takeover: bool) -> DeflateParams {
    DeflateParams {
        server_no_context_takeover: !context_takeover,
        client_no_context_takeover: !context_takeover,
        server_max_window_bits: window_bits,
        client_max_window_bits: window_bits,
    }
}

/// A configuration that compresses every message (no size threshold) at `level`.
pub fn config(level: u32) -> Config {
    Config {
        deflate: Some(DeflateConfig {
            level,
            min_message_size: 0,
            ..DeflateConfig::default()
        }),
        ..Config::default()
    }
}
