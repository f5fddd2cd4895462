//! The stream against a real ring and socket pair: a multishot receive into the buffer ring,
//! reads that copy out and free the buffers, sends that go in order, the end of the stream.

use std::io::{IoSlice, Read, Write};
use std::net::{TcpListener, TcpStream as StdStream};

use io_uring::{cqueue, opcode, types, IoUring};

use super::{UringStream, DIRECT_WRITE, SEND_LIMIT};
use crate::uring::op::{Op, UserData};
use crate::uring::{setup, BufRing};

fn pair() -> (UringStream, StdStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = StdStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    server.set_nonblocking(true).unwrap();
    let stream = UringStream::new(mio::net::TcpStream::from_std(server));
    (stream, client)
}

fn arm_recv(ring: &mut IoUring, stream: &UringStream, buffers: &BufRing) {
    let recv = opcode::RecvMulti::new(types::Fd(stream.as_raw_fd()), buffers.group())
        .build()
        .user_data(UserData::new(Op::Recv, 0, 0).encode());
    unsafe { ring.submission().push(&recv).unwrap() };
}

/// Waits for one completion: its user data, result and flags.
fn complete(ring: &mut IoUring) -> (UserData, i32, u32) {
    ring.submit_and_wait(1).unwrap();
    let cqe = ring.completion().next().unwrap();
    let data = UserData::decode(cqe.user_data()).unwrap();
    (data, cqe.result(), cqe.flags())
}

use std::os::fd::AsRawFd;

#[test]
fn received_bytes_are_read_across_chunks_and_their_buffers_go_back() {
    let mut ring = setup::new_ring(8).unwrap();
    let mut buffers = BufRing::new(&ring, 3, 4, 8).unwrap();
    let (mut stream, mut client) = pair();
    arm_recv(&mut ring, &stream, &buffers);
    client.write_all(b"hello, ring").unwrap();
    let mut received = 0;
    while received < 11 {
        let (data, result, flags) = complete(&mut ring);
        assert_eq!((data.op, cqueue::more(flags)), (Op::Recv, true));
        let bid = cqueue::buffer_select(flags).unwrap();
        stream.received(buffers.take(bid, result as usize).unwrap());
        received += result as usize;
    }
    let mut out = [0u8; 16];
    let mut read = 0;
    while read < 11 {
        read += stream.read(&mut out[read..read + 3]).unwrap();
    }
    assert_eq!(&out[..11], b"hello, ring");
    assert_eq!(
        stream.read(&mut out).unwrap_err().kind(),
        std::io::ErrorKind::WouldBlock
    );
    assert!(buffers.lent() > 0);
    stream.recycle(|chunk| buffers.give_back(chunk));
    buffers.publish();
    assert_eq!(buffers.lent(), 0);
    drop(client);
    let (_, result, _) = complete(&mut ring);
    assert_eq!(result, 0, "the end of the stream");
    stream.receive_ended(0);
    assert_eq!(stream.read(&mut out).unwrap(), 0);
}

#[test]
fn writes_are_sent_in_order_and_block_past_the_limit() {
    let mut ring = setup::new_ring(8).unwrap();
    let (mut stream, mut client) = pair();
    let reader = std::thread::spawn(move || {
        let mut got = Vec::new();
        client.read_to_end(&mut got).map(|_| got)
    });
    // Two writes, the second with bytes held: both go to the send buffer.
    assert_eq!(stream.write(b"ab").unwrap(), 2);
    let big = vec![7u8; SEND_LIMIT];
    let slices = [IoSlice::new(&big)];
    assert_eq!(stream.write_vectored(&slices).unwrap(), SEND_LIMIT - 2);
    let mut expected = SEND_LIMIT;
    let mut submit = stream.start_send();
    assert!(stream.start_send().is_none(), "one send at a time");
    let full = stream.write_vectored(&[IoSlice::new(b"c")]).unwrap_err();
    assert_eq!(
        full.kind(),
        std::io::ErrorKind::WouldBlock,
        "a send in flight"
    );
    let mut tail = Some(b"tail");
    while let Some((ptr, len)) = submit {
        let send = opcode::Send::new(types::Fd(stream.as_raw_fd()), ptr, len)
            .build()
            .user_data(UserData::new(Op::Send, 0, 0).encode());
        unsafe { ring.submission().push(&send).unwrap() };
        let (data, result, _) = complete(&mut ring);
        assert_eq!(data.op, Op::Send);
        submit = stream.sent(result);
        if let Some(tail) = tail.take() {
            // Written while the first send was unfinished or just done: goes after it.
            assert_eq!(stream.write(tail).unwrap(), 4);
            expected += 4;
        }
        submit = submit.or_else(|| stream.start_send());
    }
    // With no send in flight, a burst past the limit goes to the socket's buffer at once.
    let burst = vec![9u8; 2 * SEND_LIMIT];
    let mut written = 0;
    while written < burst.len() {
        written += stream.write(&burst[written..]).unwrap();
    }
    expected += burst.len();
    send_all(&mut ring, &mut stream, submit);
    stream.shutdown_write();
    let got = reader.join().unwrap().unwrap();
    assert_eq!(got.len(), expected);
    assert_eq!(&got[..2], b"ab");
    assert_eq!(&got[SEND_LIMIT..SEND_LIMIT + 4], b"tail");
    assert!(got[SEND_LIMIT + 4..].iter().all(|b| *b == 9));
}

