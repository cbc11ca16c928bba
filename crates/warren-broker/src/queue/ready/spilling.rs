//! The ready queue's side of spilling: when messages go to the spill log, writing a
//! batch, reading one back when the head reaches it, and shedding memory on demand.
//!
//! Order is kept by position: a level is its head, then segments in publish order. Once
//! a queue is over its budget, new messages gather in a [`Loaded`] tail segment; a full
//! tail (a page of messages, or `page_bytes`) becomes one spilled batch. A spilled batch
//! is read back whole when it reaches the head, and released at once (its messages are
//! in memory again). Requeued messages go back into the head by sequence number: they
//! were delivered from the head, so they sort before every segment behind it.

use std::collections::VecDeque;

use super::super::spill_codec;
use super::{cost, Loaded, ReadyQueue, Segment};
use crate::message::QueuedMessage;
use crate::queue::spill::{Spill, SpillBatch};

impl ReadyQueue {
    /// Lets messages beyond the in-memory budget go to the spill log.
    pub fn set_spill(&mut self, spill: Spill) {
        self.spill = Some(spill);
    }

    /// The spill log, if the queue has one.
    pub fn spill_store(&self) -> Option<std::sync::Arc<dyn crate::queue::spill::SpillStore>> {
        self.spill.as_ref().map(|s| s.store().clone())
    }

    /// Whether a new message should gather for the spill log: there is one, and the
    /// queue is spilling already or its in-memory messages use up the budget.
    #[inline]
    pub(super) fn over_budget(&self) -> bool {
        let Some(spill) = &self.spill else {
            return false;
        };
        if self.spilled > 0 {
            return true;
        }
        let (messages, bytes) = spill.budget();
        self.len - self.paged >= messages || self.mem_cost >= bytes
    }

    /// Spills the tail of `level` if it holds a full page.
    pub(super) fn spill_full_tail(&mut self, level: usize) {
        let Some(spill) = &self.spill else { return };
        let limits = spill.limits();
        let full = match self.levels[level].rest.back() {
            Some(Segment::Loaded(tail)) => {
                tail.messages.len() >= limits.page_size || tail.cost >= limits.page_bytes
            }
            _ => false,
        };
        if full {
            if let Some(Segment::Loaded(tail)) = self.levels[level].rest.pop_back() {
                let segments = self.spill_loaded(tail);
                self.levels[level].rest.extend(segments);
            }
        }
    }

    /// Writes `loaded` to the spill log in batches of at most a page; what could not be
    /// written stays in memory, marked unspillable. Returns the segments to put in its
    /// place, in order.
    fn spill_loaded(&mut self, loaded: Loaded) -> Vec<Segment> {
        let Some(spill) = self.spill.clone() else {
            return vec![Segment::Loaded(loaded)];
        };
        let limits = spill.limits();
        let mut out = Vec::new();
        let mut messages = loaded.messages;
        while !messages.is_empty() {
            let (mut n, mut bytes) = (0, 0);
            while n < messages.len() && n < limits.page_size && bytes < limits.page_bytes {
                bytes += cost(&messages[n]);
                n += 1;
            }
            match spill_codec::write_batch(spill.store().as_ref(), messages.range(..n)) {
                Ok(batch) => {
                    self.spilled += batch.count as usize;
                    self.spilled_bytes += batch.bytes as usize;
                    self.mem_cost -= bytes.min(self.mem_cost);
                    messages.drain(..n);
                    out.push(Segment::Spilled(batch));
                }
                Err(e) => {
                    tracing::warn!(error = %e, messages = messages.len(), "spill log: write failed; the batch stays in memory");
                    let cost = messages.iter().map(cost).sum();
                    out.push(Segment::Loaded(Loaded {
                        messages,
                        cost,
                        unspillable: true,
                    }));
                    break;
                }
            }
        }
        out
    }

