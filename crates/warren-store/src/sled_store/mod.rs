//! The sled implementation of [`Store`].
//!
//! Layout of a data directory:
//!
//! | path | what |
//! |---|---|
//! | `LOCK` | the directory lock (flock), holding the owner's pid |
//! | `SYNCED` | the last sync generation confirmed to writers (data-loss check) |
//! | `CURRENT` | the name of the live sled directory (absent: `sled`) |
//! | `sled/`, `sled-N/` | the sled database (a new one after each compaction) |
//! | `segments/` | the segment log holding message bodies (`bodies.rs`) |
//!
//! Trees: the default tree holds the format version, the sync generation and the id
//! base; `exchanges`, `queues` and `bindings` the topology; `messages` where each
//! message's record is in the segment log, by id; `entries` every queue's entries by
//! (queue id, seq), each with its message's position too; `delayed` delayed messages by
//! (due, seq).

mod apply;
mod bodies;
mod compact;
#[cfg(test)]
mod compaction_cases;
#[cfg(test)]
mod crash_cases;
mod engine;
mod flush;
mod forward;
mod index;
mod messages;
mod pending;
mod segment_compact;
mod startup;
mod sweep;
mod topology;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;

pub use compact::Compaction;
pub use segment_compact::SegmentCompaction;

use crate::commit::{GroupCommit, SyncTicket};
use crate::error::StoreResult;
use crate::lock::DirLock;
use crate::records::{
    BindingRecord, DefinitionRecord, DelayedKey, DelayedRecord, EntryRecord, ExchangeRecord,
    MessageRecord, OpenTimings, QueueId, QueueRecord, Recovered, Repairs,
};
use crate::refcount::RefCounts;
use crate::store::{EntryIter, Store};
use engine::Engine;

/// The on-disk format this code reads and writes. Bump on any layout change.
/// 2: message bodies in the segment log, positions in `messages` and `entries`.
/// 3: plus the `moved` tree (forwards of records moved by segment compaction); a
/// version-2 directory is upgraded in place at open (it has no such tree).
pub const FORMAT_VERSION: u32 = 3;

/// When the store compacts itself (see the README: sled 0.34 never shrinks its file).
#[derive(Debug, Clone)]
pub struct CompactionConfig {
    /// How often to check; `None`: never by itself ([`SledStore::compact`] still works).
    pub check_every: Option<Duration>,
    /// Compact only when the files are at least this big.
    pub min_file_bytes: u64,
    /// ... and at least this many times the live data.
    pub ratio: u32,
    /// ... and the live data is at most this: writers wait while it is copied (measured
    /// here: 4 ms with nothing live, 250 ms for 11 MiB, 2.1 s for 64 MiB).
    pub max_live_bytes: u64,
    /// Segment compaction: a sealed segment of message bodies whose live records take
    /// less than this percentage of its bytes (at two checks in a row, `check_every`
    /// apart) has them copied to the head of the log and is deleted. 0: never (a
    /// segment then goes only once nothing in it is live).
    pub segment_live_percent: u32,
    /// Bytes of such a segment scanned per step (its live records among them copied);
    /// steps run 10 ms apart on the store's background thread.
    pub segment_step_bytes: u64,
}

impl Default for CompactionConfig {
    fn default() -> Self {
        CompactionConfig {
            check_every: Some(Duration::from_secs(10)),
            min_file_bytes: 64 << 20,
            ratio: 4,
            max_live_bytes: 16 << 20,
            segment_live_percent: 25,
            segment_step_bytes: 4 << 20,
        }
    }
}