/// Submits the stream's sends one after the other until nothing is left to send.
fn send_all(ring: &mut IoUring, stream: &mut UringStream, mut submit: Option<(*const u8, u32)>) {
    while let Some((ptr, len)) = submit.or_else(|| stream.start_send()) {
        let send = opcode::Send::new(types::Fd(stream.as_raw_fd()), ptr, len).build();
        unsafe { ring.submission().push(&send).unwrap() };
        let (_, result, _) = complete(ring);
        submit = stream.sent(result);
    }
    assert!(!stream.has_unsent());
}

fn set_buffer(fd: i32, option: i32, bytes: i32) {
    let size = std::ptr::addr_of!(bytes).cast();
    let len = std::mem::size_of::<i32>() as libc::socklen_t;
    assert_eq!(
        unsafe { libc::setsockopt(fd, libc::SOL_SOCKET, option, size, len) },
        0
    );
}

#[test]
fn a_large_write_the_socket_takes_partly_keeps_the_rest_in_order() {
    let mut ring = setup::new_ring(8).unwrap();
    let (mut stream, mut client) = pair();
    set_buffer(stream.as_raw_fd(), libc::SO_SNDBUF, 16 << 10);
    set_buffer(client.as_raw_fd(), libc::SO_RCVBUF, 16 << 10);
    let data: Vec<u8> = (0..4 << 20).map(|i: u32| (i % 251) as u8).collect();
    let slices = [IoSlice::new(&data[..3]), IoSlice::new(&data[3..])];
    let taken = stream.write_vectored(&slices).unwrap();
    // The socket took part at once, straight from the slices; the send buffer holds what
    // follows, up to the limit.
    assert_eq!(stream.pending.len(), SEND_LIMIT);
    assert!(taken > SEND_LIMIT && taken < data.len(), "took {taken}");
    assert_eq!(stream.pending[..], data[taken - SEND_LIMIT..taken]);
    let reader = std::thread::spawn(move || {
        let mut got = Vec::new();
        client.read_to_end(&mut got).map(|_| got)
    });
    let mut written = taken;
    let mut submit = None;
    while written < data.len() {
        match stream.write(&data[written..]) {
            Ok(n) => written += n,
            Err(e) => {
                assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock);
                let (ptr, len) = submit.or_else(|| stream.start_send()).unwrap();
                let send = opcode::Send::new(types::Fd(stream.as_raw_fd()), ptr, len).build();
                unsafe { ring.submission().push(&send).unwrap() };
                let (_, result, _) = complete(&mut ring);
                submit = stream.sent(result);
            }
        }
    }
    send_all(&mut ring, &mut stream, submit);
    stream.shutdown_write();
    let got = reader.join().unwrap().unwrap();
    assert!(got == data, "the bytes arrive whole and in order");
}

#[test]
fn a_large_write_with_bytes_held_waits_behind_them() {
    let (mut stream, _client) = pair();
    assert_eq!(stream.write(b"first").unwrap(), 5);
    let big = vec![1u8; 2 * DIRECT_WRITE];
    assert_eq!(stream.write(&big).unwrap(), big.len());
    assert_eq!(
        stream.pending.len(),
        5 + big.len(),
        "nothing went around the held bytes"
    );
}
