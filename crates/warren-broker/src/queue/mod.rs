//! Queues: ready messages, consumers, dispatch, and the smart-queue features (TTL,
//! length limits, priorities, dead-lettering, delivery limits, deduplication,
//! single active consumer, consumer priorities, queue expiry).
//!
//! A queue's state sits behind one short, non-async mutex. Every operation takes it,
//! does a bounded amount of work without awaiting, and lets go. Messages that must be
//! dead-lettered are collected under the lock and republished after it is released, so
//! a dead-letter exchange that routes back to the same queue cannot deadlock.

pub mod args;
mod consumers;
pub(crate) mod dedup;
mod host;
mod paging;
mod ready;
mod recover;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, Weak};

use parking_lot::Mutex;
use warren_protocol::{FieldTable, FieldValue};

use crate::clock::now_ms;
use crate::consumer::{Consumer, Delivery};
use crate::dead_letter::{dead_letter, DeadLetter, DeadLetterTo, DeathReason};
use crate::error::{AmqpError, AmqpResult};
use crate::message::{Message, QueuedMessage};
use crate::persist::{stored_message_id, EntryRecord, QueueId, QueueStore, Store, StoreResult};
use crate::scheduler::{Scheduler, Timed};
pub use args::{Overflow, QueueArgs, QueueType};
use consumers::ConsumerRing;
use dedup::DedupCache;
pub use host::QueueHost;
use paging::Pager;
pub use paging::{Paging, StoredRun};
use ready::ReadyQueue;
pub use recover::RecoverError;

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
    /// Declare arguments as given.
    pub arguments: FieldTable,
}

/// What became of a published message in one queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublishOutcome {
    /// Enqueued (or delivered straight away).
    Enqueued,
    /// Refused by `x-overflow=reject-publish(-dlx)`: the publisher gets a nack.
    Rejected,
    /// Dropped as a duplicate by message deduplication.
    Duplicate,
}

/// A queue.
pub struct Queue {
    config: QueueConfig,
    args: QueueArgs,
    vhost_name: Arc<str>,
    /// The virtual host, through the narrow handle a queue needs of it.
    host: Weak<dyn QueueHost>,
    scheduler: Arc<Scheduler>,
    me: Weak<Queue>,
    deleted: AtomicBool,
    /// Where a durable queue is stored (unset: nothing of it touches disk).
    persist: OnceLock<QueueStore>,
    state: Mutex<QueueState>,
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue")
            .field("name", &self.config.name)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
struct QueueState {
    ready: ReadyQueue,
    next_seq: u64,
    /// Consumers in rotation order.
    consumers: ConsumerRing,
    unacked: usize,
    ever_consumed: bool,
    /// When the queue was last used (for `x-expires`).
    last_used_ms: u64,
    /// Earliest time a timer is armed for.
    timer_due_ms: Option<u64>,
    dedup: Option<DedupCache>,
}

/// What `queue.delete` removed.
#[derive(Debug)]
pub struct Deleted {
    /// Ready messages dropped.
    pub messages: u32,
    /// Consumers that were attached, now cancelled.
    pub consumers: Vec<Arc<Consumer>>,
}

/// Work to do once the queue lock is released.
#[derive(Default)]
struct AfterUnlock {
    dead: Vec<DeadLetter>,
}

impl Queue {
    /// A new, empty queue in virtual host `vhost_name`, reached through `host`.
    pub fn new(
        config: QueueConfig,
        args: QueueArgs,
        vhost_name: Arc<str>,
        host: Weak<dyn QueueHost>,
        scheduler: Arc<Scheduler>,
    ) -> Arc<Self> {
        let now = now_ms();
        let queue = Arc::new_cyclic(|me| Queue {
            state: Mutex::new(QueueState {
                ready: ReadyQueue::new(args.max_priority),
                next_seq: 0,
                consumers: ConsumerRing::default(),
                unacked: 0,
                ever_consumed: false,
                last_used_ms: now,
                timer_due_ms: None,
                dedup: args.dedup.as_ref().map(DedupCache::new),
            }),
            config,
            args,
            vhost_name,
            host,
            scheduler,
            me: me.clone(),
            deleted: AtomicBool::new(false),
            persist: OnceLock::new(),
        });
        if let Some(expires) = queue.args.expires_ms {
            let mut st = queue.state.lock();
            queue.arm_timer(&mut st, now + expires);
        }
        queue
    }

