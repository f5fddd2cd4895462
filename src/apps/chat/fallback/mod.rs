//! The chat's HTTP fallback for networks that break WebSockets: long-polling on the same port,
//! carrying the same messages (`docs/chat-protocol.md`, "The HTTP fallback").
//!
//! `POST /fallback/open` makes a session, `GET /fallback/poll?ack=N` is held open until it has
//! messages after `N` (the server's answer deferred with
//! [`Reply::Later`](fullduplex::server::Reply)), `POST /fallback/send` hands messages to the
//! same code as a WebSocket's (through [`Visitor`], a [`Member`](super::member::Member)),
//! `POST /fallback/close` ends the session. Every request passes the WebSocket's token and
//! `Origin` checks; the session id travels in the `X-Fullduplex-Session` header only, and
//! bodies must be `application/json`: a foreign page cannot send either without a CORS
//! preflight, which is never granted (RFC 6454 §7 for `Origin`).

use std::time::{Duration, Instant};

use serde_json::json;

use super::access;
use super::handler::{Chat, Session};
use fullduplex::protocol::handshake::Request;
use fullduplex::protocol::Message;
use fullduplex::server::{Context, HttpRequest, Reply};

pub mod sessions;
pub mod sweeper;
pub mod visitor;
pub mod wire;

pub use sessions::Sessions;
pub use visitor::Visitor;
pub use wire::FallbackError;

/// Where the fallback's endpoints are.
pub const PREFIX: &str = "/fallback/";

/// The header that carries the session id.
pub const SESSION_HEADER: &str = "X-Fullduplex-Session";

/// How the fallback behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FallbackOptions {
    /// How long a poll is held when there is nothing to send. Default: 25 s (under the
    /// 60 s read timeout of common proxies).
    pub poll_timeout: Duration,
    /// A session with no request for this long expires and its user leaves the room. Default:
    /// 30 s. Keep it above `poll_timeout` (a waiting client's next poll comes after at most
    /// that long).
    pub expiry: Duration,
    /// Most bytes of messages a session may have unacknowledged; past it the session is
    /// closed (1008, `slow consumer`). Default: 4 MiB (a WebSocket's outbound queue bound).
    pub max_backlog: usize,
    /// Most sessions at once. Default: 10 000.
    pub max_sessions: usize,
}

impl Default for FallbackOptions {
    fn default() -> Self {
        Self {
            poll_timeout: Duration::from_secs(25),
            expiry: Duration::from_secs(30),
            max_backlog: 4 << 20,
            max_sessions: 10_000,
        }
    }
}

/// The largest body a fallback request may have: one message of `max_message` bytes in base64,
/// with room for the JSON around it.
pub fn max_body(max_message: usize) -> usize {
    max_message.div_ceil(3) * 4 + 4096
}

/// Serves one request to the fallback.
pub fn serve(chat: &Chat, ctx: &mut Context<'_>, request: &HttpRequest<'_>) -> Reply {
    let head = request.head();
    let endpoint = &head.path()[PREFIX.len()..];
    let result = check(chat, head).and_then(|()| match (head.method(), endpoint) {
        ("POST", "open") => open(chat, ctx, request.body()),
        ("GET", "poll") => poll(chat, request),
        ("POST", "send") => send(chat, ctx, head, request.body()),
        ("POST", "close") => close(chat, ctx, head),
        (_, "open" | "send" | "close") | (_, "poll") => Err(FallbackError::new(
            405,
            "method_not_allowed",
            "poll is GET; open, send and close are POST",
        )),
        _ => Err(FallbackError::new(
            404,
            "not_found",
            "no such fallback endpoint",
        )),
    });
    result.unwrap_or_else(|error| Reply::Now(error.response()))
}

