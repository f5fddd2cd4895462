//! The chat as a [`Handler`]: who may connect, what each message does, and who is told when
//! someone comes and goes.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use super::counters::Counters;
use super::fallback::{self, Sessions};
use super::files::{self, Relay};
use super::hub::{Hub, Reach};
use super::limit::{RateLimiter, Verdict};
use super::member::{Me, Member};
use super::protocol::{
    self, ClientMessage, ErrorCode, NoticeCode, PageLimits, Rejection, ServerMessage, User,
};
use super::{access, routes, validate, ChatOptions};
use fullduplex::protocol::close::CloseCode;
use fullduplex::protocol::handshake::{ClientOffer, Request};
use fullduplex::protocol::{DataKind, Message};
use fullduplex::server::{
    CloseInfo, Conn, ConnId, Context, Handler, HttpRequest, HttpResponse, Reply, ServerHandle,
    Upgrade,
};

/// The chat application: one clone per worker thread, sharing its options and counters.
#[derive(Clone)]
pub struct Chat {
    shared: Arc<Shared>,
    handle: Option<ServerHandle>,
}

/// What every worker's clone shares.
pub(crate) struct Shared {
    pub(crate) options: ChatOptions,
    pub(crate) counters: Counters,
    /// The HTTP fallback's sessions.
    pub(crate) fallback: Arc<Sessions>,
    /// The last user id given out.
    next_user: AtomicU64,
    /// Whether the fallback's sweeper was started (by the first worker).
    sweeping: AtomicBool,
}

/// A message from a client, read but not yet acted on.
enum Incoming<'a> {
    /// A JSON text message.
    Text(ClientMessage),
    /// A file upload.
    File(&'a [u8]),
}

/// What a message draws on in the sender's rate limits.
#[derive(Debug, Clone, Copy)]
enum Cost {
    /// A chat message, a join, a file, or anything unreadable: one message and its bytes.
    Message {
        /// Its payload's size.
        bytes: usize,
    },
    /// A typing notice: one from its own bucket.
    Typing,
}

/// One user's state, on a WebSocket connection or a fallback session.
pub struct Session {
    pub(crate) user: User,
    pub(crate) room: Option<String>,
    limiter: RateLimiter,
}

impl Session {
    /// A user not yet in a room, with this id.
    pub(crate) fn new(options: &ChatOptions, id: String) -> Self {
        Self {
            user: User {
                id,
                nick: String::new(),
            },
            room: None,
            limiter: RateLimiter::new(&options.rate, options.max_message_size),
        }
    }
}

impl Chat {
    /// A chat with these options.
    pub fn new(options: ChatOptions) -> Self {
        Self {
            shared: Arc::new(Shared {
                fallback: Arc::new(Sessions::new(options.fallback.clone())),
                options,
                counters: Counters::default(),
                next_user: AtomicU64::new(0),
                sweeping: AtomicBool::new(false),
            }),
            handle: None,
        }
    }

    pub(crate) fn hub(&self) -> &dyn Hub {
        &*self.shared.options.hub
    }

    pub(crate) fn shared(&self) -> &Shared {
        &self.shared
    }

    /// A new user's id, unique wherever they are seen.
    pub(crate) fn next_user_id(&self) -> String {
        let number = self.shared.next_user.fetch_add(1, Relaxed) + 1;
        self.hub().user_id(number)
    }

    /// Delivers a room event to its members on both transports, but `except`.
    fn publish(
        &self,
        ctx: &mut Context<'_>,
        room: &str,
        kind: DataKind,
        payload: &[u8],
        except: Option<Me>,
    ) -> Reach {
        let socket = except.as_ref().and_then(Me::socket);
        let reach = self.hub().publish(ctx, room, kind, payload, socket);
        let fallback = except.as_ref().and_then(Me::fallback);
        self.shared.fallback.deliver(room, kind, payload, fallback);
        reach
    }

