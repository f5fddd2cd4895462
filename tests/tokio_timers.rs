//! The tokio adapter's deadlines, which the core decides and tokio's timers wake: keepalive
//! Pings, the pong deadline, the idle timeout, the close deadline and the handshake timeout;
//! and its back-pressure on a peer that does not read. Time is tokio's paused clock: it
//! advances only when every task waits, so each deadline is reached exactly, without sleeping.
#![cfg(feature = "tokio")]

mod common;

use std::time::Duration;

use fullduplex::protocol::{CloseCode, OwnedEvent, Timeout};
use fullduplex::tokio::{connect, Error, Message};
use fullduplex::Config;
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
