//! An axum application whose `/ws` route hands its WebSocket connections to fullduplex's tokio
//! adapter, beside a plain HTTP route: `/` answers text, `/ws` echoes every data message.
//!
//! axum (through hyper) reads the request and sends the `101 Switching Protocols` response;
//! [`Negotiation::from_headers`] computes that response's headers from the request (the accept
//! key, the subprotocol `chat` when the client offers it, permessage-deflate when it offers
//! that) or the status to refuse it with ([`HandshakeError::status`]), and [`from_upgraded`]
//! runs the connection on the upgraded I/O (RFC 6455 §4.2.2).
//!
//! ```sh
//! cargo run --example axum_route --features tokio                # http://127.0.0.1:3000
//! cargo run --example axum_route --features tokio -- 127.0.0.1:0
//! ```
//!
//! `tests/tokio_hyper.rs` runs this application's [`app`] with clients of both fullduplex
//! and tokio-tungstenite.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;
use hyper_util::rt::TokioIo;

use fullduplex::config::DeflateConfig;
use fullduplex::tokio::{from_upgraded, Negotiation, Role, WebSocketStream};
use fullduplex::{Config, HandshakeError};

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or("127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    let addr = listener.local_addr()?;
    println!("listening on http://{addr} (WebSocket: ws://{addr}/ws)");
    axum::serve(listener, app(config())).await
}

/// The WebSocket connections' config: the defaults, with permessage-deflate accepted.
pub fn config() -> Arc<Config> {
    Arc::new(Config {
        deflate: Some(DeflateConfig::default()),
        ..Config::default()
    })
}

/// The application: `/` in plain HTTP, `/ws` for WebSocket clients.
pub fn app(config: Arc<Config>) -> Router {
    Router::new()
        .route(
            "/",
            get(|| async { "fullduplex under axum: connect to /ws\n" }),
        )
        .route("/ws", any(websocket))
        .with_state(config)
}

/// The `/ws` route: answers the opening handshake, then echoes on a task of its own.
async fn websocket(State(config): State<Arc<Config>>, mut request: Request) -> Response {
    let headers = request.headers().iter();
    let headers = headers.map(|(name, value)| (name.as_str(), value.as_bytes()));
    let negotiation = match Negotiation::from_headers(request.method().as_str(), headers, &config) {
        Ok(negotiation) => negotiation.with_subprotocol(Some("chat")),
        Err(error) => return refusal(&error),
    };
    let upgrade = hyper::upgrade::on(&mut request);
    let mut response = Response::builder().status(StatusCode::SWITCHING_PROTOCOLS);
    for (name, value) in negotiation.response_headers() {
        response = response.header(name, value);
    }
    tokio::spawn(async move {
        let upgraded = match upgrade.await {
            Ok(upgraded) => TokioIo::new(upgraded),
            Err(e) => return eprintln!("the upgrade failed: {e}"),
        };
        let subprotocol = negotiation.subprotocol().map(str::to_owned);
        let ws = from_upgraded(
            upgraded,
            Role::Server,
            config,
            negotiation.deflate(),
            subprotocol,
        );
        if let Err(e) = echo(ws).await {
            eprintln!("{e}");
        }
    });
    response.body(Body::empty()).expect("a valid response")
}

/// The answer to a request that is not a valid opening handshake: its status and reason, with
/// `Sec-WebSocket-Version: 13` on a 426 (RFC 6455 §4.4) and `Allow: GET` on a 405.
fn refusal(error: &HandshakeError) -> Response {
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let mut response = (status, format!("{}\n", error.reason())).into_response();
    let headers = response.headers_mut();
    match status {
        StatusCode::UPGRADE_REQUIRED => {
            headers.insert("sec-websocket-version", "13".parse().expect("a value"));
            headers.insert(header::UPGRADE, "websocket".parse().expect("a value"));
        }
        StatusCode::METHOD_NOT_ALLOWED => {
            headers.insert(header::ALLOW, "GET".parse().expect("a value"));
        }
        _ => {}
    }
    response
}

/// Sends every data message back until the client closes.
async fn echo<S>(mut ws: WebSocketStream<S>) -> Result<(), fullduplex::tokio::Error>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    while let Some(message) = ws.recv().await? {
        if message.is_data() {
            ws.send(message).await?;
        }
    }
    Ok(())
}
