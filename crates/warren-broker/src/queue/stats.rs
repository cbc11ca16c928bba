//! What the management API and metrics read of a queue: running totals of the messages
//! that passed through it (RabbitMQ's `message_stats`) and a consistent snapshot of its
//! depth, bytes and consumers.
//!
//! The totals are plain integers in the queue's state, bumped under the lock every
//! operation takes anyway, so counting costs the hot path nothing but an add. Rates are
//! not kept here: whoever samples the totals on a timer (the management API) derives them.

use super::*;

/// Running totals of what passed through a queue since it was declared (or recovered).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueCounters {
    /// Messages enqueued (`publish`).
    pub publish: u64,
    /// Deliveries to consumers that acknowledge.
    pub deliver: u64,
    /// Deliveries to no-ack consumers.
    pub deliver_no_ack: u64,
    /// `basic.get` with acknowledgement.
    pub get: u64,
    /// `basic.get` with `no_ack`.
    pub get_no_ack: u64,
    /// `basic.get` that found the queue empty.
    pub get_empty: u64,
    /// Deliveries acknowledged.
    pub ack: u64,
    /// Deliveries and gets of messages that had been delivered before.
    pub redeliver: u64,
}

impl QueueCounters {
    /// Everything handed out: deliveries and gets, with and without acknowledgement
    /// (RabbitMQ's `deliver_get`).
    pub fn deliver_get(&self) -> u64 {
        self.deliver + self.deliver_no_ack + self.get + self.get_no_ack
    }
}

/// Messages delivered and not yet acknowledged: how many and their body bytes, and
/// how many of them (and bytes) are stored (persistent in a durable queue).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Unacked {
    pub count: usize,
    pub bytes: usize,
    pub stored: usize,
    pub stored_bytes: usize,
}

impl Unacked {
    pub fn add(&mut self, m: &QueuedMessage) {
        self.count += 1;
        self.bytes += m.body_len();
        if m.stored {
            self.stored += 1;
            self.stored_bytes += m.body_len();
        }
    }

    pub fn remove(&mut self, messages: &[QueuedMessage]) {
        for m in messages {
            self.count = self.count.saturating_sub(1);
            self.bytes = self.bytes.saturating_sub(m.body_len());
            if m.stored {
                self.stored = self.stored.saturating_sub(1);
                self.stored_bytes = self.stored_bytes.saturating_sub(m.body_len());
            }
        }
    }
}

/// One attached consumer, as the management API lists it.
#[derive(Debug, Clone)]
pub struct ConsumerSnapshot {
    /// The consumer.
    pub consumer: Arc<Consumer>,
    /// Whether it is the one a single-active-consumer queue delivers to.
    pub active: bool,
}

/// A queue's state at one instant, read under its lock once.
#[derive(Debug, Clone)]
pub struct QueueSnapshot {
    /// Messages ready for delivery.
    pub messages_ready: u64,
    /// Messages delivered, awaiting acknowledgement.
    pub messages_unacknowledged: u64,
    /// Body bytes of the ready messages.
    pub message_bytes_ready: u64,
    /// Body bytes of the unacknowledged messages.
    pub message_bytes_unacknowledged: u64,
    /// Ready messages whose bodies are only on disk (in the store or the spill log).
    pub messages_paged_out: u64,
    /// Body bytes of the ready messages in the spill log (those paged out to the store
    /// are counted in messages only).
    pub message_bytes_paged_out: u64,
    /// Messages (ready and unacknowledged) stored on disk: persistent messages of a
    /// durable queue.
    pub messages_persistent: u64,
    /// Their body bytes.
    pub message_bytes_persistent: u64,
    /// The `timestamp` property (seconds) of the message at the head, if it has one.
    pub head_message_timestamp: Option<u64>,
    /// Since when (ms since the epoch) the queue has had no consumers and no traffic;
    /// `None` while it is in use.
    pub idle_since_ms: Option<u64>,
    /// Consumers in rotation order.
    pub consumers: Vec<ConsumerSnapshot>,
    /// Running totals.
    pub counters: QueueCounters,
}

impl QueueSnapshot {
    /// Ready plus unacknowledged messages.
    pub fn messages(&self) -> u64 {
        self.messages_ready + self.messages_unacknowledged
    }

    /// Ready plus unacknowledged body bytes.
    pub fn message_bytes(&self) -> u64 {
        self.message_bytes_ready + self.message_bytes_unacknowledged
    }
}

impl Queue {
    /// The running totals only (what metrics scrape for every queue).
    pub fn counters(&self) -> QueueCounters {
        self.state.lock().counters
    }

    /// Up to `limit` ready messages from the head, in delivery order, without taking
    /// them: only those held in memory (a durable queue's paged-out backlog is not read).
    pub fn peek_ready(&self, limit: usize) -> Vec<Arc<Message>> {
        self.state.lock().ready.peek(limit)
    }

    /// Depth, bytes, consumers and totals, read consistently. Takes the queue's lock
    /// once; the head message's properties are decoded only if it has any.
    pub fn snapshot(&self) -> QueueSnapshot {
        let st = self.state.lock();
        let single_active = self.declared.single_active_consumer;
        let consumers = st
            .consumers
            .iter()
            .enumerate()
            .map(|(i, c)| ConsumerSnapshot {
                consumer: c.clone(),
                active: !single_active || i == 0,
            })
            .collect::<Vec<_>>();
        let head_message_timestamp = st
            .ready
            .front()
            .filter(|m| !m.message.raw_properties.is_empty())
            .and_then(|m| m.message.properties().timestamp);
        let idle = consumers.is_empty() && st.unacked.count == 0;
        let (stored_ready, stored_ready_bytes) = st.ready.stored();
        if let Some(stream) = self.stream.get() {
            let (len, bytes) = (stream.log().len(), stream.log().total_bytes());
            let c = stream.counters();
            let mut counters = st.counters;
            counters.publish = c.publish.load(std::sync::atomic::Ordering::Relaxed);
            counters.deliver = c.deliver.load(std::sync::atomic::Ordering::Relaxed);
            let unacked: u64 = consumers
                .iter()
                .map(|c| u64::from(c.consumer.unacked()))
                .sum();
            return QueueSnapshot {
                messages_ready: len,
                messages_unacknowledged: unacked,
                message_bytes_ready: bytes,
                message_bytes_unacknowledged: 0,
                messages_paged_out: 0,
                message_bytes_paged_out: 0,
                messages_persistent: len,
                message_bytes_persistent: bytes,
                head_message_timestamp: None,
                idle_since_ms: consumers.is_empty().then_some(st.last_used_ms),
                consumers,
                counters,
            };
        }
        QueueSnapshot {
            messages_ready: st.ready.len() as u64,
            messages_unacknowledged: st.unacked.count as u64,
            message_bytes_ready: st.ready.bytes() as u64,
            message_bytes_unacknowledged: st.unacked.bytes as u64,
            messages_paged_out: (st.ready.paged() + st.ready.spilled().0) as u64,
            message_bytes_paged_out: st.ready.spilled().1 as u64,
            messages_persistent: (stored_ready + st.unacked.stored) as u64,
            message_bytes_persistent: (stored_ready_bytes + st.unacked.stored_bytes) as u64,
            head_message_timestamp,
            idle_since_ms: idle.then_some(st.last_used_ms),
            consumers,
            counters: st.counters,
        }
    }
}
