//! The ready messages of a queue: FIFO, or one FIFO per priority level when the queue
//! was declared with `x-max-priority`.

use std::collections::VecDeque;

use crate::message::QueuedMessage;

/// Ready messages with their count and total body size.
#[derive(Debug)]
pub(crate) struct ReadyQueue {
    /// One FIFO per priority, index = priority; a plain queue has one level.
    levels: Vec<VecDeque<QueuedMessage>>,
    len: usize,
    bytes: usize,
}

impl ReadyQueue {
    /// A queue honouring priorities 0..=max_priority (None: ignore priorities).
    pub fn new(max_priority: Option<u8>) -> Self {
        let levels = usize::from(max_priority.unwrap_or(0)) + 1;
        ReadyQueue {
            levels: (0..levels).map(|_| VecDeque::new()).collect(),
            len: 0,
            bytes: 0,
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

    /// Appends a newly published message.
    pub fn push_back(&mut self, m: QueuedMessage) {
        let level = self.level_of(&m);
        self.len += 1;
        self.bytes += m.body_len();
        self.levels[level].push_back(m);
    }

    /// Puts a message back at its original position (by sequence number) in its level.
    pub fn insert_by_seq(&mut self, m: QueuedMessage) {
        let level = self.level_of(&m);
        self.len += 1;
        self.bytes += m.body_len();
        let q = &mut self.levels[level];
        let at = q.partition_point(|r| r.seq < m.seq);
        q.insert(at, m);
    }

    /// The message that would be delivered next: highest priority first, FIFO within.
    pub fn front(&self) -> Option<&QueuedMessage> {
        self.levels.iter().rev().find_map(|q| q.front())
    }

    /// Removes and returns the next message to deliver.
    pub fn pop_front(&mut self) -> Option<QueuedMessage> {
        let m = self.levels.iter_mut().rev().find_map(|q| q.pop_front())?;
        self.len -= 1;
        self.bytes -= m.body_len();
        Some(m)
    }

    /// Removes expired messages from the head of every level, oldest first, and returns
    /// them. Stops at the first unexpired head of each level (expiry is in order from the
    /// head, as in RabbitMQ).
    pub fn take_expired(&mut self, now_ms: u64, out: &mut Vec<QueuedMessage>) {
        for q in &mut self.levels {
            while q
                .front()
                .is_some_and(|m| m.expires_at_ms.is_some_and(|t| t <= now_ms))
            {
                if let Some(m) = q.pop_front() {
                    self.len -= 1;
                    self.bytes -= m.body_len();
                    out.push(m);
                }
            }
        }
    }

    /// The earliest expiry among the heads of the levels.
    pub fn next_expiry(&self) -> Option<u64> {
        self.levels
            .iter()
            .filter_map(|q| q.front().and_then(|m| m.expires_at_ms))
            .min()
    }

    /// Removes everything; returns the messages.
    pub fn drain(&mut self) -> Vec<QueuedMessage> {
        self.len = 0;
        self.bytes = 0;
        self.levels.iter_mut().flat_map(|q| q.drain(..)).collect()
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
