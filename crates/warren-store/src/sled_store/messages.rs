//! Messages, queue entries and delayed messages.

use std::sync::atomic::{AtomicBool, Ordering};

use super::apply::{buffered_entry_bytes, MESSAGE_BYTES};
use super::pending::{Cancel, EntryKey, PendingEntry, Slot};
use super::SledStore;
use crate::codec;
use crate::error::{StoreError, StoreResult};
use crate::keys;
use crate::records::{DelayedKey, DelayedRecord, EntryRecord, MessageRecord, QueueId, StoredEntry};
use crate::store::EntryIter;

impl SledStore {
    pub(super) fn put_message_record(&self, id: u64, m: &MessageRecord) -> StoreResult<()> {
        let at = self.shared.bodies.append(id, m)?;
        self.shared.refs.written(id);
        self.shared.add_live(MESSAGE_BYTES);
        let e = self.shared.engine.read();
        if let Some(old) = self.shared.index.put(&e, id, at)? {
            // The same id stored twice: the older record is dead.
            self.shared.sub_live(MESSAGE_BYTES);
            self.shared.release_body(&e, old)?;
        }
        Ok(())
    }

    pub(super) fn discard_message_record(&self, id: u64) -> StoreResult<()> {
        if self.shared.refs.is_unreferenced(id) {
            let e = self.shared.engine.read();
            self.shared.drop_message(&e, id)?;
            self.shared.refs.forget(id);
        }
        Ok(())
    }

    pub(super) fn enqueue_entry(&self, queue: QueueId, entry: &EntryRecord) -> StoreResult<()> {
        let key = (queue.0, entry.seq);
        let mut released = Vec::new();
        {
            let live = self.live.read();
            if !live.contains_key(&queue.0) {
                return Err(StoreError::UnknownQueue(queue.0));
            }
            // The broker reused a seq: an older buffered entry no longer references its
            // message (one in sled is released when this one replaces it there). The
            // frozen layer is checked before this entry is buffered: once buffered, a
            // flush may move it there, and it must not cancel itself.
            {
                let frozen = self.shared.pending.frozen.read();
                if let Some(slot) = frozen.entries.get(&key) {
                    if slot.cancel() == Cancel::Cancelled {
                        self.shared
                            .sub_live(buffered_entry_bytes(&slot.value.record));
                        released.push(slot.value.record.message_id);
                    }
                }
            }
            // Where its message's record is: almost always not indexed yet.
            let at = match self.shared.index.get(entry.message_id) {
                Some(at) => at,
                None => {
                    let e = self.shared.engine.read();
                    self.shared
                        .locate(&e, entry.message_id)?
                        .ok_or(StoreError::UnknownMessage(entry.message_id))?
                }
            };
            let slot = Slot::new(PendingEntry {
                record: *entry,
                at,
                delivered: AtomicBool::new(false),
            });
            let old = self.shared.pending.current.lock().entries.insert(key, slot);
            self.shared.refs.acquire(entry.message_id);
            self.shared.add_live(buffered_entry_bytes(entry));
            if let Some(old) = old {
                self.shared
                    .sub_live(buffered_entry_bytes(&old.value.record));
                released.push(old.value.record.message_id);
            }
        }
        if !released.is_empty() {
            let e = self.shared.engine.read();
            for id in released {
                self.shared.release(&e, id)?;
            }
        }
        Ok(())
    }

    pub(super) fn mark_entries_delivered(&self, queue: QueueId, seqs: &[u64]) -> StoreResult<()> {
        // Buffered entries take the flag before they are written; entries already in
        // sled get it at the next flush if they are still there (a crash before that
        // only loses the flag, as documented).
        let mut rest: Vec<EntryKey> = Vec::new();
        {
            let current = self.shared.pending.current.lock();
            for &seq in seqs {
                match current.entries.get(&(queue.0, seq)) {
                    Some(slot) => slot.value.delivered.store(true, Ordering::SeqCst),
                    None => rest.push((queue.0, seq)),
                }
            }
        }
        if rest.is_empty() {
            return Ok(());
        }
        {
            let frozen = self.shared.pending.frozen.read();
            rest.retain(|key| match frozen.entries.get(key) {
                Some(slot) => {
                    slot.value.delivered.store(true, Ordering::SeqCst);
                    // Claimed before the flag was set: mark it in sled instead.
                    !(slot.is_waiting() || slot.is_cancelled())
                }
                None => true,
            });
        }
        if !rest.is_empty() {
            self.shared.pending.current.lock().delivered.extend(rest);
        }
        Ok(())
    }

