//! Connecting from a chosen local address ([`ClientOptions::local_addr`]): the socket is bound
//! to the address, its port left to the system, before it connects.
//!
//! [`ClientOptions::local_addr`]: super::ClientOptions::local_addr

use std::io;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::Duration;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

/// A TCP socket for `peer`, bound to `local` with a port the system chooses.
fn bound(peer: SocketAddr, local: IpAddr) -> io::Result<Socket> {
    if peer.is_ipv4() != local.is_ipv4() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("cannot connect to {peer} from {local}: not the same address family"),
        ));
    }
    let socket = Socket::new(Domain::for_address(peer), Type::STREAM, Some(Protocol::TCP))?;
    socket.bind(&SockAddr::from(SocketAddr::new(local, 0)))?;
    Ok(socket)
}

/// Connects to `peer` from `local`, blocking at most `timeout`.
pub(super) fn connect_timeout(
    peer: SocketAddr,
    local: IpAddr,
    timeout: Duration,
) -> io::Result<TcpStream> {
    let socket = bound(peer, local)?;
    socket.connect_timeout(&SockAddr::from(peer), timeout)?;
    Ok(socket.into())
}

/// Starts connecting to `peer` from `local` without blocking: the connection completes (or
/// fails) later, as with [`mio::net::TcpStream::connect`].
pub(super) fn connect_nonblocking(peer: SocketAddr, local: IpAddr) -> io::Result<TcpStream> {
    let socket = bound(peer, local)?;
    socket.set_nonblocking(true)?;
    match socket.connect(&SockAddr::from(peer)) {
        Ok(()) => {}
        Err(e) if in_progress(&e) => {}
        Err(e) => return Err(e),
    }
    Ok(socket.into())
}

/// Whether a non-blocking connect's error says the connection is under way (`EINPROGRESS`
/// on Unix, `WSAEWOULDBLOCK` on Windows).
fn in_progress(e: &io::Error) -> bool {
    #[cfg(unix)]
    if e.raw_os_error() == Some(libc::EINPROGRESS) {
        return true;
    }
    e.kind() == io::ErrorKind::WouldBlock
}
