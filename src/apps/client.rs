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
            Ok(OwnedEvent::Text(text)) => {
                let _ = writeln!(stdout, "{text}");
            }
            Ok(OwnedEvent::Binary(data)) => {
                let _ = stdout.write_all(&data);
                let _ = stdout.flush();
            }
            Ok(OwnedEvent::Closed { code, reason }) => {
                match closing {
                    Some(_) => eprintln!("closed ({code} {reason})"),
                    None => eprintln!("the server closed the connection ({code} {reason})"),
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
