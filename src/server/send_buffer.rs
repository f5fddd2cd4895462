//! The kernel's share of an accepted connection's outgoing bytes: the socket option that
//! [`SendBuffer`] asks for (`TCP_NOTSENT_LOWAT`, RFC 9293 leaves buffering to the
//! implementation; Linux's `tcp(7)`; or `SO_SNDBUF`, `socket(7)`).

use std::io;

use mio::net::TcpStream;
use socket2::SockRef;

use crate::server::SendBuffer;

/// Sets `stream`'s send buffer option as `send_buffer` asks.
pub(crate) fn apply(stream: &TcpStream, send_buffer: SendBuffer) -> io::Result<()> {
    let socket = SockRef::from(stream);
    match send_buffer {
        SendBuffer::Kernel => Ok(()),
        #[cfg(any(target_os = "android", target_os = "linux"))]
        SendBuffer::NotSentLowat(bytes) => socket.set_tcp_notsent_lowat(bytes),
        #[cfg(not(any(target_os = "android", target_os = "linux")))]
        SendBuffer::NotSentLowat(_) => Ok(()),
        SendBuffer::Capped(bytes) => socket.set_send_buffer_size(bytes),
    }
}