    /// Reads `batch` back into the (empty) head of `level` and releases it. An
    /// unreadable batch is logged and its messages are counted as gone (they were
    /// transient; stored ones are still in the store and come back at restart).
    pub(super) fn read_spilled(&mut self, level: usize, batch: SpillBatch) {
        let Some(spill) = &self.spill else {
            // Batches exist only with a spill log; keep the batch rather than lose it.
            self.levels[level].rest.push_front(Segment::Spilled(batch));
            return;
        };
        let store = spill.store().clone();
        let head = &mut self.levels[level].head;
        let read = store
            .read(batch.pos)
            .and_then(|buf| spill_codec::read_batch(batch.pos, &buf, head));
        store.release(batch.pos);
        let count = batch.count as usize;
        self.spilled -= count.min(self.spilled);
        self.spilled_bytes -= (batch.bytes as usize).min(self.spilled_bytes);
        match read {
            Ok(()) => self.mem_cost += self.levels[level].head.iter().map(cost).sum::<usize>(),
            Err(e) => {
                tracing::error!(error = %e, messages = count, "spill log: batch unreadable; its messages are gone");
                self.len -= count.min(self.len);
                self.bytes -= (batch.bytes as usize).min(self.bytes);
                self.stored -= (batch.stored as usize).min(self.stored);
                self.stored_bytes -= (batch.stored_bytes as usize).min(self.stored_bytes);
            }
        }
    }

