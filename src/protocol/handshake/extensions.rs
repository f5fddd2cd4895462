//! The `Sec-WebSocket-Extensions` header: parsing its grammar into extensions and parameters,
//! and writing them back in canonical form.
//!
//! Implements [RFC 6455 §9.1](https://www.rfc-editor.org/rfc/rfc6455#section-9.1), with the
//! list rule of [RFC 7230 §7](https://www.rfc-editor.org/rfc/rfc7230#section-7) and the
//! quoted strings of [RFC 7230 §3.2.6](https://www.rfc-editor.org/rfc/rfc7230#section-3.2.6):
//!
//! ```text
//! extension-list = 1#extension
//! extension = extension-token *( ";" extension-param )
//! extension-param = token [ "=" (token | quoted-string) ]
//! ```
//!
//! Optional whitespace is allowed around `,`, `;` and `=`, empty list elements (`a, , b`) are
//! ignored, and anything else is refused. The parser reads each byte once (no backtracking)
//! and never panics. What the parameters mean belongs to each extension (RFC 7692 for
//! permessage-deflate), not to this module.

use std::fmt;

use super::head::{is_tchar, is_token, token_string};
use crate::error::HandshakeError;

/// One element of an extension list: a name and its parameters, in the order sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extension {
    /// The extension token as sent (compare it ignoring ASCII case).
    pub name: String,
    /// The parameters, in the order sent.
    pub params: Vec<ExtensionParam>,
}

/// One `extension-param`: a name with an optional value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtensionParam {
    /// The parameter token as sent.
    pub name: String,
    /// The value, unquoted and unescaped, or `None` for a bare parameter.
    pub value: Option<String>,
}

impl fmt::Display for Extension {
    /// The canonical form `name; p1; p2=v`. A value that is not a token (which parsing never
    /// produces, but a caller may build) is written as an escaped quoted-string.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        for param in &self.params {
            write!(f, "; {}", param.name)?;
            match &param.value {
                None => {}
                Some(value) if is_token(value.as_bytes()) => write!(f, "={value}")?,
                Some(value) => {
                    f.write_str("=\"")?;
                    for c in value.chars() {
                        if matches!(c, '"' | '\\') {
                            f.write_str("\\")?;
                        }
                        write!(f, "{c}")?;
                    }
                    f.write_str("\"")?;
                }
            }
        }
        Ok(())
    }
}

/// Parses one `Sec-WebSocket-Extensions` header value (`1#extension`: at least one).
///
/// RFC 6455 §9.1: "If a value is received by either the client or the server during
/// negotiation that does not conform to the ABNF below, the recipient of such malformed data
/// MUST immediately _Fail the WebSocket Connection_." A malformed value is
/// [`HandshakeError::InvalidHeader`].
pub fn parse_extensions(value: &[u8]) -> Result<Vec<Extension>, HandshakeError> {
    parse_extension_headers(std::iter::once(value))
}

/// Parses every `Sec-WebSocket-Extensions` header of a message as the one list they form.
///
/// RFC 6455 §9.1: "Note that like other HTTP header fields, this header field MAY be split or
/// combined across multiple lines." No header gives an empty list; headers that together hold
/// no extension are refused, as `1#extension` needs one.
pub fn parse_extension_headers<'a>(
    values: impl Iterator<Item = &'a [u8]>,
) -> Result<Vec<Extension>, HandshakeError> {
    let mut extensions = Vec::new();
    let mut present = false;
    for value in values {
        present = true;
        Cursor { bytes: value }.list(&mut extensions)?;
    }
    if present && extensions.is_empty() {
        return Err(EMPTY);
    }
    Ok(extensions)
}

// The errors for each way a value can be malformed.
const EMPTY: HandshakeError = HandshakeError::InvalidHeader("Sec-WebSocket-Extensions: empty list");
const NO_NAME: HandshakeError =
    HandshakeError::InvalidHeader("Sec-WebSocket-Extensions: expected an extension name");
const NO_PARAM: HandshakeError =
    HandshakeError::InvalidHeader("Sec-WebSocket-Extensions: expected a parameter name after ';'");
