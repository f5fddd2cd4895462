//! The blocking client: connect, send a text and a binary message, print what comes back,
//! close.
//!
//! ```text
//! cargo run --example echo_server --features runtime          (in one terminal)
//! cargo run --example client --features runtime -- [URL]      (default ws://127.0.0.1:9002/)
//! ```

use std::process::ExitCode;
use std::time::Duration;

use fullduplex::client::{connect, ClientError};
use fullduplex::protocol::{CloseCode, OwnedEvent};

fn main() -> ExitCode {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "ws://127.0.0.1:9002/".into());
    match run(&url) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // `ClientError` displays as a sentence: "connection refused", "handshake failed: …".
            eprintln!("{url}: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(url: &str) -> Result<(), ClientError> {
    // TCP, then the opening handshake (RFC 6455 §4.1): our request with a random key, and the
    // server's 101 checked against it.
    let mut ws = connect(url)?;
    println!("connected to {url}");

    ws.send_text("Hello, WebSocket!")?;
    ws.send_binary(&[0xde, 0xad, 0xbe, 0xef])?;
    // Wait at most this long for each event; past it `recv` returns an error.
    ws.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut echoes = 0;
    while echoes < 2 {
        match ws.recv()? {
            OwnedEvent::Text(text) => println!("received text: {text}"),
            OwnedEvent::Binary(bytes) => println!("received binary: {bytes:02x?}"),
            OwnedEvent::Closed { code, reason } => {
                println!("the server closed the connection: {code} {reason}");
                return Ok(());
            }
            // A Ping (its Pong already sent), or a Pong.
            _ => continue,
        }
        echoes += 1;
    }

    // The close handshake (RFC 6455 §7.1.2): our Close frame, the server's answer, then the
    // server closes the TCP connection (§7.1.1).
    let (code, reason) = ws.close(CloseCode::Normal, "done", Duration::from_secs(5))?;
    println!("closed: {code} {reason:?}");
    Ok(())
}