    pub(super) fn remove_entries(&self, queue: QueueId, seqs: &[u64]) -> StoreResult<u64> {
        self.remove_entries_ordered(queue, seqs, false)
    }

    /// Removes entries; with `after_earlier_writes`, those not found in the current
    /// buffer (in a flush being applied, or in sled) are removed only after everything
    /// buffered has gone to sled (see `remove_moved_entries`).
    fn remove_entries_ordered(
        &self,
        queue: QueueId,
        seqs: &[u64],
        after_earlier_writes: bool,
    ) -> StoreResult<u64> {
        let pending = &self.shared.pending;
        let e = self.shared.engine.read();
        let mut removed = 0;
        // Message references held by removed buffered entries.
        let mut released = Vec::new();
        // Keys to remove from sled, and whether finding one there counts as a removal
        // (not when a buffered version was removed already: then sled can only hold
        // the older entry it replaced).
        let mut in_sled: Vec<(u64, bool)> = Vec::new();
        let sled_top = pending.sled_seq(queue.0);
        let may_be_in_sled = |seq: u64| sled_top.is_some_and(|top| seq <= top);
        {
            let mut current = pending.current.lock();
            for &seq in seqs {
                let key = (queue.0, seq);
                if !current.delivered.is_empty() {
                    current.delivered.remove(&key);
                }
                match current.entries.remove(&key) {
                    Some(slot) => {
                        removed += 1;
                        self.shared
                            .sub_live(buffered_entry_bytes(&slot.value.record));
                        released.push(slot.value.record.message_id);
                        if may_be_in_sled(seq) {
                            in_sled.push((seq, false));
                        }
                    }
                    None => in_sled.push((seq, true)),
                }
            }
        }
        if after_earlier_writes && in_sled.iter().any(|&(_, counts)| counts) {
            // Applies the flush in progress (these entries with it) and the buffer (the
            // copies): the removals below then follow both in sled's log.
            self.shared.drain(&e)?;
        }
        if in_sled.iter().any(|&(_, counts)| counts) {
            let frozen = pending.frozen.read().clone();
            if !frozen.entries.is_empty() {
                in_sled.retain_mut(|(seq, counts)| {
                    if !*counts {
                        return true;
                    }
                    let Some(slot) = frozen.entries.get(&(queue.0, *seq)) else {
                        return true;
                    };
                    match slot.cancel() {
                        Cancel::Cancelled => {
                            removed += 1;
                            self.shared
                                .sub_live(buffered_entry_bytes(&slot.value.record));
                            released.push(slot.value.record.message_id);
                            *counts = false;
                            may_be_in_sled(*seq)
                        }
                        Cancel::InSled | Cancel::Gone => true,
                    }
                });
            }
        }
        for (seq, counts) in in_sled {
            let old = e
                .trees
                .entries
                .remove(keys::entry(queue.0, seq))
                .map_err(|err| e.sled_err(err))?;
            if let Some(old) = old {
                if counts {
                    removed += 1;
                }
                self.shared.release_stored(&e, &old)?;
            }
        }
        for id in released {
            self.shared.release(&e, id)?;
        }
        Ok(removed)
    }

