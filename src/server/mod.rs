//! The WebSocket server: worker threads, each running an event loop (mio's, or io_uring's on
//! Linux: [`EventLoop`]) over its share of the connections, driving the sans-I/O
//! [`Connection`](crate::protocol::Connection).
//!
//! # Architecture
//!
//! - **Workers.** [`ServerConfig::threads`] threads (default: one per core), each with its own
//!   `Poll` (or io_uring ring), connections, read-buffer pool and topic table. Nothing is
//!   locked on the data path: a connection lives and dies on one worker.
//! - **Accepting.** One listening socket, shared: each worker registers a clone of it and
//!   accepts until `WouldBlock` when it becomes readable (io_uring: each keeps a multishot
//!   accept on its clone). On the 2-core machines this project
//!   runs on, one connection's accept wakes both workers and one gets it; measured with
//!   `fullduplex bench connect` this costs nothing visible next to the handshake, and it
//!   spreads connections by who is least busy (an idle worker wins the race), where
//!   `SO_REUSEPORT` spreads them by a hash of the address regardless of load.
//! - **Cross-thread work.** [`ServerHandle`] sends commands (send to a connection, publish
//!   to a topic, broadcast, close, shutdown) to a worker's mailbox and wakes it with a
//!   `mio::Waker` (io_uring: an eventfd the ring polls). Each mailbox is bounded ([`ServerConfig::max_mailbox`]): a command that finds
//!   it full is dropped, counted, and reported to a [`ServerHandle`] caller ([`MailboxFull`]);
//!   a callback's [`Context`] drops it without a word (a shutdown is never dropped). A message
//!   for many receivers is encoded once ([`SharedFrame`](crate::protocol::SharedFrame)):
//!   queues share a large frame and copy a small one behind what they hold, so that a
//!   tick's small broadcasts leave each receiver one run for one `send`. A run of
//!   broadcasts with the same receivers is delivered receiver by receiver.
//! - **Limits.** Everything is bounded by [`ServerConfig`] and its connections' [`Config`]:
//!   handshake size and time, read buffer, output queue per connection (slow consumers are
//!   closed with 1008 or have messages dropped, as the core's
//!   [`Sender::make_room`](crate::protocol::Sender::make_room) decides; the application's send
//!   then returns [`SendError::SlowConsumer`]; what the kernel holds beyond the queue is
//!   bounded by [`ServerConfig::send_buffer`], so that a slow reader's backlog reaches the
//!   queue), connection count (503 above it; over TLS the
//!   connection is closed without a byte, see [`ServerConfig::max_connections`]). The file
//!   descriptor limit must allow `max_connections`: raise it with `ulimit -n`.
//! - **Plain HTTP.** A request that is not an upgrade goes to
//!   [`Handler::on_request`] with its body (`Content-Length` bytes, at most
//!   [`ServerConfig::max_request_body`]; 413 past it, 411 for a chunked one). The application
//!   answers now, or later ([`Reply::Later`]: a long poll) through [`Context::respond`] or
//!   [`ServerHandle::respond`], on the worker that owns the connection, within
//!   [`ServerConfig::max_deferral`] (503 past it, and at shutdown). HTTP/1.1 connections
//!   persist: the next request is read once the answer is written, and the handshake timeout
//!   bounds the wait for it.
//! - **Deadlines.** The handshake's and an HTTP response's are the worker's. Keepalive, the
//!   idle timeout and the close deadline are each connection's own, in the core
//!   ([`Connection::poll_timeout`](crate::protocol::Connection::poll_timeout) and
//!   [`handle_timeout`](crate::protocol::Connection::handle_timeout)): each worker sweeps its
//!   connections every sweep interval (a quarter of the shortest timeout, from 5 ms to 1 s)
//!   and gives the time to those whose deadline came, and to each connection after it read.
//!
//! # Example: an echo server
//!
//! ```no_run
//! use fullduplex::protocol::handshake::{ClientOffer, Request};
//! use fullduplex::protocol::Message;
//! use fullduplex::server::{Conn, Handler, Server, ServerConfig, Upgrade};
//!
//! #[derive(Clone)]
//! struct Echo;
//!
//! impl Handler for Echo {
//!     type Session = ();
//!     fn upgrade(&mut self, _: &Request, _: &ClientOffer) -> Upgrade<()> {
//!         Upgrade::accept(())
//!     }
//!     fn on_message(&mut self, conn: &mut Conn<'_, ()>, message: Message<'_>) {
//!         let _ = conn.send(message);
//!     }
//! }
//!
//! let server = Server::new(ServerConfig::default(), Echo).bind("127.0.0.1:9001")?;
//! server.join();
//! # Ok::<(), std::io::Error>(())
//! ```

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::protocol::close::CloseCode;
use crate::protocol::DataKind;
use crate::transport::LoopWaker;
use crate::Config;

