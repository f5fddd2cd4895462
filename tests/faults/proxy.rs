//! A fault-injecting TCP proxy on 127.0.0.1 for faults a namespace cannot express: added
//! latency, a bandwidth cap, a stall (nothing forwarded, nothing closed), a reset (every
//! connection closed with RST, `SO_LINGER` 0) and a cut (every connection closed with FIN).
//!
//! Each accepted connection gets a connection to the upstream and, per direction, a reader
//! thread (which stamps each chunk with its arrival) and a writer thread (which holds it
//! until the latency has passed, paces it to the cap, and holds everything while stalled).

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often blocked threads look at the proxy's state.
const TICK: Duration = Duration::from_millis(10);

/// What the proxy does to the bytes it forwards, changeable at any time.
#[derive(Debug, Default)]
struct Faults {
    latency_us: AtomicU64,
    /// Bytes per second in each direction of each connection; 0 is no cap.
    bandwidth: AtomicU64,
    stalled: AtomicBool,
    stopping: AtomicBool,
}

/// One proxied connection: both sockets, kept to end them.
struct Pair {
    client: TcpStream,
    upstream: TcpStream,
    /// Set before the sockets are shut, so the threads do not pass the end on.
    ended: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

/// The proxy; every connection ends when it drops.
pub struct Proxy {
    addr: SocketAddr,
    faults: Arc<Faults>,
    pairs: Arc<Mutex<Vec<Pair>>>,
    acceptor: Option<JoinHandle<()>>,
}

impl Proxy {
    /// Listens on a free loopback port and forwards every connection to `upstream`.
    pub fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binds a loopback port");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("has an address");
        let faults = Arc::new(Faults::default());
        let pairs = Arc::new(Mutex::new(Vec::new()));
        let (f, p) = (faults.clone(), pairs.clone());
        let acceptor = std::thread::spawn(move || accept(&listener, upstream, &f, &p));
        Self {
            addr,
            faults,
            pairs,
            acceptor: Some(acceptor),
        }
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Holds each chunk this long before forwarding it.
    pub fn set_latency(&self, latency: Duration) {
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.faults.latency_us.store(us, Relaxed);
    }

    /// Forwards at most this many bytes per second in each direction (0: no cap).
    pub fn set_bandwidth(&self, bytes_per_sec: u64) {
        self.faults.bandwidth.store(bytes_per_sec, Relaxed);
    }

    /// Stops forwarding (or starts again), closing nothing: both peers see silence.
    pub fn set_stalled(&self, stalled: bool) {
        self.faults.stalled.store(stalled, Relaxed);
    }

    /// Closes every connection with an RST on both sides (`SO_LINGER` 0).
    pub fn reset(&self) {
        self.end_all(true);
    }

    /// Closes every connection with a FIN on both sides.
    pub fn cut(&self) {
        self.end_all(false);
    }

    /// Connections open now.
    pub fn connections(&self) -> usize {
        self.pairs.lock().expect("not poisoned").len()
    }

    fn end_all(&self, reset: bool) {
        let pairs = std::mem::take(&mut *self.pairs.lock().expect("not poisoned"));
        for pair in pairs {
            pair.ended.store(true, Relaxed);
            for socket in [&pair.client, &pair.upstream] {
                if reset {
                    linger_zero(socket);
                }
                // Wakes the readers; with SO_LINGER 0 the close below sends the RST.
                let _ = socket.shutdown(if reset {
                    Shutdown::Read
                } else {
                    Shutdown::Both
                });
            }
            for thread in pair.threads {
                let _ = thread.join();
            }
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.faults.stopping.store(true, Relaxed);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        self.cut();
    }
}

fn linger_zero(socket: &TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid socket and a `linger` of the size given.
    let set = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(set, 0, "SO_LINGER: {}", std::io::Error::last_os_error());
}

fn accept(
    listener: &TcpListener,
    upstream: SocketAddr,
    faults: &Arc<Faults>,
    pairs: &Mutex<Vec<Pair>>,
) {
    while !faults.stopping.load(Relaxed) {
        let client = match listener.accept() {
            Ok((client, _)) => client,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                std::thread::sleep(TICK);
                continue;
            }
            Err(_) => return,
        };
        let Ok(server) = TcpStream::connect(upstream) else {
            continue;
        };
        let _ = client.set_nonblocking(false);
        let ended = Arc::new(AtomicBool::new(false));
        let threads = [(&client, &server), (&server, &client)]
            .into_iter()
            .flat_map(|(from, to)| pump(from, to, faults, &ended))
            .collect();
        let pair = Pair {
            client,
            upstream: server,
            ended,
            threads,
        };
        pairs.lock().expect("not poisoned").push(pair);
    }
}

/// The two threads that carry one direction.
fn pump(
    from: &TcpStream,
    to: &TcpStream,
    faults: &Arc<Faults>,
    ended: &Arc<AtomicBool>,
) -> [JoinHandle<()>; 2] {
    let (tx, rx) = mpsc::channel();
    let from = from.try_clone().expect("clones a socket");
    let to = to.try_clone().expect("clones a socket");
    let (f, e) = (faults.clone(), ended.clone());
    let reader = std::thread::spawn(move || read_side(from, &tx));
    let writer = std::thread::spawn(move || write_side(to, &rx, &f, &e));
    [reader, writer]
}

/// Reads chunks and stamps them; an empty chunk says the peer closed its side.
fn read_side(mut from: TcpStream, tx: &Sender<(Instant, Vec<u8>)>) {
    let mut buf = vec![0; 16 * 1024];
    loop {
        let n = from.read(&mut buf).unwrap_or(0);
        if tx.send((Instant::now(), buf[..n].to_vec())).is_err() || n == 0 {
            return;
        }
    }
}

/// Forwards chunks once their latency has passed, paced to the cap, none while stalled.
fn write_side(
    mut to: TcpStream,
    rx: &Receiver<(Instant, Vec<u8>)>,
    faults: &Faults,
    ended: &AtomicBool,
) {
    let mut paced_until = Instant::now();
    loop {
        let (arrived, chunk) = match rx.recv_timeout(TICK) {
            Ok(item) => item,
            Err(RecvTimeoutError::Timeout) if !ended.load(Relaxed) => continue,
            Err(_) => return,
        };
        let latency = Duration::from_micros(faults.latency_us.load(Relaxed));
        wait_while(ended, || {
            faults.stalled.load(Relaxed) || Instant::now() < (arrived + latency).max(paced_until)
        });
        if ended.load(Relaxed) {
            return;
        }
        if chunk.is_empty() {
            let _ = to.shutdown(Shutdown::Write);
            return;
        }
        let cap = faults.bandwidth.load(Relaxed);
        if cap > 0 {
            let cost = Duration::from_secs_f64(chunk.len() as f64 / cap as f64);
            paced_until = paced_until.max(Instant::now()) + cost;
        }
        if to.write_all(&chunk).is_err() {
            return;
        }
    }
}

/// Waits in ticks while `busy` holds and the connection has not been ended.
fn wait_while(ended: &AtomicBool, busy: impl Fn() -> bool) {
    while busy() && !ended.load(Relaxed) {
        std::thread::sleep(Duration::from_millis(1));
    }
}
