//! A durable queue's messages at start-up, and removal of runs left on disk.
//!
//! A FIFO queue recovers without reading a single body: one scan of its entries gives
//! the count, the bytes and the last position, and the messages stay on disk as one
//! [`StoredRun`] until the head reaches them. A priority queue cannot page, so its
//! messages are read back into memory.

use std::sync::Arc;

use super::paging::StoredRun;
use super::Queue;
use crate::message::QueuedMessage;
use crate::persist::{message_from_record, EntryStats, QueueStore, StoreError, StoreResult};

/// Why a queue's stored messages could not be recovered.
#[derive(Debug, thiserror::Error)]
pub enum RecoverError {
    /// The store could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored message's properties do not decode: the store's contents are damaged.
    #[error("stored message {id} is unreadable: {detail}")]
    Message {
        /// The message's store id.
        id: u64,
        /// What was wrong.
        detail: String,
    },
}

/// How many positions one store call removes when a run is dropped.
const REMOVE_CHUNK: usize = 4_096;

/// Removes a run's entries from the store (a purge of messages left on disk).
pub(super) fn remove_run(p: &QueueStore, run: &StoredRun) -> StoreResult<()> {
    let mut seqs = Vec::with_capacity(REMOVE_CHUNK.min(run.count));
    for entry in p.store.entries_from(p.id, run.next_seq)? {
        let seq = entry?.record.seq;
        if seq > run.last_seq {
            break;
        }
        seqs.push(seq);
        if seqs.len() == REMOVE_CHUNK {
            p.store.remove(p.id, &seqs)?;
            seqs.clear();
        }
    }
    if !seqs.is_empty() {
        p.store.remove(p.id, &seqs)?;
    }
    Ok(())
}

impl Queue {
    /// Loads this durable queue's stored messages (in their original order, those
    /// delivered before the stop marked redelivered); returns how many. A FIFO queue
    /// keeps them on disk until the head reaches them, and with `counted` (the store's
    /// count of its entries at open) it reads nothing but the first page. Nothing expires
    /// or moves yet: call [`Queue::resume`] once every queue is loaded.
    pub fn recover_stored(&self, counted: Option<EntryStats>) -> Result<usize, RecoverError> {
        let Some(p) = self.persistence() else {
            return Ok(0);
        };
        if self.declared.max_priority.is_none() {
            let stats = match counted {
                Some(stats) => stats,
                None => {
                    let mut stats = EntryStats::default();
                    for entry in p.store.entries(p.id)? {
                        let r = entry?.record;
                        stats.add(r.seq, r.body_len);
                    }
                    stats
                }
            };
            if stats.count > 0 {
                self.restore_run(StoredRun {
                    next_seq: stats.first_seq,
                    last_seq: stats.last_seq,
                    count: stats.count as usize,
                    bytes: stats.body_bytes as usize,
                });
            }
            return Ok(stats.count as usize);
        }
        let mut messages = Vec::new();
        for entry in p.store.entries(p.id)? {
            let entry = entry?;
            let r = entry.record;
            let Some(record) = p.store.get_message(r.message_id)? else {
                // The store's open-time pass removes such entries; skip a race.
                tracing::warn!(queue = %self.name(), message = r.message_id, "stored entry without its message");
                continue;
            };
            let message =
                message_from_record(r.message_id, record).map_err(|e| RecoverError::Message {
                    id: r.message_id,
                    detail: e.to_string(),
                })?;
            messages.push(QueuedMessage {
                seq: r.seq,
                message: Arc::new(message),
                redelivered: entry.delivered,
                expires_at_ms: r.expires_at_ms,
                delivery_count: 0,
                stored: true,
            });
        }
        let count = messages.len();
        self.restore(messages);
        Ok(count)
    }
}
