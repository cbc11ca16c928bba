//! Backlogs bigger than memory: a durable queue keeps the bodies of at most
//! [`Paging::keep_in_memory`] ready messages; persistent messages beyond that stay only
//! in the store, remembered as [`StoredRun`]s (a seq range, a count and a byte total:
//! no memory per message), and are read back a page at a time as the head reaches them.
//!
//! A run covers exactly the queue's stored entries in its seq range: runs only grow at
//! the tail, every message added to a run is stored, and a transient message (which
//! cannot be paged) ends the run. Requeued messages always sort before every run (they
//! were delivered from the head), so runs never need to take messages back.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::message::QueuedMessage;
use crate::persist::{message_from_record, QueueId, Store, StoreError};

/// How much of a durable queue's backlog stays in memory (values from
/// [`Limits::paging`](crate::Limits)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    /// Ready messages kept in memory before persistent ones are left on disk only.
    pub keep_in_memory: usize,
    /// Messages read back from disk at a time when the head reaches a run.
    pub page_size: usize,
    /// Bytes of its newest messages a stream queue keeps decoded in memory, so
    /// consumers that keep up read them without I/O.
    pub stream_tail_bytes: usize,
}

/// Ready messages that are on disk only: the queue's stored entries from `next_seq`
/// to `last_seq`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRun {
    /// First position not read back yet.
    pub next_seq: u64,
    /// Last position in the run.
    pub last_seq: u64,
    /// Messages left in the run.
    pub count: usize,
    /// Their body bytes.
    pub bytes: usize,
}

impl StoredRun {
    /// A run of one message.
    pub fn single(seq: u64, bytes: usize) -> Self {
        StoredRun {
            next_seq: seq,
            last_seq: seq,
            count: 1,
            bytes,
        }
    }

    /// Appends the next stored message.
    pub fn extend(&mut self, seq: u64, bytes: usize) {
        self.last_seq = seq;
        self.count += 1;
        self.bytes += bytes;
    }
}

/// A durable queue's access to its entries in the store.
#[derive(Clone)]
pub(crate) struct Pager {
    pub store: Arc<dyn Store>,
    pub queue: QueueId,
    pub paging: Paging,
}

impl std::fmt::Debug for Pager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pager")
            .field("queue", &self.queue)
            .field("paging", &self.paging)
            .finish()
    }
}

/// What reading a page changed, for the queue's totals.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct PageRead {
    /// Messages that left the run (read back, or found missing from the store).
    pub taken: usize,
    /// Their bytes as the run counted them.
    pub run_bytes: usize,
    /// Body bytes of the messages read back.
    pub loaded_bytes: usize,
}

impl Pager {
    /// Reads up to a page of `run` into `out` (in seq order), shrinking the run. Entries
    /// whose message is missing or unreadable are logged and skipped (the store's
    /// open-time checks make this a should-not-happen); if the store holds fewer entries
    /// than the run expected, the run ends.
    pub fn read_page(&self, run: &mut StoredRun, out: &mut VecDeque<QueuedMessage>) -> PageRead {
        let mut read = PageRead::default();
        let mut skipped = Vec::new();
        let result = self.read_into(run, out, &mut read, &mut skipped);
        if !skipped.is_empty() {
            if let Err(e) = self.store.remove(self.queue, &skipped) {
                tracing::error!(queue = ?self.queue, error = %e, "store: removing skipped entries failed");
            }
        }
        match result {
            Ok(complete) => {
                if !complete && run.count > 0 {
                    tracing::error!(queue = ?self.queue, missing = run.count, "store: queue entries missing; counted as gone");
                    read.taken += run.count;
                    read.run_bytes += run.bytes;
                    run.count = 0;
                    run.bytes = 0;
                }
            }
            Err(e) => {
                tracing::error!(queue = ?self.queue, error = %e, "store: reading a page of the backlog failed");
            }
        }
        read
    }

    /// Returns whether the page was complete (false: the entries ran out early).
    fn read_into(
        &self,
        run: &mut StoredRun,
        out: &mut VecDeque<QueuedMessage>,
        read: &mut PageRead,
        skipped: &mut Vec<u64>,
    ) -> Result<bool, StoreError> {
        let mut loaded = 0;
        for entry in self.store.entries_from(self.queue, run.next_seq)? {
            if loaded == self.paging.page_size || run.count == 0 {
                return Ok(true);
            }
            let entry = entry?;
            let r = entry.record;
            if r.seq > run.last_seq {
                return Ok(false);
            }
            run.next_seq = r.seq + 1;
            run.count -= 1;
            run.bytes = run.bytes.saturating_sub(r.body_len as usize);
            read.taken += 1;
            read.run_bytes += r.body_len as usize;
            let message = match self.store.get_message(r.message_id)? {
                Some(record) => match message_from_record(r.message_id, record) {
                    Ok(m) => m,
                    Err(e) => {
                        tracing::error!(queue = ?self.queue, message = r.message_id, error = %e, "store: unreadable message skipped");
                        skipped.push(r.seq);
                        continue;
                    }
                },
                None => {
                    tracing::error!(queue = ?self.queue, message = r.message_id, "store: entry without its message skipped");
                    skipped.push(r.seq);
                    continue;
                }
            };
            read.loaded_bytes += message.body.len();
            out.push_back(QueuedMessage {
                seq: r.seq,
                message: Arc::new(message),
                redelivered: entry.delivered,
                expires_at_ms: r.expires_at_ms,
                delivery_count: 0,
                stored: true,
            });
            loaded += 1;
        }
        Ok(run.count == 0 || loaded == self.paging.page_size)
    }
}