/// How to open a [`SledStore`].
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// The data directory (created if missing).
    pub path: PathBuf,
    /// sled's page cache, in bytes: the memory the store may use for hot pages.
    pub cache_capacity_bytes: u64,
    /// How often sled's background thread writes out unsynced data and, in the same
    /// pass, cleans segments. `None` disables both.
    pub background_flush_ms: Option<u64>,
    /// Whether each group commit ends with `fdatasync` of the data file. sled 0.34
    /// itself only issues `sync_file_range`, which survives a process crash but not a
    /// power cut (it neither flushes the drive's cache nor the file's size).
    pub fdatasync: bool,
    /// When to compact.
    pub compaction: CompactionConfig,
    /// Size at which the segment log of message bodies rolls to a new file. Space is
    /// given back by deleting whole segments once none of their messages is live.
    pub segment_bytes: u64,
}

impl StoreConfig {
    /// Defaults for a data directory: 128 MiB of cache, 200 ms background passes,
    /// fdatasync on, compaction checked every 10 s.
    pub fn new(path: impl Into<PathBuf>) -> StoreConfig {
        StoreConfig {
            path: path.into(),
            cache_capacity_bytes: 128 << 20,
            background_flush_ms: Some(200),
            fdatasync: true,
            compaction: CompactionConfig::default(),
            segment_bytes: 64 << 20,
        }
    }
}

/// Counters for tests, benchmarks and monitoring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreStats {
    /// Bytes of the live sled directory's files (data file, snapshots, config, blobs)
    /// and of the segment files.
    pub size_on_disk: u64,
    /// Bytes of the segment files (message bodies).
    pub segment_bytes: u64,
    /// Segment files.
    pub segments: u64,
    /// Bytes of live records (messages and entries, keys included), as tracked.
    pub live_bytes: u64,
    /// Stored messages.
    pub messages: u64,
    /// Entries across all queues.
    pub entries: u64,
    /// Group-commit flushes completed since open.
    pub flushes: u64,
    /// Compactions since open.
    pub compactions: u64,
    /// Messages whose reference count is held explicitly (not the implicit one).
    pub shared_messages: u64,
}

/// What the store's threads share.
pub(crate) struct Shared {
    /// The data directory.
    pub path: PathBuf,
    pub config: StoreConfig,
    /// The live database. Operations hold the read lock; a compaction the write lock.
    pub engine: RwLock<Engine>,
    /// Bytes of live messages and entries.
    pub live_bytes: AtomicU64,
    pub compactions: AtomicU64,
    /// Reference counts of stored messages.
    pub refs: RefCounts,
    /// Message bodies: the segment log and its live counts.
    pub bodies: bodies::Bodies,
    /// Positions of messages not yet in the `messages` tree.
    pub index: index::LazyIndex,
    /// Messages and entries not yet applied to sled.
    pub pending: pending::Pending,
    /// While the open-time messages pass runs: ids of messages deleted meanwhile (their
    /// last entry went), so the pass does not report their entries as dangling.
    pub sweep_drops: sweep::SweepDrops,
    /// Stream queues' logs (synced by every flush).
    pub streams: crate::stream::registry::StreamRegistry,
    /// Group commits begun, and the number of the last one completed (flushes run one
    /// at a time): what a flush begun after a write made durable is known without
    /// another `fdatasync` (segment compaction waits for one, see `segment_compact.rs`).
    pub flushes_begun: AtomicU64,
    pub flushes_done: AtomicU64,
    /// Segment compaction's state between steps.
    pub segment_compactor: parking_lot::Mutex<segment_compact::SegmentCompactor>,
}

impl Shared {
    pub(crate) fn add_live(&self, bytes: usize) {
        self.live_bytes.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    pub(crate) fn sub_live(&self, bytes: usize) {
        let _ = self
            .live_bytes
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
                Some(v.saturating_sub(bytes as u64))
            });
    }
}

/// Warren's store on sled 0.34. Open one per data directory.
pub struct SledStore {
    shared: Arc<Shared>,
    /// Stored queues: id -> key in `queues`. Entry writes hold the read lock, so a
    /// delete (write lock) never races an enqueue into the queue it deletes.
    live: RwLock<HashMap<u64, Vec<u8>>>,
    /// Each queue's entries as counted at open, handed out by the first `recover`.
    opened_stats: parking_lot::Mutex<Option<HashMap<u64, crate::records::EntryStats>>>,
    repairs: Repairs,
    timings: OpenTimings,
    /// The sync generation recovered at open (flushes of this session count from it).
    base_generation: u64,
    maintenance: Option<compact::Maintenance>,
    commit: GroupCommit,
    _lock: DirLock,
}

