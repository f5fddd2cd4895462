//! Files and images as binary messages: a two-byte big-endian header length, a JSON header,
//! then the file's bytes, in one message each way so that a file can never be separated from
//! its description.
//!
//! A client sends `{"name":"cat.png","mime":"image/png"}` as the header; the server relays
//! `{"type":"file","from":{...},"name":...,"mime":...,"size":...,"time":...}` to the room.

use serde::{Deserialize, Serialize};

use super::protocol::{ErrorCode, Rejection, User};
use super::validate::is_control;

/// Longest JSON header, in bytes.
pub const MAX_HEADER_BYTES: usize = 1024;
/// Longest file name, in characters.
const MAX_NAME_CHARS: usize = 200;
/// What a file becomes when its type cannot be trusted.
const OPAQUE: &str = "application/octet-stream";

/// A file as a client describes it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Upload {
    /// The file's name.
    pub name: String,
    /// Its media type, as the client says.
    pub mime: String,
}

/// The header of a relayed file.
#[derive(Debug, Serialize)]
pub struct Relay<'a> {
    /// Always `"file"`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Who sent it.
    pub from: &'a User,
    /// The file's name.
    pub name: &'a str,
    /// Its media type: the client's, unless it names an image the bytes are not.
    pub mime: &'a str,
    /// Its size in bytes.
    pub size: usize,
    /// When the server received it, in milliseconds since the Unix epoch.
    pub time: u64,
}

/// Splits an uploaded binary message into its checked header and the file's bytes.
pub fn parse_upload(data: &[u8]) -> Result<(Upload, &[u8]), Rejection> {
    let bad = |why: String| Rejection::new(ErrorCode::BadFile, why);
    let [high, low, rest @ ..] = data else {
        return Err(bad("a file starts with a two-byte header length".into()));
    };
    let header_len = usize::from(u16::from_be_bytes([*high, *low]));
    if header_len > MAX_HEADER_BYTES || header_len > rest.len() {
        return Err(bad(format!(
            "the header length {header_len} is over {MAX_HEADER_BYTES} or past the end"
        )));
    }
    let (header, bytes) = rest.split_at(header_len);
    let upload: Upload = serde_json::from_slice(header)
        .map_err(|e| bad(format!("the header is not {{\"name\",\"mime\"}} JSON: {e}")))?;
    if bytes.is_empty() {
        return Err(bad("the file is empty".into()));
    }
    let name_ok = !upload.name.trim().is_empty()
        && upload.name.chars().count() <= MAX_NAME_CHARS
        && !upload
            .name
            .chars()
            .any(|c| is_control(c) || matches!(c, '\n' | '\t' | '/' | '\\'));
    if !name_ok {
        return Err(bad(
            "file names are 1 to 200 characters, without slashes or control characters".into(),
        ));
    }
    Ok((upload, bytes))
}

/// The media type to relay: the client's if it is a well-formed `type/subtype`, and for the
/// images a page shows inline, only if the bytes start as that format does.
pub fn trusted_mime<'a>(claimed: &'a str, bytes: &[u8]) -> &'a str {
    let well_formed = claimed.len() <= 100
        && claimed.split_once('/').is_some_and(|(kind, sub)| {
            let token = |s: &str| {
                !s.is_empty()
                    && s.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&b))
            };
            token(kind) && token(sub)
        });
    if !well_formed {
        return OPAQUE;
    }
    let magic: &[u8] = match claimed {
        "image/png" => b"\x89PNG\r\n\x1a\n",
        "image/jpeg" => b"\xff\xd8\xff",
        "image/gif" => b"GIF8",
        "image/webp" => b"RIFF",
        _ if claimed.starts_with("image/") => return OPAQUE,
        _ => return claimed,
    };
    if bytes.starts_with(magic) {
        claimed
    } else {
        OPAQUE
    }
}

/// Encodes the relayed message: header length, header, bytes.
pub fn encode_relay(relay: &Relay<'_>, bytes: &[u8]) -> Vec<u8> {
    let header = serde_json::to_vec(relay).unwrap_or_default();
    encode(&header, bytes)
}

/// A binary file message from a header and the bytes (the header must fit in 64 KiB).
pub fn encode(header: &[u8], bytes: &[u8]) -> Vec<u8> {
    let len = u16::try_from(header.len()).unwrap_or(u16::MAX);
    let mut out = Vec::with_capacity(2 + header.len() + bytes.len());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&header[..usize::from(len)]);
    out.extend_from_slice(bytes);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n rest";

    #[test]
    fn parses_a_well_formed_upload() {
        let data = encode(br#"{"name":"cat.png","mime":"image/png"}"#, PNG);
        let (upload, bytes) = parse_upload(&data).unwrap();
        assert_eq!(upload.name, "cat.png");
        assert_eq!(bytes, PNG);
    }

    #[test]
    fn refuses_malformed_uploads() {
        let cases: [&[u8]; 6] = [
            b"",
            b"\x00",
            b"\x00\x50{}",
            b"\x00\x02{}data",
            b"\x00\x19{\"name\":\"a\",\"mime\":\"b/c\"}",
            &encode(br#"{"name":"../etc/passwd","mime":"text/plain"}"#, b"x"),
        ];
        for data in cases {
            let err = parse_upload(data).unwrap_err();
            assert_eq!(err.code, ErrorCode::BadFile, "{data:?}");
        }
        let big = encode(&vec![b' '; 2000], b"x");
        assert_eq!(parse_upload(&big).unwrap_err().code, ErrorCode::BadFile);
    }

    #[test]
    fn images_must_be_what_they_claim() {
        assert_eq!(trusted_mime("image/png", PNG), "image/png");
        assert_eq!(trusted_mime("image/png", b"<svg>"), OPAQUE);
        assert_eq!(trusted_mime("image/svg+xml", b"<svg>"), OPAQUE);
        assert_eq!(trusted_mime("text/plain", b"hi"), "text/plain");
        assert_eq!(trusted_mime("text/html\r\nX: y", b"hi"), OPAQUE);
        assert_eq!(trusted_mime("nonsense", b"hi"), OPAQUE);
    }
}
