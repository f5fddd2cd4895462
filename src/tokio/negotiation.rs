//! The server's answer to an opening handshake, computed from the request's header fields: for
//! [`accept_with`](super::accept_with), and for an HTTP server (hyper, axum) that answers the
//! handshake itself and hands the upgraded connection to [`from_upgraded`](super::from_upgraded).
//!
//! Implements [RFC 6455 §4.2.1](https://www.rfc-editor.org/rfc/rfc6455#section-4.2.1) (the
//! checks, by [`validate_request`]), [RFC 6455 §4.2.2](https://www.rfc-editor.org/rfc/rfc6455#section-4.2.2)
//! (the accept key, the subprotocol) and [RFC 7692 §5](https://www.rfc-editor.org/rfc/rfc7692#section-5)
//! (permessage-deflate, by [`negotiate_server`]).

use crate::protocol::deflate::{negotiate_server, DeflateParams};
use crate::protocol::handshake::{
    accept_key, validate_request, write_accept_response, ClientOffer, Request,
};
use crate::{Config, HandshakeError};

/// What the server answers to a valid opening handshake: the accept key, the subprotocol it
/// chose (one the client offered) and the permessage-deflate parameters it agreed to (when
/// [`Config::deflate`] is set and the client offered something it can honour).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiation {
    offer: ClientOffer,
    subprotocol: Option<String>,
    deflate: Option<(DeflateParams, String)>,
}

impl Negotiation {
    /// Checks a request parsed by [`Request::parse`] and negotiates permessage-deflate.
    /// The error's [`status`](HandshakeError::status) is the HTTP status to refuse it with.
    pub fn new(request: &Request, config: &Config) -> Result<Self, HandshakeError> {
        let offer = validate_request(request)?;
        let deflate = config
            .deflate
            .as_ref()
            .and_then(|d| negotiate_server(&offer.extensions, d));
        Ok(Self {
            offer,
            subprotocol: None,
            deflate,
        })
    }

    /// The same from a request another HTTP server parsed: its method and header fields
    /// (HTTP/1.1; with hyper, `request.method().as_str()` and
    /// `request.headers().iter().map(|(n, v)| (n.as_str(), v.as_bytes()))`). A field whose
    /// name or value holds a CR or LF (which no parsed HTTP/1.1 field can) is left out.
    pub fn from_headers<'a>(
        method: &str,
        headers: impl IntoIterator<Item = (&'a str, &'a [u8])>,
        config: &Config,
    ) -> Result<Self, HandshakeError> {
        let mut head = Vec::with_capacity(512);
        head.extend_from_slice(method.as_bytes());
        head.extend_from_slice(b" / HTTP/1.1\r\n");
        let breaks_out = |bytes: &[u8]| bytes.iter().any(|&b| b == b'\r' || b == b'\n');
        for (name, value) in headers {
            if breaks_out(name.as_bytes()) || breaks_out(value) {
                continue;
            }
            head.extend_from_slice(name.as_bytes());
            head.extend_from_slice(b": ");
            head.extend_from_slice(value);
            head.extend_from_slice(b"\r\n");
        }
        head.extend_from_slice(b"\r\n");
        match Request::parse(&head, config)? {
            Some((request, _)) => Self::new(&request, config),
            None => Err(HandshakeError::Malformed("an incomplete request head")),
        }
    }

    /// What the client offered: its key, subprotocols and extensions.
    pub fn offer(&self) -> &ClientOffer {
        &self.offer
    }

    /// Chooses the subprotocol to name in the response; one the client did not offer is
    /// dropped (RFC 6455 §4.2.2: "the value chosen MUST be derived from the client's
    /// handshake").
    pub fn with_subprotocol(mut self, chosen: Option<&str>) -> Self {
        self.subprotocol = chosen
            .filter(|p| self.offer.subprotocols.iter().any(|o| o == p))
            .map(str::to_owned);
        self
    }

    /// The subprotocol chosen.
    pub fn subprotocol(&self) -> Option<&str> {
        self.subprotocol.as_deref()
    }

    /// The permessage-deflate parameters agreed, for [`from_upgraded`](super::from_upgraded).
    pub fn deflate(&self) -> Option<DeflateParams> {
        self.deflate.as_ref().map(|(params, _)| *params)
    }

    /// The header fields of the `101 Switching Protocols` response: `Upgrade`, `Connection`,
    /// `Sec-WebSocket-Accept`, and `Sec-WebSocket-Protocol` and `Sec-WebSocket-Extensions`
    /// when there is something to name.
    pub fn response_headers(&self) -> Vec<(&'static str, String)> {
        let mut headers = vec![
            ("Upgrade", "websocket".to_owned()),
            ("Connection", "Upgrade".to_owned()),
            (
                "Sec-WebSocket-Accept",
                accept_key(self.offer.key.as_bytes()),
            ),
        ];
        if let Some(subprotocol) = &self.subprotocol {
            headers.push(("Sec-WebSocket-Protocol", subprotocol.clone()));
        }
        if let Some((_, extensions)) = &self.deflate {
            headers.push(("Sec-WebSocket-Extensions", extensions.clone()));
        }
        headers
    }

    /// Appends the whole `101 Switching Protocols` response, with `extra_headers`.
    pub fn write_response(&self, out: &mut Vec<u8>, extra_headers: &[(&str, &str)]) {
        write_accept_response(
            out,
            &self.offer.key,
            self.subprotocol.as_deref(),
            self.deflate.as_ref().map(|(_, header)| header.as_str()),
            extra_headers,
        );
    }
}
