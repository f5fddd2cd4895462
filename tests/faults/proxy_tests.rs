//! The proxy's own tests against an echo server on loopback: each fault does what it says,
//! as the peers see it.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use super::proxy::Proxy;
use super::PATIENCE;

/// An echo server for one connection; reports how its connection ended.
fn echo_server() -> (SocketAddr, Receiver<std::io::Result<()>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binds");
    let addr = listener.local_addr().expect("an address");
    let (tx, ended) = mpsc::channel();
    std::thread::spawn(move || {
        let (mut socket, _) = listener.accept().expect("accepts");
        let mut buf = [0; 8192];
        let result = loop {
            match socket.read(&mut buf) {
                Ok(0) => break Ok(()),
                Ok(n) => {
                    if let Err(e) = socket.write_all(&buf[..n]) {
                        break Err(e);
                    }
                }
                Err(e) => break Err(e),
            }
        };
        let _ = tx.send(result);
    });
    (addr, ended)
}

/// A client of a proxy in front of a fresh echo server.
fn through_proxy() -> (Proxy, TcpStream, Receiver<std::io::Result<()>>) {
    let (upstream, ended) = echo_server();
    let proxy = Proxy::start(upstream);
    let client = TcpStream::connect(proxy.addr()).expect("connects");
    client.set_read_timeout(Some(PATIENCE)).expect("a timeout");
    (proxy, client, ended)
}

/// Sends `data` and reads its echo; returns how long the round trip took.
fn round_trip(client: &mut TcpStream, data: &[u8]) -> Duration {
    let start = Instant::now();
    client.write_all(data).expect("writes");
    let mut echo = vec![0; data.len()];
    client.read_exact(&mut echo).expect("reads the echo");
    assert_eq!(echo, data);
    start.elapsed()
}

#[test]
fn the_proxy_passes_bytes_through_both_ways() {
    let (proxy, mut client, _) = through_proxy();
    round_trip(&mut client, b"hello");
    let big: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
    round_trip(&mut client, &big);
    assert_eq!(proxy.connections(), 1);
}

#[test]
fn the_proxy_adds_latency_each_way() {
    let (proxy, mut client, _) = through_proxy();
    proxy.set_latency(Duration::from_millis(150));
    let took = round_trip(&mut client, b"slow");
    assert!(took >= Duration::from_millis(300), "round trip {took:?}");
}

#[test]
fn the_proxy_caps_the_bandwidth() {
    let (proxy, mut client, _) = through_proxy();
    proxy.set_bandwidth(100_000);
    let data = vec![7; 60_000];
    let took = round_trip(&mut client, &data);
    // Each direction paces all but its first chunk (16 KiB at most) to 100 000 B/s.
    assert!(took >= Duration::from_millis(430), "60 kB took {took:?}");
}

#[test]
fn a_stalled_proxy_forwards_nothing_and_closes_nothing_until_it_resumes() {
    let (proxy, mut client, ended) = through_proxy();
    round_trip(&mut client, b"before");
    proxy.set_stalled(true);
    client.write_all(b"held").expect("writes");
    client
        .set_read_timeout(Some(Duration::from_millis(300)))
        .expect("a timeout");
    let mut byte = [0; 1];
    let err = client
        .read(&mut byte)
        .expect_err("nothing comes while stalled");
    assert!(matches!(
        err.kind(),
        ErrorKind::WouldBlock | ErrorKind::TimedOut
    ));
    assert!(ended.try_recv().is_err(), "the server's side is still open");
    proxy.set_stalled(false);
    client.set_read_timeout(Some(PATIENCE)).expect("a timeout");
    let mut echo = [0; 4];
    client.read_exact(&mut echo).expect("the held bytes come");
    assert_eq!(&echo, b"held");
}

#[test]
fn a_reset_reaches_both_peers_as_rst() {
    let (proxy, mut client, ended) = through_proxy();
    round_trip(&mut client, b"before");
    proxy.reset();
    let err = client.read(&mut [0; 1]).expect_err("the client is reset");
    assert_eq!(err.kind(), ErrorKind::ConnectionReset);
    let upstream = ended
        .recv_timeout(PATIENCE)
        .expect("the server's side ends");
    assert_eq!(
        upstream.expect_err("reset").kind(),
        ErrorKind::ConnectionReset
    );
    assert_eq!(proxy.connections(), 0);
}

#[test]
fn a_cut_reaches_both_peers_as_fin() {
    let (proxy, mut client, ended) = through_proxy();
    round_trip(&mut client, b"before");
    proxy.cut();
    assert_eq!(client.read(&mut [0; 1]).expect("an end of stream"), 0);
    let upstream = ended
        .recv_timeout(PATIENCE)
        .expect("the server's side ends");
    assert!(upstream.is_ok(), "a clean end: {upstream:?}");
}
