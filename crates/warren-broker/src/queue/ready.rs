//! The ready messages of a queue: FIFO, or one FIFO per priority level when the queue
//! was declared with `x-max-priority`. A durable FIFO queue with a [`Pager`] keeps only
//! the first [`Paging::keep_in_memory`] messages in memory and leaves persistent ones
//! beyond that on disk (see `paging.rs`).

use std::collections::VecDeque;

use super::paging::{Pager, StoredRun};
use crate::message::QueuedMessage;

/// Part of a level behind its head.
#[derive(Debug)]
enum Segment {
    /// Messages in memory (transient ones that arrived behind a run).
    Loaded(VecDeque<QueuedMessage>),
    /// Messages on disk only.
    Stored(StoredRun),
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
            && self
                .pager
                .as_ref()
                .is_some_and(|p| self.paged > 0 || self.len - self.paged >= p.paging.keep_in_memory)
    }

    /// Appends a newly published message.
    pub fn push_back(&mut self, m: QueuedMessage) {
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
        let level = self.level_of(&m);
        let level = &mut self.levels[level];
        match level.rest.back_mut() {
            None => level.head.push_back(m),
            Some(Segment::Loaded(tail)) => tail.push_back(m),
            Some(Segment::Stored(_)) => level.rest.push_back(Segment::Loaded([m].into())),
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
                Segment::Loaded(messages) => Some(messages),
                Segment::Stored(_) => None,
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
        if self.levels[level].head.is_empty() {
            self.refill(level);
        }
        Some(m)
    }

    /// Moves the next segment of `level` into its empty head, reading a page of a run
    /// from disk.
    fn refill(&mut self, level: usize) {
        while self.levels[level].head.is_empty() {
            let Some(next) = self.levels[level].rest.pop_front() else {
                return;
            };
            match next {
                Segment::Loaded(messages) => self.levels[level].head = messages,
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

    /// Removes everything: the messages in memory and the runs left on disk.
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
        for level in &mut self.levels {
            drained.loaded.extend(level.head.drain(..));
            for segment in level.rest.drain(..) {
                match segment {
                    Segment::Loaded(messages) => drained.loaded.extend(messages),
                    Segment::Stored(run) => drained.runs.push(run),
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
