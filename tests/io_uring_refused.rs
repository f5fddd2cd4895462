//! The io_uring event loop where io_uring cannot be set up: `io_uring_setup` made to fail by a
//! seccomp filter (`common/seccomp.rs`), as a container's default profile or an old kernel
//! makes it fail. Asking for io_uring is then refused, saying why, by the server's bind and by
//! the many-connection client; asking for io_uring or mio runs on mio. The filter binds the
//! thread that installs it and the threads it starts (the server's workers), not the rest of
//! this process.
#![cfg(all(
    feature = "io-uring",
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]

mod common;

use std::io;
use std::thread;
use std::time::Instant;

use common::runtime::*;
use common::seccomp;
use fullduplex::client::{ClientConn, ClientHandler, ClientId, ClientOptions, Ended, MultiClient};
use fullduplex::protocol::{CloseCode, Message, OwnedEvent};
use fullduplex::server::{EventLoop, RunningServer, Server, ServerConfig};

/// Binds the test application on `event_loop` from a thread on which `io_uring_setup` fails
/// with `errno`.
fn bind_without_io_uring(errno: i32, event_loop: EventLoop) -> io::Result<RunningServer> {
    thread::spawn(move || {
        seccomp::forbid_io_uring_here(errno).expect("a seccomp filter on this thread");
        assert_eq!(
            seccomp::io_uring_setup_error(),
            Some(errno),
            "the filter holds"
        );
        let config = ServerConfig {
            event_loop,
            threads: 1,
            ..ServerConfig::from(test_config())
        };
        Server::new(config, TestApp::new().0).bind("127.0.0.1:0")
    })
    .join()
    .expect("the binding thread")
}

/// The refusal's text, lower-cased, after checking that it names io_uring.
fn refusal(errno: i32) -> String {
    let error = bind_without_io_uring(errno, EventLoop::IoUring)
        .err()
        .expect("bind refuses io_uring");
    let text = error.to_string().to_lowercase();
    assert!(text.contains("io_uring"), "{error}");
    text
}

#[test]
fn the_filter_binds_only_the_thread_that_installs_it() {
    let filtered = thread::spawn(|| {
        seccomp::forbid_io_uring_here(libc::EPERM).expect("a seccomp filter on this thread");
        seccomp::io_uring_setup_error()
    });
    assert_eq!(filtered.join().unwrap(), Some(libc::EPERM));
    assert_eq!(seccomp::io_uring_setup_error(), None, "io_uring works here");
}

#[test]
fn io_uring_forbidden_by_seccomp_is_refused_saying_it_is_not_permitted() {
    let text = refusal(libc::EPERM);
    assert!(
        text.contains("not permitted") || text.contains("forbidden"),
        "{text}"
    );
}

#[test]
fn io_uring_missing_from_the_kernel_is_refused_saying_so() {
    let text = refusal(libc::ENOSYS);
    assert!(
        text.contains("no io_uring") || text.contains("not implemented"),
        "{text}"
    );
}

#[test]
fn io_uring_or_mio_serves_on_mio_where_io_uring_is_forbidden() {
    let running = bind_without_io_uring(libc::EPERM, EventLoop::IoUringOrMio).expect("binds");
    let server = TestServer::on(running, EventLoop::Mio);
    let mut ws = connect(server.local_addr());
    ws.send_text("served on mio").unwrap();
    assert_eq!(ws.recv().unwrap(), OwnedEvent::Text("served on mio".into()));
}

/// Opens one connection and closes it once open; how it ended.
struct OpenThenClose(Option<String>);

impl ClientHandler for OpenThenClose {
    fn on_open(&mut self, conn: &mut ClientConn<'_>) {
        conn.close(CloseCode::Normal, "done").unwrap();
    }

    fn on_message(&mut self, _: &mut ClientConn<'_>, _: Message<'_>) {}

    fn on_end(&mut self, _: ClientId, ended: &Ended) {
        self.0 = Some(ended.to_string());
    }
}

#[test]
fn the_multi_client_refuses_io_uring_where_forbidden_and_falls_back_to_mio_when_asked() {
    let server = start_on(EventLoop::Mio, test_config(), TestApp::new().0);
    let url = ws_url(server.local_addr(), "/");
    let ended = thread::spawn(move || {
        seccomp::forbid_io_uring_here(libc::EPERM).expect("a seccomp filter on this thread");
        let refused = MultiClient::with_event_loop(ClientOptions::default(), EventLoop::IoUring)
            .err()
            .expect("io_uring refused");
        let text = refused.to_string().to_lowercase();
        assert!(
            text.contains("io_uring") && text.contains("forbidden"),
            "{text}"
        );
        let options = ClientOptions::default();
        let mut clients = MultiClient::with_event_loop(options, EventLoop::IoUringOrMio).unwrap();
        assert_eq!(clients.event_loop(), EventLoop::Mio);
        clients.connect(&url).unwrap();
        let mut app = OpenThenClose(None);
        let until = Instant::now() + DEADLINE;
        while !clients.is_empty() && Instant::now() < until {
            clients.poll(&mut app, Some(DEADLINE)).unwrap();
        }
        app.0
    });
    let ended = ended.join().expect("the client's thread");
    assert_eq!(
        ended.as_deref(),
        Some("the connection closed with code 1000")
    );
}