    /// [`Store::remove_moved`](crate::Store::remove_moved). An original still in the
    /// current buffer is dropped from it at once: no flush has taken it since it was
    /// written, so the flush that confirms it has not drained yet and will carry the
    /// copies, written before this call. Any other original may be in sled (or going
    /// there with the flush in progress): everything buffered goes to sled first, so
    /// sled's log holds the copies before the removal, and recovery after a crash
    /// reads back a prefix of that log.
    pub(super) fn remove_moved_entries(&self, queue: QueueId, seqs: &[u64]) -> StoreResult<u64> {
        self.remove_entries_ordered(queue, seqs, true)
    }

    pub(super) fn purge_entries(&self, queue: QueueId) -> StoreResult<u64> {
        if !self.live.read().contains_key(&queue.0) {
            return Err(StoreError::UnknownQueue(queue.0));
        }
        self.purge_any(queue.0)
    }

    /// Removes every entry keyed under `queue`, stored queue or not.
    pub(super) fn purge_any(&self, queue: u64) -> StoreResult<u64> {
        let e = self.shared.engine.read();
        // Rare: write the buffer out, then everything is in sled.
        self.shared.drain(&e)?;
        let mut removed = 0;
        for item in e.trees.entries.scan_prefix(keys::entry_prefix(queue)) {
            let (key, _) = item.map_err(|err| e.sled_err(err))?;
            let old = e
                .trees
                .entries
                .remove(&key)
                .map_err(|err| e.sled_err(err))?;
            if let Some(old) = old {
                removed += 1;
                self.shared.release_stored(&e, &old)?;
            }
        }
        Ok(removed)
    }

