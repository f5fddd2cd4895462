//! Broadcasts and publishes, delivered receiver by receiver.
//!
//! A tick's commands often hold a run of broadcasts to the same receivers: a chat room's
//! sender writes several messages at once, and each becomes one `publish`. Delivered one
//! message at a time, each message walks every receiver's connection state again, and with a
//! thousand receivers that state no longer sits in the cache by the next message. A run of
//! consecutive commands with the same receivers is delivered the other way round: each
//! receiver is visited once and queues the whole run, in order (its small frames then share
//! one write, see [`Sender::send_shared`](crate::protocol::Sender::send_shared)). Every
//! receiver sees the same messages in the same order as before; only the walk changes.

use std::sync::Arc;

use super::Worker;
use crate::server::handler::{ConnId, Handler};
use crate::server::peer::Phase;
use crate::server::shared_message::{count_queued, SharedMessage};
use crate::server::Command;

/// Whom a run of commands goes to: every open connection, or a topic's subscribers; either
/// but one connection.
#[derive(PartialEq)]
enum Target {
    All {
        except: Option<ConnId>,
    },
    Topic {
        topic: Arc<str>,
        except: Option<ConnId>,
    },
}

impl Target {
    /// The receivers and message of a broadcast or publish command; the command back if it
    /// is something else.
    fn of(command: Command) -> Result<(Target, Arc<SharedMessage>), Command> {
        match command {
            Command::Broadcast { message, except } => Ok((Target::All { except }, message)),
            Command::Publish {
                topic,
                message,
                except,
            } => Ok((Target::Topic { topic, except }, message)),
            other => Err(other),
        }
    }
}

impl<H: Handler> Worker<H> {
    /// Runs a tick's commands in order, delivering each run of consecutive broadcasts (or
    /// publishes to one topic) with the same receivers receiver by receiver.
    pub(super) fn run_batch(&mut self, batch: &mut Vec<Command>, now: std::time::Instant) {
        let mut run = std::mem::take(&mut self.spare_messages);
        let mut target: Option<Target> = None;
        for command in batch.drain(..) {
            match Target::of(command) {
                Ok((to, message)) => {
                    if target.as_ref().is_some_and(|t| *t != to) {
                        self.fan_out(target.take(), &mut run);
                    }
                    target = Some(to);
                    run.push((message, 0));
                }
                Err(other) => {
                    self.fan_out(target.take(), &mut run);
                    self.run_command(other, now);
                }
            }
        }
        self.fan_out(target, &mut run);
        self.spare_messages = run;
    }

    /// Delivers one broadcast or publish command on its own.
    pub(super) fn fan_out_one(&mut self, command: Command) {
        if let Ok((target, message)) = Target::of(command) {
            self.fan_out(Some(target), &mut vec![(message, 0)]);
        }
    }

    /// Delivers `run` (emptied) to `target`'s receivers, each receiver all of it in order.
    /// Each message comes with the count of receivers that queued it (zero when given).
    fn fan_out(&mut self, target: Option<Target>, run: &mut Vec<(Arc<SharedMessage>, u64)>) {
        let Some(target) = target else {
            return;
        };
        match target {
            Target::All { except } => {
                let except = except.and_then(|id| self.peer_by_id(id));
                for slot in 0..self.slots.len() {
                    let is_target = self.slots[slot].peer.as_ref().is_some_and(|p| {
                        !p.dead && Some(slot) != except && matches!(p.phase, Phase::Established(_))
                    });
                    if is_target {
                        self.deliver_run(slot, run);
                    }
                }
            }
            Target::Topic { topic, except } => {
                let receivers = self.topics.get(&topic).cloned().unwrap_or_default();
                for id in receivers.into_iter().filter(|id| Some(*id) != except) {
                    if let Some(slot) = self.peer_by_id(id) {
                        self.deliver_run(slot, run);
                    }
                }
            }
        }
        for (message, queued) in run.drain(..) {
            count_queued(&self.stats, &message, queued);
        }
    }

    /// Delivers each message of `run` to `slot`, counting the ones queued.
    fn deliver_run(&mut self, slot: usize, run: &mut [(Arc<SharedMessage>, u64)]) {
        for (message, queued) in run.iter_mut() {
            *queued += u64::from(self.deliver(slot, message));
        }
    }
}
