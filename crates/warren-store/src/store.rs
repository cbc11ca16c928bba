//! The `Store` trait: everything the broker persists, in one small interface.

use std::sync::Arc;

use crate::commit::SyncTicket;
use crate::error::StoreResult;
use crate::records::{
    BindingRecord, DefinitionRecord, DelayedKey, DelayedRecord, EntryRecord, ExchangeRecord,
    MessageRecord, QueueId, QueueRecord, Recovered, StoredEntry,
};
use crate::stream::StreamLog;

/// A queue's stored entries, in seq order.
pub type EntryIter<'a> = Box<dyn Iterator<Item = StoreResult<StoredEntry>> + Send + 'a>;

/// Warren's durable state. Every write is applied (and visible) when the call returns
/// but durable only once a [`Store::sync`] ticket created after it resolves; calls are
/// cheap (no I/O wait) except `sync` and reads of bodies not in the cache.
///
/// Only durable things belong here: the broker never calls this for transient queues,
/// non-persistent messages or transient exchanges.
pub trait Store: Send + Sync {
    /// Stores (or overwrites) a durable exchange.
    fn put_exchange(&self, exchange: &ExchangeRecord) -> StoreResult<()>;

    /// Deletes an exchange and every binding from or to it. Absent is not an error.
    fn delete_exchange(&self, vhost: &str, name: &str) -> StoreResult<()>;

    /// Stores a durable queue, returning its id; redeclaring keeps the id (and entries).
    fn put_queue(&self, queue: &QueueRecord) -> StoreResult<QueueId>;

    /// Deletes a queue, the bindings to it and all its entries (releasing their
    /// messages). The queue is gone from recovery as soon as this returns (entries are
    /// cleaned after). Returns how many entries it held.
    fn delete_queue(&self, queue: QueueId) -> StoreResult<u64>;

    /// Stores a binding (its identity is the whole record).
    fn put_binding(&self, binding: &BindingRecord) -> StoreResult<()>;

    /// Deletes a binding. Absent is not an error.
    fn delete_binding(&self, binding: &BindingRecord) -> StoreResult<()>;

    /// A fresh message id, never handed out before (monotonic across restarts).
    fn next_message_id(&self) -> StoreResult<u64>;

    /// Stores a message once; queues then reference it with [`Store::enqueue`]. It is
    /// deleted when its last entry is removed. If no queue takes it after all, call
    /// [`Store::discard_message`].
    fn put_message(&self, id: u64, message: &MessageRecord) -> StoreResult<()>;

    /// Deletes a message that no entry references (e.g. every queue rejected it).
    /// Does nothing if an entry references it.
    fn discard_message(&self, id: u64) -> StoreResult<()>;

    /// Adds an entry referencing a stored message to a queue. For a move (dead-letter),
    /// enqueue into the target before removing from the source.
    fn enqueue(&self, queue: QueueId, entry: &EntryRecord) -> StoreResult<()>;

    /// Marks entries delivered, so recovery redelivers them with `redelivered = true`.
    /// Needs no sync of its own (a crash right after only loses the flag).
    fn mark_delivered(&self, queue: QueueId, seqs: &[u64]) -> StoreResult<()>;

    /// Removes entries (ack, reject or expiry without a dead-letter exchange, purge),
    /// deleting messages no other entry references. Absent seqs are skipped. Returns how
    /// many were removed. The removal may reach the disk before writes made earlier do:
    /// for the source of a move, use [`Store::remove_moved`].
    fn remove(&self, queue: QueueId, seqs: &[u64]) -> StoreResult<u64>;

    /// Removes entries whose messages were just stored again elsewhere (dead-lettered:
    /// their copies were enqueued in the target queues before this call), like
    /// [`Store::remove`], except that the removal reaches the disk only after every
    /// write made before this call: a crash keeps the copy, or the original, or both
    /// (at-least-once), never neither.
    fn remove_moved(&self, queue: QueueId, seqs: &[u64]) -> StoreResult<u64>;

    /// Removes every entry of a queue, keeping the queue. Returns how many.
    fn purge(&self, queue: QueueId) -> StoreResult<u64>;

    /// Reads a stored message back (bodies of backlogs bigger than memory).
    fn get_message(&self, id: u64) -> StoreResult<Option<MessageRecord>>;

    /// Stores a message held by a delayed exchange.
    fn put_delayed(&self, key: DelayedKey, record: &DelayedRecord) -> StoreResult<()>;

    /// Removes a delayed message (routed when due). Returns whether it was stored. Like
    /// [`Store::remove_moved`], the removal reaches the disk only after every write made
    /// before this call (the entries routing it made): a crash routes it again rather
    /// than lose it.
    fn remove_delayed(&self, key: DelayedKey) -> StoreResult<bool>;

    /// Stores (or overwrites) a definition: a vhost, user, permission, policy or limit,
    /// encoded by the broker.
    fn put_definition(&self, record: &DefinitionRecord) -> StoreResult<()>;

    /// Deletes a definition. Absent is not an error.
    fn delete_definition(&self, kind: &str, key: &str) -> StoreResult<()>;

    /// Topology and delayed messages, for start-up. Entries stream per queue from
    /// [`Store::entries`].
    fn recover(&self) -> StoreResult<Recovered>;

    /// A queue's entries in seq order, with their delivered flags, read lazily.
    fn entries(&self, queue: QueueId) -> StoreResult<EntryIter<'_>>;

    /// A queue's entries from position `from_seq` on, in seq order (how a queue reads
    /// the next page of a backlog kept on disk).
    fn entries_from(&self, queue: QueueId, from_seq: u64) -> StoreResult<EntryIter<'_>> {
        Ok(Box::new(self.entries(queue)?.filter(move |e| {
            e.as_ref().map_or(true, |e| e.record.seq >= from_seq)
        })))
    }

    /// A ticket that resolves when every write made before this call is on disk. One
    /// flush serves every ticket taken while the previous flush ran (group commit).
    fn sync(&self) -> SyncTicket;

    /// Opens (creating) the log of stream queue `queue`, rolling segments at
    /// `segment_bytes`. Its appends are written and synced by the group commit: a
    /// [`Store::sync`] ticket taken after an append covers it.
    fn open_stream(&self, queue: QueueId, segment_bytes: u64) -> StoreResult<Arc<StreamLog>>;

    /// Deletes stream queue `queue`'s log (the queue is deleted). Absent is not an error.
    fn delete_stream(&self, queue: QueueId) -> StoreResult<()>;
}