    pub(super) fn read_message(&self, id: u64) -> StoreResult<Option<MessageRecord>> {
        let e = self.shared.engine.read();
        let Some(at) = self.shared.locate(&e, id)? else {
            return Ok(None);
        };
        match self.shared.bodies.read(id, at) {
            Ok(m) => Ok(Some(m)),
            // Deleted meanwhile (its last entry removed and its segment with it).
            Err(_) if self.shared.locate(&e, id)?.is_none() => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// A queue's entries from `from_seq` on, in seq order.
    pub(super) fn entry_iter(&self, queue: QueueId, from_seq: u64) -> StoreResult<EntryIter<'_>> {
        if !self.live.read().contains_key(&queue.0) {
            return Err(StoreError::UnknownQueue(queue.0));
        }
        let (scan, path) = {
            let e = self.shared.engine.read();
            // Entries stream from sled: write the buffer out first.
            self.shared.drain(&e)?;
            (
                e.trees
                    .entries
                    .range(keys::entry(queue.0, from_seq)..=keys::entry(queue.0, u64::MAX)),
                e.path.clone(),
            )
        };
        let corrupt = move |what: &str, detail: String| StoreError::Corrupt {
            path: path.join("db"),
            detail: format!("{what}: {detail}"),
        };
        let path = self.shared.path.clone();
        let iter = scan.map(move |item| {
            let (k, v) = item.map_err(|err| StoreError::from_sled(&path, err))?;
            let (_, seq) = keys::split_entry(&k)
                .ok_or_else(|| corrupt("entry key", format!("{} bytes", k.len())))?;
            let (record, delivered, _) =
                codec::decode_entry(seq, &v).map_err(|err| corrupt("entry", err.0))?;
            Ok(StoredEntry { record, delivered })
        });
        Ok(Box::new(iter))
    }

    pub(super) fn put_delayed_record(&self, key: DelayedKey, d: &DelayedRecord) -> StoreResult<()> {
        let e = self.shared.engine.read();
        e.trees
            .delayed
            .insert(keys::delayed(key), codec::encode_delayed(d))
            .map_err(|err| e.sled_err(err))?;
        Ok(())
    }

    pub(super) fn remove_delayed_record(&self, key: DelayedKey) -> StoreResult<bool> {
        let e = self.shared.engine.read();
        // The entries routing the message made are buffered: they go to sled first, so
        // the removal never reaches the disk without them (see `remove_moved_entries`).
        self.shared.drain(&e)?;
        Ok(e.trees
            .delayed
            .remove(keys::delayed(key))
            .map_err(|err| e.sled_err(err))?
            .is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::QueueRecord;
    use crate::store::Store;
    use crate::StoreConfig;
    use bytes::Bytes;

    fn message() -> MessageRecord {
        MessageRecord {
            exchange: "x".into(),
            routing_key: "k".into(),
            raw_properties: Bytes::from_static(&[0x10, 0x00, 0x02]),
            body: Bytes::from_static(b"body"),
            published_at_ms: 1,
            expiration_ms: None,
        }
    }

    fn entry(seq: u64, message_id: u64) -> EntryRecord {
        EntryRecord {
            seq,
            message_id,
            expires_at_ms: None,
            priority: 0,
            body_len: 4,
        }
    }

    fn queue(store: &SledStore, name: &str) -> QueueId {
        store
            .put_queue(&QueueRecord {
                vhost: "/".into(),
                name: name.into(),
                auto_delete: false,
                arguments: Bytes::new(),
            })
            .unwrap()
    }

    /// Stores a new message and enqueues it into `q` at `seq` (buffered writes).
    fn publish(store: &SledStore, q: QueueId, seq: u64) -> u64 {
        let id = store.next_message_id().unwrap();
        store.put_message(id, &message()).unwrap();
        store.enqueue(q, &entry(seq, id)).unwrap();
        id
    }

    fn in_sled(store: &SledStore, q: QueueId, seq: u64) -> bool {
        let e = store.shared.engine.read();
        e.trees.entries.contains_key(keys::entry(q.0, seq)).unwrap()
    }

    // Regression (found by crates/warren-server/tests/chaos.rs): a dead-lettered or
    // expired message's source entry was removed from sled at once while its copy sat
    // in the write-behind buffer, so a flush could make the removal durable without the
    // copy, and a kill -9 then lost a confirmed message.
    #[test]
    fn a_moved_entry_leaves_sled_only_after_the_copy_is_in_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = StoreConfig::new(dir.path());
        config.background_flush_ms = None;
        let store = SledStore::open(&config).unwrap();
        let (source, target) = (queue(&store, "work"), queue(&store, "dead"));
        publish(&store, source, 1);
        store.sync().wait().unwrap();
        assert!(in_sled(&store, source, 1));

        publish(&store, target, 1);
        assert!(!in_sled(&store, target, 1), "the copy starts buffered");
        assert_eq!(store.remove_moved(source, &[1]).unwrap(), 1);
        assert!(in_sled(&store, target, 1), "the copy reached sled first");
        assert!(!in_sled(&store, source, 1));

        // A plain removal (an ack) does not wait for the buffer.
        publish(&store, target, 2);
        assert_eq!(store.remove(target, &[1]).unwrap(), 1);
        assert!(!in_sled(&store, target, 2));

        // An original no flush has taken yet (a TTL of 0) leaves the buffer without
        // draining it: the flush that would confirm it carries the copy.
        publish(&store, source, 2);
        publish(&store, target, 3);
        assert_eq!(store.remove_moved(source, &[2]).unwrap(), 1);
        assert!(
            !in_sled(&store, target, 3),
            "no drain for a buffered original"
        );
        store.sync().wait().unwrap();
        assert!(in_sled(&store, target, 3) && !in_sled(&store, source, 2));
    }

    #[test]
    fn a_routed_delayed_message_leaves_sled_only_after_its_entries_are_in_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = StoreConfig::new(dir.path());
        config.background_flush_ms = None;
        let store = SledStore::open(&config).unwrap();
        let target = queue(&store, "work");
        let key = DelayedKey {
            due_ms: 10,
            seq: store.next_message_id().unwrap(),
        };
        let record = DelayedRecord {
            vhost: "/".into(),
            exchange: "delayed".into(),
            message: message(),
        };
        store.put_delayed(key, &record).unwrap();
        store.sync().wait().unwrap();

        publish(&store, target, 1);
        assert!(!in_sled(&store, target, 1));
        assert!(store.remove_delayed(key).unwrap());
        assert!(
            in_sled(&store, target, 1),
            "the routed entry reached sled first"
        );
    }
}