mod config;
pub(crate) mod event_loop;
mod handler;
mod http;
mod peer;
pub mod prometheus;
mod send_buffer;
mod shared_message;
mod slow_consumer;
mod stats;
#[cfg(feature = "tls")]
pub mod tls;
mod worker;

pub use crate::error::SendError;
pub use crate::protocol::close::CloseInfo;
pub use crate::protocol::handshake::{reason_phrase, HttpResponse, Upgrade};
pub use config::{EventLoop, SendBuffer, ServerConfig};
pub use handler::{Conn, ConnId, Context, Handler};
pub use http::{HttpRequest, Reply, ResponseId};
pub use prometheus::{Exposition, MetricKind};
pub use stats::{Stats, StatsSnapshot};

use shared_message::SharedMessage;

/// Work sent to a worker.
pub(crate) enum Command {
    Send {
        to: ConnId,
        message: Arc<SharedMessage>,
    },
    Publish {
        topic: Arc<str>,
        message: Arc<SharedMessage>,
        except: Option<ConnId>,
    },
    Broadcast {
        message: Arc<SharedMessage>,
        except: Option<ConnId>,
    },
    Close {
        to: ConnId,
        code: CloseCode,
        reason: String,
    },
    Subscribe {
        id: ConnId,
        topic: Arc<str>,
    },
    Unsubscribe {
        id: ConnId,
        topic: Arc<str>,
    },
    Respond {
        id: ResponseId,
        response: HttpResponse,
    },
    Shutdown,
}

/// A worker's queue of commands and the waker that interrupts its wait.
pub(crate) struct Mailbox {
    pub(crate) queue: Mutex<Vec<Command>>,
    waker: LoopWaker,
}

/// What every thread of a server shares.
pub(crate) struct Shared {
    pub(crate) mailboxes: Vec<Mailbox>,
    /// Every connection's configuration.
    pub(crate) config: Arc<Config>,
    max_mailbox: usize,
    pub(crate) stats: Arc<Stats>,
    /// Held shared around each `accept`, exclusively while a worker sheds (`worker::shed`).
    pub(crate) accept_gate: std::sync::RwLock<()>,
    shutting_down: AtomicBool,
    local_addr: SocketAddr,
}

/// Acts on a running server from any thread: send, publish, broadcast, close, shut down.
#[derive(Clone)]
pub struct ServerHandle {
    pub(crate) shared: Arc<Shared>,
    /// The worker this handle belongs to, for handles given to callbacks.
    pub(crate) worker: Option<usize>,
}

/// A worker's mailbox was full ([`ServerConfig::max_mailbox`]): the command was dropped there
/// (and counted in [`StatsSnapshot::mailbox_drops`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MailboxFull {
    /// How many workers dropped it (a broadcast or publish goes to every worker).
    pub workers: usize,
}

impl std::fmt::Display for MailboxFull {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the mailbox of {} worker(s) is full", self.workers)
    }
}

impl std::error::Error for MailboxFull {}

impl ServerHandle {
    /// Queues a command for a worker and wakes it; refused (and counted) when the worker's
    /// mailbox holds `max_mailbox` commands already, except a shutdown.
    pub(crate) fn to_worker(&self, worker: usize, command: Command) -> Result<(), MailboxFull> {
        let Some(mailbox) = self.shared.mailboxes.get(worker) else {
            return Ok(());
        };
        let was_empty = match mailbox.queue.lock() {
            Ok(mut queue) => {
                let bypass = matches!(command, Command::Shutdown);
                if queue.len() >= self.shared.max_mailbox && !bypass {
                    drop(queue);
                    Stats::add(&self.shared.stats.mailbox_drops, 1);
                    return Err(MailboxFull { workers: 1 });
                }
                queue.push(command);
                queue.len() == 1
            }
            Err(_) => return Ok(()),
        };
        // One wake-up per batch: a worker that has mail pending will take all of it.
        if was_empty {
            let _ = mailbox.waker.wake();
        }
        Ok(())
    }

