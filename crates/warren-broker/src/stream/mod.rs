//! Stream queues (`x-queue-type: stream`), as RabbitMQ 3.10 serves them over AMQP
//! 0-9-1: an append-only log, read without removing anything. Every consumer has its
//! own position (offset), starts where `x-stream-offset` says, and receives each
//! message with its offset in the `x-stream-offset` header; acknowledgements only give
//! credit back. Old messages go by whole segments (retention: `x-max-age`,
//! `x-max-length-bytes`). Warren adds server-side offset tracking for named consumers
//! (`x-stream-consumer-name`, see [`tracking`]).
//!
//! The records live in a [`StreamLog`] (warren-store) opened through the store, so the
//! group commit writes and syncs them with everything else: a confirm waits for them.
//! The newest messages are also kept decoded in a bounded tail cache; a consumer that
//! keeps up reads from it without I/O, one that lags reads the log from a blocking
//! thread ([`reader`]).

pub mod attach;
pub mod group;
mod reader;
pub mod record;
pub mod tracking;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use tokio::sync::Notify;
use warren_protocol::FieldTable;
use warren_store::stream::StreamLog;

use crate::consumer::Consumer;
use crate::error::AmqpResult;
use crate::message::Message;
use crate::persist::{QueueStore, StoreResult};
pub use attach::{ConsumerGate, OffsetSpec, StreamConsume};
use tracking::Tracking;

/// How often retention runs besides on every segment roll (ms).
pub const RETENTION_TICK_MS: u64 = 5_000;

/// A stream's running totals.
#[derive(Debug, Default)]
pub struct StreamCounters {
    /// Messages appended.
    pub publish: AtomicU64,
    /// Deliveries sent.
    pub deliver: AtomicU64,
}

/// The newest messages, decoded (offset order).
#[derive(Debug, Default)]
struct Tail {
    entries: VecDeque<(u64, Arc<Message>)>,
    bytes: usize,
}

/// One consumer's reading state.
#[derive(Debug)]
pub(crate) struct Reader {
    consumer: Arc<Consumer>,
    name: Option<Arc<str>>,
    /// Whether `x-stream-offset` was given (then tracking does not move it).
    explicit: bool,
    /// The next offset to deliver.
    next: AtomicU64,
    active: AtomicBool,
    closed: AtomicBool,
    notify: Notify,
}

/// A stream queue's state beside its [`Queue`](crate::Queue).
pub struct StreamQueue {
    name: Arc<str>,
    vhost: Arc<str>,
    log: Arc<StreamLog>,
    store: Option<QueueStore>,
    tail: Mutex<Tail>,
    tail_limit_bytes: usize,
    readers: Mutex<Vec<Arc<Reader>>>,
    tracking: Tracking,
    gate: RwLock<Option<Arc<dyn ConsumerGate>>>,
    counters: StreamCounters,
}

impl std::fmt::Debug for StreamQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamQueue")
            .field("name", &self.name)
            .field("log", &self.log)
            .finish_non_exhaustive()
    }
}

impl StreamQueue {
    /// A stream over `log`; `store` links it to its stored queue (for tracked offsets);
    /// `tail_limit_bytes` bounds the decoded tail kept in memory.
    pub fn new(
        name: Arc<str>,
        vhost: Arc<str>,
        log: Arc<StreamLog>,
        store: Option<QueueStore>,
        tail_limit_bytes: usize,
    ) -> Arc<StreamQueue> {
        Arc::new(StreamQueue {
            name,
            vhost,
            log,
            store,
            tail: Mutex::new(Tail::default()),
            tail_limit_bytes,
            readers: Mutex::new(Vec::new()),
            tracking: Tracking::default(),
            gate: RwLock::new(None),
            counters: StreamCounters::default(),
        })
    }

    /// The log.
    pub fn log(&self) -> &Arc<StreamLog> {
        &self.log
    }

    /// Running totals.
    pub fn counters(&self) -> &StreamCounters {
        &self.counters
    }

