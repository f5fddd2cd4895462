//! The chat's JSON messages between page and server, as documented in
//! `docs/chat-protocol.md`: what a client may send, what the server sends, and the errors.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Longest text message the server parses, in bytes of JSON. Longer ones get `too_large`.
pub const MAX_JSON_BYTES: usize = 32 << 10;

/// A person in a room, as every client sees them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Unique for the server's lifetime (one per connection).
    pub id: String,
    /// The nickname they chose.
    pub nick: String,
}

/// What a client sends, as text messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientMessage {
    /// `{"type":"join","nick":"ada","room":"lobby"}`: enter a room (again: change room or
    /// nickname).
    Join {
        /// The nickname asked for.
        nick: String,
        /// The room asked for.
        room: String,
    },
    /// `{"type":"message","text":"hello"}`: say something to the room.
    Message {
        /// What was said.
        text: String,
    },
    /// `{"type":"typing"}`: the user is typing (send at most every two seconds). Never
    /// answered.
    Typing,
}

/// Why the server refused what a client sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The text message is not JSON.
    InvalidJson,
    /// The JSON has no known `type`.
    UnknownType,
    /// A field is missing or has the wrong type.
    BadMessage,
    /// The nickname is empty, too long, or holds forbidden characters.
    BadNick,
    /// The room name is empty, too long, or holds forbidden characters.
    BadRoom,
    /// The text is empty, too long, holds control characters or HTML.
    BadText,
    /// The file upload is malformed.
    BadFile,
    /// The message is larger than the server accepts.
    TooLarge,
    /// Join a room first.
    NotJoined,
    /// Slow down: the client sends faster than its rate limit (the error says when to retry).
    RateLimited,
}

/// What a notice is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeCode {
    /// The sender's last message reached only the members on this server (the link to the
    /// other servers of a scaled-out chat is down).
    LocalOnly,
}

/// A refusal: the code, a sentence for people, and for `rate_limited` when to retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// What kind of refusal.
    pub code: ErrorCode,
    /// Why, in words.
    pub message: String,
    /// After how long the same message would pass (`rate_limited` only).
    pub retry_after: Option<Duration>,
}

impl Rejection {
    /// A refusal with this code and sentence.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// A message dropped for going over the rate limit, which would pass after `retry_after`.
    pub fn rate_limited(retry_after: Duration) -> Self {
        Self {
            retry_after: Some(retry_after),
            ..Self::new(
                ErrorCode::RateLimited,
                format!(
                    "you are sending too fast: your message was not sent; send it again in {:.1} s",
                    retry_after.as_secs_f64().max(0.1)
                ),
            )
        }
    }

    /// `retry_after` in whole milliseconds, rounded up (waiting that long is enough).
    pub fn retry_after_ms(&self) -> Option<u64> {
        let nanos = self.retry_after?.as_nanos();
        Some(u64::try_from(nanos.div_ceil(1_000_000)).unwrap_or(u64::MAX))
    }
}

/// The limits a page needs to know, sent in the welcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PageLimits {
    /// Largest file a client may send, in bytes.
    pub max_file_bytes: usize,
    /// Longest message text, in characters.
    pub max_text_chars: usize,
    /// Longest nickname, in characters.
    pub max_nick_chars: usize,
}

/// What the server sends, as text messages.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage<'a> {
    /// To the one who joined: who they are, who is there, and a greeting.
    Welcome {
        /// The joining user.
        you: &'a User,
        /// The room joined.
        room: &'a str,
        /// Everyone in the room, them included, in order of arrival.
        users: &'a [User],
        /// A greeting to show.
        text: String,
        /// What the server accepts.
        limits: PageLimits,
    },
    /// Someone said something (sent to the sender too).
    Message {
        /// Who.
        from: &'a User,
        /// What.
        text: &'a str,
        /// When the server received it: milliseconds since the Unix epoch.
        time: u64,
    },
    /// Someone entered the room.
    Joined {
        /// Who.
        user: &'a User,
        /// When, in milliseconds since the Unix epoch.
        time: u64,
    },
    /// Someone left the room (closed, dropped, or moved to another room).
    Left {
        /// Who.
        user: &'a User,
        /// When, in milliseconds since the Unix epoch.
        time: u64,
    },
    /// Someone is typing (not sent back to them).
    Typing {
        /// Who.
        user: &'a User,
    },
    /// Something the sender should know about what they sent (it was not refused).
    Notice {
        /// What about.
        code: NoticeCode,
        /// In words.
        message: &'a str,
    },
    /// What the client sent was refused; the connection stays open.
    Error {
        /// The kind of refusal.
        code: ErrorCode,
        /// Why, in words.
        message: &'a str,
        /// With `rate_limited`: milliseconds after which the same message would pass.
        #[serde(skip_serializing_if = "Option::is_none")]
        retry_after_ms: Option<u64>,
    },
}