/// The WebSocket's checks (token, `Origin`), and a JSON body for a `POST`.
fn check(chat: &Chat, head: &Request) -> Result<(), FallbackError> {
    let options = &chat.shared().options;
    if let Err(denied) = access::check(head, options.token.as_deref(), &options.allowed_origins) {
        let code = match denied.status() {
            401 => "unauthorized",
            _ => "forbidden",
        };
        return Err(FallbackError::new(denied.status(), code, denied.reason()));
    }
    let json = head
        .header_str("Content-Type")
        .and_then(|t| t.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"));
    if head.method() == "POST" && !json {
        return Err(FallbackError::new(
            415,
            "unsupported_media_type",
            "fallback requests send Content-Type: application/json",
        ));
    }
    Ok(())
}

/// The session id a request names.
fn session_id(head: &Request) -> Result<&str, FallbackError> {
    head.header_str(SESSION_HEADER)
        .map(str::trim)
        .filter(|sid| !sid.is_empty())
        .ok_or_else(|| {
            FallbackError::new(
                400,
                "no_session",
                format!("send the {SESSION_HEADER} header"),
            )
        })
}

fn open(chat: &Chat, ctx: &mut Context<'_>, body: &[u8]) -> Result<Reply, FallbackError> {
    let shared = chat.shared();
    let items = wire::parse_messages(body, shared.options.max_message_size)?;
    let sid = new_session_id()?;
    let now = Instant::now();
    shared.fallback.open(sid.clone(), now)?;
    let session = Session::new(&shared.options, chat.next_user_id());
    handle(chat, ctx, &sid, session, items, now);
    let options = &shared.options.fallback;
    let answer = json!({
        "sid": sid,
        "poll_timeout_ms": options.poll_timeout.as_millis() as u64,
        "expiry_ms": options.expiry.as_millis() as u64,
        "max_body_bytes": max_body(shared.options.max_message_size),
    });
    Ok(Reply::Now(wire::answer(200, &answer.to_string())))
}

fn send(
    chat: &Chat,
    ctx: &mut Context<'_>,
    head: &Request,
    body: &[u8],
) -> Result<Reply, FallbackError> {
    let sid = session_id(head)?;
    let items = wire::parse_messages(body, chat.shared().options.max_message_size)?;
    let now = Instant::now();
    let session = chat.shared().fallback.check_out(sid, now)?;
    handle(chat, ctx, sid, session, items, now);
    Ok(Reply::Now(no_content()))
}

/// Hands a session's messages to the chat, in order, as a WebSocket's would be; stops if the
/// server closes the session meanwhile.
fn handle(
    chat: &Chat,
    ctx: &mut Context<'_>,
    sid: &str,
    session: Session,
    items: Vec<wire::Item>,
    now: Instant,
) {
    let sessions = &chat.shared().fallback;
    let mut visitor = Visitor {
        sid,
        session,
        ctx,
        sessions,
        now,
        closed: false,
    };
    for item in &items {
        let message = match item {
            wire::Item::Text(text) => Message::Text(text),
            wire::Item::Binary(bytes) => Message::Binary(bytes),
        };
        chat.on_incoming(&mut visitor, message);
        if visitor.closed {
            break;
        }
    }
    sessions.check_in(sid, visitor.session);
}

fn poll(chat: &Chat, request: &HttpRequest<'_>) -> Result<Reply, FallbackError> {
    let head = request.head();
    let sid = session_id(head)?;
    let ack = match head.query_param("ack") {
        None => 0,
        Some(ack) => ack
            .parse()
            .map_err(|_| FallbackError::bad_request("ack is a sequence number"))?,
    };
    let answer = chat
        .shared()
        .fallback
        .poll(sid, ack, request.id(), Instant::now())?;
    Ok(match answer {
        Some(batch) => Reply::Now(wire::answer(200, &batch)),
        None => Reply::Later,
    })
}

fn close(chat: &Chat, ctx: &mut Context<'_>, head: &Request) -> Result<Reply, FallbackError> {
    let sid = session_id(head)?;
    if let Some((room, user)) = chat.shared().fallback.remove(sid)? {
        chat.announce_leave(ctx, &room, &user);
    }
    Ok(Reply::Now(no_content()))
}

fn no_content() -> fullduplex::server::HttpResponse {
    fullduplex::server::HttpResponse {
        status: 204,
        headers: vec![("Cache-Control".into(), "no-store".into())],
        body: Vec::new(),
    }
}

/// 128 bits from the operating system's random source, in hex.
fn new_session_id() -> Result<String, FallbackError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| {
        FallbackError::new(503, "no_randomness", format!("no random session id: {e}"))
    })?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}
