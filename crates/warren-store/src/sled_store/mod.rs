//! The sled implementation of [`Store`].
//!
//! Layout of a data directory:
//!
//! | path | what |
//! |---|---|
//! | `LOCK` | the directory lock (flock), holding the owner's pid |
//! | `SYNCED` | the last sync generation confirmed to writers (data-loss check) |
//! | `sled/` | the sled database |
//!
//! Trees: the default tree holds the format version and the sync generation;
//! `exchanges`, `queues` and `bindings` the topology; `messages` the message records by
//! id; `entries` every queue's entries by (queue id, seq); `delayed` delayed messages by
//! (due, seq).

mod flush;
mod messages;
mod startup;
mod topology;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use parking_lot::RwLock;

use crate::commit::{GroupCommit, SyncTicket};
use crate::error::{StoreError, StoreResult};
use crate::lock::DirLock;
use crate::records::{
    BindingRecord, DelayedKey, DelayedRecord, EntryRecord, ExchangeRecord, MessageRecord, QueueId,
    QueueRecord, Recovered, Repairs,
};
use crate::refcount::RefCounts;
use crate::store::{EntryIter, Store};

/// The on-disk format this code reads and writes. Bump on any layout change.
pub const FORMAT_VERSION: u32 = 1;

/// How to open a [`SledStore`].
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// The data directory (created if missing).
    pub path: PathBuf,
    /// sled's page cache, in bytes: the memory the store may use for hot pages.
    pub cache_capacity_bytes: u64,
    /// How often sled's background thread writes out unsynced data and, in the same
    /// pass, compacts segments (space reclamation needs it). `None` disables both.
    pub background_flush_ms: Option<u64>,
    /// Whether each group commit ends with `fdatasync` of the data file. sled 0.34
    /// itself only issues `sync_file_range`, which survives a process crash but not a
    /// power cut (it neither flushes the drive's cache nor the file's size).
    pub fdatasync: bool,
}

impl StoreConfig {
    /// Defaults for a data directory: 128 MiB of cache, 200 ms background passes,
    /// fdatasync on.
    pub fn new(path: impl Into<PathBuf>) -> StoreConfig {
        StoreConfig {
            path: path.into(),
            cache_capacity_bytes: 128 << 20,
            background_flush_ms: Some(200),
            fdatasync: true,
        }
    }
}

pub(crate) struct Trees {
    pub exchanges: sled::Tree,
    pub queues: sled::Tree,
    pub bindings: sled::Tree,
    pub messages: sled::Tree,
    pub entries: sled::Tree,
    pub delayed: sled::Tree,
}

/// Counters for tests, benchmarks and monitoring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreStats {
    /// Bytes of the sled files.
    pub size_on_disk: u64,
    /// Stored messages.
    pub messages: u64,
    /// Entries across all queues.
    pub entries: u64,
    /// Group-commit flushes completed since open.
    pub flushes: u64,
    /// Messages whose reference count is held explicitly (not the implicit one).
    pub shared_messages: u64,
}

/// Warren's store on sled 0.34. Open one per data directory.
pub struct SledStore {
    path: PathBuf,
    sled_path: PathBuf,
    db: sled::Db,
    trees: Trees,
    refs: RefCounts,
    /// Stored queues: id -> key in `queues`. Entry writes hold the read lock, so a
    /// delete (write lock) never races an enqueue into the queue it deletes.
    live: RwLock<HashMap<u64, Vec<u8>>>,
    repairs: Repairs,
    /// The sync generation recovered at open (flushes of this session count from it).
    base_generation: u64,
    commit: GroupCommit,
    _lock: DirLock,
}

impl std::fmt::Debug for SledStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SledStore")
            .field("path", &self.path)
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
        &self.path
    }

    /// Counts (scans the message and entry trees: for tests and benchmarks).
    pub fn stats(&self) -> StoreResult<StoreStats> {
        Ok(StoreStats {
            size_on_disk: self.db.size_on_disk().map_err(|e| self.sled_err(e))?,
            messages: self.trees.messages.len() as u64,
            entries: self.trees.entries.len() as u64,
            flushes: self.commit.completed() - self.base_generation,
            shared_messages: self.refs.tracked() as u64,
        })
    }

    /// Bytes in the data directory's files (what `du` would count).
    pub fn size_on_disk(&self) -> StoreResult<u64> {
        self.db.size_on_disk().map_err(|e| self.sled_err(e))
    }

    pub(crate) fn sled_err(&self, err: sled::Error) -> StoreError {
        StoreError::from_sled(&self.sled_path, err)
    }

    pub(crate) fn corrupt(&self, what: &str, detail: impl std::fmt::Display) -> StoreError {
        StoreError::Corrupt {
            path: self.sled_path.join("db"),
            detail: format!("{what}: {detail}"),
        }
    }
}

impl Drop for SledStore {
    fn drop(&mut self) {
        self.commit.shutdown();
        if let Err(e) = self.db.flush() {
            tracing::error!(store = %self.path.display(), "final flush failed: {e}");
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
        self.db.generate_id().map_err(|e| self.sled_err(e))
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

    fn recover(&self) -> StoreResult<Recovered> {
        self.recover_topology()
    }

    fn entries(&self, queue: QueueId) -> StoreResult<EntryIter<'_>> {
        self.entry_iter(queue)
    }

    fn sync(&self) -> SyncTicket {
        self.commit.ticket()
    }
}