impl ServerMessage<'_> {
    /// The message as JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Parses a client's text message.
pub fn parse(text: &str) -> Result<ClientMessage, Rejection> {
    if text.len() > MAX_JSON_BYTES {
        return Err(Rejection::new(
            ErrorCode::TooLarge,
            format!("text messages are limited to {MAX_JSON_BYTES} bytes"),
        ));
    }
    let value: Value = serde_json::from_str(text)
        .map_err(|e| Rejection::new(ErrorCode::InvalidJson, format!("not JSON: {e}")))?;
    let Some(kind) = value.get("type").and_then(Value::as_str) else {
        return Err(Rejection::new(
            ErrorCode::UnknownType,
            "a message is a JSON object with a \"type\"",
        ));
    };
    match kind {
        "join" => Ok(ClientMessage::Join {
            nick: string_field(&value, "nick")?,
            room: string_field(&value, "room")?,
        }),
        "message" => Ok(ClientMessage::Message {
            text: string_field(&value, "text")?,
        }),
        "typing" => Ok(ClientMessage::Typing),
        other => Err(Rejection::new(
            ErrorCode::UnknownType,
            format!(
                "unknown type {:?}: expected join, message or typing",
                clip(other, 32)
            ),
        )),
    }
}

fn string_field(value: &Value, name: &str) -> Result<String, Rejection> {
    match value.get(name) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(Rejection::new(
            ErrorCode::BadMessage,
            format!("\"{name}\" must be a string"),
        )),
        None => Err(Rejection::new(
            ErrorCode::BadMessage,
            format!("\"{name}\" is missing"),
        )),
    }
}

/// At most `max` characters of `s` (for echoing untrusted input in an error).
fn clip(s: &str, max: usize) -> &str {
    s.char_indices().nth(max).map_or(s, |(at, _)| &s[..at])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_type() {
        assert_eq!(
            parse(r#"{"type":"join","nick":"ada","room":"lobby"}"#),
            Ok(ClientMessage::Join {
                nick: "ada".into(),
                room: "lobby".into()
            })
        );
        assert_eq!(
            parse(r#"{"type":"message","text":"hi","extra":1}"#),
            Ok(ClientMessage::Message { text: "hi".into() })
        );
        assert_eq!(parse(r#"{"type":"typing"}"#), Ok(ClientMessage::Typing));
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        let code = |text: &str| parse(text).unwrap_err().code;
        assert_eq!(code("{nope"), ErrorCode::InvalidJson);
        assert_eq!(code("[1,2]"), ErrorCode::UnknownType);
        assert_eq!(code(r#"{"type":"dance"}"#), ErrorCode::UnknownType);
        assert_eq!(code(r#"{"type":"message"}"#), ErrorCode::BadMessage);
        assert_eq!(
            code(r#"{"type":"message","text":3}"#),
            ErrorCode::BadMessage
        );
        let long = format!(r#"{{"type":"message","text":"{}"}}"#, "a".repeat(40_000));
        assert_eq!(code(&long), ErrorCode::TooLarge);
    }

    #[test]
    fn serializes_with_a_type_tag() {
        let user = User {
            id: "7".into(),
            nick: "ada".into(),
        };
        let json = ServerMessage::Typing { user: &user }.to_json();
        assert_eq!(json, r#"{"type":"typing","user":{"id":"7","nick":"ada"}}"#);
        let error = ServerMessage::Error {
            code: ErrorCode::BadText,
            message: "no HTML",
            retry_after_ms: None,
        };
        assert_eq!(
            error.to_json(),
            r#"{"type":"error","code":"bad_text","message":"no HTML"}"#
        );
        let error = ServerMessage::Error {
            code: ErrorCode::RateLimited,
            message: "slow down",
            retry_after_ms: Some(250),
        };
        assert_eq!(
            error.to_json(),
            r#"{"type":"error","code":"rate_limited","message":"slow down","retry_after_ms":250}"#
        );
    }

    #[test]
    fn a_rate_limit_says_when_to_retry_rounded_up() {
        let rejection = Rejection::rate_limited(Duration::from_micros(250_001));
        assert_eq!(rejection.code, ErrorCode::RateLimited);
        assert_eq!(rejection.retry_after_ms(), Some(251));
        assert!(rejection.message.contains("send it again in 0.3 s"));
        assert_eq!(
            Rejection::rate_limited(Duration::MAX).retry_after_ms(),
            Some(u64::MAX)
        );
        assert_eq!(
            Rejection::new(ErrorCode::BadText, "x").retry_after_ms(),
            None
        );
    }
}
