//! `fullduplex client`, run as a process against the echo testee and the chat: what it prints
//! for a close, for binary messages (hex lines, or raw bytes with `--binary-output raw`), and
//! for a refused handshake (the server's explanation).

use fullduplex::server::{RunningServer, Server, ServerConfig};

use crate::apps::echo::Echo;
use crate::cli::{free_port, run, Running};

fn echo_server() -> RunningServer {
    let config = ServerConfig {
        threads: 1,
        ..ServerConfig::default()
    };
    Server::new(config, Echo).bind("127.0.0.1:0").unwrap()
}

/// Runs `fullduplex client ARGS URL` with `input` on stdin: its exit code, stdout and stderr.
fn client(args: &[&str], url: &str, input: &[u8]) -> (Option<i32>, Vec<u8>, String) {
    let args = [&["client"], args, &[url]].concat();
    let output = run(&args, input);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output.status.code(), output.stdout, stderr)
}

#[test]
fn a_normal_close_is_printed_as_its_code_alone() {
    let server = echo_server();
    let url = format!("ws://{}/", server.local_addr());
    let (code, stdout, stderr) = client(&[], &url, b"hi\n");
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stdout, b"hi\n");
    assert_eq!(stderr, format!("connected to {url}\nclosed (1000)\n"));
    server.stop();
}

#[test]
fn binary_messages_are_hex_lines_or_raw_bytes() {
    let server = echo_server();
    let url = format!("ws://{}/", server.local_addr());
    let (code, stdout, stderr) = client(&["--binary"], &url, b"hello\nworld\n");
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        String::from_utf8_lossy(&stdout),
        "binary, 5 bytes: 68 65 6c 6c 6f\nbinary, 5 bytes: 77 6f 72 6c 64\n"
    );
    let raw = ["--binary", "--binary-output", "raw"];
    let (code, stdout, stderr) = client(&raw, &url, b"hello\nworld\n");
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stdout, b"helloworld");
    server.stop();
}

/// A chat run by the binary with `--token s3cret` on a free port; its address.
fn chat_with_a_token() -> (Running, String) {
    let port = free_port().to_string();
    let chat = Running::start(&["chat", "--addr", &port, "--token", "s3cret", "--quiet"]);
    chat.line_containing("open http://");
    (chat, format!("127.0.0.1:{port}"))
}

#[test]
fn a_refusal_shows_the_servers_explanation() {
    let (_chat, addr) = chat_with_a_token();
    let (code, _, stderr) = client(&[], &format!("ws://{addr}/ws"), b"");
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(
        stderr,
        format!(
            "fullduplex: cannot connect to ws://{addr}/ws: the server answered 401 \
             Unauthorized, not 101 Switching Protocols: a valid token is required \
             (?token=... or the token cookie)\n"
        )
    );
}

#[test]
fn the_chats_page_url_says_where_the_websocket_endpoint_is() {
    let (_chat, addr) = chat_with_a_token();
    let (code, _, stderr) = client(&[], &format!("ws://{addr}/?token=s3cret"), b"");
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("404 Not Found"), "{stderr}");
    assert!(
        stderr.contains("the chat's WebSocket endpoint is /ws"),
        "{stderr}"
    );
    let (code, _, stderr) = client(&[], &format!("ws://{addr}/ws?token=s3cret"), b"");
    assert_eq!(code, Some(0), "{stderr}");
}
