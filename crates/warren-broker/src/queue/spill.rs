//! Transient backlogs bigger than memory: once a queue's in-memory backlog passes its
//! share of the memory budget ([`SpillLimits`]), or the broker reports memory pressure,
//! the messages behind it are written to a spill log a batch at a time (one record and
//! one write per batch of up to [`SpillLimits::page_size`] messages) and read back a
//! batch at a time when the head reaches them, as RabbitMQ 3.12+ classic queues do.
//!
//! A spilled batch is remembered as a [`SpillBatch`] (its position in the log and its
//! counts, about 40 bytes for up to a page of messages), never per message. The log
//! itself is behind [`SpillStore`]: the broker's is `warren_store::SpillLog` (segment
//! files under `<data>/spill/`, not synced, wiped at start since transient messages do
//! not survive a restart), tests use [`MemorySpill`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;

/// Where a batch is in the spill log: segment, offset of its record, payload length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SpillPos {
    /// Segment (file) number.
    pub segment: u32,
    /// Byte offset of the record in the segment.
    pub offset: u32,
    /// Payload length.
    pub len: u32,
}

/// Why the spill log failed.
#[derive(Debug, thiserror::Error)]
pub enum SpillError {
    /// The log's files could not be written or read (disk full, I/O error, a corrupt
    /// record): the text names the file.
    #[error("spill log: {0}")]
    Store(#[from] warren_store::StoreError),
    /// A record read back does not decode as a batch of messages.
    #[error("spill log: unreadable batch at segment {segment} offset {offset}: {detail}")]
    Undecodable {
        /// Segment of the record.
        segment: u32,
        /// Offset of the record.
        offset: u32,
        /// What was wrong.
        detail: &'static str,
    },
    /// The record is not (or no longer) in the log.
    #[error("spill log: no batch at segment {segment} offset {offset}")]
    Missing {
        /// Segment asked for.
        segment: u32,
        /// Offset asked for.
        offset: u32,
    },
}

/// An append-only log the queues spill batches of transient messages to. Shared by every
/// queue of the broker; each batch is one record, released once it was read back or
/// dropped (the log deletes a segment whose records were all released).
pub trait SpillStore: Send + Sync {
    /// Appends one record made of `parts` (written back to back) and writes it out:
    /// one write for the whole batch, no sync.
    fn write(&self, parts: &[&[u8]]) -> Result<SpillPos, SpillError>;
    /// Reads a record back.
    fn read(&self, pos: SpillPos) -> Result<Bytes, SpillError>;
    /// The record at `pos` is no longer needed.
    fn release(&self, pos: SpillPos);
}

/// How much of a queue's ready backlog stays in memory before the rest is spilled
/// (values from [`Limits::spill`](crate::Limits)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpillLimits {
    /// Ready messages a queue keeps in memory before spilling the ones behind them.
    pub keep_in_memory: usize,
    /// Bytes of ready messages (bodies, properties, and an estimate of the broker's
    /// own structures per message) a queue keeps in memory before spilling.
    pub keep_in_memory_bytes: usize,
    /// Messages per spilled batch (one record, one write; read back at once).
    pub page_size: usize,
    /// Bytes per spilled batch at most (a batch ends at whichever comes first).
    pub page_bytes: usize,
}

/// Memory the broker's structures take per message in memory beyond its body,
/// properties and routing key (the queue entry, the shared message, its `Arc`s), as
/// the spill budget counts it.
pub const MESSAGE_OVERHEAD_BYTES: usize = 192;

/// A queue's way to its broker's spill log, with the budget and the broker-wide memory
/// pressure flag (set by the server's memory monitor when resident memory nears the
/// high watermark: queues then keep only one page in memory).
#[derive(Clone)]
pub struct Spill {
    store: Arc<dyn SpillStore>,
    limits: SpillLimits,
    pressure: Arc<AtomicBool>,
}

impl std::fmt::Debug for Spill {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spill")
            .field("limits", &self.limits)
            .field("pressure", &self.under_pressure())
            .finish_non_exhaustive()
    }
}