    /// Under memory pressure: writes every message in memory beyond one page per level
    /// to the spill log (the head keeps its first page). Returns how many were spilled.
    pub fn shed(&mut self) -> usize {
        let Some(spill) = &self.spill else { return 0 };
        let page = spill.limits().page_size.max(1);
        let before = self.spilled;
        for level in 0..self.levels.len() {
            let rest = std::mem::take(&mut self.levels[level].rest);
            let mut kept = VecDeque::with_capacity(rest.len());
            for segment in rest {
                match segment {
                    Segment::Loaded(loaded) if !loaded.messages.is_empty() => {
                        kept.extend(self.spill_loaded(loaded));
                    }
                    other => kept.push_back(other),
                }
            }
            let head = &mut self.levels[level].head;
            if head.len() > page {
                let behind: VecDeque<QueuedMessage> = head.split_off(page);
                let cost = behind.iter().map(cost).sum();
                let segments = self.spill_loaded(Loaded {
                    messages: behind,
                    cost,
                    unspillable: false,
                });
                for s in segments.into_iter().rev() {
                    kept.push_front(s);
                }
            }
            self.levels[level].rest = kept;
        }
        self.spilled - before
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use bytes::Bytes;
    use warren_protocol::BasicProperties;

    use super::*;
    use crate::message::Message;
    use crate::queue::spill::{MemorySpill, SpillLimits, SpillStore};

    fn msg(seq: u64, priority: u8) -> QueuedMessage {
        let props = BasicProperties {
            priority: Some(priority),
            ..Default::default()
        };
        QueuedMessage {
            seq,
            message: Arc::new(Message::new(
                Arc::from(""),
                "k",
                &props,
                Bytes::new(),
                Bytes::from(format!("m{seq}")),
            )),
            redelivered: false,
            expires_at_ms: None,
            delivery_count: 0,
            stored: false,
        }
    }

    fn spilling(
        max_priority: Option<u8>,
        keep: usize,
        page: usize,
    ) -> (ReadyQueue, Arc<MemorySpill>) {
        let log = MemorySpill::new();
        let mut r = ReadyQueue::new(max_priority);
        r.set_spill(Spill::new(
            log.clone(),
            SpillLimits {
                keep_in_memory: keep,
                keep_in_memory_bytes: usize::MAX,
                page_size: page,
                page_bytes: usize::MAX,
            },
        ));
        (r, log)
    }

    fn drain_seqs(r: &mut ReadyQueue) -> Vec<u64> {
        std::iter::from_fn(|| r.pop_front().map(|m| m.seq)).collect()
    }

    #[test]
    fn beyond_the_budget_full_pages_are_spilled_with_one_write_each() {
        let (mut r, log) = spilling(None, 4, 3);
        for seq in 0..12 {
            r.push_back(msg(seq, 0));
        }
        // 4 in the head, two full pages of 3 spilled, 2 gathering.
        assert_eq!(r.spilled(), (6, 12));
        assert_eq!((log.writes(), log.live_records()), (2, 2));
        assert_eq!(r.len(), 12);
        assert_eq!(r.bytes(), 2 * 10 + 3 * 2);
        assert_eq!(drain_seqs(&mut r), (0..12).collect::<Vec<_>>());
        assert_eq!(log.live_records(), 0, "batches are released once read back");
        assert_eq!((r.spilled(), r.memory_cost(), r.bytes()), ((0, 0), 0, 0));
    }

    #[test]
    fn priority_levels_spill_and_keep_their_order() {
        let (mut r, _log) = spilling(Some(2), 2, 2);
        for seq in 0..20 {
            r.push_back(msg(seq, (seq % 3) as u8));
        }
        assert!(r.spilled().0 > 0);
        let order = drain_seqs(&mut r);
        let expected: Vec<u64> = [2u64, 1, 0]
            .iter()
            .flat_map(|p| (0..20).filter(move |s| s % 3 == *p))
            .collect();
        assert_eq!(order, expected);
    }

    #[test]
    fn a_failing_log_keeps_messages_in_memory_one_attempt_per_batch() {
        let (mut r, log) = spilling(None, 2, 4);
        log.fail_writes(true);
        for seq in 0..18 {
            r.push_back(msg(seq, 0));
        }
        // 2 in the head; 16 behind it in 4 batches of 4, each tried once.
        assert_eq!(r.spilled().0, 0);
        assert_eq!((log.writes(), log.attempts()), (0, 4));
        log.fail_writes(false);
        for seq in 18..22 {
            r.push_back(msg(seq, 0));
        }
        assert_eq!(r.spilled().0, 4, "the next full batch is written");
        assert_eq!(drain_seqs(&mut r), (0..22).collect::<Vec<_>>());
    }

    #[test]
    fn shedding_keeps_one_page_and_requeues_still_go_first() {
        let (mut r, log) = spilling(None, 100, 3);
        for seq in 0..20 {
            r.push_back(msg(seq, 0));
        }
        assert_eq!(r.spilled().0, 0, "within the budget");
        let first = r.pop_front().unwrap();
        assert_eq!(r.shed(), 16, "all but the head's page of 3");
        assert_eq!(log.live_records(), 6);
        r.insert_by_seq(first);
        assert_eq!(drain_seqs(&mut r), (0..20).collect::<Vec<_>>());
        assert_eq!(log.live_records(), 0);
    }

    #[test]
    fn an_unreadable_batch_is_counted_gone() {
        let (mut r, log) = spilling(None, 1, 2);
        for seq in 0..5 {
            r.push_back(msg(seq, 0));
        }
        assert_eq!(r.spilled().0, 4);
        // Lose the first batch behind the queue's back.
        let pos = match r.levels[0].rest.front() {
            Some(Segment::Spilled(b)) => b.pos,
            other => panic!("expected a spilled batch, got {other:?}"),
        };
        log.release(pos);
        assert_eq!(drain_seqs(&mut r), vec![0, 3, 4]);
        assert_eq!((r.len(), r.bytes(), r.spilled().0), (0, 0, 0));
    }

    #[test]
    fn drain_hands_back_the_spilled_batches() {
        let (mut r, log) = spilling(None, 1, 2);
        for seq in 0..7 {
            r.push_back(msg(seq, 0));
        }
        let drained = r.drain();
        assert_eq!(drained.count, 7);
        assert_eq!(drained.spilled.len(), 3);
        assert_eq!(drained.loaded.len(), 1);
        assert_eq!(log.live_records(), 3, "the caller releases them");
        assert_eq!((r.len(), r.spilled().0, r.memory_cost()), (0, 0, 0));
    }
}
