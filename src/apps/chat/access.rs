//! Who may open the chat's WebSocket: the token check (401) and the origin check (403)
//! against cross-site WebSocket hijacking.
//!
//! A browser sends `Origin` with every WebSocket handshake (RFC 6455 §10.2), and a page on
//! another site cannot forge it: so by default only pages the chat server served itself (whose
//! origin names the `Host` the request was sent to) may connect. Clients that are not
//! browsers send no `Origin` and are let through; they are not the threat this guards
//! against. Behind a public name, list the site with `--allowed-origin`: matching `Host` alone
//! does not stop DNS rebinding.

use fullduplex::protocol::handshake::Request;

/// The name of the query parameter and of the cookie that carry the token.
pub const TOKEN_NAME: &str = "token";

/// Why a request may not open the chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// No token, or the wrong one: 401.
    Unauthorized,
    /// The page asking is from another origin: 403.
    Forbidden,
}

impl Denied {
    /// The HTTP status.
    pub fn status(self) -> u16 {
        match self {
            Denied::Unauthorized => 401,
            Denied::Forbidden => 403,
        }
    }

    /// A sentence for the response body.
    pub fn reason(self) -> &'static str {
        match self {
            Denied::Unauthorized => "a valid token is required (?token=... or the token cookie)",
            Denied::Forbidden => "this origin may not open the chat",
        }
    }
}

/// Checks the token (if one is set) and the origin.
pub fn check(request: &Request, token: Option<&str>, allowed: &[String]) -> Result<(), Denied> {
    if let Some(expected) = token {
        if !presents_token(request, expected) {
            return Err(Denied::Unauthorized);
        }
    }
    match request.origin() {
        None => Ok(()),
        Some(origin) if origin_allowed(origin, request.host(), allowed) => Ok(()),
        Some(_) => Err(Denied::Forbidden),
    }
}

/// Whether the request carries the token, as a query parameter or a cookie.
pub fn presents_token(request: &Request, expected: &str) -> bool {
    let by_query = request
        .query_param(TOKEN_NAME)
        .is_some_and(|t| same_secret(&t, expected));
    by_query
        || request
            .cookie(TOKEN_NAME)
            .is_some_and(|t| same_secret(t, expected))
}

/// Compares secrets in time that depends on their lengths only, not on where they differ.
fn same_secret(given: &str, expected: &str) -> bool {
    given.len() == expected.len()
        && given
            .bytes()
            .zip(expected.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// Whether `origin` may connect: one of `allowed` if any are listed, else the origin of the
/// `Host` the request was sent to.
pub fn origin_allowed(origin: &str, host: Option<&str>, allowed: &[String]) -> bool {
    let Some(origin) = normalize_origin(origin) else {
        return false;
    };
    if !allowed.is_empty() {
        return allowed
            .iter()
            .filter_map(|a| normalize_origin(a))
            .any(|a| a == origin);
    }
    let Some(host) = host else {
        return false;
    };
    let (scheme, authority) = origin.split_once("://").unwrap_or_default();
    strip_default_port(scheme, &host.to_ascii_lowercase()) == authority
}

/// `scheme://host[:port]` lowercased without a default port; `None` if it is not one.
pub fn normalize_origin(origin: &str) -> Option<String> {
    let origin = origin.trim().to_ascii_lowercase();
    let (scheme, authority) = origin.split_once("://")?;
    let valid_authority = !authority.is_empty()
        && authority
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b));
    if !matches!(scheme, "http" | "https") || !valid_authority {
        return None;
    }
    Some(format!(
        "{scheme}://{}",
        strip_default_port(scheme, authority)
    ))
}

fn strip_default_port<'a>(scheme: &str, authority: &'a str) -> &'a str {
    let default = if scheme == "https" { ":443" } else { ":80" };
    authority.strip_suffix(default).unwrap_or(authority)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(extra: &str) -> Request {
        let head = format!("GET /ws{extra}\r\n\r\n");
        Request::parse(head.as_bytes(), &Default::default())
            .unwrap()
            .unwrap()
            .0
    }

    #[test]
    fn own_origin_by_default() {
        let own = request(" HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nOrigin: http://127.0.0.1:8080");
        assert_eq!(check(&own, None, &[]), Ok(()));
        let evil = request(" HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nOrigin: http://evil.example");
        assert_eq!(check(&evil, None, &[]), Err(Denied::Forbidden));
        let no_origin = request(" HTTP/1.1\r\nHost: 127.0.0.1:8080");
        assert_eq!(check(&no_origin, None, &[]), Ok(()));
        assert!(origin_allowed(
            "HTTP://Chat.Example:80",
            Some("chat.example"),
            &[]
        ));
        assert!(origin_allowed(
            "https://chat.example",
            Some("chat.example:443"),
            &[]
        ));
        assert!(!origin_allowed("null", Some("chat.example"), &[]));
        assert!(!origin_allowed("http://chat.example", None, &[]));
    }

    #[test]
    fn listed_origins_replace_the_default() {
        let allowed = ["https://chat.example".to_owned()];
        assert!(origin_allowed(
            "https://chat.example:443",
            Some("x"),
            &allowed
        ));
        assert!(!origin_allowed("http://x", Some("x"), &allowed));
    }

    #[test]
    fn token_by_query_or_cookie() {
        let by_query = request("?token=s%33cret HTTP/1.1\r\nHost: h");
        assert_eq!(check(&by_query, Some("s3cret"), &[]), Ok(()));
        let by_cookie = request(" HTTP/1.1\r\nHost: h\r\nCookie: a=1; token=s3cret");
        assert_eq!(check(&by_cookie, Some("s3cret"), &[]), Ok(()));
        let wrong = request("?token=s3creT HTTP/1.1\r\nHost: h\r\nCookie: token=nope");
        assert_eq!(
            check(&wrong, Some("s3cret"), &[]),
            Err(Denied::Unauthorized)
        );
        assert_eq!(
            check(&request(" HTTP/1.1"), Some("s3cret"), &[]),
            Err(Denied::Unauthorized)
        );
    }
}
