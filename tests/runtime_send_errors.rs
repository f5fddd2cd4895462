//! What the application hears when the server does not send its message: the slow-consumer
//! policy's decision (`SendError::SlowConsumer`, with what was done), then
//! `SendError::Closed` once the connection is closing; never a misuse of the API.
#![cfg(feature = "runtime")]

mod common;

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};

use common::runtime::*;
use fullduplex::config::{MessageDelivery, SlowConsumer};
use fullduplex::protocol::handshake::{ClientOffer, Request};
use fullduplex::protocol::{Chunk, Message};
use fullduplex::server::{Conn, Handler, SendError, StatsSnapshot, Upgrade};
use fullduplex::Config;

/// Echoes every message (and every chunk, as a fragment), keeping the errors of its sends.
#[derive(Clone, Default)]
struct RecordingEcho {
    errors: Arc<Mutex<Vec<SendError>>>,
}

impl RecordingEcho {
    fn record(&self, sent: Result<(), SendError>) {
        if let Err(e) = sent {
            self.errors.lock().unwrap().push(e);
        }
    }
}

impl Handler for RecordingEcho {
    type Session = ();

    fn upgrade(&mut self, _: &Request, _: &ClientOffer) -> Upgrade<()> {
        Upgrade::accept(())
    }

    fn on_message(&mut self, conn: &mut Conn<'_, ()>, message: Message<'_>) {
        self.record(conn.send(message));
    }

    fn on_chunk(&mut self, conn: &mut Conn<'_, ()>, chunk: Chunk<'_>) {
        self.record(conn.send_fragment(chunk.kind, chunk.data, chunk.last));
    }
}

/// A WebSocket opened by hand on a socket with a 16 KiB receive buffer, that reads nothing.
fn silent_reader(addr: SocketAddr) -> TcpStream {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(16 << 10).unwrap();
    socket.connect(&addr.into()).unwrap();
    raw_upgrade_on(socket.into()).0
}

/// Messages of 64 KiB a client sends to the echo while reading nothing: with a 256 KiB queue
/// limit, far more than the queue and the kernel's buffers hold.
const FLOOD: usize = 200;

/// Floods an echo (whose queue limit is 256 KiB) from a client that never reads; once the
/// server has read every message, the errors its sends met and the server's counters.
fn echo_to_a_client_that_never_reads(
    policy: SlowConsumer,
    delivery: MessageDelivery,
) -> (Vec<SendError>, StatsSnapshot) {
    let config = Config {
        max_outbound_queue: 256 << 10,
        slow_consumer: policy,
        message_delivery: delivery,
        ..test_config()
    };
    let app = RecordingEcho::default();
    let server = start(config, app.clone());
    let mut stream = silent_reader(server.local_addr());
    let frame = common::client_frame(0x82, &vec![b'f'; 64 << 10]);
    for _ in 0..FLOOD {
        stream.write_all(&frame).unwrap();
    }
    let handle = server.handle();
    wait_until("the server to read every message", || {
        handle.stats().messages_in == FLOOD as u64
    });
    let errors = app.errors.lock().unwrap().clone();
    drop(stream);
    (errors, handle.stats())
}

#[test]
fn a_message_over_the_limit_says_the_slow_consumer_is_closed_then_sends_say_closed() {
    let (errors, stats) =
        echo_to_a_client_that_never_reads(SlowConsumer::Close, MessageDelivery::Whole);
    assert!(errors.len() >= 2, "{errors:?}");
    assert_eq!(errors[0], SendError::SlowConsumer(SlowConsumer::Close));
    assert!(
        errors[1..].iter().all(|e| *e == SendError::Closed),
        "{errors:?}"
    );
    assert_eq!(stats.slow_consumer_closes, 1);
}

#[test]
fn a_dropped_message_says_so_and_the_connection_stays_open() {
    let (errors, stats) =
        echo_to_a_client_that_never_reads(SlowConsumer::DropMessages, MessageDelivery::Whole);
    assert!(!errors.is_empty());
    assert!(
        errors
            .iter()
            .all(|e| *e == SendError::SlowConsumer(SlowConsumer::DropMessages)),
        "{errors:?}"
    );
    assert_eq!(errors.len() as u64, stats.slow_consumer_drops);
    assert_eq!(stats.slow_consumer_closes, 0);
}

#[test]
fn a_fragment_over_the_limit_closes_even_under_drop_messages() {
    let (errors, stats) =
        echo_to_a_client_that_never_reads(SlowConsumer::DropMessages, MessageDelivery::Streamed);
    assert!(errors.len() >= 2, "{errors:?}");
    assert_eq!(errors[0], SendError::SlowConsumer(SlowConsumer::Close));
    assert!(
        errors[1..].iter().all(|e| *e == SendError::Closed),
        "{errors:?}"
    );
    assert_eq!(
        (stats.slow_consumer_closes, stats.slow_consumer_drops),
        (1, 0)
    );
}
