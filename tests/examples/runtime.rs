//! The examples on the mio runtime: `echo_server`, `client` and `pubsub`.

use fullduplex::client::{connect, ClientError};
use fullduplex::protocol::{CloseCode, OwnedEvent};

use super::peer::{self, Peer};
use super::run::{run_to_end, Example};
use super::{check_echo, check_ping, close_cleanly, next_event, send, LARGE};

#[test]
fn echo_server_echoes_text_and_binary_and_closes_cleanly() {
    let example = Example::start("echo_server", &["0"]);
    check_echo(&example.url("/"), false);
    check_echo(&example.url("/"), true);
    check_ping(&example.url("/"));
}

#[test]
fn the_client_example_talks_to_both_echo_servers() {
    for server in ["sans_io_echo", "echo_server"] {
        let example = Example::start(server, &["0"]);
        let url = example.url("/");
        let (status, stdout, stderr) = run_to_end("client", &[&url]);
        assert!(status.success(), "{server}: {status}\n{stdout}\n{stderr}");
        let expected = [
            format!("connected to {url}"),
            "received text: Hello, WebSocket!".into(),
            "received binary: [de, ad, be, ef]".into(),
            "closed: 1000 \"\"".into(),
        ];
        assert_eq!(stdout.lines().collect::<Vec<_>>(), expected, "{server}");
    }
}

#[test]
fn the_client_example_says_why_it_cannot_connect() {
    // A port nobody listens on: bound, then let go.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .unwrap();
    let url = format!("ws://{addr}/");
    let (status, stdout, stderr) = run_to_end("client", &[&url]);
    assert!(!status.success());
    assert_eq!(stdout, "");
    assert_eq!(stderr.trim_end(), format!("{url}: connection refused"));
}

/// A message of [`MESSAGE`] bytes numbered `seq` (in its first 8 bytes).
fn numbered(seq: u64) -> Vec<u8> {
    let mut message = vec![b'.'; MESSAGE];
    message[..8].copy_from_slice(&seq.to_be_bytes());
    message
}

/// The number of a message made by [`numbered`].
fn number_of(event: OwnedEvent) -> u64 {
    match event {
        OwnedEvent::Binary(bytes) if bytes.len() == MESSAGE => {
            u64::from_be_bytes(bytes[..8].try_into().unwrap())
        }
        other => panic!("expected a numbered message, got {other:?}"),
    }
}

/// The size of a numbered message.
const MESSAGE: usize = 16 << 10;
/// Messages published between two checks of the readers (256 KiB: well under the example's
/// 1 MiB `max_outbound_queue`, so a reader that reads each round is never too slow).
const ROUND: u64 = 16;
/// The most rounds published to make a subscriber that never reads too slow: 64 MiB, far
/// past the example's queue limit and what the kernel can buffer (a few MiB).
const MAX_ROUNDS: u64 = 256;

/// The counter named `name` on the example's `/stats` page.
fn stat(example: &Example, name: &str) -> u64 {
    let (status, body) = example.http_get("/stats");
    assert_eq!(status, 200, "{body}");
    let line = body.lines().find_map(|line| line.strip_prefix(name));
    let value = line.and_then(|value| value.strip_prefix(": ")?.parse().ok());
    value.unwrap_or_else(|| panic!("no {name:?} in {body:?}"))
}

/// Publishes rounds of numbered messages from `publisher`, each read whole by every one of
/// `readers` before the next, until the `/stats` counter `name` is above zero. Returns how
/// many messages were published.
fn publish_until(example: &Example, publisher: &mut Peer, readers: &mut [Peer], name: &str) -> u64 {
    let mut sent = 0;
    for _ in 0..MAX_ROUNDS {
        for seq in sent..sent + ROUND {
            publisher.send_binary(&numbered(seq)).unwrap();
        }
        for reader in readers.iter_mut() {
            for seq in sent..sent + ROUND {
                assert_eq!(number_of(next_event(reader)), seq);
            }
        }
        sent += ROUND;
        if stat(example, name) > 0 {
            return sent;
        }
    }
    panic!("{name} still 0 after {sent} messages of {MESSAGE} bytes");
}

