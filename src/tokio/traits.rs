//! [`WebSocketStream`] as a [`Stream`] of received messages and a [`Sink`] of messages to
//! send, for code written against the futures traits (`StreamExt::split`, `forward` …).
//!
//! The sink's back-pressure is the bound of
//! [RFC 6455 §10.4](https://www.rfc-editor.org/rfc/rfc6455#section-10.4)'s advice on limits:
//! `poll_ready` waits while more than
//! [`Config::max_outbound_queue`](crate::Config::max_outbound_queue) bytes are queued.

use std::pin::Pin;
use std::task::{Context, Poll};

use ::tokio::io::{AsyncRead, AsyncWrite};
use futures_core::Stream;
use futures_sink::Sink;

use super::{Error, Message, WebSocketStream};
use crate::protocol::CloseCode;

impl<S: AsyncRead + AsyncWrite + Unpin> Stream for WebSocketStream<S> {
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_recv(cx)
    }
}

/// `poll_close` sends a Close frame with 1000 (unless one was sent) and flushes it; the
/// peer's answer, and the end of the TCP connection, come on the stream side (read it to
/// its end), or wait for both with [`WebSocketStream::close`].
impl<S: AsyncRead + AsyncWrite + Unpin> Sink<Message> for WebSocketStream<S> {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().poll_send_ready(cx)
    }

    fn start_send(self: Pin<&mut Self>, message: Message) -> Result<(), Error> {
        self.get_mut().send_now(message)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().poll_send_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = self.get_mut();
        if this.connection_mut().sender().is_open() {
            // A connection that ended meanwhile has nothing to close.
            let _ = this.send_now(Message::Close(Some(super::CloseFrame {
                code: CloseCode::Normal,
                reason: String::new(),
            })));
        }
        this.poll_send_flush(cx)
    }
}
