//! Helpers of the tokio adapter's interop tests (`tests/tokio_interop.rs`,
//! `tests/tokio_hyper.rs`): a runtime with a deadline, and the scripted peers both libraries
//! play — each echoes data messages and obeys the same text commands, so a test drives either
//! side the same way.
//!
//! The commands: `close CODE REASON` makes the peer begin the close handshake; `ping PAYLOAD`
//! makes it send a Ping; `fragments` makes it send [`FRAGMENTED`] in the frames of
//! [`PIECES`].
#![allow(dead_code)]

use std::future::Future;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::{CloseFrame as TCloseFrame, Frame};
use tokio_tungstenite::tungstenite::Message as TMessage;

use fullduplex::protocol::{CloseCode, DataKind};
use fullduplex::tokio::{Error, Message, WebSocketStream};

/// The longest any test waits for everything it does.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// The frames `fragments` sends: the text [`FRAGMENTED`], a character cut between two frames.
pub const PIECES: [&[u8]; 3] = [b"fragm", b"\xC3", b"\xA9nted"];

/// The message the [`PIECES`] make.
pub const FRAGMENTED: &str = "fragménted";

/// Runs `test` on a current-thread runtime (the adapter's testee's kind); panics if it takes
/// longer than [`DEADLINE`].
pub fn run<F: Future>(test: F) -> F::Output {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        tokio::time::timeout(DEADLINE, test)
            .await
            .expect("the test outlived its deadline")
    })
}

/// A command a scripted peer obeys.
#[derive(Debug, PartialEq, Eq)]
enum Command {
    Close(u16, String),
    Ping(Vec<u8>),
    Fragments,
}

impl Command {
    fn parse(text: &str) -> Option<Self> {
        if text == "fragments" {
            return Some(Self::Fragments);
        }
        if let Some(payload) = text.strip_prefix("ping ") {
            return Some(Self::Ping(payload.as_bytes().to_vec()));
        }
        let (code, reason) = text.strip_prefix("close ")?.split_once(' ')?;
        Some(Self::Close(code.parse().ok()?, reason.to_owned()))
    }
}

/// Our side of a script: echoes data messages and obeys the commands until the connection
/// ends; returns every message received (the peer's answer to our Close included, as the
/// last one).
pub async fn our_script<S>(mut ws: WebSocketStream<S>) -> Result<Vec<Message>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut seen = Vec::new();
    while let Some(message) = ws.recv().await? {
        seen.push(message.clone());
        let command = match &message {
            Message::Text(text) => Command::parse(text),
            _ => None,
        };
        match command {
            Some(Command::Close(code, reason)) => {
                let code = CloseCode::try_from(code).expect("a close code");
                let theirs = ws.close(code, &reason).await?;
                seen.push(Message::Close(theirs));
            }
            Some(Command::Ping(payload)) => ws.send(Message::Ping(payload)).await?,
            Some(Command::Fragments) => send_our_fragments(&mut ws).await?,
            None if message.is_data() => ws.send(message).await?,
            None => {}
        }
    }
    Ok(seen)
}

/// Sends [`PIECES`] as the frames of one text message.
pub async fn send_our_fragments<S>(ws: &mut WebSocketStream<S>) -> Result<(), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    for (i, piece) in PIECES.iter().enumerate() {
        let fragment = Message::Fragment {
            kind: DataKind::Text,
            data: piece.to_vec(),
            first: i == 0,
            last: i == PIECES.len() - 1,
        };
        ws.feed(fragment).await?;
    }
    ws.flush().await
}

/// The tokio-tungstenite side of a script, as [`our_script`]; tungstenite answers Pings and
/// Close frames itself.
pub async fn tungstenite_script<S>(
    mut ws: tokio_tungstenite::WebSocketStream<S>,
) -> Result<Vec<TMessage>, tokio_tungstenite::tungstenite::Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut seen = Vec::new();
    while let Some(message) = ws.next().await {
        let message = message?;
        seen.push(message.clone());
        let command = match &message {
            TMessage::Text(text) => Command::parse(text.as_str()),
            _ => None,
        };
        match command {
            Some(Command::Close(code, reason)) => {
                let frame = TCloseFrame {
                    code: code.into(),
                    reason: reason.into(),
                };
                ws.close(Some(frame)).await?;
            }
            Some(Command::Ping(payload)) => ws.send(TMessage::Ping(payload.into())).await?,
            Some(Command::Fragments) => send_tungstenite_fragments(&mut ws).await?,
            None if message.is_text() || message.is_binary() => ws.send(message).await?,
            None => {}
        }
    }
    Ok(seen)
}

/// Sends [`PIECES`] as the frames of one text message, with tungstenite's raw frames.
pub async fn send_tungstenite_fragments<S>(
    ws: &mut tokio_tungstenite::WebSocketStream<S>,
) -> Result<(), tokio_tungstenite::tungstenite::Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    for (i, piece) in PIECES.iter().enumerate() {
        let opcode = OpCode::Data(if i == 0 { Data::Text } else { Data::Continue });
        let frame = Frame::message(piece.to_vec(), opcode, i == PIECES.len() - 1);
        ws.feed(TMessage::Frame(frame)).await?;
    }
    ws.flush().await
}

/// A text of `len` bytes with multi-byte characters, for large messages.
pub fn large_text(len: usize) -> String {
    let mut text: String = "fullduplex ✓ ".chars().cycle().take(len).collect();
    while text.len() > len {
        text.pop();
    }
    text
}

/// Bytes of every value, for large binary messages.
pub fn large_binary(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

/// The code and reason of tungstenite's Close message.
pub fn tungstenite_close(message: &TMessage) -> Option<(u16, String)> {
    match message {
        TMessage::Close(Some(frame)) => Some((frame.code.into(), frame.reason.to_string())),
        _ => None,
    }
}
