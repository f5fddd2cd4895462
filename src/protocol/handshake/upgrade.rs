//! The application's decision on an opening handshake, shared by every runtime: accept the
//! connection (naming a subprotocol, adding headers) or refuse it with a status.
//!
//! The subprotocol follows [RFC 6455 §4.2.2](https://www.rfc-editor.org/rfc/rfc6455#section-4.2.2)
//! (/subprotocol/: one the client offered; a runtime drops any other); a refusal is any HTTP
//! response, as the same section allows ("the server MAY [...] send an appropriate HTTP error
//! code").

use super::http::HttpResponse;

/// The application's answer to an upgrade request, in every runtime: accept it (with its
/// per-connection state, a subprotocol and extra headers), or refuse it with an HTTP response.
#[derive(Debug)]
pub enum Upgrade<S> {
    /// Open the WebSocket connection with this session state.
    Accept {
        /// The application's per-connection state.
        session: S,
        /// The subprotocol to name in the response: one the client offered.
        subprotocol: Option<String>,
        /// Extra response headers (e.g. `Set-Cookie`).
        headers: Vec<(String, String)>,
    },
    /// Refuse it with this HTTP response (e.g. 401, 403).
    Reject(HttpResponse),
}

impl<S> Upgrade<S> {
    /// Accepts with this session and no subprotocol.
    pub fn accept(session: S) -> Self {
        Upgrade::Accept {
            session,
            subprotocol: None,
            headers: Vec::new(),
        }
    }

    /// Names the subprotocol chosen (see
    /// [`select_subprotocol`](super::select_subprotocol)).
    pub fn with_subprotocol(mut self, chosen: Option<&str>) -> Self {
        if let Upgrade::Accept { subprotocol, .. } = &mut self {
            *subprotocol = chosen.map(str::to_owned);
        }
        self
    }

    /// Refuses with a plain-text response.
    pub fn reject(status: u16, reason: &str) -> Self {
        Upgrade::Reject(HttpResponse::text(status, reason))
    }
}