    /// The queue's name.
    pub fn name(&self) -> &Arc<str> {
        &self.name
    }

    /// The virtual host's name.
    pub fn vhost(&self) -> &Arc<str> {
        &self.vhost
    }

    /// Appends a message; returns whether a new segment was started (retention is due).
    pub fn publish(&self, message: &Message) -> StoreResult<bool> {
        let rolled = {
            let mut tail = self.tail.lock();
            let offset = self.log.next_offset();
            let delivered = Arc::new(record::with_offset(message, offset));
            let head = record::encode_head(&delivered);
            let (got, rolled) = self
                .log
                .append(message.published_at_ms, &[&head, &delivered.body])?;
            debug_assert_eq!(got, offset, "appends are serialised by the tail lock");
            tail.bytes += delivered.body.len() + delivered.raw_properties.len();
            tail.entries.push_back((got, delivered));
            while tail.bytes > self.tail_limit_bytes && tail.entries.len() > 1 {
                if let Some((_, old)) = tail.entries.pop_front() {
                    tail.bytes -= old.body.len() + old.raw_properties.len();
                }
            }
            rolled
        };
        self.counters.publish.fetch_add(1, Ordering::Relaxed);
        self.wake_readers();
        Ok(rolled)
    }

    /// Messages from `from` on out of the tail cache (at most `max`), or None if `from`
    /// is older than the cache holds.
    fn cached(&self, from: u64, max: usize) -> Option<Vec<(u64, Arc<Message>)>> {
        let tail = self.tail.lock();
        let first = tail.entries.front().map(|(o, _)| *o)?;
        if from < first {
            return None;
        }
        let skip = usize::try_from(from - first).ok()?;
        Some(
            tail.entries
                .iter()
                .skip(skip)
                .take(max)
                .map(|(o, m)| (*o, m.clone()))
                .collect(),
        )
    }

    /// Runs every reader that may have something to do (new messages, credit back).
    pub fn wake_readers(&self) {
        for r in self.readers.lock().iter() {
            r.notify.notify_one();
        }
    }

    /// Deletes old segments as `max_age_ms` and `max_bytes` ask; readers positioned in
    /// them move on to the first retained offset when they next read. Returns how many
    /// messages went.
    pub fn apply_retention(
        &self,
        now_ms: u64,
        max_age_ms: Option<u64>,
        max_bytes: Option<u64>,
    ) -> u64 {
        match self.log.apply_retention(now_ms, max_age_ms, max_bytes) {
            Ok(t) => {
                if t.segments > 0 {
                    tracing::debug!(stream = %self.name, segments = t.segments, messages = t.records, "retention");
                }
                t.records
            }
            Err(e) => {
                tracing::error!(stream = %self.name, error = %e, "stream retention failed");
                0
            }
        }
    }

    /// Attaches a consumer (already checked by [`attach::check_consumer`]) with its
    /// consume arguments, and starts its reader.
    pub fn attach(self: &Arc<Self>, consumer: Arc<Consumer>, args: &FieldTable) -> AmqpResult<()> {
        let spec = StreamConsume::parse(args, &self.name, &self.vhost)?;
        let tracked = spec.name.as_deref().and_then(|n| self.tracking.get(n));
        let start = attach::start_offset(&self.log, spec.offset, tracked);
        let gate = self.gate.read().clone();
        // Seam for the consumer groups: with a gate the reader starts inactive and the
        // gate activates it once it is registered (below).
        let active = gate.is_none();
        let reader = Arc::new(Reader {
            consumer: consumer.clone(),
            name: spec.name,
            explicit: spec.offset.is_some(),
            next: AtomicU64::new(start),
            active: AtomicBool::new(active),
            closed: AtomicBool::new(false),
            notify: Notify::new(),
        });
        self.readers.lock().push(reader.clone());
        reader::spawn(self.clone(), reader);
        if let Some(g) = gate {
            g.attached(self, &consumer, args);
        }
        Ok(())
    }

