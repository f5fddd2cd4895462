//! Sending a frame encoded once for many connections ([`SharedFrame`]): a broadcast queues
//! the same bytes on every receiver, without a copy of the payload per receiver.
//!
//! A server's frames are not masked ([RFC 6455 §5.1](https://www.rfc-editor.org/rfc/rfc6455#section-5.1)),
//! so one encoding fits every client; a client masks each frame with a fresh key and cannot
//! share one ([`UsageError::IncompatibleSharedFrame`](crate::UsageError::IncompatibleSharedFrame)).
//! A frame from [`SharedFrame::new`] is uncompressed, which every connection accepts, with
//! permessage-deflate too ([RFC 7692 §6](https://www.rfc-editor.org/rfc/rfc7692#section-6):
//! compression is per message); one from [`SharedFrame::compressed`] fits the connections
//! whose server side has no context takeover and a window at least as large.

use std::future::poll_fn;

use ::tokio::io::{AsyncRead, AsyncWrite};

use super::stream::End;
use super::{Error, WebSocketStream};
use crate::protocol::SharedFrame;

impl<S: AsyncRead + AsyncWrite + Unpin> WebSocketStream<S> {
    /// Sends a shared frame and flushes it, as [`send`](Self::send) does a message.
    pub async fn send_shared(&mut self, frame: &SharedFrame) -> Result<(), Error> {
        self.feed_shared(frame).await?;
        self.flush().await
    }

    /// Queues a shared frame without flushing, as [`feed`](Self::feed) does a message.
    pub async fn feed_shared(&mut self, frame: &SharedFrame) -> Result<(), Error> {
        poll_fn(|cx| self.poll_send_ready(cx)).await?;
        self.send_shared_now(frame)
    }

    /// Queues a shared frame in the core now (after [`poll_send_ready`](Self::poll_send_ready)):
    /// [`Error::Usage`] if it does not fit this connection (a client, or a compressed frame
    /// with other deflate parameters).
    pub fn send_shared_now(&mut self, frame: &SharedFrame) -> Result<(), Error> {
        if self.end != End::Running {
            return Err(self.terminal_error());
        }
        Ok(self.conn.send_shared(frame)?)
    }
}
