//! The tokio adapter's deadlines, which the core decides and tokio's timers wake: keepalive
//! Pings, the pong deadline, the idle timeout, the close deadline and the handshake timeout;
//! and its back-pressure on a peer that does not read. Time is tokio's paused clock: it
//! advances only when every task waits, so each deadline is reached exactly, without sleeping.
#![cfg(feature = "tokio")]

mod common;

use std::future::Future;
use std::time::Duration;

use fullduplex::protocol::{CloseCode, OwnedEvent, Timeout};
use fullduplex::tokio::{connect, from_upgraded, Error, Message, Role, WebSocketStream};
use fullduplex::Config;
use futures_util::{SinkExt, StreamExt};
use tokio::io::DuplexStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use common::adapter::{echo, listener, options, serve_one, url, RawPeer};

/// A client that sends no keepalive Pings of its own.
fn quiet() -> Config {
    Config {
        ping_interval: None,
        ..Config::default()
    }
}

fn keepalive() -> Config {
    Config {
        ping_interval: Some(Duration::from_secs(30)),
        pong_timeout: Duration::from_secs(10),
        ..Config::default()
    }
}

#[tokio::test(start_paused = true)]
async fn a_peer_that_stops_answering_pings_is_cut_at_the_pong_deadline() {
    let (listener, addr) = listener().await;
    let server = serve_one(listener, keepalive(), echo);
    let mut peer = RawPeer::connect(addr, "/", "").await;
    let start = Instant::now();
    assert_eq!(peer.next_event().await, Some(OwnedEvent::Ping(Vec::new())));
    assert_eq!(
        start.elapsed().as_secs(),
        30,
        "the Ping after 30 s of silence"
    );
    // The raw peer never answers: the server gives up 10 s later, without a Close frame.
    assert_eq!(peer.next_event().await, None);
    assert_eq!(start.elapsed().as_secs(), 40);
    let error = server.await.unwrap().unwrap_err();
    assert!(matches!(error, Error::TimedOut(Timeout::Pong)), "{error:?}");
}

#[tokio::test(start_paused = true)]
async fn a_client_that_reads_answers_pings_and_stays_connected() {
    let (listener, addr) = listener().await;
    let server = serve_one(listener, keepalive(), echo);
    let mut ws = connect(&url(addr, "/"), &options(quiet())).await.unwrap();
    // Reading for 5 minutes of quiet: the server pings every 30 s, the client's reading
    // answers each Ping (the adapter shows them as messages too).
    let start = Instant::now();
    let mut pings = 0;
    while start.elapsed() < Duration::from_secs(300) {
        match ws.recv().await.unwrap() {
            Some(Message::Ping(_)) => pings += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(pings, 10);
    ws.send(Message::text("still here")).await.unwrap();
    assert_eq!(ws.recv().await.unwrap(), Some(Message::text("still here")));
    ws.close(CloseCode::Normal, "").await.unwrap();
    assert_eq!(server.await.unwrap().unwrap(), CloseCode::Normal);
}

#[tokio::test(start_paused = true)]
async fn a_client_pings_a_silent_server_and_gives_up_at_the_pong_deadline() {
    let (listener, addr) = listener().await;
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut peer = common::adapter::RawServer::accept(tcp).await;
        // Reads the client's frames and answers nothing.
        peer.close_code().await
    });
    let mut ws = connect(&url(addr, "/"), &options(keepalive()))
        .await
        .unwrap();
    let start = Instant::now();
    let error = ws.recv().await.unwrap_err();
    assert!(matches!(error, Error::TimedOut(Timeout::Pong)), "{error:?}");
    assert_eq!(start.elapsed().as_secs(), 40);
    assert_eq!(ws.recv().await.unwrap(), None);
    server.abort();
}

