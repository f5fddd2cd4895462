//! `fullduplex client URL`: a WebSocket client for people, like websocat. Lines typed on
//! stdin go out as messages; messages received are printed on stdout; notices go to stderr.

use std::io::{BufRead, Write};
use std::sync::mpsc;
use std::time::Duration;

use clap::Args;

use fullduplex::client::{connect_with, ClientError, ClientOptions};
use fullduplex::config::DeflateConfig;
use fullduplex::protocol::{CloseCode, OwnedEvent};

use super::tls::{self, TrustArgs};

/// `fullduplex client` options.
#[derive(Args, Debug)]
pub struct ClientArgs {
    /// The URL to connect to (ws://host:port/path or wss://…).
    pub url: String,
    /// Send each line as a binary message instead of text.
    #[arg(long)]
    pub binary: bool,
    /// How to print binary messages received: `hex` (a line with the length and the first
    /// bytes) or `raw` (the bytes as they came, nothing added).
    #[arg(long, value_enum, value_name = "FORM", default_value_t = BinaryOutput::Hex)]
    pub binary_output: BinaryOutput,
    /// Offer this subprotocol (repeatable, in order of preference).
    #[arg(long = "subprotocol", value_name = "NAME")]
    pub subprotocols: Vec<String>,
    /// Add a request header, as "Name: value" (repeatable).
    #[arg(long = "header", value_name = "NAME: VALUE", value_parser = parse_header)]
    pub headers: Vec<(String, String)>,
    /// Send this Origin header.
    #[arg(long)]
    pub origin: Option<String>,
    /// Offer permessage-deflate.
    #[arg(long)]
    pub deflate: bool,
    /// How to trust the server's certificate for wss://.
    #[command(flatten)]
    pub trust: TrustArgs,
}

/// How `fullduplex client` prints a binary message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum BinaryOutput {
    /// One line: `binary, 5 bytes: 68 65 6c 6c 6f`, cut after 32 bytes.
    Hex,
    /// The bytes as received, with nothing added (for piping to a file).
    Raw,
}

/// Bytes of a binary message shown in hex before the line is cut.
const HEX_SHOWN: usize = 32;

/// A binary message as one line: its length, then its first bytes in hex.
fn describe_binary(data: &[u8]) -> String {
    let plural = if data.len() == 1 { "" } else { "s" };
    let mut line = format!("binary, {} byte{plural}", data.len());
    if !data.is_empty() {
        line.push(':');
    }
    for byte in data.iter().take(HEX_SHOWN) {
        line += &format!(" {byte:02x}");
    }
    if data.len() > HEX_SHOWN {
        line += " …";
    }
    line
}

/// A close code with its reason, if any, in parentheses: `(1000)`, `(1001: going away)`.
fn close_note(code: CloseCode, reason: &str) -> String {
    match reason {
        "" => format!("({code})"),
        reason => format!("({code}: {reason})"),
    }
}

/// Prints a message received on stdout: text as a line, binary as `--binary-output` says.
fn print_message(stdout: &mut impl Write, event: &OwnedEvent, output: BinaryOutput) {
    let _ = match (event, output) {
        (OwnedEvent::Text(text), _) => writeln!(stdout, "{text}"),
        (OwnedEvent::Binary(data), BinaryOutput::Hex) => {
            writeln!(stdout, "{}", describe_binary(data))
        }
        (OwnedEvent::Binary(data), BinaryOutput::Raw) => stdout.write_all(data),
        _ => Ok(()),
    };
    let _ = stdout.flush();
}

fn parse_header(text: &str) -> Result<(String, String), String> {
    match text.split_once(':') {
        Some((name, value)) if !name.trim().is_empty() => {
            Ok((name.trim().into(), value.trim().into()))
        }
        _ => Err(format!(
            "{text:?} is not a header: write it as \"Name: value\""
        )),
    }
}

