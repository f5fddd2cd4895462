//! Plain HTTP requests on the mio server: the requests that are not upgrades (a page, a
//! health check, metrics, a long poll) with their bodies, and the application's answer to
//! them, now or later ([`HttpResponse`] itself is the core's, shared by every runtime).
//!
//! Message framing follows [RFC 9112 §6](https://www.rfc-editor.org/rfc/rfc9112#section-6):
//! a request's body is its `Content-Length` bytes (chunked bodies are refused with 411), and
//! persistent connections [RFC 9112 §9.3](https://www.rfc-editor.org/rfc/rfc9112#section-9.3):
//! an HTTP/1.1 connection stays open for the next request unless either side says `close`.

use crate::protocol::handshake::{HttpResponse, Request};
use crate::server::handler::ConnId;

/// A plain HTTP request as the application sees it: the head, the body, and the id to answer
/// it by later ([`Reply::Later`]).
#[derive(Debug, Clone, Copy)]
pub struct HttpRequest<'a> {
    pub(crate) head: &'a Request,
    pub(crate) body: &'a [u8],
    pub(crate) id: ResponseId,
}

impl<'a> HttpRequest<'a> {
    /// The request line and header fields.
    pub fn head(&self) -> &'a Request {
        self.head
    }

    /// The body: `Content-Length` bytes, at most
    /// [`ServerConfig::max_request_body`](super::ServerConfig::max_request_body) (empty when
    /// the request has none).
    pub fn body(&self) -> &'a [u8] {
        self.body
    }

    /// The id of the answer, for [`Reply::Later`].
    pub fn id(&self) -> ResponseId {
        self.id
    }
}

/// Names one request's answer: its connection and the request's number on it (a persistent
/// connection carries several, one after the other). Answering a request that was answered
/// already, or whose connection ended, does nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ResponseId {
    pub(crate) conn: ConnId,
    pub(crate) number: u32,
}

/// The application's answer to a plain HTTP request.
#[derive(Debug)]
pub enum Reply {
    /// This response, now.
    Now(HttpResponse),
    /// A response later (a long poll): the application keeps the request's
    /// [`id`](HttpRequest::id) and answers with [`Context::respond`](super::Context::respond)
    /// or [`ServerHandle::respond`](super::ServerHandle::respond), within
    /// [`ServerConfig::max_deferral`](super::ServerConfig::max_deferral) (past it the server
    /// answers 503 itself).
    Later,
}
