//! The chat as operators and browsers meet it: token and origin checks, the page, `/healthz`,
//! `/metrics`, permessage-deflate, graceful shutdown, and the `fullduplex` command line.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use crate::apps::chat::hub::{Census, Reach};
use crate::apps::chat::protocol::User;
use crate::apps::chat::{ChatOptions, Hub, LocalHub};
use fullduplex::client::{ClientError, ClientOptions};
use fullduplex::config::DeflateConfig;
use fullduplex::protocol::{CloseCode, DataKind};
use fullduplex::server::{ConnId, Context};
use serde_json::json;

use super::support::{http_get, start, threads, ws_url, Client};

fn refused_with(result: Result<Client, ClientError>) -> u16 {
    match result {
        Err(ClientError::Refused(refusal)) => refusal.status,
        Err(other) => panic!("expected an HTTP refusal, got {other}"),
        Ok(_) => panic!("expected a refusal, the handshake succeeded"),
    }
}

fn with_headers(headers: &[(&str, &str)], origin: Option<String>) -> ClientOptions {
    ClientOptions {
        headers: headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect(),
        origin,
        ..ClientOptions::default()
    }
}

#[test]
fn a_token_is_required_by_query_or_cookie_else_401() {
    let server = start(ChatOptions {
        token: Some("s3cret".into()),
        ..threads(1)
    });
    let addr = server.local_addr();
    let none = ClientOptions::default();
    assert_eq!(
        refused_with(Client::connect_with(&ws_url(addr, ""), &none)),
        401
    );
    let wrong = ws_url(addr, "?token=guess");
    assert_eq!(refused_with(Client::connect_with(&wrong, &none)), 401);
    assert!(Client::connect_with(&ws_url(addr, "?token=s3cret"), &none).is_ok());
    let cookie = with_headers(&[("Cookie", "theme=dark; token=s3cret")], None);
    assert!(Client::connect_with(&ws_url(addr, ""), &cookie).is_ok());

    // The page hands a valid query token over as a cookie; /ws explains a refusal.
    let (status, head, _) = http_get(addr, "/?token=s3cret", "");
    assert_eq!(status, 200);
    assert!(head.contains("Set-Cookie: token=s3cret; Path=/; HttpOnly; SameSite=Strict"));
    assert!(!http_get(addr, "/", "").1.contains("Set-Cookie"));
    assert_eq!(http_get(addr, "/ws", "").0, 401);
    assert_eq!(http_get(addr, "/ws?token=s3cret", "").0, 426);
    let rejects = server.handle().stats().handshake_rejects;
    assert_eq!(rejects.get("401 refused by the application"), Some(&2));
}

#[test]
fn other_origins_are_refused_with_403() {
    let server = start(threads(1));
    let addr = server.local_addr();
    let url = ws_url(addr, "");
    let evil = with_headers(&[], Some("http://evil.example".into()));
    assert_eq!(refused_with(Client::connect_with(&url, &evil)), 403);
    let own = with_headers(&[], Some(format!("http://{addr}")));
    assert!(Client::connect_with(&url, &own).is_ok());

    let server = start(ChatOptions {
        allowed_origins: vec!["https://chat.example".into()],
        ..threads(1)
    });
    let addr = server.local_addr();
    let url = ws_url(addr, "");
    let listed = with_headers(&[], Some("https://chat.example".into()));
    assert!(Client::connect_with(&url, &listed).is_ok());
    let own = with_headers(&[], Some(format!("http://{addr}")));
    assert_eq!(refused_with(Client::connect_with(&url, &own)), 403);
}