/// Runs the client until stdin ends (then closes with 1000) or the server closes.
pub fn run(args: &ClientArgs) -> Result<(), String> {
    let tls = args.trust.client_config()?;
    let options = ClientOptions {
        config: fullduplex::Config {
            deflate: args.deflate.then(DeflateConfig::default),
            ..Default::default()
        },
        subprotocols: args.subprotocols.clone(),
        headers: args.headers.clone(),
        origin: args.origin.clone(),
        tls,
        ..ClientOptions::default()
    };
    let mut ws = connect_with(&args.url, &options).map_err(|e| {
        let sentence = format!("cannot connect to {}: {e}", args.url);
        match tls::hint(&e) {
            Some(hint) => format!("{sentence} ({hint})"),
            None => sentence,
        }
    })?;
    match ws.subprotocol() {
        Some(p) => eprintln!("connected to {} (subprotocol {p})", args.url),
        None => eprintln!("connected to {}", args.url),
    }
    let (lines_tx, lines) = mpsc::channel::<Option<String>>();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if lines_tx.send(Some(line)).is_err() {
                return;
            }
        }
        let _ = lines_tx.send(None);
    });
    ws.set_read_timeout(Some(Duration::from_millis(20)))
        .map_err(|e| e.to_string())?;
    let mut stdout = std::io::stdout();
    let mut closing: Option<std::time::Instant> = None;
    loop {
        if closing.is_some_and(|since| since.elapsed() > Duration::from_secs(5)) {
            return Err("the server did not answer our close frame within 5 s".into());
        }
        while closing.is_none() {
            match lines.try_recv() {
                Ok(Some(line)) => {
                    let sent = if args.binary {
                        ws.send_binary(line.as_bytes())
                    } else {
                        ws.send_text(&line)
                    };
                    sent.map_err(|e| e.to_string())?;
                }
                Ok(None) | Err(mpsc::TryRecvError::Disconnected) => {
                    // End of input: close, and print what still arrives until the server's Close.
                    ws.start_close(CloseCode::Normal, "")
                        .map_err(|e| e.to_string())?;
                    closing = Some(std::time::Instant::now());
                    break;
                }
                Err(mpsc::TryRecvError::Empty) => break,
            }
        }
        match ws.recv() {
            Ok(event @ (OwnedEvent::Text(_) | OwnedEvent::Binary(_))) => {
                print_message(&mut stdout, &event, args.binary_output);
            }
            Ok(OwnedEvent::Closed { code, reason }) => {
                let note = close_note(code, &reason);
                match closing {
                    Some(_) => eprintln!("closed {note}"),
                    None => eprintln!("the server closed the connection {note}"),
                }
                return Ok(());
            }
            Ok(_) => {}
            Err(ClientError::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(ClientError::Closed) => {
                return Err("the connection ended without a close frame".into())
            }
            Err(e) => return Err(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_binary_message_is_a_line_with_its_length_and_first_bytes() {
        assert_eq!(describe_binary(b"hello"), "binary, 5 bytes: 68 65 6c 6c 6f");
        assert_eq!(describe_binary(&[0]), "binary, 1 byte: 00");
        assert_eq!(describe_binary(&[]), "binary, 0 bytes");
        let long: Vec<u8> = (0..=255).collect();
        let line = describe_binary(&long);
        assert!(line.starts_with("binary, 256 bytes: 00 01 02"), "{line}");
        assert!(line.ends_with(" 1e 1f …"), "{line}");
    }

    #[test]
    fn binary_output_is_hex_lines_or_the_raw_bytes() {
        let message = OwnedEvent::Binary(b"hi".to_vec());
        let mut hex = Vec::new();
        print_message(&mut hex, &message, BinaryOutput::Hex);
        print_message(
            &mut hex,
            &OwnedEvent::Text("next".into()),
            BinaryOutput::Hex,
        );
        assert_eq!(hex, b"binary, 2 bytes: 68 69\nnext\n");
        let mut raw = Vec::new();
        print_message(&mut raw, &message, BinaryOutput::Raw);
        assert_eq!(raw, b"hi");
    }

    #[test]
    fn a_close_shows_its_reason_only_when_there_is_one() {
        assert_eq!(close_note(CloseCode::Normal, ""), "(1000)");
        assert_eq!(close_note(CloseCode::GoingAway, "bye"), "(1001: bye)");
    }
}