    pub(crate) fn to_other_workers(
        &self,
        except: usize,
        mut command: impl FnMut(usize) -> Command,
    ) -> Result<(), MailboxFull> {
        let mut full = 0;
        for worker in (0..self.shared.mailboxes.len()).filter(|w| *w != except) {
            if self.to_worker(worker, command(worker)).is_err() {
                full += 1;
            }
        }
        match full {
            0 => Ok(()),
            workers => Err(MailboxFull { workers }),
        }
    }

    fn to_all_workers(&self, mut command: impl FnMut() -> Command) -> Result<(), MailboxFull> {
        self.to_other_workers(usize::MAX, |_| command())
    }

    /// Sends a message to one connection. [`MailboxFull`] when its worker has
    /// [`ServerConfig::max_mailbox`] commands waiting: the message is dropped.
    pub fn send(&self, to: ConnId, kind: DataKind, payload: &[u8]) -> Result<(), MailboxFull> {
        let message = SharedMessage::new(kind, payload.to_vec(), &self.shared.config);
        self.to_worker(to.worker(), Command::Send { to, message })
    }

    /// Sends a message to every connection subscribed to `topic`. [`MailboxFull`] when some
    /// workers' mailboxes are full: their connections do not get it; the others do.
    pub fn publish(&self, topic: &str, kind: DataKind, payload: &[u8]) -> Result<(), MailboxFull> {
        let message = SharedMessage::new(kind, payload.to_vec(), &self.shared.config);
        let topic: Arc<str> = topic.into();
        Stats::add(&self.shared.stats.broadcasts, 1);
        self.to_all_workers(|| Command::Publish {
            topic: topic.clone(),
            message: message.clone(),
            except: None,
        })
    }

    /// Sends a message to every open connection. [`MailboxFull`] as for
    /// [`publish`](Self::publish).
    pub fn broadcast(&self, kind: DataKind, payload: &[u8]) -> Result<(), MailboxFull> {
        let message = SharedMessage::new(kind, payload.to_vec(), &self.shared.config);
        Stats::add(&self.shared.stats.broadcasts, 1);
        self.to_all_workers(|| Command::Broadcast {
            message: message.clone(),
            except: None,
        })
    }

    /// Begins closing one connection with this code and reason. [`MailboxFull`] as for
    /// [`send`](Self::send).
    pub fn close(&self, to: ConnId, code: CloseCode, reason: &str) -> Result<(), MailboxFull> {
        let reason = reason.to_owned();
        self.to_worker(to.worker(), Command::Close { to, code, reason })
    }

    /// Subscribes a connection to a topic from outside its callbacks. [`MailboxFull`] as for
    /// [`send`](Self::send).
    pub fn subscribe(&self, id: ConnId, topic: &str) -> Result<(), MailboxFull> {
        self.to_worker(
            id.worker(),
            Command::Subscribe {
                id,
                topic: topic.into(),
            },
        )
    }

    /// Answers a plain HTTP request the application deferred ([`Reply::Later`]).
    /// [`MailboxFull`] as for [`send`](Self::send): the request then stays unanswered until
    /// [`ServerConfig::max_deferral`].
    pub fn respond(&self, id: ResponseId, response: HttpResponse) -> Result<(), MailboxFull> {
        self.to_worker(id.conn.worker(), Command::Respond { id, response })
    }

    /// Graceful shutdown: stop accepting, send every established connection a Close with 1001
    /// (connections still in their handshake are dropped), wait up to `close_timeout` for them
    /// to end, then stop the workers.
    pub fn shutdown(&self) {
        if !self.shared.shutting_down.swap(true, Ordering::SeqCst) {
            let _ = self.to_all_workers(|| Command::Shutdown);
        }
    }

    /// Whether [`shutdown`](Self::shutdown) was called.
    pub fn is_shutting_down(&self) -> bool {
        self.shared.shutting_down.load(Ordering::SeqCst)
    }

    /// The server's counters.
    pub fn stats(&self) -> StatsSnapshot {
        self.shared.stats.snapshot()
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.local_addr
    }
}

/// A server ready to bind: a configuration, an application, optionally TLS.
pub struct Server<H: Handler> {
    config: ServerConfig,
    handler: H,
    #[cfg(feature = "tls")]
    tls: Option<Arc<rustls::ServerConfig>>,
}