    /// Detaches a consumer and stops its reader.
    pub fn detach(&self, consumer: &Arc<Consumer>) {
        let removed = {
            let mut readers = self.readers.lock();
            let at = readers
                .iter()
                .position(|r| Arc::ptr_eq(&r.consumer, consumer));
            at.map(|i| readers.remove(i))
        };
        if let Some(r) = removed {
            r.closed.store(true, Ordering::Release);
            r.notify.notify_one();
            let gate = self.gate.read().clone();
            if let Some(g) = gate {
                g.detached(self, consumer);
            }
        }
    }

    /// Stops every reader (the queue is deleted).
    pub fn close(&self) {
        for r in self.readers.lock().drain(..) {
            r.closed.store(true, Ordering::Release);
            r.notify.notify_one();
        }
    }

    /// Tells the gate `consumer`'s reader is inactive and stopped (see [`ConsumerGate`]).
    fn parked(&self, consumer: &Arc<Consumer>) {
        let gate = self.gate.read().clone();
        if let Some(g) = gate {
            g.parked(self, consumer);
        }
    }

    /// Installs the gate deciding which consumers are active.
    pub fn set_gate(&self, gate: Arc<dyn ConsumerGate>) {
        *self.gate.write() = Some(gate);
    }

    /// Turns deliveries to `consumer` on or off. A named consumer activated without an
    /// explicit offset resumes after its name's last acknowledged offset.
    pub fn set_active(&self, consumer: &Arc<Consumer>, active: bool) {
        let readers = self.readers.lock();
        let Some(r) = readers.iter().find(|r| Arc::ptr_eq(&r.consumer, consumer)) else {
            return;
        };
        if active && !r.active.load(Ordering::Acquire) && !r.explicit {
            if let Some(acked) = r.name.as_deref().and_then(|n| self.tracking.get(n)) {
                r.next.store(acked + 1, Ordering::Release);
            }
        }
        r.active.store(active, Ordering::Release);
        r.notify.notify_one();
    }

    /// Whether `consumer` receives deliveries.
    pub fn is_active(&self, consumer: &Arc<Consumer>) -> bool {
        self.readers
            .lock()
            .iter()
            .any(|r| Arc::ptr_eq(&r.consumer, consumer) && r.active.load(Ordering::Acquire))
    }

    /// The consumers attached, in attach order.
    pub fn consumers(&self) -> Vec<Arc<Consumer>> {
        self.readers
            .lock()
            .iter()
            .map(|r| r.consumer.clone())
            .collect()
    }

    /// `consumer` acknowledged the delivery of `offset` (credit is the channel's
    /// business): a named consumer's offset is tracked.
    pub fn acked(&self, consumer: &Arc<Consumer>, offset: u64) {
        let name = self
            .readers
            .lock()
            .iter()
            .find(|r| Arc::ptr_eq(&r.consumer, consumer))
            .and_then(|r| r.name.clone());
        if let Some(name) = name {
            self.tracking.acked(&name, offset, self.store.as_ref());
        }
        // Seam for the consumer groups: a hand-over may be waiting for this ack.
        let gate = self.gate.read().clone();
        if let Some(g) = gate {
            g.acked(self, consumer);
        }
    }

    /// The last offset consumers named `name` acknowledged.
    pub fn tracked_offset(&self, name: &str) -> Option<u64> {
        self.tracking.get(name)
    }

    /// Every tracked name and its offset.
    pub fn tracked_offsets(&self) -> Vec<(String, u64)> {
        self.tracking.all()
    }

    /// Brings back a stored tracked offset (start-up).
    pub fn restore_offset(&self, name: &str, offset: u64) {
        self.tracking.restore(name, offset);
    }

    /// The stream is deleted: its tracked offsets leave the store.
    pub fn forget_offsets(&self) {
        self.tracking.clear(self.store.as_ref());
    }
}