#[test]
fn pubsub_delivers_to_the_topics_subscribers_only() {
    let mut example = Example::start("pubsub", &["0"]);
    let news = example.url("/topic/news");
    let [mut publisher, mut first, mut second] = [0; 3].map(|_| peer::connect(&news, false));
    let mut sport = peer::connect(&example.url("/topic/sport"), false);
    // To the two other subscribers of `news`, text and binary (past 65 535 bytes: the 64-bit
    // length form); not back to the sender.
    let large: Vec<u8> = (0..LARGE).map(|i| i as u8).collect();
    for message in [OwnedEvent::Text("hello".into()), OwnedEvent::Binary(large)] {
        send(&mut publisher, &message);
        assert_eq!(next_event(&mut first), message);
        assert_eq!(next_event(&mut second), message);
    }
    first.send_text("from first").unwrap();
    for ws in [&mut publisher, &mut second] {
        assert_eq!(next_event(ws), OwnedEvent::Text("from first".into()));
    }
    // Not to `sport`: the first thing its subscriber hears is from its own topic, published
    // after everything above.
    let mut scorer = peer::connect(&example.url("/topic/sport"), false);
    scorer.send_text("goal").unwrap();
    assert_eq!(next_event(&mut sport), OwnedEvent::Text("goal".into()));
    // A path that names no topic is refused; a subscriber leaves with the close handshake.
    let refused = connect(&example.url("/"));
    assert!(matches!(refused, Err(ClientError::Refused(r)) if r.status == 404));
    close_cleanly(second);
    example.line_containing("left news: 1000");
}

#[test]
fn pubsub_closes_a_subscriber_that_never_reads_with_1008() {
    let mut example = Example::start("pubsub", &["0", "close"]);
    let news = example.url("/topic/news");
    let [mut publisher, mut slow, first, second] = [0; 4].map(|_| peer::connect(&news, false));
    let mut readers = [first, second];
    let sent = publish_until(
        &example,
        &mut publisher,
        &mut readers,
        "slow consumers closed",
    );
    // When it reads at last: what was queued before it was judged, in order, then the Close
    // frame with 1008 (policy violation). It never got everything.
    let mut received = 0;
    let code = loop {
        match next_event(&mut slow) {
            OwnedEvent::Closed { code, .. } => break code,
            message => assert_eq!(number_of(message), received),
        }
        received += 1;
    };
    assert_eq!(code, CloseCode::PolicyViolation);
    assert!(received < sent, "{received} of {sent}");
    example.line_containing("left news: 1008");
    // The others go on.
    publisher.send_text("after").unwrap();
    for reader in &mut readers {
        assert_eq!(next_event(reader), OwnedEvent::Text("after".into()));
    }
    assert_eq!(stat(&example, "slow consumers closed"), 1);
}

#[test]
fn pubsub_with_drop_keeps_a_slow_subscriber_and_drops_its_messages() {
    let example = Example::start("pubsub", &["0", "drop"]);
    let news = example.url("/topic/news");
    let [mut publisher, mut slow, first, second] = [0; 4].map(|_| peer::connect(&news, false));
    let mut readers = [first, second];
    let sent = publish_until(&example, &mut publisher, &mut readers, "messages dropped");
    // Our Ping's Pong is queued behind what the slow subscriber has waiting: what comes
    // before it is what was kept of the messages, in order, some missing.
    slow.ping(b"mark").unwrap();
    let mut kept = Vec::new();
    loop {
        match next_event(&mut slow) {
            OwnedEvent::Pong(payload) => break assert_eq!(payload, b"mark"),
            message => kept.push(number_of(message)),
        }
    }
    assert!(kept.windows(2).all(|pair| pair[0] < pair[1]), "{kept:?}");
    assert!((kept.len() as u64) < sent, "{} of {sent}", kept.len());
    // Still open both ways.
    slow.send_text("still here").unwrap();
    for reader in &mut readers {
        assert_eq!(next_event(reader), OwnedEvent::Text("still here".into()));
    }
    publisher.send_text("after").unwrap();
    let after = loop {
        let event = next_event(&mut slow);
        if !matches!(event, OwnedEvent::Binary(_)) {
            break event;
        }
        // A message of the last round may have reached the subscriber's worker after our Ping.
        let seq = number_of(event);
        assert!(kept.last().is_none_or(|&last| seq > last) && seq < sent);
    };
    assert_eq!(after, OwnedEvent::Text("after".into()));
    assert_eq!(stat(&example, "slow consumers closed"), 0);
    close_cleanly(slow);
}
