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
mod dispatch;
mod host;
mod paging;
mod policy;
mod publish;
mod ready;
mod recover;
mod settle;
pub mod spill;
mod spill_codec;
mod stats;
pub mod stream_args;
mod streamed;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, Weak};

use parking_lot::{Mutex, RwLock};
use warren_protocol::{FieldTable, FieldValue};

use crate::clock::now_ms;
use crate::consumer::{Consumer, Delivery};
use crate::dead_letter::{dead_letter, DeadLetter, DeadLetterTo, DeathReason};
use crate::error::{AmqpError, AmqpResult};
use crate::message::{Message, QueuedMessage};
use crate::persist::{stored_message_id, EntryRecord, QueueId, QueueStore, Store, StoreResult};
use crate::scheduler::{Scheduler, Timed};
use crate::stream::StreamQueue;
pub use args::{Overflow, QueueArgs, QueueType};
use consumers::ConsumerRing;
use dedup::DedupCache;
pub use host::QueueHost;
use paging::Pager;
pub use paging::{Paging, StoredRun};
use policy::AppliedPolicy;
use ready::ReadyQueue;
pub use recover::RecoverError;
pub use spill::{MemorySpill, Spill, SpillBatch, SpillError, SpillLimits, SpillPos, SpillStore};
use stats::Unacked;
pub use stats::{ConsumerSnapshot, QueueCounters, QueueSnapshot};

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
    /// The queue was deleted while the message was being routed to it: dropped, as if
    /// it had never been routed there (no nack, as in RabbitMQ).
    QueueGone,
}

