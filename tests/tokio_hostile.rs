//! The hostile-input attacks over the network (`hostile/network.rs`, the same bodies the mio
//! server runs in `hostile_handshake.rs` and `hostile_peers.rs`) against an echo server on the
//! tokio adapter: `fullduplex::tokio::accept` on a current-thread runtime in a thread of its
//! own, on 127.0.0.1 port 0. Each asserts the HTTP status or close code, that other
//! connections are served meanwhile, and the heap growth (the counting allocator, process-wide).
//!
//! The blocking client (feature `runtime`) is the attacks' bystander, hence both features.
#![cfg(all(feature = "tokio", feature = "runtime"))]

mod common;
mod hostile;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::thread;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use common::counting::Counting;
use fullduplex::protocol::CloseCode;
use fullduplex::tokio::{accept, Error, Message, WebSocketStream};
use fullduplex::Config;
use hostile::network::Target;

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// An echo server on the tokio adapter, stopped when dropped.
struct Tokio {
    addr: SocketAddr,
    counts: Arc<Counts>,
    ends: mpsc::Receiver<CloseCode>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

/// The connections the server holds and the WebSocket connections open.
#[derive(Default)]
struct Counts {
    connections: AtomicU64,
    open: AtomicU64,
}

impl Target for Tokio {
    fn start(config: Config) -> Self {
        let config = Arc::new(config);
        let counts = Arc::new(Counts::default());
        let (ends_tx, ends) = mpsc::channel();
        let (stop, stopped) = oneshot::channel();
        let (addr_tx, addr) = mpsc::channel();
        let serving = counts.clone();
        let thread = thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a tokio runtime");
            runtime.block_on(async move {
                let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                tokio::select! {
                    _ = serve(listener, config, serving, ends_tx) => {}
                    _ = stopped => {}
                }
            });
        });
        Self {
            addr: addr.recv().expect("the server's address"),
            counts,
            ends,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn next_close_code(&self) -> CloseCode {
        self.ends
            .recv_timeout(common::runtime::DEADLINE)
            .expect("a connection's end")
    }

    fn connections(&self) -> u64 {
        self.counts.connections.load(SeqCst)
    }

    fn open(&self) -> u64 {
        self.counts.open.load(SeqCst)
    }
}

impl Drop for Tokio {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            thread.join().expect("the server's thread");
        }
    }
}

/// Accepts connections, each on a task of its own, and reports how each WebSocket ended.
async fn serve(
    listener: TcpListener,
    config: Arc<Config>,
    counts: Arc<Counts>,
    ends: mpsc::Sender<CloseCode>,
) {
    loop {
        let (tcp, _) = listener.accept().await.unwrap();
        counts.connections.fetch_add(1, SeqCst);
        let (config, counts, ends) = (config.clone(), counts.clone(), ends.clone());
        tokio::spawn(async move {
            if let Ok(ws) = accept(tcp, config).await {
                counts.open.fetch_add(1, SeqCst);
                let _ = ends.send(echo(ws).await);
                counts.open.fetch_sub(1, SeqCst);
            }
            counts.connections.fetch_sub(1, SeqCst);
        });
    }
}

/// Echoes data messages until the connection ends: the code it ended with (the peer's, or
/// the one we failed it with).
async fn echo<S: AsyncRead + AsyncWrite + Unpin>(mut ws: WebSocketStream<S>) -> CloseCode {
    let mut code = CloseCode::Abnormal;
    loop {
        let failure = match ws.recv().await {
            Ok(Some(Message::Close(frame))) => {
                code = frame.map_or(CloseCode::NoStatus, |f| f.code);
                continue;
            }
            Ok(Some(message)) if message.is_data() => match ws.send(message).await {
                Ok(()) => continue,
                Err(e) => e,
            },
            Ok(Some(_)) => continue,
            Ok(None) => return code,
            Err(e) => e,
        };
        return match failure {
            Error::Protocol(e) => e.close_code(),
            _ => CloseCode::Abnormal,
        };
    }
}

hostile::network::attacks_on!(Tokio);
