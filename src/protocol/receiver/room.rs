//! Room in the receive buffer for the next read: the live bytes moved to the front, or to a
//! larger buffer, sized for the frame arriving.
//!
//! The frame lengths of [RFC 6455 §5.2](https://www.rfc-editor.org/rfc/rfc6455#section-5.2)
//! tell how many bytes are still to come; the limits of
//! [RFC 6455 §10.4](https://www.rfc-editor.org/rfc/rfc6455#section-10.4) were checked at the
//! header. A buffer grows with what arrived, never with what a header declared alone: it
//! grows where it lies (the allocator may extend it or move its pages), to at most twice its
//! size (and never larger than the frame needs, with room for one read after it), rounded up
//! to the sizes the thread keeps. A large buffer the thread already holds
//! (`protocol::large_buffers`) is taken instead when one fits the whole frame: no allocation,
//! so a frame of a megabyte arriving in a 64 KiB read buffer is moved once, not once per
//! doubling, and into memory that is neither zeroed again nor faulted in.

use super::flight::{Flight, Framing, Input, MessageFrame};
use crate::protocol::large_buffers;

/// The receive buffer grows by at least this much.
const MIN_BUFFER: usize = 4096;

impl Flight {
    /// Bytes of the data frame arriving that are not in the buffer yet (0 between frames).
    /// In whole-message delivery a data frame stays in the buffer until it is complete.
    pub(super) fn frame_rest(&self) -> usize {
        let Framing::Message {
            frame: MessageFrame::Data(data),
            ..
        } = &self.framing
        else {
            return 0;
        };
        let awaited = data.payload.len - data.released;
        awaited.saturating_sub(self.input.end - self.input.start)
    }
}

impl Input {
    /// Makes room for at least `min` more bytes after the live ones, where `frame_rest` more
    /// bytes of the frame arriving are to come: the live bytes move to the front when that is
    /// enough, else into a kept large buffer (the old one then kept if it is large), else the
    /// buffer grows where it lies (module docs).
    pub(super) fn make_room(&mut self, min: usize, frame_rest: usize) {
        let live = self.end - self.start;
        if self.buf.len() - live >= min {
            self.buf.copy_within(self.start..self.end, 0);
        } else {
            // The whole frame and a read after it: a buffer that held the frame exactly
            // would not hold the next one with its header, and would move it whole.
            let frame = live + frame_rest + min;
            let doubled = (live + min).max(self.buf.len() * 2).max(MIN_BUFFER);
            let size = if frame_rest > 0 {
                large_buffers::capacity_for(doubled.min(frame))
            } else {
                doubled
            };
            // A kept buffer only for a frame known to be large: a read buffer is not one.
            let kept = if frame_rest > 0 {
                large_buffers::take(frame)
            } else {
                None
            };
            match kept {
                Some(bigger) => self.move_into(bigger),
                None => self.grow_in_place(size),
            }
        }
        self.start = 0;
        self.end = live;
    }

    /// Moves the live bytes to the front of `bigger` (a kept buffer, initialised up to its
    /// length), which becomes the buffer; the old one is kept if it is large.
    fn move_into(&mut self, mut bigger: Vec<u8>) {
        let live = self.end - self.start;
        let capacity = bigger.capacity();
        let bytes = &self.buf[self.start..self.end];
        if bigger.len() >= live {
            bigger[..live].copy_from_slice(bytes);
        } else {
            bigger.clear();
            bigger.extend_from_slice(bytes);
        }
        // Zeroed only where it was never written.
        bigger.resize(capacity, 0);
        large_buffers::give(std::mem::replace(&mut self.buf, bigger));
    }

    /// Grows the buffer to `size` where it lies, the live bytes first: the allocator may
    /// extend the allocation, or move its pages rather than copy them (`mremap`).
    fn grow_in_place(&mut self, size: usize) {
        let live = self.end - self.start;
        self.buf.copy_within(self.start..self.end, 0);
        self.buf.truncate(live);
        // Exactly `size`: `resize` alone may double the capacity.
        self.buf.reserve_exact(size - live);
        self.buf.resize(size, 0);
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{Config, MessageDelivery};
    use crate::protocol::large_buffers;
    use crate::protocol::{Connection, Event, Message};

    const READ: usize = 64 << 10;
    const FRAME: usize = 1 << 20;

    /// An unmasked binary frame of `len` bytes, as a server sends it.
    fn frame(len: usize) -> Vec<u8> {
        let mut out = vec![0x82, 127];
        out.extend_from_slice(&(len as u64).to_be_bytes());
        out.extend((0..len).map(|i| (i % 251) as u8));
        out
    }

    fn client(delivery: MessageDelivery) -> Connection {
        let config = Config {
            message_delivery: delivery,
            ..Config::default()
        };
        Connection::client(config, || [0u8; 4])
    }

    /// Reads `bytes` as a runtime does, `READ` bytes of room asked for each time; returns
    /// the room offered before each read with the bytes read until then, and the binary
    /// messages delivered.
    fn read(conn: &mut Connection, bytes: &[u8]) -> (Vec<(usize, usize)>, Vec<Vec<u8>>) {
        let (mut rooms, mut messages, mut at) = (Vec::new(), Vec::new(), 0);
        while at < bytes.len() {
            let space = conn.read_space(READ);
            rooms.push((space.len(), at));
            let n = space.len().min(bytes.len() - at);
            space[..n].copy_from_slice(&bytes[at..at + n]);
            conn.commit_read(n);
            at += n;
            while let Some(event) = conn.poll_event().unwrap() {
                if let Event::Message(Message::Binary(data)) = event {
                    messages.push(data.to_vec());
                }
            }
        }
        (rooms, messages)
    }

    #[test]
    fn a_large_frame_grows_the_buffer_at_most_twofold_without_a_kept_buffer() {
        while large_buffers::take(0).is_some() {}
        let bytes = frame(FRAME);
        let (rooms, messages) = read(&mut client(MessageDelivery::Whole), &bytes);
        assert_eq!(messages, vec![bytes[10..].to_vec()]);
        // Grown with what arrived, not with the 1 MiB the header declared.
        assert!(
            rooms.iter().all(|&(room, read)| room <= 2 * read + READ),
            "{rooms:?}"
        );
    }

    #[test]
    fn a_kept_buffer_takes_the_rest_of_a_large_frame_at_once() {
        while large_buffers::take(0).is_some() {}
        large_buffers::give(vec![0; 2 * FRAME]);
        let bytes = frame(FRAME);
        let (rooms, messages) = read(&mut client(MessageDelivery::Whole), &bytes);
        assert_eq!(messages, vec![bytes[10..].to_vec()]);
        // After the first read, room for the whole rest of the frame: moved once.
        assert!(rooms[1].0 >= FRAME + 10 - READ, "{rooms:?}");
        assert_eq!(rooms.len(), 2);
        while large_buffers::take(0).is_some() {}
    }

    #[test]
    fn streamed_delivery_keeps_to_read_sized_room() {
        while large_buffers::take(0).is_some() {}
        large_buffers::give(vec![0; 2 * FRAME]);
        let mut conn = client(MessageDelivery::Streamed);
        let (rooms, _) = read(&mut conn, &frame(FRAME));
        assert!(rooms.iter().all(|&(room, _)| room <= 2 * READ), "{rooms:?}");
        while large_buffers::take(0).is_some() {}
    }
}
