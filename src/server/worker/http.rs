//! The worker's serving of plain HTTP requests: reading a body of a bounded length, answering
//! now or later ([`Reply`]), and keeping a persistent connection for the next request.
//!
//! Framing as in [RFC 9112 §6.3](https://www.rfc-editor.org/rfc/rfc9112#section-6.3): the body
//! is `Content-Length` bytes; "a server MAY reject a request that contains a message body but
//! not a Content-Length by responding with 411", which is what a chunked body gets here.
//! Persistence as in [RFC 9112 §9.3](https://www.rfc-editor.org/rfc/rfc9112#section-9.3):
//! "HTTP/1.1 defaults to the use of persistent connections", so an HTTP/1.1 request without
//! `Connection: close` leaves its connection open, and HTTP/1.0 only with `keep-alive`. While
//! a request waits for its answer, the next one is left in the socket (read once this one is
//! answered); the idle time before a next request is bounded by the handshake timeout.

use std::time::Instant;

use super::Worker;
use crate::protocol::handshake::HttpResponse;
use crate::protocol::handshake::Request;
use crate::server::handler::{Context, Handler};
use crate::server::http::{HttpRequest, Reply, ResponseId};
use crate::server::peer::{Deferred, Handshaking, Phase, Responding};
use crate::server::stats::Stats;

impl<H: Handler> Worker<H> {
    /// Serves a plain request whose head is parsed: once its body has arrived, hands it to the
    /// application; a body the server cannot take is refused at once (and the connection
    /// closed, since the body is not read).
    pub(super) fn serve_http(
        &mut self,
        slot: usize,
        request: Request,
        head_len: usize,
        now: Instant,
    ) {
        let body_len = match body_length(&request, self.max_request_body) {
            Ok(len) => len,
            Err(refusal) => return self.answer(slot, &refusal, None, now),
        };
        let Some(peer) = super::live(&mut self.slots, slot) else {
            return;
        };
        let conn = peer.id(self.index, slot);
        let Phase::Handshake(handshake) = &mut peer.phase else {
            return;
        };
        let end = head_len + body_len;
        if handshake.buf.len() < end {
            handshake.need = end;
            return;
        }
        let number = handshake.served;
        let mut buf = std::mem::take(&mut handshake.buf);
        let next = buf.split_off(end);
        Stats::add(&self.stats.http_requests, 1);
        let then = (keeps_alive(&request) && !self.handle.is_shutting_down())
            .then(|| Box::new(Handshaking::new(next, number.wrapping_add(1), now)));
        let request = HttpRequest {
            head: &request,
            body: &buf[head_len..],
            id: ResponseId { conn, number },
        };
        let mut ctx = Context {
            handle: &self.handle,
            outbox: &mut self.outbox,
        };
        match self.handler.on_request(&mut ctx, &request) {
            Reply::Now(response) => self.answer(slot, &response, then, now),
            Reply::Later => {
                if let Some(peer) = self.live_peer(slot) {
                    let since = now;
                    peer.phase = Phase::Deferred(Box::new(Deferred {
                        number,
                        since,
                        then,
                    }));
                }
            }
        }
    }

    /// Writes the answer to a request; `then`, on a persistent connection, is the next request.
    fn answer(
        &mut self,
        slot: usize,
        response: &HttpResponse,
        then: Option<Box<Handshaking>>,
        now: Instant,
    ) {
        let Some(peer) = self.live_peer(slot) else {
            return;
        };
        let mut out = Vec::with_capacity(response.body.len() + 128);
        response.encode_with(&mut out, then.is_some());
        peer.phase = Phase::Respond(Box::new(Responding {
            out,
            written: 0,
            since: now,
            then,
        }));
        self.mark_dirty(slot);
    }

    /// The application's later answer to a request ([`Reply::Later`]); nothing if the request
    /// was answered already or its connection ended.
    pub(super) fn answer_deferred(
        &mut self,
        id: ResponseId,
        response: &HttpResponse,
        now: Instant,
    ) {
        let Some(slot) = self.peer_by_id(id.conn) else {
            return;
        };
        let shutting_down = self.handle.is_shutting_down();
        let Some(Phase::Deferred(deferred)) = self.live_peer(slot).map(|p| &mut p.phase) else {
            return;
        };
        if deferred.number == id.number {
            let then = deferred.then.take().filter(|_| !shutting_down);
            self.answer(slot, response, then, now);
        }
    }

