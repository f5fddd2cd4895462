//! The kernel's share of a slow reader's backlog (`ServerConfig::send_buffer`): every accepted
//! socket gets the option asked for, and with `TCP_NOTSENT_LOWAT` a reader that never reads
//! finds its backlog in the server's bounded queue, where the slow-consumer policy closes it
//! with 1008 (RFC 6455 §7.4.1), not in the kernel's send buffer. The server runs in this
//! process, so the tests look at its end of the connection through its descriptor.
#![cfg(all(feature = "runtime", target_os = "linux"))]

mod common;

use std::mem::size_of;
use std::net::{SocketAddr, TcpStream};
use std::os::fd::RawFd;

use common::runtime::*;
use fullduplex::config::SlowConsumer;
use fullduplex::protocol::{DataKind, Opcode, OwnedEvent};
use fullduplex::server::{EventLoop, SendBuffer, ServerConfig};
use fullduplex::Config;

const LOWAT: u32 = 16 << 10;
const MESSAGE: usize = 64 << 10;
/// What Linux adds past `TCP_NOTSENT_LOWAT`: a write that finds room fills the segment it
/// is building (up to 64 KiB with segmentation offload) before the next check.
const SEGMENT: usize = 64 << 10;

/// The IPv4 address at the other end (`getpeername`) or this end (`getsockname`) of `fd`.
fn address_of(fd: RawFd, peer: bool) -> Option<SocketAddr> {
    // SAFETY: a zeroed sockaddr_in is valid, and the length says how much the call may fill.
    let mut addr: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    let mut len = size_of::<libc::sockaddr_in>() as libc::socklen_t;
    let ptr = (&mut addr as *mut libc::sockaddr_in).cast();
    let ok = match peer {
        true => unsafe { libc::getpeername(fd, ptr, &mut len) },
        false => unsafe { libc::getsockname(fd, ptr, &mut len) },
    };
    (ok == 0 && i32::from(addr.sin_family) == libc::AF_INET).then(|| {
        let ip = std::net::Ipv4Addr::from(u32::from_be(addr.sin_addr.s_addr));
        SocketAddr::from((ip, u16::from_be(addr.sin_port)))
    })
}

/// The server's descriptor for the connection whose client end is `client`.
fn server_end(server: SocketAddr, client: &TcpStream) -> RawFd {
    let client = client.local_addr().unwrap();
    let fds = std::fs::read_dir("/proc/self/fd").unwrap();
    fds.filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<RawFd>().ok())
        .find(|&fd| address_of(fd, false) == Some(server) && address_of(fd, true) == Some(client))
        .expect("the server's end of the connection, among this process's descriptors")
}

fn int_option(fd: RawFd, level: i32, name: i32) -> i32 {
    let mut value: libc::c_int = 0;
    let mut len = size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: value and len describe a c_int the call fills.
    let ok =
        unsafe { libc::getsockopt(fd, level, name, (&mut value as *mut i32).cast(), &mut len) };
    assert_eq!(ok, 0, "getsockopt: {}", std::io::Error::last_os_error());
    value
}

/// Bytes the kernel holds for `fd` not yet sent (`SIOCOUTQNSD`) and not yet acknowledged,
/// sent or not (`SIOCOUTQ`).
fn kernel_queue(fd: RawFd) -> (usize, usize) {
    const SIOCOUTQNSD: libc::c_ulong = 0x894B;
    let (mut unsent, mut unacked): (libc::c_int, libc::c_int) = (0, 0);
    // SAFETY: both requests write one c_int.
    unsafe {
        assert_eq!(libc::ioctl(fd, SIOCOUTQNSD, &mut unsent), 0);
        assert_eq!(libc::ioctl(fd, libc::TIOCOUTQ, &mut unacked), 0);
    }
    (unsent as usize, unacked as usize)
}

fn start_with(send_buffer: SendBuffer, config: Config) -> TestServer {
    let config = ServerConfig {
        send_buffer,
        ..server_config(config)
    };
    start(config, TestApp::new().0)
}