#[tokio::test(start_paused = true)]
async fn a_connection_without_messages_is_closed_at_the_idle_timeout() {
    let config = Config {
        idle_timeout: Some(Duration::from_secs(60)),
        ..keepalive()
    };
    let (listener, addr) = listener().await;
    let server = serve_one(listener, config, echo);
    let mut ws = connect(&url(addr, "/"), &options(quiet())).await.unwrap();
    let start = Instant::now();
    loop {
        match ws.recv().await.unwrap() {
            Some(Message::Ping(_)) => {}
            Some(Message::Close(Some(frame))) => {
                assert_eq!(frame.code, CloseCode::GoingAway);
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(start.elapsed().as_secs(), 60);
    assert_eq!(ws.recv().await.unwrap(), None);
    server.await.unwrap().unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_peer_that_never_answers_our_close_is_cut_at_the_close_deadline() {
    let config = Config {
        close_timeout: Duration::from_secs(5),
        ..Config::default()
    };
    let (listener, addr) = listener().await;
    let server = serve_one(listener, config, |mut ws| async move {
        let start = Instant::now();
        let closed = ws.close(CloseCode::Normal, "bye").await;
        Ok((closed, start.elapsed()))
    });
    let mut peer = RawPeer::connect(addr, "/", "").await;
    assert_eq!(peer.close_code().await, CloseCode::Normal);
    // The peer never answers; the server cuts the connection 5 s after its Close.
    assert!(peer.ends().await);
    let (closed, waited) = server.await.unwrap().unwrap();
    assert!(
        matches!(closed, Err(Error::TimedOut(Timeout::Close))),
        "{closed:?}"
    );
    assert_eq!(waited.as_secs(), 5);
}

#[tokio::test(start_paused = true)]
async fn a_handshake_that_never_completes_times_out() {
    let config = Config {
        handshake_timeout: Duration::from_secs(10),
        ..Config::default()
    };
    let (listener, addr) = listener().await;
    let server = serve_one(listener, config, echo);
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut tcp, b"GET / HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let start = Instant::now();
    let error = server.await.unwrap().unwrap_err();
    assert!(matches!(&error, Error::Io(e) if e.kind() == std::io::ErrorKind::TimedOut));
    assert_eq!(start.elapsed().as_secs(), 10);
}

#[tokio::test(start_paused = true)]
async fn sending_to_a_peer_that_never_reads_waits_with_the_queue_bounded() {
    let limit = 256 << 10;
    let config = Config {
        max_outbound_queue: limit,
        ..quiet()
    };
    let (listener, addr) = listener().await;
    let server = serve_one(listener, config, move |mut ws| async move {
        let message = vec![0x5a; 4096];
        let mut sent = 0usize;
        // `feed` waits while the queue is over the limit; a wait that lasts a virtual minute
        // is one the peer will never release.
        loop {
            let fed = ws.feed(Message::binary(message.clone()));
            match tokio::time::timeout(Duration::from_secs(60), fed).await {
                Ok(result) => result?,
                Err(_) => break,
            }
            sent += message.len();
            assert!(ws.connection().buffered_amount() <= limit + message.len() + 14);
            assert!(sent < 1 << 30, "sent 1 GiB to a peer that never reads");
        }
        Ok((sent, ws.connection().buffered_amount()))
    });
    // Connects and never reads.
    let peer = RawPeer::connect(addr, "/", "").await;
    let (sent, queued) = server.await.unwrap().unwrap();
    assert!(
        queued > limit,
        "the wait began with the queue over the limit: {queued}"
    );
    assert!(queued <= limit + 4096 + 14, "{queued}");
    assert!(sent > limit, "the socket's buffers took some: {sent}");
    drop(peer);
}

#[tokio::test(start_paused = true)]
async fn an_echo_with_recv_with_stops_reading_a_peer_that_never_reads() {
    use fullduplex::protocol::{Event, Sender};
    let limit = 128 << 10;
    let config = Config {
        max_outbound_queue: limit,
        ..quiet()
    };
    let (listener, addr) = listener().await;
    let server = serve_one(listener, config, move |mut ws| async move {
        let echo_back = |event: Event<'_>, tx: &mut Sender| {
            if let Event::Message(message) = event {
                tx.send(message).unwrap();
            }
        };
        let mut echoed = 0usize;
        // An echo that makes no progress for a virtual minute with its queue over the limit
        // is held by the peer (a quiet minute below it would be input not yet seen).
        loop {
            let next = tokio::time::timeout(Duration::from_secs(60), ws.recv_with(echo_back));
            match next.await {
                Ok(next) => assert!(next?.is_some()),
                Err(_) if ws.connection().buffered_amount() > limit => break,
                Err(_) => continue,
            }
            echoed += 1;
            assert!(ws.connection().buffered_amount() <= limit + 4096 + 14);
            assert!(echoed < 1 << 18, "echoed 1 GiB to a peer that never reads");
        }
        Ok((echoed, ws.connection().buffered_amount()))
    });
    let mut peer = RawPeer::connect(addr, "/", "").await;
    let writer = tokio::spawn(async move {
        let message = "m".repeat(4096);
        // Writes until the server stops reading and the sockets' buffers are full.
        loop {
            peer.send_text(&message).await;
        }
    });
    let (echoed, queued) = server.await.unwrap().unwrap();
    assert!(
        queued > limit,
        "the echo waits with its queue over the limit: {queued}"
    );
    assert!(echoed * 4096 > limit, "{echoed} messages echoed");
    writer.abort();
}

/// The reader half of a split stream and when it ended.
type ReaderEnd = (Error, Duration);

/// The halves of `StreamExt::split` in two tasks, as tokio programs run them: a task that
/// writes what `messages` brings (its first error ends it), and the reader, to run, which
/// reads until the stream ends: the error that ended it and when.
fn split_tasks<S>(
    ws: WebSocketStream<S>,
    mut messages: mpsc::Receiver<Message>,
) -> (
    JoinHandle<Result<(), Error>>,
    impl Future<Output = ReaderEnd>,
)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut write, mut read) = ws.split();
    let writer = tokio::spawn(async move {
        while let Some(message) = messages.recv().await {
            write.send(message).await?;
        }
        Ok(())
    });
    let reader = async move {
        let start = Instant::now();
        loop {
            match read.next().await {
                Some(Ok(_)) => {}
                Some(Err(e)) => return (e, start.elapsed()),
                None => panic!("the stream ended without an error"),
            }
        }
    };
    (writer, reader)
}

/// Serves one connection with [`split_tasks`]: the reader's end.
fn serve_split(
    listener: tokio::net::TcpListener,
    config: Config,
    messages: mpsc::Receiver<Message>,
) -> JoinHandle<Result<ReaderEnd, Error>> {
    serve_one(listener, config, move |ws| async move {
        let (writer, reader) = split_tasks(ws, messages);
        let end = reader.await;
        writer.abort();
        Ok(end)
    })
}

/// Waits for `f` at most a virtual hour: a deadline lost on a task that does not poll the
/// stream would leave it waiting forever.
async fn within_an_hour<F: Future>(f: F) -> F::Output {
    match tokio::time::timeout(Duration::from_secs(3600), f).await {
        Ok(done) => done,
        Err(_) => panic!("still waiting after a virtual hour: a deadline was lost"),
    }
}

#[tokio::test(start_paused = true)]
async fn split_halves_reach_the_pong_deadline_while_the_writer_waits_on_a_channel() {
    let (listener, addr) = listener().await;
    let (to_writer, messages) = mpsc::channel(1);
    let server = serve_split(listener, keepalive(), messages);
    let mut peer = RawPeer::connect(addr, "/", "").await;
    let start = Instant::now();
    // The reader waits; then the writer sends, polling the stream last, and waits on its
    // channel.
    to_writer.send(Message::text("hello")).await.unwrap();
    let hello = Some(OwnedEvent::Text("hello".into()));
    assert_eq!(peer.next_event().await, hello);
    let ping = within_an_hour(peer.next_event()).await;
    assert_eq!(ping, Some(OwnedEvent::Ping(Vec::new())));
    assert_eq!(start.elapsed().as_secs(), 30, "the keepalive Ping");
    // Never answered: the reader's deadline ends the connection.
    assert_eq!(within_an_hour(peer.next_event()).await, None);
    let (end, when) = within_an_hour(server).await.unwrap().unwrap();
    assert!(matches!(end, Error::TimedOut(Timeout::Pong)), "{end:?}");
    assert_eq!(when.as_secs(), 40);
}

#[tokio::test(start_paused = true)]
async fn split_halves_reach_the_idle_timeout_while_the_writer_waits_on_a_channel() {
    let config = Config {
        idle_timeout: Some(Duration::from_secs(60)),
        close_timeout: Duration::from_secs(5),
        ..quiet()
    };
    let (listener, addr) = listener().await;
    let (to_writer, messages) = mpsc::channel(1);
    let server = serve_split(listener, config, messages);
    let mut peer = RawPeer::connect(addr, "/", "").await;
    let start = Instant::now();
    to_writer.send(Message::text("hello")).await.unwrap();
    let hello = Some(OwnedEvent::Text("hello".into()));
    assert_eq!(peer.next_event().await, hello);
    // The idle timeout's Close, then the close deadline: the peer answers neither.
    let code = within_an_hour(peer.close_code()).await;
    assert_eq!(code, CloseCode::GoingAway);
    assert_eq!(start.elapsed().as_secs(), 60);
    assert!(within_an_hour(peer.ends()).await);
    let (end, when) = within_an_hour(server).await.unwrap().unwrap();
    assert!(matches!(end, Error::TimedOut(Timeout::Close)), "{end:?}");
    assert_eq!(when.as_secs(), 65);
}

/// A server stream over an in-memory pipe whose other end (returned, to keep) never reads.
/// Unlike a TCP socket's, the pipe's shutdown does not wake a writer waiting on it: only the
/// stream can.
fn over_a_pipe_never_read() -> (WebSocketStream<DuplexStream>, DuplexStream) {
    let (ours, theirs) = tokio::io::duplex(64 << 10);
    let ws = from_upgraded(ours, Role::Server, keepalive(), None, None);
    (ws, theirs)
}

#[tokio::test(start_paused = true)]
async fn a_writer_stuck_on_a_peer_that_never_reads_gets_the_readers_timeout() {
    let (ws, _peer) = over_a_pipe_never_read();
    let (to_writer, messages) = mpsc::channel(4);
    let (writer, reader) = split_tasks(ws, messages);
    let reader = tokio::spawn(reader);
    let start = Instant::now();
    // More than the pipe holds: the writer waits in its flush.
    for _ in 0..4 {
        to_writer
            .send(Message::binary(vec![7; 32 << 10]))
            .await
            .unwrap();
    }
    let written = within_an_hour(writer).await.unwrap();
    assert!(
        matches!(written, Err(Error::TimedOut(Timeout::Pong))),
        "{written:?}"
    );
    assert_eq!(start.elapsed().as_secs(), 40, "the pong deadline");
    let (end, when) = within_an_hour(reader).await.unwrap();
    assert!(matches!(end, Error::TimedOut(Timeout::Pong)), "{end:?}");
    assert_eq!(when.as_secs(), 40);
}

#[tokio::test(start_paused = true)]
async fn a_send_to_a_peer_that_never_reads_ends_at_the_pong_deadline_without_a_reader() {
    let (mut ws, _peer) = over_a_pipe_never_read();
    let start = Instant::now();
    // Nobody reads: the sender's wait runs the deadlines itself.
    let sent = tokio::spawn(async move { ws.send(Message::binary(vec![7; 256 << 10])).await });
    let sent = within_an_hour(sent).await.unwrap();
    assert!(
        matches!(sent, Err(Error::TimedOut(Timeout::Pong))),
        "{sent:?}"
    );
    assert_eq!(start.elapsed().as_secs(), 40, "the pong deadline");
}
