//! Confirms that wait for the disk. A publish that stored a persistent message is acked
//! only after a group commit taken after it has completed; the channel keeps such
//! sequence numbers pending meanwhile, and everything after the first pending one waits
//! too, so a `multiple=true` ack never covers an undurable publish. Nacks (a queue
//! refused the message, or the store failed) go out in order with the acks.
//!
//! The channel takes one [`SyncTicket`](warren_store::SyncTicket) per batch of frames
//! read from the socket (not per message); a spawned task awaits it and reports back to
//! the connection task through [`SyncDone`], so the connection's loop never blocks.

use std::collections::{BTreeSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};

use warren_protocol::method::basic;

use super::ConnCtx;

/// Batch ids, unique in the process: a report for a channel that closed (and whose
/// number was reused) matches nothing.
static NEXT_BATCH: AtomicU64 = AtomicU64::new(1);

/// A fresh batch id.
pub(crate) fn next_batch() -> u64 {
    NEXT_BATCH.fetch_add(1, Ordering::Relaxed)
}

/// What waited for a group commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Synced {
    /// Confirms of a batch of publishes.
    Confirms,
    /// A `tx.commit` (its `commit-ok`).
    Commit,
}

/// A group commit a channel waited for has completed (or failed).
#[derive(Debug)]
pub(crate) struct SyncDone {
    /// The channel that waited.
    pub channel: u16,
    /// The batch id it gave.
    pub batch: u64,
    /// What waited.
    pub what: Synced,
    /// The sync's outcome.
    pub result: warren_store::StoreResult<()>,
}

/// The durable side of a confirm-mode channel.
#[derive(Debug, Default)]
pub(crate) struct DurableConfirms {
    /// Publishes to nack (refused by a queue), not sent yet.
    nacks: BTreeSet<u64>,
    /// The first publish that stored a message since the last ticket was taken.
    unticketed: Option<u64>,
    /// Tickets in flight, oldest first: batch id, first stored seq, last seq covered.
    in_flight: VecDeque<(u64, u64, u64)>,
    /// Every publish up to here is nacked: its sync failed.
    failed_up_to: u64,
}

impl DurableConfirms {
    /// Publish `seq` stored a message: it waits for the next group commit.
    pub fn stored(&mut self, seq: u64) {
        self.unticketed.get_or_insert(seq);
    }

    /// Publish `seq` was refused by a queue: it gets a nack.
    pub fn nack(&mut self, seq: u64) {
        self.nacks.insert(seq);
    }

    /// Starts waiting for the publishes stored since the last call: returns the batch id
    /// to wait under, if there were any.
    pub fn take_batch(&mut self, last_seq: u64) -> Option<u64> {
        let first = self.unticketed.take()?;
        let batch = next_batch();
        self.in_flight.push_back((batch, first, last_seq));
        Some(batch)
    }

    /// A batch's sync completed. A later sync covers every earlier write, so the batches
    /// before it are done too. Unknown batches (of a closed channel) are ignored.
    pub fn resolved(&mut self, batch: u64, ok: bool) {
        let Some(&(_, _, last)) = self.in_flight.iter().find(|b| b.0 == batch) else {
            return;
        };
        while self.in_flight.front().is_some_and(|b| b.2 <= last) {
            self.in_flight.pop_front();
        }
        if !ok {
            self.failed_up_to = self.failed_up_to.max(last);
        }
    }

    /// The highest publish that may be confirmed now.
    fn limit(&self, last_seq: u64) -> u64 {
        match self.in_flight.front().map(|b| b.1).or(self.unticketed) {
            Some(first_pending) => first_pending - 1,
            None => last_seq,
        }
    }

    /// Sends the acks and nacks that are due, advancing `acked_up_to`.
    pub fn flush(&mut self, cx: &mut ConnCtx, channel: u16, last_seq: u64, acked_up_to: &mut u64) {
        if self.failed_up_to > *acked_up_to {
            cx.send(
                channel,
                basic::Nack {
                    delivery_tag: self.failed_up_to,
                    multiple: self.failed_up_to - *acked_up_to > 1,
                    requeue: false,
                },
            );
            *acked_up_to = self.failed_up_to;
        }
        let limit = self.limit(last_seq);
        while let Some(&n) = self.nacks.first() {
            if n > limit {
                break;
            }
            self.nacks.pop_first();
            if n <= *acked_up_to {
                continue;
            }
            ack_through(cx, channel, n - 1, acked_up_to);
            cx.send(
                channel,
                basic::Nack {
                    delivery_tag: n,
                    multiple: false,
                    requeue: false,
                },
            );
            *acked_up_to = n;
        }
        ack_through(cx, channel, limit, acked_up_to);
    }
}

/// Acks every publish up to `seq` not acked yet (one frame, `multiple` if several).
fn ack_through(cx: &mut ConnCtx, channel: u16, seq: u64, acked_up_to: &mut u64) {
    if seq > *acked_up_to {
        cx.send(
            channel,
            basic::Ack {
                delivery_tag: seq,
                multiple: seq - *acked_up_to > 1,
            },
        );
        *acked_up_to = seq;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_publishes_hold_back_later_acks_until_their_batch_resolves() {
        let mut d = DurableConfirms::default();
        // 1 transient, 2 stored, 3 transient.
        d.stored(2);
        assert_eq!(d.limit(3), 1);
        let b1 = d.take_batch(3).unwrap();
        assert_eq!(d.take_batch(3), None);
        d.stored(5);
        let b2 = d.take_batch(6).unwrap();
        assert_eq!(d.limit(6), 1);
        // The later batch resolving covers the earlier one.
        d.resolved(b2, true);
        assert_eq!(d.limit(6), 6);
        d.resolved(b1, true);
        assert_eq!(d.limit(7), 7);
    }

    #[test]
    fn a_failed_batch_is_nacked_and_unknown_batches_are_ignored() {
        let mut d = DurableConfirms::default();
        d.stored(1);
        let b = d.take_batch(4).unwrap();
        d.resolved(b + 1000, true);
        assert_eq!(d.limit(4), 0);
        d.resolved(b, false);
        assert_eq!(d.failed_up_to, 4);
        assert_eq!(d.limit(4), 4);
    }
}