    /// Delivers a `joined` or `left` notice to the room's members on both transports.
    fn announce(&self, ctx: &mut Context<'_>, room: &str, notice: &[u8], except: Option<Me>) {
        let socket = except.as_ref().and_then(Me::socket);
        self.hub().announce(ctx, room, notice, socket);
        let fallback = except.as_ref().and_then(Me::fallback);
        self.shared
            .fallback
            .deliver(room, DataKind::Text, notice, fallback);
    }

    fn log(&self, line: std::fmt::Arguments<'_>) {
        if self.shared.options.log {
            eprintln!("chat: {line}");
        }
    }

    fn limits(&self) -> PageLimits {
        PageLimits {
            max_file_bytes: max_file_bytes(self.shared.options.max_message_size),
            max_text_chars: validate::MAX_TEXT_CHARS,
            max_nick_chars: validate::MAX_NICK_CHARS,
        }
    }

    /// Checks a message against the sender's rate limits; `false` if it must be dropped. A
    /// message or file over them is answered with `rate_limited` and when to retry; a typing
    /// notice over its own budget is dropped unanswered (it is only a hint); a sender who
    /// keeps going far past the limits is closed with 1008.
    fn admit<'a>(&self, conn: &mut impl Member<'a>, cost: Cost) -> bool {
        let counters = &self.shared.counters;
        let now = conn.now();
        let limiter = &mut conn.session().limiter;
        let verdict = match cost {
            Cost::Message { bytes } => limiter.check(now, bytes),
            Cost::Typing => limiter.check_typing(now),
        };
        match verdict {
            Verdict::Pass => true,
            Verdict::Limited { retry_after } => {
                counters.rate_limited.fetch_add(1, Relaxed);
                if let Cost::Message { .. } = cost {
                    send_error(conn, &Rejection::rate_limited(retry_after));
                }
                false
            }
            Verdict::Abuse => {
                // RFC 6455 §7.4.1: 1008 "a message that violates its policy". Messages
                // already on their way find the close begun and are dropped.
                if conn.close(CloseCode::PolicyViolation, "rate limit exceeded") {
                    counters.abuse_closes.fetch_add(1, Relaxed);
                    let who = &conn.session().user;
                    self.log(format_args!(
                        "#{} {:?} closed: rate limit exceeded",
                        who.id, who.nick
                    ));
                }
                false
            }
        }
    }

    fn on_text<'a>(
        &self,
        conn: &mut impl Member<'a>,
        message: ClientMessage,
    ) -> Result<(), Rejection> {
        match message {
            ClientMessage::Join { nick, room } => self.join(conn, &nick, &room),
            ClientMessage::Message { text } => self.say(conn, &text),
            ClientMessage::Typing => {
                let (user, room) = joined(conn)?;
                let json = ServerMessage::Typing { user: &user }.to_json();
                let except = Some(conn.me());
                self.publish(conn.ctx(), &room, DataKind::Text, json.as_bytes(), except);
                Ok(())
            }
        }
    }

    fn join<'a>(
        &self,
        conn: &mut impl Member<'a>,
        nick: &str,
        room: &str,
    ) -> Result<(), Rejection> {
        let nick = validate::nick(nick)?;
        let room = validate::room(room)?;
        self.leave_room(conn);
        let session = conn.session();
        session.user.nick = nick;
        session.room = Some(room.clone());
        let user = session.user.clone();
        conn.enter(&room);
        let users = self.hub().enter(&room, &user);
        let welcome = ServerMessage::Welcome {
            you: &user,
            room: &room,
            users: &users,
            text: greeting(&user.nick, &room, users.len()),
            limits: self.limits(),
        };
        conn.send_now(&welcome.to_json());
        let joined = ServerMessage::Joined {
            user: &user,
            time: now_millis(),
        };
        let except = Some(conn.me());
        let json = joined.to_json();
        self.announce(conn.ctx(), &room, json.as_bytes(), except);
        self.log(format_args!(
            "#{} joined #{room} as {:?}",
            user.id, user.nick
        ));
        Ok(())
    }

    fn leave_room<'a>(&self, conn: &mut impl Member<'a>) {
        let session = conn.session();
        let Some(room) = session.room.take() else {
            return;
        };
        let user = session.user.clone();
        conn.exit(&room);
        self.announce_leave(conn.ctx(), &room, &user);
    }

    pub(crate) fn announce_leave(&self, ctx: &mut Context<'_>, room: &str, user: &User) {
        if self.hub().leave(room, &user.id) {
            let left = ServerMessage::Left {
                user,
                time: now_millis(),
            };
            let json = left.to_json();
            self.announce(ctx, room, json.as_bytes(), None);
        }
    }

    fn say<'a>(&self, conn: &mut impl Member<'a>, text: &str) -> Result<(), Rejection> {
        let (user, room) = joined(conn)?;
        let text = validate::text(text)?;
        let message = ServerMessage::Message {
            from: &user,
            text,
            time: now_millis(),
        };
        let json = message.to_json();
        let reach = self.publish(conn.ctx(), &room, DataKind::Text, json.as_bytes(), None);
        self.shared.counters.chat_messages.fetch_add(1, Relaxed);
        tell_reach(conn, reach);
        Ok(())
    }

    fn on_file<'a>(&self, conn: &mut impl Member<'a>, data: &[u8]) -> Result<(), Rejection> {
        let (user, room) = joined(conn)?;
        let (upload, bytes) = files::parse_upload(data)?;
        let max = max_file_bytes(self.shared.options.max_message_size);
        if bytes.len() > max {
            let why = format!("files are limited to {max} bytes");
            return Err(Rejection::new(ErrorCode::TooLarge, why));
        }
        let relay = Relay {
            kind: "file",
            from: &user,
            name: &upload.name,
            mime: files::trusted_mime(&upload.mime, bytes),
            size: bytes.len(),
            time: now_millis(),
        };
        let message = files::encode_relay(&relay, bytes);
        let reach = self.publish(conn.ctx(), &room, DataKind::Binary, &message, None);
        self.shared.counters.files.fetch_add(1, Relaxed);
        tell_reach(conn, reach);
        Ok(())
    }

    /// Acts on one message from a member, on either transport.
    pub(crate) fn on_incoming<'a>(&self, conn: &mut impl Member<'a>, message: Message<'_>) {
        let cost = Cost::Message {
            bytes: message.as_bytes().len(),
        };
        let incoming = match message {
            Message::Text(text) => protocol::parse(text).map(Incoming::Text),
            Message::Binary(data) => Ok(Incoming::File(data)),
        };
        let cost = match incoming {
            Ok(Incoming::Text(ClientMessage::Typing)) => Cost::Typing,
            _ => cost,
        };
        if !self.admit(conn, cost) {
            return;
        }
        let result = incoming.and_then(|incoming| match incoming {
            Incoming::Text(message) => self.on_text(conn, message),
            Incoming::File(data) => self.on_file(conn, data),
        });
        if let Err(rejection) = result {
            self.shared.counters.bad_input.fetch_add(1, Relaxed);
            send_error(conn, &rejection);
        }
    }
}

