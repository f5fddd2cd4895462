//! The chat's plain HTTP routes: the page and its assets (embedded in the binary), `/healthz`,
//! `/metrics`, `/ws` asked for without an upgrade, and an upgrade asked for elsewhere.

use super::access::{self, TOKEN_NAME};
use super::handler::Shared;
use super::hub::Health;
use fullduplex::protocol::handshake::Request;
use std::sync::atomic::Ordering::Relaxed;

use fullduplex::server::prometheus::{Exposition, MetricKind, CONTENT_TYPE};
use fullduplex::server::{HttpResponse, ServerHandle};

/// Where the WebSocket endpoint is.
pub const WEBSOCKET_PATH: &str = "/ws";

const INDEX_HTML: &str = include_str!("page/index.html");
const APP_JS: &str = include_str!("page/app.js");
const TRANSPORT_JS: &str = include_str!("page/transport.js");
const STYLE_CSS: &str = include_str!("page/style.css");
const ICON_SVG: &str = include_str!("page/icon.svg");

/// What the page may load and connect to: only this server (`'self'` covers `ws:` and `wss:`
/// to the same host), images also from `blob:` URLs (received files).
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' blob:; connect-src 'self'; base-uri 'none'; form-action 'none'; \
    frame-ancestors 'none'";

/// Answers a plain HTTP request.
pub(crate) fn respond(
    request: &Request,
    shared: &Shared,
    handle: Option<&ServerHandle>,
) -> HttpResponse {
    if request.method() != "GET" {
        return HttpResponse::text(405, "only GET is served here").with_header("Allow", "GET");
    }
    match request.path() {
        "/" | "/index.html" => page(request, shared),
        "/app.js" => asset("text/javascript; charset=utf-8", APP_JS),
        "/transport.js" => asset("text/javascript; charset=utf-8", TRANSPORT_JS),
        "/style.css" => asset("text/css; charset=utf-8", STYLE_CSS),
        "/icon.svg" => asset("image/svg+xml", ICON_SVG),
        "/healthz" => health(shared, handle),
        "/metrics" => metrics(shared, handle),
        WEBSOCKET_PATH => websocket_without_upgrade(request, shared),
        _ => HttpResponse::not_found(),
    }
}

/// The page. A request that carries the right `?token=` also gets it as a cookie, so the
/// page's WebSocket presents it by itself.
fn page(request: &Request, shared: &Shared) -> HttpResponse {
    let response = asset("text/html; charset=utf-8", INDEX_HTML);
    match &shared.options.token {
        Some(token) if access::presents_token(request, token) => response.with_header(
            "Set-Cookie",
            &format!("{TOKEN_NAME}={token}; Path=/; HttpOnly; SameSite=Strict"),
        ),
        _ => response,
    }
}

fn asset(content_type: &str, body: &str) -> HttpResponse {
    HttpResponse::new(200, content_type, body)
        .with_header("Cache-Control", "no-cache")
        .with_header("X-Content-Type-Options", "nosniff")
        .with_header("Referrer-Policy", "no-referrer")
        .with_header("Content-Security-Policy", CSP)
}

/// 200 `ok`; 200 `degraded: why` when local chat works but the link to other nodes does
/// not (a load balancer should keep sending users here: this node still serves them); 503
/// while shutting down.
fn health(shared: &Shared, handle: Option<&ServerHandle>) -> HttpResponse {
    match handle {
        Some(handle) if !handle.is_shutting_down() => match shared.options.hub.health() {
            Health::Ok => HttpResponse::text(200, "ok"),
            Health::Degraded(why) => HttpResponse::text(200, &format!("degraded: {why}")),
        },
        _ => HttpResponse::text(503, "shutting down"),
    }
}

fn metrics(shared: &Shared, handle: Option<&ServerHandle>) -> HttpResponse {
    let Some(handle) = handle else {
        return HttpResponse::text(503, "starting");
    };
    let mut metrics = Exposition::new("fullduplex_");
    handle.stats().write_prometheus(&mut metrics);
    let census = shared.options.hub.census();
    metrics.gauge("chat_users", "Users in a room now.", census.users as u64);
    metrics.gauge("chat_rooms", "Rooms with a user now.", census.rooms as u64);
    let websocket_count = shared.counters.websocket_sessions.load(Relaxed);
    let fallback_count = shared.fallback.count() as u64;
    metrics.family(
        "chat_sessions",
        MetricKind::Gauge,
        "Chat sessions open now, by transport.",
        [
            (&[("transport", "websocket")][..], websocket_count),
            (&[("transport", "fallback")][..], fallback_count),
        ],
    );
    shared.counters.write_prometheus(&mut metrics);
    shared.fallback.counters.write_prometheus(&mut metrics);
    shared.options.hub.write_metrics(&mut metrics);
    HttpResponse::new(200, CONTENT_TYPE, metrics.into_string())
}

/// A WebSocket upgrade on another path than [`WEBSOCKET_PATH`]: 404, saying where the
/// endpoint is (a client pointed at the page's URL, `ws://host:port/`, shows it).
pub(crate) fn not_the_websocket_endpoint() -> HttpResponse {
    HttpResponse::text(
        404,
        &format!("the chat's WebSocket endpoint is {WEBSOCKET_PATH}, not this path"),
    )
}

/// `/ws` without an upgrade: what an upgrade would get, so the page can learn why its
/// WebSocket failed (a browser does not show the handshake's status to scripts).
fn websocket_without_upgrade(request: &Request, shared: &Shared) -> HttpResponse {
    let options = &shared.options;
    match access::check(request, options.token.as_deref(), &options.allowed_origins) {
        Err(denied) => HttpResponse::text(denied.status(), denied.reason()),
        Ok(()) => HttpResponse::text(426, "this is the chat's WebSocket endpoint")
            .with_header("Upgrade", "websocket"),
    }
}
