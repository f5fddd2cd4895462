//! Back-pressure: whether one more message may join the output queue, decided here once for
//! every runtime.
//!
//! A peer that reads slower than we send is a slow consumer. Past
//! [`Config::max_outbound_queue`] queued bytes, [`Config::slow_consumer`] says what becomes of
//! the next message: it is dropped, or the connection is closed with 1008
//! ([RFC 6455 §7.4.1](https://www.rfc-editor.org/rfc/rfc6455#section-7.4.1): "a message that
//! violates its policy"). The runtime brings only the write: before judging, the sender asks
//! it to write what the transport takes now, so that a peer is judged by what it failed to
//! read, not by how many messages arrived at once.

use super::Sender;
use crate::config::{Config, SlowConsumer};
use crate::error::SendError;
use crate::protocol::close::CloseCode;

impl Sender {
    /// Makes room for one more message. `Ok` while at most
    /// [`Config::max_outbound_queue`] bytes are queued. Over it, `write` is called to write
    /// what the transport takes now (a runtime that cannot write at once passes one that does
    /// nothing); if the queue is still over the limit, the peer is a slow consumer and
    /// [`Config::slow_consumer`] decides: the message is to be dropped, or a Close with 1008 is
    /// queued. [`SendError::SlowConsumer`] says which; [`SendError::Closed`] when nothing more
    /// may be sent.
    ///
    /// It queues nothing itself: on `Ok`, the caller sends the message. A single message
    /// larger than the limit still goes if it finds the queue within it.
    pub fn make_room(
        &mut self,
        config: &Config,
        write: impl FnOnce(&mut Sender),
    ) -> Result<(), SendError> {
        self.make_room_under(config.max_outbound_queue, config.slow_consumer, write)
    }

    /// Makes room for one fragment of a message sent with
    /// [`send_fragment`](Sender::send_fragment), as [`make_room`](Sender::make_room) does for
    /// a message, except that part of a message cannot be dropped (the rest would arrive as a
    /// message of its own, or break the fragmentation rules): over the limit the connection is
    /// closed with 1008 whatever the policy.
    pub fn make_room_for_fragment(
        &mut self,
        config: &Config,
        write: impl FnOnce(&mut Sender),
    ) -> Result<(), SendError> {
        self.make_room_under(config.max_outbound_queue, SlowConsumer::Close, write)
    }

    /// Checks, without writing, that `waiting` more bytes (messages a runtime holds back for
    /// this connection) fit beside the queue within [`Config::max_outbound_queue`]; over it,
    /// applies [`Config::slow_consumer`] as [`make_room`](Sender::make_room) does.
    pub fn check_room(&mut self, config: &Config, waiting: usize) -> Result<(), SendError> {
        self.check_open()?;
        if self.queue.len().saturating_add(waiting) <= config.max_outbound_queue {
            return Ok(());
        }
        Err(self.refuse(config.slow_consumer))
    }

    fn make_room_under(
        &mut self,
        limit: usize,
        policy: SlowConsumer,
        write: impl FnOnce(&mut Sender),
    ) -> Result<(), SendError> {
        self.check_open()?;
        if self.queue.len() <= limit {
            return Ok(());
        }
        write(self);
        if self.queue.len() <= limit {
            return Ok(());
        }
        Err(self.refuse(policy))
    }

    /// Applies `policy` to a message that finds the queue over the limit; the sender is open.
    fn refuse(&mut self, policy: SlowConsumer) -> SendError {
        if policy == SlowConsumer::Close {
            // RFC 6455 §7.4.1: 1008 "indicates that an endpoint is terminating the connection
            // because it has received a message that violates its policy" — here, reading too
            // slowly. The Close frame waits behind the queue; the close deadline cuts it.
            let _ = self.close(CloseCode::PolicyViolation, "slow consumer");
        }
        SendError::SlowConsumer(policy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::connection::Role;
    use crate::protocol::message::DataKind;

    fn config(policy: SlowConsumer) -> Config {
        Config {
            max_outbound_queue: 100,
            slow_consumer: policy,
            ..Config::default()
        }
    }

    /// A server sender with more than 100 bytes queued.
    fn backlogged() -> Sender {
        let mut tx = Sender::new(Role::Server, None, None);
        tx.send_binary(&[7; 150]).unwrap();
        tx
    }

    fn writes_nothing(_: &mut Sender) {}

    #[test]
    fn within_the_limit_there_is_room_without_a_write() {
        let mut tx = Sender::new(Role::Server, None, None);
        tx.send_binary(&[7; 90]).unwrap();
        let made = tx.make_room(&config(SlowConsumer::Close), |_| unreachable!("no write"));
        assert_eq!(made, Ok(()));
    }

    #[test]
    fn a_write_that_brings_the_queue_within_the_limit_makes_room() {
        let mut tx = backlogged();
        let made = tx.make_room(&config(SlowConsumer::Close), |tx| tx.consume_output(60));
        assert_eq!(made, Ok(()));
        assert!(tx.is_open());
    }

    #[test]
    fn a_slow_consumer_loses_the_message_and_stays_open_under_drop_messages() {
        let mut tx = backlogged();
        let queued = tx.buffered_amount();
        let made = tx.make_room(&config(SlowConsumer::DropMessages), writes_nothing);
        assert_eq!(
            made,
            Err(SendError::SlowConsumer(SlowConsumer::DropMessages))
        );
        assert!(tx.is_open());
        assert_eq!(tx.buffered_amount(), queued);
    }

    #[test]
    fn a_slow_consumer_is_closed_with_1008_under_close() {
        let mut tx = backlogged();
        let queued = tx.buffered_amount();
        let made = tx.make_room(&config(SlowConsumer::Close), writes_nothing);
        assert_eq!(made, Err(SendError::SlowConsumer(SlowConsumer::Close)));
        assert!(!tx.is_open());
        let output: Vec<u8> = tx.output_chunks().flatten().copied().collect();
        let close = &output[queued..];
        assert_eq!(close[0], 0x88);
        assert_eq!(u16::from_be_bytes([close[2], close[3]]), 1008);
        let again = tx.make_room(&config(SlowConsumer::Close), |_| unreachable!("closed"));
        assert_eq!(again, Err(SendError::Closed));
    }

    #[test]
    fn a_fragment_over_the_limit_closes_whatever_the_policy() {
        let mut tx = backlogged();
        tx.send_fragment(DataKind::Text, b"part", false).unwrap();
        let made = tx.make_room_for_fragment(&config(SlowConsumer::DropMessages), writes_nothing);
        assert_eq!(made, Err(SendError::SlowConsumer(SlowConsumer::Close)));
        assert!(!tx.is_open());
    }

    #[test]
    fn messages_held_back_count_against_the_limit_without_a_write() {
        let mut tx = Sender::new(Role::Server, None, None);
        tx.send_binary(&[7; 50]).unwrap();
        let policy = config(SlowConsumer::DropMessages);
        assert_eq!(tx.check_room(&policy, 40), Ok(()));
        assert_eq!(
            tx.check_room(&policy, 60),
            Err(SendError::SlowConsumer(SlowConsumer::DropMessages))
        );
        tx.close(CloseCode::Normal, "").unwrap();
        assert_eq!(tx.check_room(&policy, 0), Err(SendError::Closed));
    }
}
