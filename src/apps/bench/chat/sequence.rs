//! Per-sender sequence accounting: every chat message carries its sender's number and the
//! sender's own sequence number, and each receiver checks, per sender, that none is lost,
//! none repeated and the order kept.
//!
//! A message the chat refuses (an `error`, e.g. `rate_limited`, answered to its sender) never
//! reaches the room: the sender sees, in order on its own connection, the echo of each
//! message it sent or the error refusing it, so the refused numbers are known exactly and a
//! receiver's gap over one of them is not a loss. Nor are the messages a sender sent that
//! were still unanswered when its connection ended (the chat may have closed it, e.g. with
//! 1008 for going over its rate): a message counts once the chat echoed it to its sender.

use std::collections::{BTreeSet, HashMap};

/// What one sender sent, and what the chat answered it.
#[derive(Default)]
struct Outbox {
    /// Messages sent (the next sequence number).
    sent: u32,
    /// Sequence numbers answered on the sender's own connection: echoed or refused.
    answered: u32,
    /// Sequence numbers the chat refused, or left unanswered when the connection ended.
    refused: BTreeSet<u32>,
}

/// What one receiver got from one sender.
#[derive(Default)]
struct Track {
    /// The sequence number expected next.
    next: u32,
    /// Numbers passed over by a later one, not (yet) received.
    skipped: BTreeSet<u32>,
}

/// The counts of a check: messages lost, repeated and out of order, over all receivers.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub(super) struct Verdict {
    pub(super) lost: u64,
    pub(super) duplicated: u64,
    pub(super) reordered: u64,
    /// Messages the chat refused or left unanswered (not counted as lost).
    pub(super) refused: u64,
}

impl Verdict {
    /// Whether every delivery is accounted for.
    pub(super) fn passed(&self) -> bool {
        self.lost == 0 && self.duplicated == 0 && self.reordered == 0
    }
}

/// The ledger of every sender's sequence and every receiver's view of it, by client number.
#[derive(Default)]
pub(super) struct Ledger {
    outboxes: HashMap<u32, Outbox>,
    /// By (receiver, sender).
    tracks: HashMap<(u32, u32), Track>,
    duplicated: u64,
    reordered: u64,
}

impl Ledger {
    /// The sequence number `sender`'s next message carries.
    pub(super) fn next_seq(&self, sender: u32) -> u32 {
        self.outboxes.get(&sender).map_or(0, |o| o.sent)
    }

    /// Notes that `sender` sent the message [`next_seq`](Self::next_seq) gave.
    pub(super) fn sent(&mut self, sender: u32) {
        self.outboxes.entry(sender).or_default().sent += 1;
    }

    /// `receiver` got message `seq` of `sender`.
    pub(super) fn received(&mut self, receiver: u32, sender: u32, seq: u32) {
        if receiver == sender {
            if let Some(outbox) = self.outboxes.get_mut(&sender) {
                outbox.answered = outbox.answered.max(seq + 1);
            }
        }
        let track = self.tracks.entry((receiver, sender)).or_default();
        if seq >= track.next {
            track.skipped.extend(track.next..seq);
            track.next = seq + 1;
        } else if track.skipped.remove(&seq) {
            self.reordered += 1;
        } else {
            self.duplicated += 1;
        }
    }

    /// The chat answered `sender` with an error: its first unanswered message was refused.
    pub(super) fn refused(&mut self, sender: u32) {
        let Some(outbox) = self.outboxes.get_mut(&sender) else {
            return;
        };
        if outbox.answered < outbox.sent {
            outbox.refused.insert(outbox.answered);
            outbox.answered += 1;
        }
    }

    /// `sender`'s connection ended: its unanswered messages were not accepted.
    pub(super) fn ended(&mut self, sender: u32) {
        if let Some(outbox) = self.outboxes.get_mut(&sender) {
            outbox.refused.extend(outbox.answered..outbox.sent);
            outbox.answered = outbox.sent;
        }
    }

    /// The verdict over these (receiver, sender) pairs: a message of the sender that the
    /// receiver lacks, and the chat did not refuse, is lost.
    pub(super) fn verdict(&self, pairs: impl IntoIterator<Item = (u32, u32)>) -> Verdict {
        let mut verdict = Verdict {
            duplicated: self.duplicated,
            reordered: self.reordered,
            refused: self.outboxes.values().map(|o| o.refused.len() as u64).sum(),
            ..Verdict::default()
        };
        for (receiver, sender) in pairs {
            let Some(outbox) = self.outboxes.get(&sender) else {
                continue;
            };
            let empty = Track::default();
            let track = self.tracks.get(&(receiver, sender)).unwrap_or(&empty);
            let missing = track.skipped.iter().copied().chain(track.next..outbox.sent);
            let lost = missing.filter(|seq| !outbox.refused.contains(seq)).count();
            verdict.lost += lost as u64;
        }
        verdict
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ledger_with_sends(sender: u32, n: u32) -> Ledger {
        let mut ledger = Ledger::default();
        for _ in 0..n {
            ledger.sent(sender);
        }
        ledger
    }

    #[test]
    fn in_order_deliveries_pass() {
        let mut ledger = ledger_with_sends(7, 3);
        for seq in 0..3 {
            ledger.received(1, 7, seq);
            ledger.received(7, 7, seq);
        }
        assert_eq!(ledger.verdict([(1, 7), (7, 7)]), Verdict::default());
    }

    #[test]
    fn gaps_tails_repeats_and_reorders_are_counted() {
        let mut ledger = ledger_with_sends(7, 5);
        for seq in [0, 2, 1, 2] {
            ledger.received(1, 7, seq);
        }
        let verdict = ledger.verdict([(1, 7), (2, 7)]);
        let expected = Verdict {
            lost: 2 + 5,
            duplicated: 1,
            reordered: 1,
            refused: 0,
        };
        assert_eq!(verdict, expected);
        assert!(!verdict.passed());
    }

    #[test]
    fn a_refused_message_is_not_lost() {
        let mut ledger = ledger_with_sends(7, 3);
        ledger.received(7, 7, 0);
        ledger.refused(7);
        ledger.received(7, 7, 2);
        ledger.received(1, 7, 0);
        ledger.received(1, 7, 2);
        let verdict = ledger.verdict([(1, 7), (7, 7)]);
        assert_eq!(verdict.lost, 0);
        assert_eq!(verdict.refused, 1);
        assert!(verdict.passed());
        ledger.sent(7);
        ledger.sent(7);
        assert_eq!(ledger.verdict([(1, 7)]).lost, 2);
        ledger.ended(7);
        assert_eq!(
            ledger.verdict([(1, 7)]),
            Verdict {
                refused: 3,
                ..Verdict::default()
            }
        );
    }
}