    /// Answers a request the application left unanswered (past `max_deferral`, or at shutdown)
    /// with 503, closing the connection.
    pub(super) fn give_up_deferred(&mut self, slot: usize, why: &str, now: Instant) {
        if let Some(Phase::Deferred(_)) = self.live_peer(slot).map(|p| &p.phase) {
            self.answer(slot, &HttpResponse::text(503, why), None, now);
        }
    }

    /// After a response is written: on a persistent connection (unless the server is shutting
    /// down), waits for the next request, reading what already came; `false` if the connection
    /// is done.
    pub(super) fn next_request(&mut self, slot: usize, now: Instant) -> bool {
        let shutting_down = self.handle.is_shutting_down();
        let Some(peer) = self.live_peer(slot) else {
            return false;
        };
        let Phase::Respond(responding) = &mut peer.phase else {
            return false;
        };
        let Some(mut next) = responding.then.take().filter(|_| !shutting_down) else {
            return false;
        };
        next.since = now;
        peer.phase = Phase::Handshake(next);
        // Bytes may wait in the socket since the request was read: no new event announces them.
        self.more_to_read.push((slot, false));
        true
    }
}

/// The length of a request's body (RFC 9112 §6.3), or the refusal: 411 for a chunked body or a
/// `POST`, `PUT` or `PATCH` without `Content-Length`, 400 for a malformed or conflicting one,
/// 413 past `max`.
pub(crate) fn body_length(request: &Request, max: usize) -> Result<usize, HttpResponse> {
    if request.header("Transfer-Encoding").is_some() {
        return Err(HttpResponse::text(
            411,
            "chunked request bodies are not accepted: send Content-Length",
        ));
    }
    let mut lengths = request.headers_all("Content-Length");
    let Some(first) = lengths.next() else {
        return match request.method() {
            "POST" | "PUT" | "PATCH" => Err(HttpResponse::text(
                411,
                "a request with a body needs Content-Length",
            )),
            _ => Ok(0),
        };
    };
    let parse = |value: &[u8]| -> Option<usize> {
        let value = std::str::from_utf8(value).ok()?.trim();
        let digits = !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit());
        digits.then(|| value.parse().ok()).flatten()
    };
    let length = parse(first).filter(|&n| lengths.all(|other| parse(other) == Some(n)));
    match length {
        None => Err(HttpResponse::text(400, "malformed Content-Length")),
        Some(n) if n > max => Err(HttpResponse::text(
            413,
            &format!("the request body is over {max} bytes"),
        )),
        Some(n) => Ok(n),
    }
}

/// Whether the connection stays open after this request (RFC 9112 §9.3).
pub(crate) fn keeps_alive(request: &Request) -> bool {
    let says = |token: &str| {
        request.headers_all("Connection").any(|value| {
            value
                .split(|&b| b == b',')
                .any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
        })
    };
    if request.minor_version() >= 1 {
        !says("close")
    } else {
        says("keep-alive")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(head: &str) -> Request {
        let head = format!("{head}\r\n\r\n");
        Request::parse(head.as_bytes(), &Default::default())
            .unwrap()
            .unwrap()
            .0
    }

    #[test]
    fn body_lengths_and_their_refusals() {
        let status = |head: &str| body_length(&request(head), 100).map_err(|r| r.status);
        assert_eq!(status("GET / HTTP/1.1"), Ok(0));
        assert_eq!(status("POST / HTTP/1.1\r\nContent-Length: 100"), Ok(100));
        assert_eq!(status("POST / HTTP/1.1\r\nContent-Length: 101"), Err(413));
        assert_eq!(status("POST / HTTP/1.1"), Err(411));
        assert_eq!(
            status("POST / HTTP/1.1\r\nTransfer-Encoding: chunked"),
            Err(411)
        );
        assert_eq!(status("POST / HTTP/1.1\r\nContent-Length: -1"), Err(400));
        assert_eq!(status("POST / HTTP/1.1\r\nContent-Length: 1e3"), Err(400));
        let twice = "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5";
        assert_eq!(status(twice), Ok(5));
        let differ = "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6";
        assert_eq!(status(differ), Err(400));
        let huge = "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999";
        assert_eq!(status(huge), Err(400));
    }

    #[test]
    fn persistence_by_version_and_connection_tokens() {
        assert!(keeps_alive(&request("GET / HTTP/1.1")));
        assert!(!keeps_alive(&request(
            "GET / HTTP/1.1\r\nConnection: foo, Close"
        )));
        assert!(!keeps_alive(&request("GET / HTTP/1.0")));
        assert!(keeps_alive(&request(
            "GET / HTTP/1.0\r\nConnection: keep-alive"
        )));
    }
}
