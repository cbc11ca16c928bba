//! The ready messages of a queue: FIFO, or one FIFO per priority level when the queue
//! was declared with `x-max-priority`. A durable FIFO queue with a [`Pager`] keeps only
//! the first [`Paging::keep_in_memory`](super::Paging) messages in memory and leaves
//! persistent ones beyond that on disk (see `paging.rs`); a queue with a [`Spill`]
//! writes the messages behind its in-memory budget to the spill log a batch at a time
//! (see `spilling.rs` and `queue/spill.rs`).

mod spilling;

use std::collections::VecDeque;

use super::paging::{Pager, StoredRun};
use super::spill::{Spill, SpillBatch, MESSAGE_OVERHEAD_BYTES};
use crate::message::QueuedMessage;

/// Part of a level behind its head.
#[derive(Debug)]
enum Segment {
    /// Messages in memory (transient ones that arrived behind a run, or the batch being
    /// gathered for the spill log).
    Loaded(Loaded),
    /// Messages on disk only, in the store.
    Stored(StoredRun),
    /// Messages on disk only, in the spill log.
    Spilled(SpillBatch),
}

/// Messages in memory behind the head, with what the spill budget counts for them.
#[derive(Debug, Default)]
struct Loaded {
    messages: VecDeque<QueuedMessage>,
    /// Their memory as [`cost`] counts it.
    cost: usize,
    /// Writing them to the spill log failed: they stay in memory, and messages behind
    /// them start a new batch (so a failing log costs one write per batch, not one per
    /// message).
    unspillable: bool,
}

impl Loaded {
    fn one(m: QueuedMessage) -> Self {
        let mut l = Loaded::default();
        l.push(m);
        l
    }

    fn push(&mut self, m: QueuedMessage) {
        self.cost += cost(&m);
        self.messages.push_back(m);
    }
}

/// The memory a message in memory takes, as the spill budget counts it: body,
/// properties, routing key and the broker's structures.
#[inline]
fn cost(m: &QueuedMessage) -> usize {
    let msg = &m.message;
    msg.body.len() + msg.raw_properties.len() + msg.routing_key.len() + MESSAGE_OVERHEAD_BYTES
}

/// One FIFO: the head in memory, then (only when paging) segments behind it.
#[derive(Debug, Default)]
struct Level {
    head: VecDeque<QueuedMessage>,
    rest: VecDeque<Segment>,
}

/// A run's messages in seq order and what draining found.
#[derive(Debug, Default)]
pub(crate) struct Drained {
    /// Messages that were in memory.
    pub loaded: Vec<QueuedMessage>,
    /// Runs of messages that were on disk only.
    pub runs: Vec<StoredRun>,
    /// Batches that were in the spill log (not released yet: the caller releases them
    /// once it no longer needs them).
    pub spilled: Vec<SpillBatch>,
    /// Messages in all (loaded and on disk).
    pub count: usize,
}

/// Ready messages with their count and total body size.
#[derive(Debug)]
pub(crate) struct ReadyQueue {
    /// One FIFO per priority, index = priority; a plain queue has one level.
    levels: Vec<Level>,
    len: usize,
    bytes: usize,
    /// Messages (and their body bytes) stored in this queue's store: persistent
    /// messages of a durable queue, in memory or not.
    stored: usize,
    stored_bytes: usize,
    /// Messages on disk only (in runs).
    paged: usize,
    /// Set for a durable FIFO queue: where runs are read back from.
    pager: Option<Pager>,
    /// Messages in the spill log, and their body bytes.
    spilled: usize,
    spilled_bytes: usize,
    /// Memory of the messages in memory, as [`cost`] counts it.
    mem_cost: usize,
    /// Where messages beyond the in-memory budget are spilled (None: never).
    spill: Option<Spill>,
}

