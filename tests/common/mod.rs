//! Helpers shared by the integration tests.
#![allow(dead_code)]

#[cfg(feature = "tokio")]
pub mod adapter;
pub mod counting;
#[cfg(feature = "runtime")]
pub mod runtime;
#[cfg(feature = "io-uring")]
pub mod seccomp;

use fullduplex::protocol::{CloseCode, Connection, OwnedEvent};
use fullduplex::{Config, ProtocolError};

/// A deterministic key source for client connections (tests only; the runtime uses the OS).
pub fn counting_keys() -> impl FnMut() -> [u8; 4] + Send {
    let mut n: u32 = 0x1234_5678;
    move || {
        n = n.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        n.to_be_bytes()
    }
}

/// A fixed key, for RFC vectors.
pub fn fixed_key(key: [u8; 4]) -> impl FnMut() -> [u8; 4] + Send {
    move || key
}

pub fn server() -> Connection {
    Connection::server(Config::default())
}

pub fn client() -> Connection {
    Connection::client(Config::default(), counting_keys())
}

/// Polls until `Ok(None)` or an error, collecting owned events.
pub fn drain(conn: &mut Connection) -> (Vec<OwnedEvent>, Option<ProtocolError>) {
    let mut events = Vec::new();
    for _ in 0..1_000_000 {
        match conn.poll_event() {
            Ok(Some(event)) => events.push(event.to_owned()),
            Ok(None) => return (events, None),
            Err(err) => return (events, Some(err)),
        }
    }
    panic!("poll_event never returned Ok(None)");
}

/// Feeds `bytes` whole, then drains.
pub fn feed(conn: &mut Connection, bytes: &[u8]) -> (Vec<OwnedEvent>, Option<ProtocolError>) {
    conn.receive(bytes);
    drain(conn)
}

/// Feeds `bytes` one at a time, draining after each.
pub fn feed_bytewise(
    conn: &mut Connection,
    bytes: &[u8],
) -> (Vec<OwnedEvent>, Option<ProtocolError>) {
    let mut events = Vec::new();
    for b in bytes {
        conn.receive(std::slice::from_ref(b));
        let (mut more, err) = drain(conn);
        events.append(&mut more);
        if err.is_some() {
            return (events, err);
        }
    }
    (events, None)
}

/// Takes every queued output byte.
pub fn take_output(conn: &mut Connection) -> Vec<u8> {
    let out: Vec<u8> = conn.output_chunks().flatten().copied().collect();
    conn.consume_output(out.len());
    out
}

/// A masked client frame, built by hand (for hostile and rule tests).
pub fn client_frame(b0: u8, payload: &[u8]) -> Vec<u8> {
    frame_with_mask(b0, payload, Some([0x11, 0x22, 0x33, 0x44]))
}

/// An unmasked server frame, built by hand.
pub fn server_frame(b0: u8, payload: &[u8]) -> Vec<u8> {
    frame_with_mask(b0, payload, None)
}

pub fn frame_with_mask(b0: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut out = vec![b0];
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    match payload.len() {
        n @ 0..=125 => out.push(mask_bit | n as u8),
        n @ 126..=0xFFFF => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    match mask {
        Some(key) => {
            out.extend_from_slice(&key);
            out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        }
        None => out.extend_from_slice(payload),
    }
    out
}

/// Parses the close frame our side queued: (code, reason). Panics if the output is not
/// exactly one unmasked-or-masked Close frame at its end.
pub fn last_close_frame(output: &[u8]) -> (u16, String) {
    use fullduplex::protocol::FrameHeader;
    let mut rest = output;
    let mut last = None;
    while !rest.is_empty() {
        let (h, n) = FrameHeader::parse(rest).unwrap().unwrap();
        let len = h.payload_len as usize;
        let mut payload = rest[n..n + len].to_vec();
        if let Some(key) = h.mask {
            fullduplex::protocol::mask::apply_mask(&mut payload, key, 0);
        }
        last = Some((h.opcode, payload));
        rest = &rest[n + len..];
    }
    let (opcode, payload) = last.expect("no frame in output");
    assert_eq!(
        opcode,
        fullduplex::protocol::Opcode::Close,
        "last frame is not a Close"
    );
    assert!(payload.len() >= 2, "close frame without a code");
    let code = u16::from_be_bytes([payload[0], payload[1]]);
    (code, String::from_utf8(payload[2..].to_vec()).unwrap())
}

/// Asserts that feeding `bytes` fails the connection with `code`, both whole and bytewise,
/// and that the queued output ends with a Close frame carrying that code.
pub fn assert_fails(make: impl Fn() -> Connection, bytes: &[u8], code: CloseCode) {
    for bytewise in [false, true] {
        let mut conn = make();
        let (_, err) = if bytewise {
            feed_bytewise(&mut conn, bytes)
        } else {
            feed(&mut conn, bytes)
        };
        let err = err.unwrap_or_else(|| panic!("no error (bytewise: {bytewise})"));
        assert_eq!(err.close_code(), code, "{err:?} (bytewise: {bytewise})");
        let out = take_output(&mut conn);
        assert_eq!(last_close_frame(&out).0, u16::from(code));
        assert!(conn.is_closed());
        // Nothing more is emitted or accepted.
        assert_eq!(conn.poll_event(), Ok(None));
        assert!(conn.send_text("late").is_err());
        assert!(!conn.wants_write());
    }
}