#[test]
fn the_page_and_its_assets_are_served_with_a_strict_policy() {
    let server = start(threads(1));
    let addr = server.local_addr();
    let (status, head, body) = http_get(addr, "/", "");
    assert_eq!(status, 200);
    assert!(head.contains("Content-Type: text/html; charset=utf-8"));
    assert!(head.contains("Content-Security-Policy: default-src 'none'; script-src 'self'"));
    assert!(body.contains("<script src=\"/app.js\" defer></script>"));
    for (path, kind) in [
        ("/app.js", "text/javascript"),
        ("/style.css", "text/css"),
        ("/icon.svg", "image/svg+xml"),
    ] {
        let (status, head, _) = http_get(addr, path, "");
        assert_eq!(status, 200, "{path}");
        assert!(
            head.contains(&format!("Content-Type: {kind}")),
            "{path}: {head}"
        );
    }
    assert!(http_get(addr, "/app.js", "")
        .2
        .contains(".textContent = msg.text"));
    assert_eq!(http_get(addr, "/nope", "").0, 404);
    let mut tcp = std::net::TcpStream::connect(addr).unwrap();
    std::io::Write::write_all(
        &mut tcp,
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let mut answer = String::new();
    std::io::Read::read_to_string(&mut tcp, &mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 405"), "{answer}");
}

#[test]
fn healthz_and_metrics_over_plain_http() {
    let server = start(threads(2));
    let addr = server.local_addr();
    let (status, _, body) = http_get(addr, "/healthz", "");
    assert_eq!((status, body.as_str()), (200, "ok\n"));

    let (mut ada, _) = Client::joined(addr, "Ada", "lobby");
    ada.send(json!({"type": "message", "text": "counted"}));
    ada.expect("message");
    let evil = with_headers(&[], Some("http://evil.example".into()));
    let _ = Client::connect_with(&ws_url(addr, ""), &evil);

    let (status, head, body) = http_get(addr, "/metrics", "");
    assert_eq!(status, 200);
    assert!(head.contains("Content-Type: text/plain; version=0.0.4"));
    for line in [
        "fullduplex_open_connections 1\n",
        "fullduplex_messages_in_total 2\n",
        "fullduplex_broadcasts_total 2\n",
        "fullduplex_slow_consumer_drops_total 0\n",
        "fullduplex_handshake_rejects_total{status=\"403\",reason=\"refused by the application\"} 1\n",
        "fullduplex_chat_users 1\n",
        "fullduplex_chat_rooms 1\n",
        "fullduplex_chat_messages_total 1\n",
        "# TYPE fullduplex_bytes_out_total counter\n",
    ] {
        assert!(body.contains(line), "missing {line:?} in\n{body}");
    }
}

#[test]
fn permessage_deflate_is_accepted_by_default() {
    let server = start(threads(1));
    let options = ClientOptions {
        config: fullduplex::Config {
            deflate: Some(DeflateConfig::default()),
            ..Default::default()
        },
        ..ClientOptions::default()
    };
    let mut ada = Client::connect_with(&ws_url(server.local_addr(), ""), &options).unwrap();
    let extensions = &ada.ws.response().extensions;
    assert!(
        extensions.iter().any(|e| e.name == "permessage-deflate"),
        "{extensions:?}"
    );
    ada.send(json!({"type": "join", "nick": "Ada", "room": "lobby"}));
    ada.expect("welcome");
    let long = "compressible ".repeat(100);
    ada.send(json!({"type": "message", "text": long}));
    assert_eq!(ada.expect("message")["text"], long.trim_end());
}

#[test]
fn shutdown_closes_every_client_with_1001() {
    let server = start(threads(2));
    let addr = server.local_addr();
    let (mut ada, _) = Client::joined(addr, "Ada", "lobby");
    let (mut grace, _) = Client::joined(addr, "Grace", "lobby");
    ada.expect("joined");
    server.handle().shutdown();
    assert_eq!(ada.expect_close(), CloseCode::GoingAway);
    assert_eq!(grace.expect_close(), CloseCode::GoingAway);
}

/// The room notices a hub is asked to deliver, each with whether the server was shutting down.
#[derive(Default)]
struct RecordingHub {
    inner: LocalHub,
    notices: Mutex<Vec<(bool, String)>>,
}

impl Hub for RecordingHub {
    fn enter(&self, room: &str, user: &User) -> Vec<User> {
        self.inner.enter(room, user)
    }

    fn leave(&self, room: &str, user_id: &str) -> bool {
        self.inner.leave(room, user_id)
    }

    fn publish(
        &self,
        ctx: &mut Context<'_>,
        room: &str,
        kind: DataKind,
        payload: &[u8],
        except: Option<ConnId>,
    ) -> Reach {
        self.inner.publish(ctx, room, kind, payload, except)
    }

    fn announce(&self, ctx: &mut Context<'_>, room: &str, notice: &[u8], except: Option<ConnId>) {
        let shutting_down = ctx.handle().is_shutting_down();
        let text = String::from_utf8_lossy(notice).into_owned();
        self.notices.lock().unwrap().push((shutting_down, text));
        self.inner.announce(ctx, room, notice, except);
    }

    fn census(&self) -> Census {
        self.inner.census()
    }
}

/// A server going away closes everyone at once: nobody left the room, so no `left` notice is
/// sent (with two workers, one sent by a worker could reach a client of the other before its
/// own Close, and its page would show half the room as the last list it saw).
#[test]
fn a_shutdown_tells_nobody_that_the_others_left() {
    let hub = Arc::new(RecordingHub::default());
    let server = start(ChatOptions {
        hub: hub.clone(),
        ..threads(2)
    });
    let addr = server.local_addr();
    let (mut ada, _) = Client::joined(addr, "Ada", "lobby");
    let (mut grace, _) = Client::joined(addr, "Grace", "lobby");
    ada.expect("joined");
    server.handle().shutdown();
    assert_eq!(ada.expect_close(), CloseCode::GoingAway);
    assert_eq!(grace.expect_close(), CloseCode::GoingAway);
    drop((ada, grace));
    drop(server);
    let notices = hub.notices.lock().unwrap();
    assert_eq!(notices.len(), 2, "the two joins: {notices:?}");
    assert!(
        notices.iter().all(|(shutting_down, _)| !shutting_down),
        "{notices:?}"
    );
}

fn fullduplex(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_fullduplex"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("the binary runs")
}

#[test]
fn bad_arguments_say_what_is_wrong() {
    let cases: [(&[&str], &str); 6] = [
        (
            &["chat", "--addr", "nonsense"],
            "invalid value 'nonsense' for '--addr <ADDR>': no port: write PORT",
        ),
        (&["chat", "--rate-messages", "0"], "--rate-messages <N>"),
        (
            &["chat", "--max-message-size", "12"],
            "out of range: between 1K and 64M",
        ),
        (
            &["chat", "--allowed-origin", "evil.example"],
            "is not an origin",
        ),
        (
            &["chat", "--token", "has space"],
            "a token is 1 to 256 letters",
        ),
        (&["chat", "--tls-cert", "cert.pem"], "--tls-key <FILE>"),
    ];
    for (args, expected) in cases {
        let output = fullduplex(args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let output = fullduplex(&["chat", "--addr", &addr, "--quiet"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("is already in use"), "{stderr}");
}

#[test]
fn the_binary_serves_the_chat_and_stops_cleanly_on_sigint() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fullduplex"))
        .args(["chat", "--addr", "127.0.0.1:0", "--quiet"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let url = (0..5)
        .find_map(|_| {
            let mut line = String::new();
            stdout.read_line(&mut line).ok()?;
            let at = line.find("open http://")?;
            Some(line[at + 5..].split_whitespace().next()?.to_owned())
        })
        .expect("the chat prints its URL");
    let addr = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .expect("the URL names an address");
    assert_eq!(http_get(addr, "/healthz", "").0, 200);
    let (mut ada, _) = Client::joined(addr, "Ada", "lobby");
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    assert!(killed.unwrap().success());
    assert_eq!(ada.expect_close(), CloseCode::GoingAway);
    // Closing our side lets the server finish at once rather than at its close timeout.
    drop(ada);
    assert!(child.wait().unwrap().success());
}