#[test]
fn every_accepted_socket_gets_the_send_buffer_option() {
    // A TCP_NOTSENT_LOWAT of 0 is the socket's own unset (net.ipv4.tcp_notsent_lowat applies).
    let cases = [
        (SendBuffer::Kernel, 0, None),
        (SendBuffer::NotSentLowat(LOWAT), LOWAT as i32, None),
        // Linux doubles SO_SNDBUF for its bookkeeping.
        (SendBuffer::Capped(64 << 10), 0, Some(128 << 10)),
    ];
    for (send_buffer, lowat, sndbuf) in cases {
        let server = start_with(send_buffer, test_config());
        let (client, _) = raw_upgrade(server.local_addr());
        let fd = server_end(server.local_addr(), &client);
        let got = int_option(fd, libc::IPPROTO_TCP, libc::TCP_NOTSENT_LOWAT);
        assert_eq!(got, lowat, "TCP_NOTSENT_LOWAT with {send_buffer:?}");
        let got = int_option(fd, libc::SOL_SOCKET, libc::SO_SNDBUF);
        if let Some(sndbuf) = sndbuf {
            assert_eq!(got, sndbuf, "SO_SNDBUF with {send_buffer:?}");
        }
    }
}

#[test]
fn a_reader_that_never_reads_leaves_its_backlog_in_the_servers_queue() {
    let queue_limit = 1 << 20;
    let config = Config {
        max_outbound_queue: queue_limit,
        slow_consumer: SlowConsumer::Close,
        ..test_config()
    };
    let server = start_with(SendBuffer::NotSentLowat(LOWAT), config);
    let addr = server.local_addr();
    let receive_buffer = 16 << 10;
    let (mut slow, _) = silent_reader(addr, receive_buffer);
    let fd = server_end(addr, &slow);
    let peer = address_of(fd, true);
    let mut reader = connect(addr);
    // One message at a time, read by the reader before the next, until the policy closes the
    // slow one; the kernel's queue for it is looked at after each.
    let handle = server.handle();
    let (mut sent, mut most_unsent, mut most_held) = (0u64, 0, 0);
    while handle.stats().slow_consumer_closes == 0 {
        assert!(
            sent < 4 * (queue_limit / MESSAGE) as u64 + 64,
            "never closed"
        );
        let mut message = vec![b'.'; MESSAGE];
        message[..8].copy_from_slice(&sent.to_be_bytes());
        handle.broadcast(DataKind::Binary, &message).unwrap();
        sent += 1;
        assert!(matches!(next_event(&mut reader), OwnedEvent::Binary(got) if got == message));
        if address_of(fd, true) == peer {
            let (unsent, held) = kernel_queue(fd);
            (most_unsent, most_held) = (most_unsent.max(unsent), most_held.max(held));
        }
    }
    // The kernel held at most the low-water mark and a segment unsent, and besides them what
    // the reader's receive window took (Linux doubles SO_RCVBUF).
    assert!(
        most_unsent <= LOWAT as usize + SEGMENT,
        "{most_unsent} bytes unsent in the kernel"
    );
    let kernel_bound = LOWAT as usize + SEGMENT + 2 * receive_buffer;
    assert!(most_held <= kernel_bound, "{most_held} bytes in the kernel");
    // So the server's queue took the rest, up to its limit, and the policy closed it. (On
    // io_uring, the stream holds up to 256 KiB more that the kernel has not taken.)
    let stream = match test_event_loop() {
        EventLoop::IoUring => 256 << 10,
        _ => 0,
    };
    let to_slow = handle.stats().messages_out - sent;
    let queued = to_slow as usize * MESSAGE;
    assert!(
        queued + MESSAGE > queue_limit && queued <= queue_limit + MESSAGE + stream + kernel_bound,
        "{to_slow} messages of {MESSAGE} bytes for a reader that never reads"
    );
    // When it reads at last: what was queued, then the Close with 1008 (or the connection cut
    // if the close deadline passed first).
    let frames = FrameReader::new(Vec::new()).until_close(&mut slow);
    let close = frames.iter().find(|(opcode, _)| *opcode == Opcode::Close);
    if let Some((_, payload)) = close {
        assert_eq!(close_code(payload), 1008);
    }
}
