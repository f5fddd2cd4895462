//! The fallback's bodies: the messages a `send` carries (the WebSocket's text messages as
//! JSON strings, its binary ones in base64, RFC 4648 §4), the batch a `poll` answers, and the
//! errors, as `docs/chat-protocol.md` describes them.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use serde_json::{json, Value};

use fullduplex::protocol::DataKind;
use fullduplex::server::HttpResponse;

/// A refused fallback request: its status and its JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FallbackError {
    /// The HTTP status.
    pub status: u16,
    /// The `error` code.
    pub code: &'static str,
    /// A sentence for people.
    pub message: String,
}

impl FallbackError {
    /// An error with this status, code and sentence.
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    /// 400 `bad_request`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "bad_request", message)
    }

    /// The response that says it.
    pub fn response(&self) -> HttpResponse {
        let body = json!({"error": self.code, "message": self.message});
        let response = answer(self.status, &body.to_string());
        match self.status {
            405 => response.with_header("Allow", "GET, POST"),
            _ => response,
        }
    }
}

/// A JSON answer that no cache keeps.
pub fn answer(status: u16, json: &str) -> HttpResponse {
    HttpResponse::new(status, "application/json", json).with_header("Cache-Control", "no-store")
}

/// One message of a `send`: what a WebSocket message would have carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A text message.
    Text(String),
    /// A binary message (a file).
    Binary(Vec<u8>),
}

/// Parses a `send` (or `open`) body: `{"messages": [{"text": ...} | {"binary": ...}]}`, or
/// `{}` or an empty body for none. Every message is checked against `max_message` (413)
/// before anything is acted on.
pub fn parse_messages(body: &[u8], max_message: usize) -> Result<Vec<Item>, FallbackError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Vec::new());
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| FallbackError::bad_request(format!("the body is not JSON: {e}")))?;
    let Some(object) = value.as_object() else {
        return Err(FallbackError::bad_request("the body is a JSON object"));
    };
    let messages = match object.get("messages") {
        None => return Ok(Vec::new()),
        Some(Value::Array(messages)) => messages,
        Some(_) => return Err(FallbackError::bad_request("`messages` is a list")),
    };
    messages
        .iter()
        .map(|m| parse_item(m, max_message))
        .collect()
}

fn parse_item(message: &Value, max_message: usize) -> Result<Item, FallbackError> {
    let too_large = || {
        FallbackError::new(
            413,
            "too_large",
            format!("a message is over the limit of {max_message} bytes"),
        )
    };
    match (message.get("text"), message.get("binary")) {
        (Some(Value::String(text)), None) if text.len() > max_message => Err(too_large()),
        (Some(Value::String(text)), None) => Ok(Item::Text(text.clone())),
        (None, Some(Value::String(encoded))) => {
            if encoded.len() / 4 * 3 > max_message + 3 {
                return Err(too_large());
            }
            let bytes = BASE64
                .decode(encoded)
                .map_err(|e| FallbackError::bad_request(format!("`binary` is not base64: {e}")))?;
            match bytes.len() {
                n if n > max_message => Err(too_large()),
                _ => Ok(Item::Binary(bytes)),
            }
        }
        _ => Err(FallbackError::bad_request(
            "each message is {\"text\": string} or {\"binary\": base64 string}",
        )),
    }
}

/// How the server ended a session, as a poll reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closed {
    /// The WebSocket close code the same end would have had.
    pub code: u16,
    /// Why.
    pub reason: String,
}

/// One message of a poll's answer.
pub struct Numbered<'a> {
    /// Its sequence number.
    pub seq: u64,
    /// Text or binary.
    pub kind: DataKind,
    /// The WebSocket message's payload.
    pub payload: &'a [u8],
}

/// A poll's answer: the messages, then `closed` if the session ended after them.
pub fn encode_batch<'a>(
    messages: impl Iterator<Item = Numbered<'a>>,
    closed: Option<&Closed>,
) -> String {
    let messages: Vec<Value> = messages
        .map(|m| match m.kind {
            DataKind::Text => json!({"seq": m.seq, "text": String::from_utf8_lossy(m.payload)}),
            DataKind::Binary => json!({"seq": m.seq, "binary": BASE64.encode(m.payload)}),
        })
        .collect();
    let mut batch = json!({ "messages": messages });
    if let Some(closed) = closed {
        batch["closed"] = json!({"code": closed.code, "reason": closed.reason});
    }
    batch.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_of_both_kinds_and_the_refusals() {
        let body = br#"{"messages":[{"text":"{\"type\":\"typing\"}"},{"binary":"AAE="}]}"#;
        assert_eq!(
            parse_messages(body, 100).unwrap(),
            [
                Item::Text(r#"{"type":"typing"}"#.into()),
                Item::Binary(vec![0, 1])
            ]
        );
        assert_eq!(parse_messages(b"", 100).unwrap(), []);
        assert_eq!(parse_messages(b"{}", 100).unwrap(), []);
        let status = |body: &[u8]| parse_messages(body, 4).unwrap_err().status;
        assert_eq!(status(b"[1]"), 400);
        assert_eq!(status(br#"{"messages":[{"text":1}]}"#), 400);
        assert_eq!(status(br#"{"messages":[{"binary":"!!"}]}"#), 400);
        assert_eq!(status(br#"{"messages":[{"text":"12345"}]}"#), 413);
        assert_eq!(status(br#"{"messages":[{"binary":"AAAAAAA="}]}"#), 413);
    }

    #[test]
    fn a_batch_numbers_its_messages_and_ends_with_closed() {
        let messages = [
            Numbered {
                seq: 7,
                kind: DataKind::Text,
                payload: b"{}",
            },
            Numbered {
                seq: 8,
                kind: DataKind::Binary,
                payload: &[0, 1],
            },
        ];
        let closed = Closed {
            code: 1008,
            reason: "slow consumer".into(),
        };
        let batch: Value =
            serde_json::from_str(&encode_batch(messages.into_iter(), Some(&closed))).unwrap();
        assert_eq!(
            batch,
            json!({"messages": [{"seq": 7, "text": "{}"}, {"seq": 8, "binary": "AAE="}],
                   "closed": {"code": 1008, "reason": "slow consumer"}})
        );
    }
}
