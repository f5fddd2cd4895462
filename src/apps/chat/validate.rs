//! The chat's rules for what people type: nicknames, room names and message text.
//!
//! The page shows everything with `textContent`, so nothing here is about escaping: these
//! rules keep names readable (no control or bidirectional-override characters, no look-alike
//! markup) and sizes bounded.

use super::protocol::{ErrorCode, Rejection};

/// Longest nickname, in characters.
pub const MAX_NICK_CHARS: usize = 24;
/// Longest room name, in characters.
pub const MAX_ROOM_CHARS: usize = 32;
/// Longest message text, in characters.
pub const MAX_TEXT_CHARS: usize = 2000;

/// A nickname: trimmed, 1 to 24 characters, no control or formatting characters, no `<`
/// or `>`.
pub fn nick(raw: &str) -> Result<String, Rejection> {
    let nick = raw.trim();
    let bad = |why: &str| Err(Rejection::new(ErrorCode::BadNick, why));
    if nick.is_empty() {
        return bad("choose a nickname");
    }
    if nick.chars().count() > MAX_NICK_CHARS {
        return bad("nicknames are at most 24 characters");
    }
    if nick
        .chars()
        .any(|c| is_control(c) || c == '\n' || c == '\t')
    {
        return bad("nicknames cannot hold control characters");
    }
    if nick.contains(['<', '>']) {
        return bad("nicknames cannot hold < or >");
    }
    Ok(nick.to_owned())
}

/// A room name: 1 to 32 ASCII letters, digits, `-` or `_`, lowercased.
pub fn room(raw: &str) -> Result<String, Rejection> {
    let valid = !raw.is_empty()
        && raw.len() <= MAX_ROOM_CHARS
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if valid {
        Ok(raw.to_ascii_lowercase())
    } else {
        Err(Rejection::new(
            ErrorCode::BadRoom,
            "room names are 1 to 32 letters, digits, - or _",
        ))
    }
}

/// Message text: not blank, at most 2000 characters, no control characters but line feeds
/// and tabs, no HTML tags (the chat is plain text).
pub fn text(raw: &str) -> Result<&str, Rejection> {
    let text = raw.trim_end();
    let bad = |why: &str| Err(Rejection::new(ErrorCode::BadText, why));
    if text.trim_start().is_empty() {
        return bad("the message is empty");
    }
    if text.chars().count() > MAX_TEXT_CHARS {
        return bad("messages are at most 2000 characters");
    }
    if text.chars().any(is_control) {
        return bad("messages cannot hold control characters");
    }
    if holds_html_tag(text) {
        return bad("messages are plain text: HTML tags are not allowed");
    }
    Ok(text)
}

/// A character that has no business in chat text: C0 and C1 controls but line feed and
/// tab, DEL, and the bidirectional embedding, override and isolate controls (which can make
/// text display in another order than it was written).
pub fn is_control(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{8}' | '\u{b}'..='\u{1f}' | '\u{7f}'..='\u{9f}'
        | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Whether the text holds something shaped like an HTML tag or comment: `<` followed by a
/// letter, `/`, `!` or `?`, with a `>` later on. "a < b", "<3" and "->" pass.
fn holds_html_tag(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.iter().enumerate().any(|(at, &b)| {
        b == b'<'
            && bytes
                .get(at + 1)
                .is_some_and(|&next| next.is_ascii_alphabetic() || b"/!?".contains(&next))
            && bytes[at + 1..].contains(&b'>')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nicknames() {
        assert_eq!(nick("  Ada Lovelace ").unwrap(), "Ada Lovelace");
        assert_eq!(nick("Zoë 🚀").unwrap(), "Zoë 🚀");
        for bad in [
            "",
            "   ",
            "a\u{7}b",
            "x\ny",
            "<b>",
            "a\u{202e}b",
            &"n".repeat(25),
        ] {
            assert_eq!(nick(bad).unwrap_err().code, ErrorCode::BadNick, "{bad:?}");
        }
        assert!(nick(&"é".repeat(24)).is_ok());
    }

    #[test]
    fn rooms() {
        assert_eq!(room("Rust-Lang_2").unwrap(), "rust-lang_2");
        for bad in ["", "a b", "café", "../x", &"r".repeat(33)] {
            assert_eq!(room(bad).unwrap_err().code, ErrorCode::BadRoom, "{bad:?}");
        }
    }

    #[test]
    fn texts() {
        assert_eq!(text("hello\n  world  \n").unwrap(), "hello\n  world");
        for ok in ["a < b and c > d", "<3", "x -> y", "tab\there", "2<3>1"] {
            assert!(text(ok).is_ok(), "{ok:?}");
        }
        for bad in [
            "",
            " \n ",
            "bell\u{7}",
            "<script>alert(1)</script>",
            "<img src=x onerror=alert(1)>",
            "</div>",
            "<!-- hi -->",
        ] {
            assert_eq!(text(bad).unwrap_err().code, ErrorCode::BadText, "{bad:?}");
        }
        assert!(text(&"z".repeat(2000)).is_ok());
        assert!(text(&"z".repeat(2001)).is_err());
    }
}