const NO_VALUE: HandshakeError = HandshakeError::InvalidHeader(
    "Sec-WebSocket-Extensions: expected a token or quoted value after '='",
);
const NO_SEPARATOR: HandshakeError =
    HandshakeError::InvalidHeader("Sec-WebSocket-Extensions: expected ',' or ';'");
const UNTERMINATED: HandshakeError =
    HandshakeError::InvalidHeader("Sec-WebSocket-Extensions: unterminated quoted string");
const NOT_TOKEN: HandshakeError =
    HandshakeError::InvalidHeader("Sec-WebSocket-Extensions: quoted value is not a token");

/// The unread rest of one header value. Every step consumes what it looks at, so the whole
/// parse is linear in the input.
struct Cursor<'a> {
    bytes: &'a [u8],
}

impl Cursor<'_> {
    /// `#extension`: elements separated by commas, empty ones ignored.
    fn list(&mut self, out: &mut Vec<Extension>) -> Result<(), HandshakeError> {
        loop {
            self.skip_ows();
            match self.peek() {
                None => return Ok(()),
                Some(b',') => self.bump(),
                Some(_) => {
                    out.push(self.extension()?);
                    self.skip_ows();
                    match self.peek() {
                        None => return Ok(()),
                        Some(b',') => self.bump(),
                        Some(_) => return Err(NO_SEPARATOR),
                    }
                }
            }
        }
    }

    /// `extension = extension-token *( ";" extension-param )`.
    fn extension(&mut self) -> Result<Extension, HandshakeError> {
        let name = self.token().ok_or(NO_NAME)?;
        let mut params = Vec::new();
        loop {
            self.skip_ows();
            if self.peek() != Some(b';') {
                return Ok(Extension { name, params });
            }
            self.bump();
            self.skip_ows();
            let name = self.token().ok_or(NO_PARAM)?;
            self.skip_ows();
            let value = if self.peek() == Some(b'=') {
                self.bump();
                self.skip_ows();
                Some(self.value()?)
            } else {
                None
            };
            params.push(ExtensionParam { name, value });
        }
    }

    /// `token | quoted-string`, the latter unescaped and required to be a token.
    fn value(&mut self) -> Result<String, HandshakeError> {
        if self.peek() != Some(b'"') {
            return self.token().ok_or(NO_VALUE);
        }
        self.bump();
        let mut value = String::new();
        loop {
            // RFC 6455 §9.1: "the value after quoted-string unescaping MUST conform to the 'token' ABNF."
            let byte = match self.next().ok_or(UNTERMINATED)? {
                b'"' if value.is_empty() => return Err(NOT_TOKEN),
                b'"' => return Ok(value),
                b'\\' => self.next().ok_or(UNTERMINATED)?,
                byte => byte,
            };
            if !is_tchar(byte) {
                return Err(NOT_TOKEN);
            }
            value.push(char::from(byte));
        }
    }

    /// `token = 1*tchar`, or `None` (consuming nothing) when no tchar comes next.
    fn token(&mut self) -> Option<String> {
        let len = self.bytes.iter().take_while(|&&b| is_tchar(b)).count();
        let (token, rest) = self.bytes.split_at(len);
        self.bytes = rest;
        (len > 0).then(|| token_string(token))
    }

    /// Skips optional whitespace (SP, HTAB).
    fn skip_ows(&mut self) {
        let len = self
            .bytes
            .iter()
            .take_while(|&&b| matches!(b, b' ' | b'\t'))
            .count();
        self.bytes = &self.bytes[len..];
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.first().copied()
    }

    fn next(&mut self) -> Option<u8> {
        let (&first, rest) = self.bytes.split_first()?;
        self.bytes = rest;
        Some(first)
    }

    fn bump(&mut self) {
        self.next();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The canonical forms of the extensions in `value`, joined with ", ".
    fn canonical(value: &str) -> Result<String, HandshakeError> {
        let list = parse_extensions(value.as_bytes())?;
        Ok(list
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "))
    }

    #[test]
    fn valid_forms() {
        let table = [
            ("foo", "foo"),
            ("permessage-deflate", "permessage-deflate"),
            (
                "permessage-deflate; client_max_window_bits",
                "permessage-deflate; client_max_window_bits",
            ),
            ("a;b;c=1", "a; b; c=1"),
            ("a ; b = 1 ;\tc", "a; b=1; c"),
            ("a; b=\"10\"", "a; b=10"),
            ("a; b=\"x\\-y\"", "a; b=x-y"),
            ("a; b=\"\\1\\5\"", "a; b=15"),
            (
                "mux; max-channels=4; flow-control, deflate-stream",
                "mux; max-channels=4; flow-control, deflate-stream",
            ),
            ("a, b", "a, b"),
            ("a, , b", "a, b"),
            (",a,,b,", "a, b"),
            ("  a  ", "a"),
            ("x; p, x; p=1", "x; p, x; p=1"),
        ];
        for (input, expected) in table {
            assert_eq!(canonical(input).as_deref(), Ok(expected), "{input:?}");
        }
    }

    #[test]
    fn invalid_forms() {
        let table: [&[u8]; 23] = [
            b"",
            b" , ,",
            b";",
            b"a;",
            b"a; ;b",
            b"a;=1",
            b"a; b=",
            b"a; b= ",
            b"a; b=\"",
            b"a; b=\"1",
            b"a; b=\"1\\\"",
            b"a; b=\"\"",
            b"a; b=\"x y\"",
            b"a; b=\"x,y\"",
            b"a; b=\"\\\"\"",
            b"a b",
            b"a; b c",
            b"a; b=1 2",
            b"a=1",
            b"a\x01",
            b"a; b=\x7f",
            "é".as_bytes(),
            b"a; b=\"\xc3\xa9\"",
        ];
        for input in table {
            let result = parse_extensions(input);
            assert!(
                matches!(result, Err(HandshakeError::InvalidHeader(_))),
                "{:?} gave {result:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn params_keep_their_values_and_order() {
        let list = parse_extensions(b"pmd; server_no_context_takeover; client_max_window_bits=10")
            .unwrap();
        assert_eq!(
            list,
            [Extension {
                name: "pmd".into(),
                params: vec![
                    ExtensionParam {
                        name: "server_no_context_takeover".into(),
                        value: None
                    },
                    ExtensionParam {
                        name: "client_max_window_bits".into(),
                        value: Some("10".into())
                    },
                ],
            }]
        );
    }

    #[test]
    fn several_headers_form_one_list() {
        // RFC 6455 §9.1's own example of the equivalence.
        let split = [&b"foo"[..], b"bar; baz=2"];
        let joined = parse_extensions(b"foo, bar; baz=2").unwrap();
        assert_eq!(parse_extension_headers(split.into_iter()).unwrap(), joined);
        assert_eq!(
            parse_extension_headers([&b""[..], b"a"].into_iter())
                .unwrap()
                .len(),
            1
        );
        assert!(parse_extension_headers(std::iter::empty())
            .unwrap()
            .is_empty());
        assert!(parse_extension_headers([&b""[..], b" "].into_iter()).is_err());
        assert!(parse_extension_headers([&b"a"[..], b"b c"].into_iter()).is_err());
    }

    #[test]
    fn names_keep_their_case() {
        let list = parse_extensions(b"PerMessage-Deflate; Client_Max_Window_Bits").unwrap();
        assert_eq!(list[0].name, "PerMessage-Deflate");
        assert_eq!(list[0].params[0].name, "Client_Max_Window_Bits");
    }

    #[test]
    fn display_quotes_values_that_are_not_tokens() {
        let extension = Extension {
            name: "x".into(),
            params: vec![ExtensionParam {
                name: "p".into(),
                value: Some("a \"b\\".into()),
            }],
        };
        assert_eq!(extension.to_string(), "x; p=\"a \\\"b\\\\\"");
    }

    #[test]
    fn long_inputs_parse_in_one_pass() {
        let many = "a; b=\"c\", ".repeat(10_000);
        assert_eq!(parse_extensions(many.as_bytes()).unwrap().len(), 10_000);
        let commas = ",".repeat(100_000) + "a";
        assert_eq!(parse_extensions(commas.as_bytes()).unwrap().len(), 1);
    }
}