    /// The queue's name.
    pub fn name(&self) -> &Arc<str> {
        &self.config.name
    }

    /// How it was declared.
    pub fn config(&self) -> &QueueConfig {
        &self.config
    }

    /// Its parsed arguments.
    pub fn args(&self) -> &QueueArgs {
        &self.args
    }

    /// Links this durable queue to its record in `store` (the first link wins: a
    /// redeclaration keeps the id). From then on its deletion and purges reach the store,
    /// and persistent messages beyond `paging`'s in-memory budget stay on disk only.
    pub fn set_persistence(&self, store: Arc<dyn Store>, id: QueueId, paging: Paging) {
        if self
            .persist
            .set(QueueStore {
                store: store.clone(),
                id,
            })
            .is_ok()
        {
            self.state.lock().ready.set_pager(Pager {
                store,
                queue: id,
                paging,
            });
        }
    }

    /// The queue's link to the store, if it is stored.
    pub fn persistence(&self) -> Option<&QueueStore> {
        self.persist.get()
    }

    /// Removes these positions from the store (acked, rejected, expired, dropped,
    /// purged or dead-lettered messages); a no-op for unstored queues or positions.
    fn forget(&self, seqs: impl IntoIterator<Item = u64>) {
        let Some(p) = self.persist.get() else { return };
        let seqs: Vec<u64> = seqs.into_iter().collect();
        if seqs.is_empty() {
            return;
        }
        if let Err(e) = p.store.remove(p.id, &seqs) {
            tracing::error!(queue = %self.config.name, error = %e, "store: remove failed");
        }
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
                self.config.name, self.vhost_name
            ))),
            _ => Ok(()),
        }
    }

    /// Ready messages (not counting those delivered and awaiting acknowledgement).
    pub fn message_count(&self) -> u32 {
        self.state.lock().ready.len() as u32
    }

    /// Body bytes of the ready messages.
    pub fn message_bytes(&self) -> usize {
        self.state.lock().ready.bytes()
    }

    /// Ready messages whose bodies are on disk only (a durable queue's backlog beyond
    /// its in-memory budget).
    pub fn paged_count(&self) -> usize {
        self.state.lock().ready.paged()
    }

    /// Attached consumers.
    pub fn consumer_count(&self) -> u32 {
        self.state.lock().consumers.len() as u32
    }

    /// Messages delivered and not yet acknowledged.
    pub fn unacked_count(&self) -> usize {
        self.state.lock().unacked
    }

    /// Marks the queue used now (a redeclaration), for `x-expires`.
    pub fn touch(&self) {
        self.state.lock().last_used_ms = now_ms();
    }

    /// Appends a message, applying deduplication, TTL and length limits, and delivers
    /// what it can.
    pub fn publish(&self, message: Arc<Message>) -> PublishOutcome {
        let mut after = AfterUnlock::default();
        let outcome = {
            let mut st = self.state.lock();
            self.publish_locked(&mut st, message, &mut after)
        };
        self.finish(after);
        outcome
    }

    fn publish_locked(
        &self,
        st: &mut QueueState,
        message: Arc<Message>,
        after: &mut AfterUnlock,
    ) -> PublishOutcome {
        let now = now_ms();
        if let Some(dedup) = &mut st.dedup {
            if dedup.is_duplicate(&message, now) {
                return PublishOutcome::Duplicate;
            }
        }
        let expires_at_ms = self.expiry_for(&message, now);
        let body = message.body.len() as u64;
        if self.would_overflow(st, body) {
            match self.args.overflow {
                Overflow::DropHead => {}
                Overflow::RejectPublish => return PublishOutcome::Rejected,
                Overflow::RejectPublishDlx => {
                    after.dead.push(DeadLetter {
                        message,
                        reason: DeathReason::Maxlen,
                    });
                    return PublishOutcome::Rejected;
                }
            }
        }
        let seq = st.next_seq;
        let stored = match self.store_entry(&message, seq, expires_at_ms) {
            Ok(stored) => stored,
            Err(e) => {
                // Not durable, so not accepted: the publisher gets a nack.
                tracing::error!(queue = %self.config.name, error = %e, "store: enqueue failed");
                return PublishOutcome::Rejected;
            }
        };
        st.next_seq += 1;
        st.ready.push_back(QueuedMessage {
            seq,
            message,
            redelivered: false,
            expires_at_ms,
            delivery_count: 0,
            stored,
        });
        // Dispatch at the publish's own clock: a message with TTL 0 expires at `now`
        // and must still reach a consumer that can take it at once.
        self.dispatch_at(st, now, after);
        self.enforce_limits(st, after);
        // A message with TTL 0 that no consumer could take expires now.
        self.expire_locked(st, now, after);
        PublishOutcome::Enqueued
    }

    /// Stores a persistent message's entry at `seq` if this queue is stored (the message
    /// itself is stored once, by the first durable queue that takes it). Returns whether
    /// it was stored.
    fn store_entry(
        &self,
        message: &Message,
        seq: u64,
        expires_at_ms: Option<u64>,
    ) -> StoreResult<bool> {
        let Some(p) = self.persist.get() else {
            return Ok(false);
        };
        if !message.persistent {
            return Ok(false);
        }
        let message_id = stored_message_id(p.store.as_ref(), message)?;
        p.store.enqueue(
            p.id,
            &EntryRecord {
                seq,
                message_id,
                expires_at_ms,
                priority: message.priority,
                body_len: message.body.len() as u32,
            },
        )?;
        Ok(true)
    }

    /// Records in the store that these positions were delivered (recovery then
    /// redelivers them with `redelivered = true`).
    fn mark_delivered(&self, seqs: &[u64]) {
        let Some(p) = self.persist.get() else { return };
        if seqs.is_empty() {
            return;
        }
        if let Err(e) = p.store.mark_delivered(p.id, seqs) {
            tracing::error!(queue = %self.config.name, error = %e, "store: mark delivered failed");
        }
    }

    fn expiry_for(&self, message: &Message, now: u64) -> Option<u64> {
        let ttl = match (self.args.message_ttl_ms, message.expiration_ms) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }?;
        Some(now.saturating_add(ttl))
    }

    /// Whether adding a body of `body` bytes would break a length limit.
    fn would_overflow(&self, st: &QueueState, body: u64) -> bool {
        self.args
            .max_length
            .is_some_and(|max| st.ready.len() as u64 >= max)
            || self
                .args
                .max_length_bytes
                .is_some_and(|max| st.ready.bytes() as u64 + body > max)
    }

    /// Drops (dead-letters) head messages until the queue is within its limits.
    fn enforce_limits(&self, st: &mut QueueState, after: &mut AfterUnlock) {
        let over = |st: &QueueState| {
            self.args
                .max_length
                .is_some_and(|max| st.ready.len() as u64 > max)
                || self
                    .args
                    .max_length_bytes
                    .is_some_and(|max| st.ready.bytes() as u64 > max)
        };
        while over(st) {
            // The head in delivery order (the highest priority first), as RabbitMQ drops.
            let Some(m) = st.ready.pop_front() else {
                break;
            };
            if m.stored {
                self.forget([m.seq]);
            }
            after.dead.push(DeadLetter {
                message: m.message,
                reason: DeathReason::Maxlen,
            });
        }
    }

    /// Removes expired head messages and re-arms the timer for the next one.
    fn expire_locked(&self, st: &mut QueueState, now: u64, after: &mut AfterUnlock) {
        let mut expired = Vec::new();
        st.ready.take_expired(now, &mut expired);
        self.forget(expired.iter().filter(|m| m.stored).map(|m| m.seq));
        after.dead.extend(expired.into_iter().map(|m| DeadLetter {
            message: m.message,
            reason: DeathReason::Expired,
        }));
        if let Some(next) = st.ready.next_expiry() {
            self.arm_timer(st, next);
        }
    }

    fn arm_timer(&self, st: &mut QueueState, due_ms: u64) {
        if st.timer_due_ms.is_some_and(|armed| armed <= due_ms) {
            return;
        }
        st.timer_due_ms = Some(due_ms);
        let me: Weak<dyn Timed> = self.me.clone();
        self.scheduler.schedule(due_ms, me);
    }

    /// Dead-letters what was collected under the lock.
    fn finish(&self, after: AfterUnlock) {
        let Some(exchange) = &self.args.dead_letter_exchange else {
            return;
        };
        if after.dead.is_empty() {
            return;
        }
        if let Some(host) = self.host.upgrade() {
            let to = DeadLetterTo {
                queue: &self.config.name,
                exchange,
                routing_key: self.args.dead_letter_routing_key.as_deref(),
            };
            dead_letter(host.as_ref(), to, after.dead);
        }
    }

    /// Attaches a consumer, refusing it if exclusivity forbids, then delivers.
    pub fn add_consumer(&self, consumer: Arc<Consumer>) -> AmqpResult<()> {
        let mut after = AfterUnlock::default();
        {
            let mut st = self.state.lock();
            let exclusive_taken = st.consumers.iter().any(|c| c.spec.exclusive);
            if exclusive_taken || (consumer.spec.exclusive && !st.consumers.is_empty()) {
                return Err(AmqpError::access_refused(format!(
                    "queue '{}' in vhost '{}' in exclusive use",
                    self.config.name, self.vhost_name
                )));
            }
            st.consumers.add(consumer, self.args.single_active_consumer);
            st.ever_consumed = true;
            st.last_used_ms = now_ms();
            self.dispatch_locked(&mut st, &mut after);
        }
        self.finish(after);
        Ok(())
    }

    /// Detaches a consumer. Returns true if the queue is auto-delete and now has none.
    pub fn remove_consumer(&self, consumer: &Arc<Consumer>) -> bool {
        let mut after = AfterUnlock::default();
        let auto_delete = {
            let mut st = self.state.lock();
            st.consumers.remove(consumer);
            st.last_used_ms = now_ms();
            if let Some(expires) = self.args.expires_ms {
                if st.consumers.is_empty() {
                    let due = st.last_used_ms + expires;
                    st.timer_due_ms = None;
                    self.arm_timer(&mut st, due);
                }
            }
            // With a single active consumer, the next one takes over.
            self.dispatch_locked(&mut st, &mut after);
            self.config.auto_delete && st.ever_consumed && st.consumers.is_empty()
        };
        self.finish(after);
        auto_delete
    }

    /// Takes the head message for `basic.get`, with the count of messages left.
    pub fn get(&self, no_ack: bool) -> Option<(QueuedMessage, u32)> {
        let mut after = AfterUnlock::default();
        let got = {
            let mut st = self.state.lock();
            let now = now_ms();
            st.last_used_ms = now;
            self.expire_locked(&mut st, now, &mut after);
            let msg = st.ready.pop_front();
            if msg.is_some() && !no_ack {
                st.unacked += 1;
            }
            if let Some(m) = msg.as_ref().filter(|m| m.stored) {
                if no_ack {
                    self.forget([m.seq]);
                } else {
                    self.mark_delivered(&[m.seq]);
                }
            }
            msg.map(|m| (m, st.ready.len() as u32))
        };
        self.finish(after);
        got
    }

    /// Delivered messages were acknowledged: they leave the queue (and the store).
    pub fn ack(&self, messages: &[QueuedMessage]) {
        self.settle(messages.len());
        self.forget(messages.iter().filter(|m| m.stored).map(|m| m.seq));
    }

    /// Records that `n` delivered messages were acknowledged.
    pub fn settle(&self, n: usize) {
        let mut st = self.state.lock();
        st.unacked = st.unacked.saturating_sub(n);
    }

    /// Rejected without requeue: the messages leave the queue and are dead-lettered.
    pub fn discard(&self, messages: Vec<QueuedMessage>) {
        self.settle(messages.len());
        self.forget(messages.iter().filter(|m| m.stored).map(|m| m.seq));
        let dead = messages
            .into_iter()
            .map(|m| DeadLetter {
                message: m.message,
                reason: DeathReason::Rejected,
            })
            .collect();
        self.finish(AfterUnlock { dead });
    }

    /// Puts delivered messages back at their original positions, marked redelivered,
    /// dead-lettering those past the delivery limit, then delivers what it can.
    pub fn requeue(&self, mut messages: Vec<QueuedMessage>) {
        if messages.is_empty() {
            return;
        }
        if self.is_deleted() {
            return;
        }
        messages.sort_by_key(|m| m.seq);
        let mut after = AfterUnlock::default();
        {
            let mut st = self.state.lock();
            st.unacked = st.unacked.saturating_sub(messages.len());
            for mut m in messages {
                m.redelivered = true;
                m.delivery_count = m.delivery_count.saturating_add(1);
                if let Some(limit) = self.args.delivery_limit {
                    if m.delivery_count > limit {
                        if m.stored {
                            self.forget([m.seq]);
                        }
                        after.dead.push(DeadLetter {
                            message: m.message,
                            reason: DeathReason::DeliveryLimit,
                        });
                        continue;
                    }
                    m.message = Arc::new(with_delivery_count(&m.message, m.delivery_count));
                }
                st.ready.insert_by_seq(m);
            }
            // Messages that expired while delivered go now, and the timer covers the
            // rest even if no consumer is left to dispatch to.
            self.expire_locked(&mut st, now_ms(), &mut after);
            self.dispatch_locked(&mut st, &mut after);
        }
        self.finish(after);
    }

    /// Puts back a message that was handed to a consumer whose connection or channel
    /// went away before writing it. `counted_unacked` says whether the hand-over counted
    /// it as unacknowledged (it does unless the consumer was no-ack).
    pub fn return_undelivered(&self, message: QueuedMessage, counted_unacked: bool) {
        if self.is_deleted() {
            return;
        }
        let mut after = AfterUnlock::default();
        {
            let mut st = self.state.lock();
            if counted_unacked {
                st.unacked = st.unacked.saturating_sub(1);
            }
            st.ready.insert_by_seq(message);
            self.expire_locked(&mut st, now_ms(), &mut after);
            self.dispatch_locked(&mut st, &mut after);
        }
        self.finish(after);
    }

    /// Loads messages recovered from the store (in their original order, `seq` kept).
    /// Nothing expires or moves yet: call [`Queue::resume`] once every queue is loaded,
    /// so a dead-lettered message cannot land in a queue whose positions are not known.
    pub fn restore(&self, messages: Vec<QueuedMessage>) {
        let mut st = self.state.lock();
        for m in messages {
            st.next_seq = st.next_seq.max(m.seq + 1);
            st.ready.push_back(m);
        }
    }

    /// Like [`Queue::restore`], for recovered messages left on disk until the head
    /// reaches them (the whole run of a FIFO queue's stored entries).
    pub fn restore_run(&self, run: StoredRun) {
        let mut st = self.state.lock();
        st.next_seq = st.next_seq.max(run.last_seq + 1);
        st.ready.push_run(run);
    }

    /// After recovery: drops (dead-letters) messages whose TTL ran out while the broker
    /// was down and arms the timer for the rest.
    pub fn resume(&self) {
        let mut after = AfterUnlock::default();
        {
            let mut st = self.state.lock();
            self.expire_locked(&mut st, now_ms(), &mut after);
        }
        self.finish(after);
    }

    /// Drops every ready message; returns how many.
    pub fn purge(&self) -> u32 {
        let drained = {
            let mut st = self.state.lock();
            st.ready.drain()
        };
        // Only the ready messages go; delivered ones stay stored until settled.
        self.forget(drained.loaded.iter().filter(|m| m.stored).map(|m| m.seq));
        // Runs on disk are removed after the lock: their positions are no longer in the
        // queue, and new messages get higher ones.
        if let Some(p) = self.persist.get() {
            for run in &drained.runs {
                if let Err(e) = recover::remove_run(p, run) {
                    tracing::error!(queue = %self.config.name, error = %e, "store: purge failed");
                }
            }
        }
        drained.count as u32
    }

    /// Marks the queue deleted, dropping its messages and detaching its consumers. (Its
    /// virtual host removes it from the store.)
    pub fn delete(&self) -> Deleted {
        self.deleted.store(true, Ordering::Release);
        let mut st = self.state.lock();
        let messages = st.ready.drain().count as u32;
        Deleted {
            messages,
            consumers: st.consumers.take_all(),
        }
    }

    /// Delivers ready messages to consumers with credit.
    pub fn dispatch(&self) {
        let mut after = AfterUnlock::default();
        {
            let mut st = self.state.lock();
            self.dispatch_locked(&mut st, &mut after);
        }
        self.finish(after);
    }

    fn dispatch_locked(&self, st: &mut QueueState, after: &mut AfterUnlock) {
        self.dispatch_at(st, now_ms(), after);
    }

    /// Delivers what it can at time `now`; a message is expired once `now` has passed
    /// its expiry (one due exactly now is still delivered, which is what TTL 0 means).
    fn dispatch_at(&self, st: &mut QueueState, now: u64, after: &mut AfterUnlock) {
        // Stored positions delivered (to mark) and delivered to no-ack consumers (done).
        let mut delivered: Vec<u64> = Vec::new();
        let mut settled: Vec<u64> = Vec::new();
        self.dispatch_loop(st, now, after, &mut delivered, &mut settled);
        self.mark_delivered(&delivered);
        self.forget(settled);
    }

    fn dispatch_loop(
        &self,
        st: &mut QueueState,
        now: u64,
        after: &mut AfterUnlock,
        delivered: &mut Vec<u64>,
        settled: &mut Vec<u64>,
    ) {
        while !st.ready.is_empty() && !st.consumers.is_empty() {
            if st
                .ready
                .front()
                .is_some_and(|m| m.expires_at_ms.is_some_and(|t| t < now))
            {
                self.expire_locked(st, now, after);
                continue;
            }
            let Some(consumer) = st.consumers.pick(self.args.single_active_consumer) else {
                return;
            };
            let Some(message) = st.ready.pop_front() else {
                consumer.unreserve();
                return;
            };
            if !consumer.spec.no_ack {
                st.unacked += 1;
            }
            let stored = message.stored.then_some(message.seq);
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
                st.ready.insert_by_seq(undelivered.message);
                st.consumers.remove(&consumer);
            } else if let Some(seq) = stored {
                if consumer.spec.no_ack {
                    settled.push(seq);
                } else {
                    delivered.push(seq);
                }
            }
        }
    }
}

impl Timed for Queue {
    fn on_timer(&self, now: u64) {
        if self.is_deleted() {
            return;
        }
        let mut after = AfterUnlock::default();
        let expired_unused = {
            let mut st = self.state.lock();
            st.timer_due_ms = None;
            self.expire_locked(&mut st, now, &mut after);
            match self.args.expires_ms {
                Some(expires) if st.consumers.is_empty() => {
                    let due = st.last_used_ms + expires;
                    if now >= due {
                        true
                    } else {
                        self.arm_timer(&mut st, due);
                        false
                    }
                }
                _ => false,
            }
        };
        self.finish(after);
        if expired_unused {
            if let (Some(host), Some(me)) = (self.host.upgrade(), self.me.upgrade()) {
                tracing::info!(queue = %self.config.name, "queue expired (x-expires)");
                host.queue_expired(&me);
            }
        }
    }
}

/// A copy of `message` whose `x-delivery-count` header says how often it came back.
fn with_delivery_count(message: &Message, count: u32) -> Message {
    let mut props = message.properties();
    let mut headers = props.headers.take().unwrap_or_default();
    headers.insert("x-delivery-count", FieldValue::I64(i64::from(count)));
    props.headers = Some(headers);
    message.with_properties(&props)
}