impl std::fmt::Debug for SledStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SledStore")
            .field("path", &self.shared.path)
            .finish()
    }
}

impl SledStore {
    /// Opens (or creates) the store in `config.path`: locks the directory, checks the
    /// format version and that no synced write was lost, rebuilds reference counts and
    /// cleans leftovers of interrupted operations.
    pub fn open(config: &StoreConfig) -> StoreResult<SledStore> {
        startup::open(config)
    }

    /// Opens `path` with the default configuration.
    pub fn open_path(path: impl Into<PathBuf>) -> StoreResult<SledStore> {
        Self::open(&StoreConfig::new(path))
    }

    /// The data directory.
    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    /// Counts (scans the message and entry trees: for tests and benchmarks).
    pub fn stats(&self) -> StoreResult<StoreStats> {
        let e = self.shared.engine.read();
        self.shared.index.tick(&e, true, || e.next_id())?;
        self.shared.drain(&e)?;
        let segment_bytes = self.shared.bodies.log.total_bytes();
        Ok(StoreStats {
            size_on_disk: dir_bytes(&e.path) + segment_bytes,
            segment_bytes,
            segments: self.shared.bodies.log.segments().len() as u64,
            live_bytes: self.shared.live_bytes.load(Ordering::Relaxed),
            messages: e.trees.messages.len() as u64,
            entries: e.trees.entries.len() as u64,
            flushes: self.commit.completed() - self.base_generation,
            compactions: self.shared.compactions.load(Ordering::Relaxed),
            shared_messages: self.shared.refs.tracked() as u64,
        })
    }

    /// How long the open took, by step.
    pub fn open_timings(&self) -> OpenTimings {
        self.timings
    }

    /// Compacts now, whatever the thresholds: copies the live data into a fresh sled
    /// database and switches to it. Writers wait meanwhile.
    pub fn compact(&self) -> StoreResult<Compaction> {
        compact::compact(&self.shared)
    }

    /// Compacts every mostly-dead segment of message bodies now (live records under
    /// `segment_live_percent` of its bytes: copied to the head of the log, the segment
    /// deleted), without the background thread's pauses between steps. Publishers are
    /// not held up (each copy is one append); the call blocks the calling thread.
    pub fn compact_segments(&self) -> StoreResult<SegmentCompaction> {
        self.shared.segment_compactor.lock().run_all(&self.shared)
    }

    /// What segment compaction did since open (background thread and
    /// [`compact_segments`](Self::compact_segments)).
    pub fn segment_compaction_totals(&self) -> SegmentCompaction {
        self.shared.segment_compactor.lock().totals
    }
}

/// Bytes of every file under `dir`.
pub(crate) fn dir_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => total += dir_bytes(&e.path()),
                Ok(m) => total += m.len(),
                Err(_) => {}
            }
        }
    }
    total
}

impl Drop for SledStore {
    fn drop(&mut self) {
        if let Some(m) = &mut self.maintenance {
            m.shutdown();
        }
        self.commit.shutdown();
        // Stream appends nobody waited for are written too, as sled's writes are below.
        if let Err(err) = self.shared.streams.flush() {
            tracing::error!(store = %self.shared.path.display(), "final stream flush failed: {err}");
        }
        let e = self.shared.engine.read();
        if let Err(err) = self.shared.index.tick(&e, true, || e.next_id()) {
            tracing::error!(store = %self.shared.path.display(), "final indexing failed: {err}");
        }
        if let Err(err) = self.shared.drain(&e) {
            tracing::error!(store = %self.shared.path.display(), "final apply failed: {err}");
        }
        if let Err(err) =
            (self.shared.bodies.log.write_pending()).and_then(|()| self.shared.bodies.log.sync())
        {
            tracing::error!(store = %self.shared.path.display(), "final segment sync failed: {err}");
        }
        if let Err(err) = e.db.flush() {
            tracing::error!(store = %self.shared.path.display(), "final flush failed: {err}");
        }
    }
}

