//! The server's part of the slow-consumer policy: the write that comes before the judgement,
//! and the counters. The decision itself is the core's ([`Sender::make_room`]), the same for
//! every runtime.

use crate::config::SlowConsumer;
use crate::error::SendError;
use crate::protocol::Sender;
use crate::server::stats::Stats;
use crate::transport::{write_queue, Transport};
use crate::Config;

/// Makes room on `tx` for one more message ([`Sender::make_room`]), writing what `transport`
/// takes first, and counts what the policy did.
pub(crate) fn make_room(
    tx: &mut Sender,
    transport: &mut Transport,
    config: &Config,
    stats: &Stats,
) -> Result<(), SendError> {
    let made = tx.make_room(config, |tx| write_now(transport, tx));
    count_slow_consumer(stats, made)
}

/// Makes room on `tx` for one fragment of a message ([`Sender::make_room_for_fragment`]), as
/// [`make_room`] does for a message.
pub(crate) fn make_room_for_fragment(
    tx: &mut Sender,
    transport: &mut Transport,
    config: &Config,
    stats: &Stats,
) -> Result<(), SendError> {
    let made = tx.make_room_for_fragment(config, |tx| write_now(transport, tx));
    count_slow_consumer(stats, made)
}

/// Counts a slow consumer's dropped message or close in the statistics, and passes `made` on.
pub(crate) fn count_slow_consumer(
    stats: &Stats,
    made: Result<(), SendError>,
) -> Result<(), SendError> {
    match made {
        Err(SendError::SlowConsumer(SlowConsumer::DropMessages)) => {
            Stats::add(&stats.slow_consumer_drops, 1);
        }
        Err(SendError::SlowConsumer(SlowConsumer::Close)) => {
            Stats::add(&stats.slow_consumer_closes, 1);
        }
        Ok(()) | Err(SendError::Closed | SendError::Usage(_)) => {}
    }
    made
}

/// Writes what the transport takes of the queue now. A write error is met again (and ends the
/// connection) when the tick writes the queue.
fn write_now(transport: &mut Transport, tx: &mut Sender) {
    let _ = write_queue(transport, tx);
}