impl ReadyQueue {
    /// A queue honouring priorities 0..=max_priority (None: ignore priorities).
    pub fn new(max_priority: Option<u8>) -> Self {
        let levels = usize::from(max_priority.unwrap_or(0)) + 1;
        ReadyQueue {
            levels: (0..levels).map(|_| Level::default()).collect(),
            len: 0,
            bytes: 0,
            stored: 0,
            stored_bytes: 0,
            paged: 0,
            pager: None,
            spilled: 0,
            spilled_bytes: 0,
            mem_cost: 0,
            spill: None,
        }
    }

    /// Lets persistent messages beyond the in-memory budget stay on disk only. Only a
    /// FIFO queue pages (a priority level's run would interleave with other levels').
    pub fn set_pager(&mut self, pager: Pager) {
        if self.levels.len() == 1 {
            self.pager = Some(pager);
        }
    }

    fn level_of(&self, m: &QueuedMessage) -> usize {
        usize::from(m.message.priority).min(self.levels.len() - 1)
    }

    /// Messages waiting.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether none are waiting.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Total body bytes waiting.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Messages waiting on disk only.
    pub fn paged(&self) -> usize {
        self.paged
    }

    /// Messages waiting in the spill log only, and their body bytes.
    pub fn spilled(&self) -> (usize, usize) {
        (self.spilled, self.spilled_bytes)
    }

    /// Memory of the messages waiting in memory, as the spill budget counts it.
    #[cfg(test)]
    pub fn memory_cost(&self) -> usize {
        self.mem_cost
    }

    /// Stored (persistent) messages waiting, and their body bytes.
    pub fn stored(&self) -> (usize, usize) {
        (self.stored, self.stored_bytes)
    }

    #[inline]
    fn count_in(&mut self, m: &QueuedMessage) {
        self.len += 1;
        self.bytes += m.body_len();
        if m.stored {
            self.stored += 1;
            self.stored_bytes += m.body_len();
        }
    }

    #[inline]
    fn count_out(&mut self, m: &QueuedMessage) {
        self.len -= 1;
        self.bytes -= m.body_len();
        if m.stored {
            self.stored -= 1;
            self.stored_bytes -= m.body_len();
        }
    }

    /// Whether `m` goes to disk only: a stored message of a paging queue once the
    /// in-memory budget is used (or a run already exists, so order stays simple).
    fn should_page(&self, m: &QueuedMessage) -> bool {
        m.stored
            && self.pager.as_ref().is_some_and(|p| {
                self.paged > 0 || self.len - self.paged - self.spilled >= p.paging.keep_in_memory
            })
    }

    /// Appends a newly published message.
    pub fn push_back(&mut self, m: QueuedMessage) {
        // Over the in-memory budget (or spilling already), messages gather behind the
        // head in a batch that goes to the spill log once a page is full.
        let spilling = self.over_budget();
        self.count_in(&m);
        if self.should_page(&m) {
            self.paged += 1;
            let level = &mut self.levels[0];
            match level.rest.back_mut() {
                Some(Segment::Stored(run)) => run.extend(m.seq, m.body_len()),
                _ => level
                    .rest
                    .push_back(Segment::Stored(StoredRun::single(m.seq, m.body_len()))),
            }
            return;
        }
        self.mem_cost += cost(&m);
        let level = self.level_of(&m);
        let lvl = &mut self.levels[level];
        match lvl.rest.back_mut() {
            // A level's head is never empty while segments wait behind it.
            None if !spilling || lvl.head.is_empty() => {
                lvl.head.push_back(m);
                return;
            }
            Some(Segment::Loaded(tail)) if !tail.unspillable => tail.push(m),
            _ => lvl.rest.push_back(Segment::Loaded(Loaded::one(m))),
        }
        if spilling {
            self.spill_full_tail(level);
        }
    }