impl Handler for Chat {
    type Session = Session;

    fn on_start(&mut self, handle: &ServerHandle) {
        self.hub().start(handle, &self.shared.fallback);
        self.handle = Some(handle.clone());
        if !self.shared.sweeping.swap(true, Relaxed) {
            fallback::sweeper::spawn(self.clone(), handle.clone());
        }
    }

    fn upgrade(&mut self, request: &Request, _: &ClientOffer) -> Upgrade<Session> {
        if request.path() != routes::WEBSOCKET_PATH {
            return Upgrade::Reject(routes::not_the_websocket_endpoint());
        }
        let options = &self.shared.options;
        if let Err(denied) =
            access::check(request, options.token.as_deref(), &options.allowed_origins)
        {
            return Upgrade::reject(denied.status(), denied.reason());
        }
        Upgrade::accept(Session::new(options, String::new()))
    }

    fn on_open(&mut self, conn: &mut Conn<'_, Session>) {
        let id = self.next_user_id();
        self.shared
            .counters
            .websocket_sessions
            .fetch_add(1, Relaxed);
        self.log(format_args!("#{id} connected from {}", conn.peer_addr()));
        conn.session().user.id = id;
    }

    fn on_message(&mut self, conn: &mut Conn<'_, Session>, message: Message<'_>) {
        self.on_incoming(conn, message);
    }