/// A queue.
///
/// Its arguments exist twice: as declared (what a redeclaration is compared with) and
/// as in effect (declared, merged with the policies that apply; see
/// [`Queue::apply_policy`]). The effective ones live in the state, under the lock every
/// operation takes anyway, and are mirrored in `policy` for readers outside it.
pub struct Queue {
    config: QueueConfig,
    /// The arguments as declared.
    declared: QueueArgs,
    /// The policies applied and the effective arguments (written only with the state
    /// locked, so it always matches `QueueState::args`).
    policy: RwLock<AppliedPolicy>,
    vhost_name: Arc<str>,
    /// The virtual host, through the narrow handle a queue needs of it.
    host: Weak<dyn QueueHost>,
    scheduler: Arc<Scheduler>,
    me: Weak<Queue>,
    deleted: AtomicBool,
    /// Where a durable queue is stored (unset: nothing of it touches disk).
    persist: OnceLock<QueueStore>,
    /// The stream behind a stream queue (`x-queue-type: stream`).
    stream: OnceLock<Arc<StreamQueue>>,
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
    /// The arguments in effect (declared, merged with the policies).
    args: Arc<QueueArgs>,
    ready: ReadyQueue,
    next_seq: u64,
    /// Consumers in rotation order.
    consumers: ConsumerRing,
    /// Delivered, not yet acknowledged.
    unacked: Unacked,
    /// Running totals for the management API and metrics.
    counters: QueueCounters,
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
    /// Stored positions of the dead letters: they leave the store only after the
    /// copies dead-lettering makes were written (see [`Queue::finish`]).
    moved: Vec<u64>,
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
        let effective = Arc::new(args.clone());
        let queue = Arc::new_cyclic(|me| Queue {
            policy: RwLock::new(AppliedPolicy::none(effective.clone())),
            state: Mutex::new(QueueState {
                args: effective,
                ready: ReadyQueue::new(args.max_priority),
                next_seq: 0,
                consumers: ConsumerRing::default(),
                unacked: Unacked::default(),
                counters: QueueCounters::default(),
                ever_consumed: false,
                last_used_ms: now,
                timer_due_ms: None,
                dedup: args.dedup.as_ref().map(DedupCache::new),
            }),
            config,
            declared: args,
            vhost_name,
            host,
            scheduler,
            me: me.clone(),
            deleted: AtomicBool::new(false),
            persist: OnceLock::new(),
            stream: OnceLock::new(),
        });
        if let Some(expires) = queue.declared.expires_ms {
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

    /// The arguments in effect: as declared, merged with the policies that apply.
    pub fn args(&self) -> Arc<QueueArgs> {
        self.policy.read().args.clone()
    }

    /// The arguments as declared (parsed from the declare's `x-` arguments).
    pub fn declared_args(&self) -> &QueueArgs {
        &self.declared
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

    /// Lets this queue write the ready messages beyond its in-memory budget to `spill`
    /// (any queue, durable or not; persistent messages of a durable queue page to the
    /// store instead).
    pub fn set_spill(&self, spill: Spill) {
        self.state.lock().ready.set_spill(spill);
    }

    /// Under memory pressure: writes the ready messages in memory beyond one page to
    /// the spill log, if the queue has one. Returns how many were spilled.
    pub fn shed_memory(&self) -> usize {
        self.state.lock().ready.shed()
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
        if let Some(s) = self.stream.get() {
            return s.log().len().min(u64::from(u32::MAX)) as u32;
        }
        self.state.lock().ready.len() as u32
    }

    /// Body bytes of the ready messages.
    pub fn message_bytes(&self) -> usize {
        if let Some(s) = self.stream.get() {
            return s.log().total_bytes() as usize;
        }
        self.state.lock().ready.bytes()
    }

    /// Ready messages whose bodies are on disk only (a durable queue's backlog beyond
    /// its in-memory budget).
    pub fn paged_count(&self) -> usize {
        self.state.lock().ready.paged()
    }

    /// Ready messages waiting in the spill log only (a backlog beyond the queue's
    /// in-memory budget).
    pub fn spilled_count(&self) -> usize {
        self.state.lock().ready.spilled().0
    }

    /// Attached consumers.
    pub fn consumer_count(&self) -> u32 {
        self.state.lock().consumers.len() as u32
    }

    /// Messages delivered and not yet acknowledged.
    pub fn unacked_count(&self) -> usize {
        self.state.lock().unacked.count
    }

    /// Marks the queue used now (a redeclaration), for `x-expires`.
    pub fn touch(&self) {
        self.state.lock().last_used_ms = now_ms();
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

    fn arm_timer(&self, st: &mut QueueState, due_ms: u64) {
        if st.timer_due_ms.is_some_and(|armed| armed <= due_ms) {
            return;
        }
        st.timer_due_ms = Some(due_ms);
        let me: Weak<dyn Timed> = self.me.clone();
        self.scheduler.schedule(due_ms, me);
    }

    /// Removes the positions of messages that were just dead-lettered: after their
    /// copies were stored (`Store::remove_moved`), so a crash in between keeps the
    /// message in this queue, in the target, or in both, never in neither.
    fn forget_moved(&self, seqs: Vec<u64>) {
        let Some(p) = self.persist.get() else { return };
        if seqs.is_empty() {
            return;
        }
        if let Err(e) = p.store.remove_moved(p.id, &seqs) {
            tracing::error!(queue = %self.config.name, error = %e, "store: remove failed");
        }
    }

    /// Dead-letters what was collected under the lock, to the dead-letter exchange in
    /// effect now, then removes the originals from the store.
    fn finish(&self, after: AfterUnlock) {
        let AfterUnlock { dead, moved } = after;
        if self.republish_dead(dead) {
            self.forget_moved(moved);
        } else {
            self.forget(moved);
        }
    }

    /// Republishes `dead` to the dead-letter exchange; returns whether there was one
    /// (so copies may have been stored).
    fn republish_dead(&self, dead: Vec<DeadLetter>) -> bool {
        if dead.is_empty() {
            return false;
        }
        let args = self.args();
        let Some(host) = self.host.upgrade() else {
            return false;
        };
        let to_exchange = args.dead_letter_exchange.is_some();
        let totals = host.dead_letter_totals();
        for d in &dead {
            totals.note(d.reason, to_exchange);
        }
        let Some(exchange) = &args.dead_letter_exchange else {
            return false;
        };
        let to = DeadLetterTo {
            queue: &self.config.name,
            exchange,
            routing_key: args.dead_letter_routing_key.as_deref(),
        };
        dead_letter(host.as_ref(), to, dead);
        true
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
            st.consumers
                .add(consumer, self.declared.single_active_consumer);
            st.ever_consumed = true;
            st.last_used_ms = now_ms();
            self.dispatch_locked(&mut st, &mut after);
        }
        self.finish(after);
        Ok(())
    }

    /// Detaches a consumer. Returns true if the queue is auto-delete and now has none.
    pub fn remove_consumer(&self, consumer: &Arc<Consumer>) -> bool {
        if let Some(s) = self.stream.get() {
            s.detach(consumer);
        }
        let mut after = AfterUnlock::default();
        let auto_delete = {
            let mut st = self.state.lock();
            st.consumers.remove(consumer);
            st.last_used_ms = now_ms();
            if let Some(expires) = st.args.expires_ms {
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
    /// was down and arms the timer for the rest, then drops the head beyond the length
    /// limits in effect (a policy set before the messages were loaded).
    pub fn resume(&self) {
        let mut after = AfterUnlock::default();
        {
            let mut st = self.state.lock();
            self.expire_locked(&mut st, now_ms(), &mut after);
            self.enforce_limits(&mut st, &mut after);
        }
        self.finish(after);
    }

    /// Drops every ready message; returns how many.
    pub fn purge(&self) -> u32 {
        if self.is_stream() {
            // Refused before it gets here (`refuse_on_stream`): a stream keeps its log.
            return 0;
        }
        let (drained, spill_store) = {
            let mut st = self.state.lock();
            (st.ready.drain(), st.ready.spill_store())
        };
        // Only the ready messages go; delivered ones stay stored until settled.
        self.forget(drained.loaded.iter().filter(|m| m.stored).map(|m| m.seq));
        let stored_spilled = spill::release_all(&drained.spilled, spill_store.as_deref(), true);
        self.forget(stored_spilled);
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
        if let Some(s) = self.stream.get() {
            s.close();
        }
        let (drained, spill_store, consumers) = {
            let mut st = self.state.lock();
            let drained = st.ready.drain();
            (drained, st.ready.spill_store(), st.consumers.take_all())
        };
        // Stored messages of a deleted queue leave the store with its record.
        spill::release_all(&drained.spilled, spill_store.as_deref(), false);
        Deleted {
            messages: drained.count as u32,
            consumers,
        }
    }
}