    /// Appends a run of recovered messages that stay on disk until the head reaches them.
    pub fn push_run(&mut self, run: StoredRun) {
        if run.count == 0 {
            return;
        }
        self.len += run.count;
        self.bytes += run.bytes;
        self.stored += run.count;
        self.stored_bytes += run.bytes;
        self.paged += run.count;
        self.levels[0].rest.push_back(Segment::Stored(run));
        self.refill(0);
    }

    /// Puts a message back at its original position (by sequence number) in its level.
    /// Delivered messages came from the head, so they sort before every run.
    pub fn insert_by_seq(&mut self, m: QueuedMessage) {
        let level = self.level_of(&m);
        self.count_in(&m);
        self.mem_cost += cost(&m);
        let q = &mut self.levels[level].head;
        let at = q.partition_point(|r| r.seq < m.seq);
        q.insert(at, m);
    }

    /// The message that would be delivered next: highest priority first, FIFO within.
    pub fn front(&self) -> Option<&QueuedMessage> {
        self.levels.iter().rev().find_map(|l| l.head.front())
    }

    /// Up to `limit` messages in delivery order (highest priority first, FIFO within),
    /// from the heads and the in-memory segments; stops at a level's first run on disk.
    pub fn peek(&self, limit: usize) -> Vec<std::sync::Arc<crate::message::Message>> {
        let mut out = Vec::new();
        for level in self.levels.iter().rev() {
            let in_memory = level.rest.iter().map_while(|seg| match seg {
                Segment::Loaded(loaded) => Some(&loaded.messages),
                Segment::Stored(_) | Segment::Spilled(_) => None,
            });
            for m in level.head.iter().chain(in_memory.flatten()) {
                if out.len() >= limit {
                    return out;
                }
                out.push(m.message.clone());
            }
        }
        out
    }

    /// Removes and returns the next message to deliver.
    pub fn pop_front(&mut self) -> Option<QueuedMessage> {
        let level = self.levels.iter().rposition(|l| !l.head.is_empty())?;
        let m = self.levels[level].head.pop_front()?;
        self.count_out(&m);
        self.mem_cost -= cost(&m).min(self.mem_cost);
        if self.levels[level].head.is_empty() {
            self.refill(level);
        }
        Some(m)
    }

    /// Moves the next segment of `level` into its empty head, reading a page of a run
    /// from disk or a batch from the spill log.
    fn refill(&mut self, level: usize) {
        while self.levels[level].head.is_empty() {
            let Some(next) = self.levels[level].rest.pop_front() else {
                return;
            };
            match next {
                Segment::Loaded(loaded) => self.levels[level].head = loaded.messages,
                Segment::Spilled(batch) => self.read_spilled(level, batch),
                Segment::Stored(mut run) => {
                    let Some(pager) = &self.pager else {
                        // Runs exist only with a pager; keep the run rather than lose it.
                        self.levels[level].rest.push_front(Segment::Stored(run));
                        return;
                    };
                    let read = pager.read_page(&mut run, &mut self.levels[level].head);
                    self.paged -= read.taken.min(self.paged);
                    let loaded = self.levels[level].head.len();
                    let lost = read.taken.saturating_sub(loaded);
                    self.len -= lost.min(self.len);
                    self.stored -= lost.min(self.stored);
                    self.bytes = self.bytes.saturating_sub(read.run_bytes) + read.loaded_bytes;
                    self.stored_bytes =
                        self.stored_bytes.saturating_sub(read.run_bytes) + read.loaded_bytes;
                    self.mem_cost += self.levels[level].head.iter().map(cost).sum::<usize>();
                    if run.count > 0 {
                        self.levels[level].rest.push_front(Segment::Stored(run));
                        if read.taken == 0 {
                            // The store failed: try again on the next pop.
                            return;
                        }
                    }
                }
            }
        }
    }