impl<H: Handler> Server<H> {
    /// A server with this configuration (a [`ServerConfig`], or a connection [`Config`] with
    /// the server's defaults) and application.
    pub fn new(config: impl Into<ServerConfig>, handler: H) -> Self {
        Self {
            config: config.into(),
            handler,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }

    /// Serves `wss://` with this TLS configuration (see [`tls`]).
    #[cfg(feature = "tls")]
    pub fn with_tls(mut self, tls: Arc<rustls::ServerConfig>) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Binds `addr` and starts the worker threads.
    pub fn bind(self, addr: impl ToSocketAddrs) -> io::Result<RunningServer> {
        let addr = addr
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address to bind"))?;
        let event_loop = event_loop::choose(
            self.config.event_loop,
            "running on mio (epoll) instead",
            || Ok(EventLoop::Mio),
            || event_loop::io_uring_support().map(|()| EventLoop::IoUring),
        )?;
        let listener = listen(addr)?;
        let local_addr = listener.local_addr()?;
        let threads = match self.config.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let mut loops = Vec::with_capacity(threads);
        let mut mailboxes = Vec::with_capacity(threads);
        for _ in 0..threads {
            let (io, waker) = worker::LoopToBe::new(event_loop)?;
            mailboxes.push(Mailbox {
                queue: Mutex::new(Vec::new()),
                waker,
            });
            loops.push(io);
        }
        let shared = Arc::new(Shared {
            mailboxes,
            config: Arc::new(self.config.connection),
            max_mailbox: self.config.max_mailbox,
            stats: Arc::new(Stats::default()),
            accept_gate: std::sync::RwLock::new(()),
            shutting_down: AtomicBool::new(false),
            local_addr,
        });
        let limits = worker::Limits {
            max_connections: self.config.max_connections,
            read_buffer_size: self.config.read_buffer_size,
            max_request_body: self.config.max_request_body,
            max_deferral: self.config.max_deferral,
            send_buffer: self.config.send_buffer,
        };
        // Each worker sets its event loop up on its own thread (an io_uring ring belongs to the
        // thread that creates it: the kernel interrupts that thread's blocking calls when the
        // ring ends) and says whether it could.
        let (ready, setups) = std::sync::mpsc::channel();
        let mut joins = Vec::with_capacity(threads);
        for (index, io) in loops.into_iter().enumerate() {
            let listener = mio::net::TcpListener::from_std(listener.try_clone()?);
            let handle = ServerHandle {
                shared: shared.clone(),
                worker: Some(index),
            };
            let handler = self.handler.clone();
            #[cfg(feature = "tls")]
            let tls = self.tls.clone();
            let ready = ready.clone();
            let start = move || {
                let worker = io.open().and_then(|io| {
                    worker::Worker::new(
                        index,
                        io,
                        listener,
                        handle,
                        limits,
                        handler,
                        #[cfg(feature = "tls")]
                        tls,
                    )
                });
                match worker {
                    Ok(worker) => {
                        let _ = ready.send(Ok(()));
                        worker.run();
                    }
                    Err(err) => {
                        let _ = ready.send(Err(err));
                    }
                }
            };
            let join = std::thread::Builder::new()
                .name(format!("fullduplex-worker-{index}"))
                .spawn(start)?;
            joins.push(join);
        }
        drop(ready);
        let running = RunningServer {
            handle: ServerHandle {
                shared,
                worker: None,
            },
            joins,
            event_loop,
        };
        for _ in 0..threads {
            if let Ok(Err(err)) = setups.recv() {
                running.stop();
                return Err(err);
            }
        }
        Ok(running)
    }
}

/// Binds a non-blocking listening socket with a backlog deep enough for bursts of connects.
fn listen(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(4096)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

/// A server whose workers are running.
pub struct RunningServer {
    handle: ServerHandle,
    joins: Vec<JoinHandle<()>>,
    event_loop: EventLoop,
}

impl RunningServer {
    /// The address it listens on (useful after binding port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.handle.local_addr()
    }

    /// The event loop its workers run: [`EventLoop::Mio`] or [`EventLoop::IoUring`] (never
    /// [`EventLoop::IoUringOrMio`], which becomes one of them at [`Server::bind`]).
    pub fn event_loop(&self) -> EventLoop {
        self.event_loop
    }

    /// A handle to act on it from any thread.
    pub fn handle(&self) -> ServerHandle {
        self.handle.clone()
    }

    /// Waits for every worker to finish (after a shutdown).
    pub fn join(self) {
        for join in self.joins {
            let _ = join.join();
        }
    }

    /// Shuts down and waits.
    pub fn stop(self) {
        self.handle.shutdown();
        self.join();
    }
}