impl Store for SledStore {
    fn put_exchange(&self, exchange: &ExchangeRecord) -> StoreResult<()> {
        self.put_exchange_record(exchange)
    }

    fn delete_exchange(&self, vhost: &str, name: &str) -> StoreResult<()> {
        self.delete_exchange_record(vhost, name)
    }

    fn put_queue(&self, queue: &QueueRecord) -> StoreResult<QueueId> {
        self.put_queue_record(queue)
    }

    fn delete_queue(&self, queue: QueueId) -> StoreResult<u64> {
        self.delete_queue_record(queue)
    }

    fn put_binding(&self, binding: &BindingRecord) -> StoreResult<()> {
        self.put_binding_record(binding)
    }

    fn delete_binding(&self, binding: &BindingRecord) -> StoreResult<()> {
        self.delete_binding_record(binding)
    }

    fn next_message_id(&self) -> StoreResult<u64> {
        self.shared.engine.read().next_id()
    }

    fn put_message(&self, id: u64, message: &MessageRecord) -> StoreResult<()> {
        self.put_message_record(id, message)
    }

    fn discard_message(&self, id: u64) -> StoreResult<()> {
        self.discard_message_record(id)
    }

    fn enqueue(&self, queue: QueueId, entry: &EntryRecord) -> StoreResult<()> {
        self.enqueue_entry(queue, entry)
    }

    fn mark_delivered(&self, queue: QueueId, seqs: &[u64]) -> StoreResult<()> {
        self.mark_entries_delivered(queue, seqs)
    }

    fn remove(&self, queue: QueueId, seqs: &[u64]) -> StoreResult<u64> {
        self.remove_entries(queue, seqs)
    }

    fn remove_moved(&self, queue: QueueId, seqs: &[u64]) -> StoreResult<u64> {
        self.remove_moved_entries(queue, seqs)
    }

    fn purge(&self, queue: QueueId) -> StoreResult<u64> {
        self.purge_entries(queue)
    }

    fn get_message(&self, id: u64) -> StoreResult<Option<MessageRecord>> {
        self.read_message(id)
    }

    fn put_delayed(&self, key: DelayedKey, record: &DelayedRecord) -> StoreResult<()> {
        self.put_delayed_record(key, record)
    }

    fn remove_delayed(&self, key: DelayedKey) -> StoreResult<bool> {
        self.remove_delayed_record(key)
    }

    fn put_definition(&self, record: &DefinitionRecord) -> StoreResult<()> {
        self.put_definition_record(record)
    }

    fn delete_definition(&self, kind: &str, key: &str) -> StoreResult<()> {
        self.delete_definition_record(kind, key)
    }

    fn recover(&self) -> StoreResult<Recovered> {
        self.recover_topology()
    }

    fn entries(&self, queue: QueueId) -> StoreResult<EntryIter<'_>> {
        self.entry_iter(queue, 0)
    }

    fn entries_from(&self, queue: QueueId, from_seq: u64) -> StoreResult<EntryIter<'_>> {
        self.entry_iter(queue, from_seq)
    }

    fn open_stream(
        &self,
        queue: QueueId,
        segment_bytes: u64,
    ) -> StoreResult<Arc<crate::stream::StreamLog>> {
        self.shared.streams.open(queue.0, segment_bytes)
    }

    fn delete_stream(&self, queue: QueueId) -> StoreResult<()> {
        self.shared.streams.delete(queue.0)
    }

    fn sync(&self) -> SyncTicket {
        self.commit.ticket()
    }
}