    /// Removes expired messages from the head of every level, oldest first, and returns
    /// them. Stops at the first unexpired head of each level (expiry is in order from the
    /// head, as in RabbitMQ).
    pub fn take_expired(&mut self, now_ms: u64, out: &mut Vec<QueuedMessage>) {
        for level in 0..self.levels.len() {
            while self.levels[level]
                .head
                .front()
                .is_some_and(|m| m.expires_at_ms.is_some_and(|t| t <= now_ms))
            {
                if let Some(m) = self.levels[level].head.pop_front() {
                    self.count_out(&m);
                    self.mem_cost -= cost(&m).min(self.mem_cost);
                    out.push(m);
                }
                if self.levels[level].head.is_empty() {
                    self.refill(level);
                }
            }
        }
    }

    /// The earliest expiry among the heads of the levels.
    pub fn next_expiry(&self) -> Option<u64> {
        self.levels
            .iter()
            .filter_map(|l| l.head.front().and_then(|m| m.expires_at_ms))
            .min()
    }

    /// Removes everything: the messages in memory, the runs left on disk and the
    /// batches in the spill log.
    pub fn drain(&mut self) -> Drained {
        let mut drained = Drained {
            count: self.len,
            ..Drained::default()
        };
        self.len = 0;
        self.bytes = 0;
        self.stored = 0;
        self.stored_bytes = 0;
        self.paged = 0;
        self.spilled = 0;
        self.spilled_bytes = 0;
        self.mem_cost = 0;
        for level in &mut self.levels {
            drained.loaded.extend(level.head.drain(..));
            for segment in level.rest.drain(..) {
                match segment {
                    Segment::Loaded(loaded) => drained.loaded.extend(loaded.messages),
                    Segment::Stored(run) => drained.runs.push(run),
                    Segment::Spilled(batch) => drained.spilled.push(batch),
                }
            }
        }
        drained
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use bytes::Bytes;
    use warren_protocol::BasicProperties;

    use super::*;
    use crate::message::Message;

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
                Bytes::from_static(b"xy"),
            )),
            redelivered: false,
            expires_at_ms: None,
            delivery_count: 0,
            stored: false,
        }
    }

    #[test]
    fn higher_priority_first_fifo_within() {
        let mut r = ReadyQueue::new(Some(10));
        for (seq, p) in [(1, 1), (2, 5), (3, 1), (4, 5), (5, 200)] {
            r.push_back(msg(seq, p));
        }
        let order: Vec<u64> = std::iter::from_fn(|| r.pop_front().map(|m| m.seq)).collect();
        // priority 200 is capped at the max (10)
        assert_eq!(order, vec![5, 2, 4, 1, 3]);
        assert_eq!(r.bytes(), 0);
    }

    #[test]
    fn plain_queue_ignores_priority_and_requeue_restores_position() {
        let mut r = ReadyQueue::new(None);
        for seq in 1..=4 {
            r.push_back(msg(seq, (seq * 3) as u8));
        }
        let first = r.pop_front().unwrap();
        let second = r.pop_front().unwrap();
        r.insert_by_seq(second);
        r.insert_by_seq(first);
        let order: Vec<u64> = std::iter::from_fn(|| r.pop_front().map(|m| m.seq)).collect();
        assert_eq!(order, vec![1, 2, 3, 4]);
    }

    #[test]
    fn expiry_takes_only_expired_heads() {
        let mut r = ReadyQueue::new(None);
        for (seq, exp) in [(1, Some(10)), (2, Some(20)), (3, None), (4, Some(5))] {
            let mut m = msg(seq, 0);
            m.expires_at_ms = exp;
            r.push_back(m);
        }
        let mut out = Vec::new();
        r.take_expired(15, &mut out);
        assert_eq!(out.iter().map(|m| m.seq).collect::<Vec<_>>(), vec![1]);
        assert_eq!(r.next_expiry(), Some(20));
        r.take_expired(100, &mut out);
        // 3 has no TTL and blocks 4 behind it, as in RabbitMQ
        assert_eq!(out.len(), 2);
        assert_eq!(r.len(), 2);
    }
}
