//! `ws://` and `wss://` URLs: scheme, host, port, and the request target.
//!
//! Implements [RFC 6455 §3](https://www.rfc-editor.org/rfc/rfc6455#section-3).

use std::fmt;

/// A parsed WebSocket URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsUrl {
    /// `wss://`: TLS.
    pub secure: bool,
    /// The host, without brackets for IPv6.
    pub host: String,
    /// The port (80 or 443 when not given).
    pub port: u16,
    /// The path and query, as sent in the request line (`/` when empty).
    pub target: String,
}

/// A URL that is not a usable `ws://` or `wss://` URL, with what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlError(pub String);

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UrlError {}

impl WsUrl {
    /// Parses `ws://host[:port][/path][?query]` or `wss://…`. RFC 6455 §3: "Fragment
    /// identifiers are meaningless in the context of WebSocket URIs and MUST NOT be used".
    pub fn parse(url: &str) -> Result<WsUrl, UrlError> {
        let err = |what: &str| {
            UrlError(format!(
                "{what} in {url:?} (expected ws://host[:port]/path or wss://…)"
            ))
        };
        let (secure, rest) = if let Some(rest) = strip_prefix_ignore_case(url, "ws://") {
            (false, rest)
        } else if let Some(rest) = strip_prefix_ignore_case(url, "wss://") {
            (true, rest)
        } else {
            return Err(err("the scheme must be ws:// or wss://"));
        };
        if rest.contains('#') {
            return Err(err("a fragment (#…) is not allowed"));
        }
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, target) = rest.split_at(split);
        if authority.contains('@') {
            return Err(err("user information (…@) is not supported"));
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let end = v6
                .find(']')
                .ok_or_else(|| err("an unclosed [ in the host"))?;
            (&v6[..end], v6[end + 1..].strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(err("no host"));
        }
        let port = match port {
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| err("an invalid port"))?,
            None if secure => 443,
            None => 80,
        };
        let target = if target.is_empty() {
            "/".to_owned()
        } else if target.starts_with('?') {
            format!("/{target}")
        } else {
            target.to_owned()
        };
        Ok(WsUrl {
            secure,
            host: host.to_owned(),
            port,
            target,
        })
    }

    /// The `Host` header value: the host, with the port when it is not the default.
    pub fn host_header(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let default = if self.secure { 443 } else { 80 };
        if self.port == default {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }

    /// `host:port`, to connect to.
    pub fn socket_addr_text(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms_of_rfc_6455_section_3() {
        let u = WsUrl::parse("ws://example.com/chat?x=1").unwrap();
        assert_eq!(
            (u.secure, u.host.as_str(), u.port, u.target.as_str()),
            (false, "example.com", 80, "/chat?x=1")
        );
        let u = WsUrl::parse("WSS://127.0.0.1:9443").unwrap();
        assert_eq!((u.secure, u.port, u.target.as_str()), (true, 9443, "/"));
        assert_eq!(u.host_header(), "127.0.0.1:9443");
        let u = WsUrl::parse("ws://[::1]:8080?q").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.target.as_str()),
            ("::1", 8080, "/?q")
        );
        assert_eq!(u.host_header(), "[::1]:8080");
        assert_eq!(WsUrl::parse("wss://h").unwrap().host_header(), "h");
    }

    #[test]
    fn default_ports_are_80_and_443_and_left_out_of_the_host() {
        let plain = WsUrl::parse("ws://example.com").unwrap();
        assert_eq!(
            (plain.port, plain.host_header()),
            (80, "example.com".into())
        );
        assert_eq!(plain.socket_addr_text(), "example.com:80");
        let secure = WsUrl::parse("wss://example.com/").unwrap();
        assert_eq!(
            (secure.port, secure.host_header()),
            (443, "example.com".into())
        );
        let explicit = WsUrl::parse("wss://example.com:80/").unwrap();
        assert_eq!(explicit.host_header(), "example.com:80");
        let v6 = WsUrl::parse("ws://[::1]/").unwrap();
        assert_eq!(
            (v6.host_header(), v6.socket_addr_text()),
            ("[::1]".into(), "[::1]:80".into())
        );
    }

    #[test]
    fn refuses_what_is_not_a_websocket_url() {
        for bad in [
            "http://x",
            "ws://",
            "ws://x:0",
            "ws://x:99999",
            "ws://x/#f",
            "ws://u@x",
            "ws://[::1",
        ] {
            assert!(WsUrl::parse(bad).is_err(), "{bad}");
        }
    }
}