impl Spill {
    /// Spilling to `store` within `limits`.
    pub fn new(store: Arc<dyn SpillStore>, limits: SpillLimits) -> Self {
        Spill {
            store,
            limits,
            pressure: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The budget.
    pub fn limits(&self) -> SpillLimits {
        self.limits
    }

    /// The log.
    pub fn store(&self) -> &Arc<dyn SpillStore> {
        &self.store
    }

    /// Sets or clears memory pressure (every queue sharing this handle sees it).
    pub fn set_pressure(&self, on: bool) {
        self.pressure.store(on, Ordering::Relaxed);
    }

    /// Whether memory is under pressure.
    pub fn under_pressure(&self) -> bool {
        self.pressure.load(Ordering::Relaxed)
    }

    /// The in-memory budget now: (messages, bytes). Under pressure, one page.
    #[inline]
    pub(crate) fn budget(&self) -> (usize, usize) {
        if self.under_pressure() {
            (self.limits.page_size, self.limits.page_bytes)
        } else {
            (self.limits.keep_in_memory, self.limits.keep_in_memory_bytes)
        }
    }
}

/// A batch of a queue's ready messages in the spill log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpillBatch {
    /// Its record.
    pub pos: SpillPos,
    /// Messages in it.
    pub count: u32,
    /// Of which stored in the queue's store (persistent messages of a durable queue).
    pub stored: u32,
    /// Their body bytes.
    pub bytes: u64,
    /// Body bytes of the stored ones.
    pub stored_bytes: u64,
}

/// The broker's spill log: segment files on disk (see `warren_store::SpillLog`).
impl SpillStore for warren_store::SpillLog {
    fn write(&self, parts: &[&[u8]]) -> Result<SpillPos, SpillError> {
        let p = warren_store::SpillLog::write(self, parts)?;
        Ok(SpillPos {
            segment: p.segment,
            offset: p.offset,
            len: p.len,
        })
    }

    fn read(&self, pos: SpillPos) -> Result<Bytes, SpillError> {
        Ok(warren_store::SpillLog::read(self, store_pos(pos))?)
    }

    fn release(&self, pos: SpillPos) {
        warren_store::SpillLog::release(self, store_pos(pos));
    }
}

fn store_pos(p: SpillPos) -> warren_store::Position {
    warren_store::Position {
        segment: p.segment,
        offset: p.offset,
        len: p.len,
    }
}

/// A spill log in memory: records in a map, released ones removed. For tests (it can
/// be told to fail writes) and as the reference behaviour of [`SpillStore`].
#[derive(Default)]
pub struct MemorySpill {
    records: Mutex<HashMap<SpillPos, Bytes>>,
    next_offset: AtomicU32,
    writes: AtomicU32,
    attempts: AtomicU32,
    fail_writes: AtomicBool,
}

impl MemorySpill {
    /// An empty log.
    pub fn new() -> Arc<Self> {
        Arc::new(MemorySpill::default())
    }

    /// Records held (written, not released).
    pub fn live_records(&self) -> usize {
        self.records.lock().len()
    }

    /// Writes made so far (one per batch).
    pub fn writes(&self) -> u32 {
        self.writes.load(Ordering::Relaxed)
    }

    /// Writes tried so far, failed ones included.
    pub fn attempts(&self) -> u32 {
        self.attempts.load(Ordering::Relaxed)
    }

    /// Makes every write fail (as a full disk would) until cleared.
    pub fn fail_writes(&self, fail: bool) {
        self.fail_writes.store(fail, Ordering::Relaxed);
    }
}

impl SpillStore for MemorySpill {
    fn write(&self, parts: &[&[u8]]) -> Result<SpillPos, SpillError> {
        self.attempts.fetch_add(1, Ordering::Relaxed);
        if self.fail_writes.load(Ordering::Relaxed) {
            return Err(SpillError::Store(warren_store::StoreError::Io {
                path: "memory-spill".into(),
                source: std::io::Error::new(std::io::ErrorKind::StorageFull, "no space left"),
            }));
        }
        let payload: Vec<u8> = parts.concat();
        let len = payload.len() as u32;
        let offset = self.next_offset.fetch_add(1, Ordering::Relaxed);
        let pos = SpillPos {
            segment: 0,
            offset,
            len,
        };
        self.records.lock().insert(pos, Bytes::from(payload));
        self.writes.fetch_add(1, Ordering::Relaxed);
        Ok(pos)
    }

    fn read(&self, pos: SpillPos) -> Result<Bytes, SpillError> {
        self.records
            .lock()
            .get(&pos)
            .cloned()
            .ok_or(SpillError::Missing {
                segment: pos.segment,
                offset: pos.offset,
            })
    }

    fn release(&self, pos: SpillPos) {
        self.records.lock().remove(&pos);
    }
}

/// Releases `batches` (a purge or a deletion dropped them). With `want_stored`, batches
/// holding stored messages are read first and those messages' positions returned, so
/// the caller can remove them from the store.
pub(crate) fn release_all(
    batches: &[SpillBatch],
    store: Option<&dyn SpillStore>,
    want_stored: bool,
) -> Vec<u64> {
    let mut stored = Vec::new();
    let Some(store) = store else { return stored };
    for batch in batches {
        if want_stored && batch.stored > 0 {
            let mut messages = std::collections::VecDeque::new();
            let read = store
                .read(batch.pos)
                .and_then(|buf| super::spill_codec::read_batch(batch.pos, &buf, &mut messages));
            match read {
                Ok(()) => stored.extend(messages.iter().filter(|m| m.stored).map(|m| m.seq)),
                Err(e) => {
                    tracing::error!(error = %e, "spill log: purged batch unreadable; its stored messages stay until restart")
                }
            }
        }
        store.release(batch.pos);
    }
    stored
}
