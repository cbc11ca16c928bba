//! Queues: ready messages, consumers, and dispatch.
//!
//! A queue's state sits behind one short, non-async mutex. Every operation (publish,
//! dispatch, requeue, consume, cancel) takes it, does a bounded amount of work without
//! awaiting, and lets go; nothing is ever awaited while it is held.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use warren_protocol::FieldTable;

use crate::consumer::{Consumer, Delivery};
use crate::error::{AmqpError, AmqpResult};
use crate::message::{Message, QueuedMessage};

/// Identifies a client connection, for exclusive queues.
pub type ConnectionId = u64;

/// How a queue was declared.
#[derive(Debug, Clone)]
pub struct QueueConfig {
    /// Queue name.
    pub name: Arc<str>,
    /// Survives a broker restart.
    pub durable: bool,
    /// Owned by this connection, deleted when it closes.
    pub exclusive_owner: Option<ConnectionId>,
    /// Deleted when its last consumer goes.
    pub auto_delete: bool,
    /// Declare arguments.
    pub arguments: FieldTable,
}

/// A queue.
#[derive(Debug)]
pub struct Queue {
    config: QueueConfig,
    vhost: Arc<str>,
    deleted: AtomicBool,
    state: Mutex<QueueState>,
}

#[derive(Debug, Default)]
struct QueueState {
    ready: VecDeque<QueuedMessage>,
    next_seq: u64,
    consumers: Vec<Arc<Consumer>>,
    next_consumer: usize,
    unacked: usize,
    ever_consumed: bool,
}

/// What `queue.delete` removed.
#[derive(Debug)]
pub struct Deleted {
    /// Ready messages dropped.
    pub messages: u32,
    /// Consumers that were attached, now cancelled.
    pub consumers: Vec<Arc<Consumer>>,
}

impl Queue {
    /// A new, empty queue in `vhost`.
    pub fn new(config: QueueConfig, vhost: Arc<str>) -> Arc<Self> {
        Arc::new(Queue {
            config,
            vhost,
            deleted: AtomicBool::new(false),
            state: Mutex::new(QueueState::default()),
        })
    }

    /// The queue's name.
    pub fn name(&self) -> &Arc<str> {
        &self.config.name
    }

    /// How it was declared.
    pub fn config(&self) -> &QueueConfig {
        &self.config
    }

    /// Whether the queue has been deleted (handles may outlive deletion briefly).
    pub fn is_deleted(&self) -> bool {
        self.deleted.load(Ordering::Acquire)
    }

    /// Errors with 405 unless `conn` may use this queue.
    pub fn check_access(&self, conn: ConnectionId) -> AmqpResult<()> {
        match self.config.exclusive_owner {
            Some(owner) if owner != conn => Err(AmqpError::resource_locked(format!(
                "cannot obtain exclusive access to locked queue '{}' in vhost '{}'. It could be \
                 originally declared on another connection or the exclusive property value does \
                 not match that of the original declaration.",
                self.config.name, self.vhost
            ))),
            _ => Ok(()),
        }
    }

    /// Ready messages (not counting those delivered and awaiting acknowledgement).
    pub fn message_count(&self) -> u32 {
        self.state.lock().ready.len() as u32
    }

    /// Attached consumers.
    pub fn consumer_count(&self) -> u32 {
        self.state.lock().consumers.len() as u32
    }

    /// Messages delivered and not yet acknowledged.
    pub fn unacked_count(&self) -> usize {
        self.state.lock().unacked
    }

    /// Appends a message and delivers what it can.
    pub fn publish(&self, message: Arc<Message>) {
        let mut st = self.state.lock();
        let seq = st.next_seq;
        st.next_seq += 1;
        st.ready.push_back(QueuedMessage {
            seq,
            message,
            redelivered: false,
        });
        self.dispatch_locked(&mut st);
    }

    /// Attaches a consumer, refusing it if exclusivity forbids, then delivers.
    pub fn add_consumer(&self, consumer: Arc<Consumer>) -> AmqpResult<()> {
        let mut st = self.state.lock();
        let exclusive_taken = st.consumers.iter().any(|c| c.spec.exclusive);
        if exclusive_taken || (consumer.spec.exclusive && !st.consumers.is_empty()) {
            return Err(AmqpError::access_refused(format!(
                "queue '{}' in vhost '{}' in exclusive use",
                self.config.name, self.vhost
            )));
        }
        st.consumers.push(consumer);
        st.ever_consumed = true;
        self.dispatch_locked(&mut st);
        Ok(())
    }

