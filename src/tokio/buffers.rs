//! Receive buffers lent to connections while they read and taken back once they hold
//! nothing, so that reads are large and an idle connection keeps no buffer.
//!
//! Framing ([RFC 6455 §5.2](https://www.rfc-editor.org/rfc/rfc6455#section-5.2)) happens in
//! the core's receive buffer; this file only decides whose memory it is. The pool is one per
//! thread (a current-thread runtime's, or each worker's), as the mio runtime keeps one per
//! event loop.

use std::cell::RefCell;

use crate::protocol::Receiver;

/// The room each read offers: a 16 KiB message with its header arrives in one read.
pub(crate) const READ_SIZE: usize = 64 << 10;

/// Most buffers a thread keeps for reuse (beyond that, a taken-back buffer is freed).
const KEEP: usize = 64;

thread_local! {
    static FREE: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

/// Gives `rx` a buffer of this thread's pool if it holds none (the core allocates one
/// otherwise).
pub(crate) fn lend(rx: &mut Receiver) {
    if rx.needs_buffer() {
        if let Some(buf) = FREE.with(|free| free.borrow_mut().pop()) {
            rx.provide_buffer(buf);
        }
    }
}

/// Takes `rx`'s buffer back into this thread's pool if it holds no unprocessed input; one
/// grown for a large frame is freed instead.
pub(crate) fn take_back(rx: &mut Receiver) {
    let Some(buf) = rx.take_idle_buffer() else {
        return;
    };
    if buf.len() <= 2 * READ_SIZE {
        FREE.with(|free| {
            let mut free = free.borrow_mut();
            if free.len() < KEEP {
                free.push(buf);
            }
        });
    }
}