    fn on_close(&mut self, ctx: &mut Context<'_>, _: ConnId, session: Session, info: &CloseInfo) {
        self.shared
            .counters
            .websocket_sessions
            .fetch_sub(1, Relaxed);
        if let Some(room) = &session.room {
            if ctx.handle().is_shutting_down() {
                // A server shutting down closes everyone at once: nobody left the room, and a
                // "left" that reaches a page before its own close would leave it showing half
                // the room as the last list it saw. Other nodes hear this node's goodbye.
                self.hub().leave(room, &session.user.id);
            } else {
                self.announce_leave(ctx, room, &session.user);
            }
        }
        let User { id, nick } = &session.user;
        let reason = match info.reason.as_str() {
            "" => String::new(),
            reason => format!(": {reason}"),
        };
        self.log(format_args!(
            "#{id} {nick:?} disconnected ({}{reason})",
            info.code
        ));
    }

    fn on_http(&mut self, request: &Request) -> HttpResponse {
        routes::respond(request, &self.shared, self.handle.as_ref())
    }

    fn on_request(&mut self, ctx: &mut Context<'_>, request: &HttpRequest<'_>) -> Reply {
        if request.head().path().starts_with(fallback::PREFIX) {
            return fallback::serve(self, ctx, request);
        }
        Reply::Now(self.on_http(request.head()))
    }
}

/// The user and room of a member who has joined one.
fn joined<'a>(conn: &mut impl Member<'a>) -> Result<(User, String), Rejection> {
    let session = conn.session();
    match &session.room {
        Some(room) => Ok((session.user.clone(), room.clone())),
        None => Err(Rejection::new(
            ErrorCode::NotJoined,
            "join a room first: {\"type\":\"join\",\"nick\":...,\"room\":...}",
        )),
    }
}

/// Tells the sender when their message reached only this server's members (queued behind
/// the message itself, so it arrives after it).
fn tell_reach<'a>(conn: &mut impl Member<'a>, reach: Reach) {
    if reach == Reach::LocalOnly {
        let notice = ServerMessage::Notice {
            code: NoticeCode::LocalOnly,
            message: "the link to the other servers is down: only people on this server got \
                      your last message",
        };
        conn.send_after(&notice.to_json());
    }
}

/// Answers a refused message. The error goes through the same queue as the room's messages,
/// so the sender gets the answers to its messages (its own copy, or an error) in the order it
/// sent them.
fn send_error<'a>(conn: &mut impl Member<'a>, rejection: &Rejection) {
    let error = ServerMessage::Error {
        code: rejection.code,
        message: &rejection.message,
        retry_after_ms: rejection.retry_after_ms(),
    };
    conn.send_after(&error.to_json());
}

/// The largest file that fits a message of `max_message` bytes with its header.
pub fn max_file_bytes(max_message: usize) -> usize {
    max_message.saturating_sub(2 + files::MAX_HEADER_BYTES)
}

fn greeting(nick: &str, room: &str, present: usize) -> String {
    let others = match present.saturating_sub(1) {
        0 => "You are the first one here.".to_owned(),
        1 => "1 other person is here.".to_owned(),
        n => format!("{n} other people are here."),
    };
    format!("Welcome to #{room}, {nick}! {others}")
}

/// The wall-clock time in milliseconds since the Unix epoch (for timestamps people read).
pub(crate) fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
