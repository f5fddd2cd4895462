//! What `fullduplex bench echo` sends: a run of one byte, or chat-style JSON (what a chat
//! server carries, and what permessage-deflate is for: keys repeated in every message, words
//! from a small vocabulary, numbers that change).

use std::fmt::Write;

use clap::ValueEnum;

/// The messages' content.
#[derive(ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Payload {
    /// `x` repeated: the size is exact.
    #[default]
    X,
    /// JSON chat messages of about the size asked (a little over it), all different.
    ChatJson,
}

/// Different messages cycled through, so that a compressor sees no message twice in a row.
const VARIANTS: usize = 64;

const WORDS: [&str; 24] = [
    "hello", "the", "meeting", "is", "at", "noon", "see", "you", "there", "thanks", "ok", "great",
    "lunch", "today", "deploy", "done", "review", "please", "merged", "build", "green", "room",
    "later", "question",
];

const ROOMS: [&str; 4] = ["general", "random", "dev", "support"];

impl Payload {
    /// The messages to send, each about `size` bytes.
    pub fn messages(self, size: usize) -> Vec<String> {
        match self {
            Payload::X => vec!["x".repeat(size)],
            Payload::ChatJson => {
                let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
                (0..VARIANTS)
                    .map(|i| chat_message(i, size, &mut seed))
                    .collect()
            }
        }
    }
}

/// A xorshift step: cheap, deterministic, good enough to pick words.
fn next(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

fn chat_message(i: usize, size: usize, seed: &mut u64) -> String {
    let user = 1000 + next(seed) % 9000;
    let room = ROOMS[(next(seed) % ROOMS.len() as u64) as usize];
    let mut text = String::new();
    let mut message = String::new();
    loop {
        message.clear();
        let _ = write!(
            message,
            r#"{{"type":"message","room":"{room}","from":"user{user}","id":{},"ts":{},"text":"{text}"}}"#,
            1_000_000 + i,
            1_764_700_000_000_u64 + next(seed) % 1_000_000,
        );
        if message.len() >= size {
            return message;
        }
        if !text.is_empty() {
            text.push(' ');
        }
        text.push_str(WORDS[(next(seed) % WORDS.len() as u64) as usize]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_json_is_json_of_about_the_size() {
        let messages = Payload::ChatJson.messages(200);
        assert_eq!(messages.len(), VARIANTS);
        for m in &messages {
            assert!(m.len() >= 200 && m.len() < 260, "{} bytes", m.len());
            let v: serde_json::Value = serde_json::from_str(m).expect("valid JSON");
            assert_eq!(v["type"], "message");
        }
        assert_ne!(messages[0], messages[1]);
    }

    #[test]
    fn x_is_exact() {
        assert_eq!(Payload::X.messages(5), vec!["xxxxx".to_string()]);
    }
}