    /// Detaches a consumer. Returns true if the queue is auto-delete and now has none.
    pub fn remove_consumer(&self, consumer: &Arc<Consumer>) -> bool {
        let mut st = self.state.lock();
        st.consumers.retain(|c| !Arc::ptr_eq(c, consumer));
        self.config.auto_delete && st.ever_consumed && st.consumers.is_empty()
    }

    /// Takes the head message for `basic.get`, with the count of messages left.
    pub fn get(&self, no_ack: bool) -> Option<(QueuedMessage, u32)> {
        let mut st = self.state.lock();
        let msg = st.ready.pop_front()?;
        if !no_ack {
            st.unacked += 1;
        }
        Some((msg, st.ready.len() as u32))
    }

    /// Records that `n` delivered messages were acknowledged (or dropped by reject).
    pub fn settle(&self, n: usize) {
        let mut st = self.state.lock();
        st.unacked = st.unacked.saturating_sub(n);
    }

    /// Puts delivered messages back at their original positions, marked redelivered,
    /// then delivers what it can.
    pub fn requeue(&self, mut messages: Vec<QueuedMessage>) {
        if self.is_deleted() || messages.is_empty() {
            return;
        }
        messages.sort_by_key(|m| m.seq);
        let mut st = self.state.lock();
        st.unacked = st.unacked.saturating_sub(messages.len());
        for mut m in messages {
            m.redelivered = true;
            let at = st.ready.partition_point(|r| r.seq < m.seq);
            st.ready.insert(at, m);
        }
        self.dispatch_locked(&mut st);
    }

    /// Puts back a message that was handed to a consumer whose connection or channel
    /// went away before writing it. `counted_unacked` says whether the hand-over counted
    /// it as unacknowledged (it does unless the consumer was no-ack).
    pub fn return_undelivered(&self, message: QueuedMessage, counted_unacked: bool) {
        if self.is_deleted() {
            return;
        }
        let mut st = self.state.lock();
        if counted_unacked {
            st.unacked = st.unacked.saturating_sub(1);
        }
        Self::unsend(&mut st, message);
        self.dispatch_locked(&mut st);
    }

    fn unsend(st: &mut QueueStateGuard<'_>, message: QueuedMessage) {
        let at = st.ready.partition_point(|r| r.seq < message.seq);
        st.ready.insert(at, message);
    }

    /// Drops every ready message; returns how many.
    pub fn purge(&self) -> u32 {
        let mut st = self.state.lock();
        let n = st.ready.len() as u32;
        st.ready.clear();
        n
    }

    /// Marks the queue deleted, dropping its messages and detaching its consumers.
    pub fn delete(&self) -> Deleted {
        self.deleted.store(true, Ordering::Release);
        let mut st = self.state.lock();
        let messages = st.ready.len() as u32;
        st.ready.clear();
        Deleted {
            messages,
            consumers: std::mem::take(&mut st.consumers),
        }
    }

    /// Delivers ready messages to consumers with credit, round-robin.
    pub fn dispatch(&self) {
        let mut st = self.state.lock();
        self.dispatch_locked(&mut st);
    }

    fn dispatch_locked(&self, st: &mut QueueStateGuard<'_>) {
        while !st.ready.is_empty() && !st.consumers.is_empty() {
            let n = st.consumers.len();
            let start = st.next_consumer % n;
            let Some(idx) = (0..n)
                .map(|i| (start + i) % n)
                .find(|&i| st.consumers[i].try_reserve())
            else {
                return;
            };
            st.next_consumer = idx + 1;
            let consumer = st.consumers[idx].clone();
            let Some(message) = st.ready.pop_front() else {
                consumer.unreserve();
                return;
            };
            if !consumer.spec.no_ack {
                st.unacked += 1;
            }
            if let Err(undelivered) = consumer.send(Delivery {
                consumer: consumer.clone(),
                message,
            }) {
                // The consumer's connection is gone: put the message back and drop the
                // consumer here; the connection's cleanup will not see it again.
                consumer.unreserve();
                if !consumer.spec.no_ack {
                    st.unacked -= 1;
                }
                Self::unsend(st, undelivered.message);
                st.consumers.retain(|c| !Arc::ptr_eq(c, &consumer));
            }
        }
    }
}

type QueueStateGuard<'a> = parking_lot::MutexGuard<'a, QueueState>;
