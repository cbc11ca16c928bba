//! Messages, queue entries and delayed messages.

use bytes::Bytes;

use super::engine::Engine;
use super::SledStore;
use crate::codec;
use crate::error::{StoreError, StoreResult};
use crate::keys;
use crate::records::{DelayedKey, DelayedRecord, EntryRecord, MessageRecord, QueueId, StoredEntry};
use crate::refcount::Released;
use crate::store::EntryIter;

/// Bytes an entry takes (key and value), for the live-data estimate.
fn entry_bytes(value: &[u8]) -> usize {
    16 + value.len()
}

/// Bytes a message takes (key and value).
fn message_bytes(value: &[u8]) -> usize {
    8 + value.len()
}

impl SledStore {
    pub(super) fn put_message_record(&self, id: u64, m: &MessageRecord) -> StoreResult<()> {
        let e = self.shared.engine.read();
        let value = codec::message_bytes(m);
        let size = message_bytes(&value);
        self.refs.written(id);
        match e.trees.messages.insert(keys::message(id), value) {
            Ok(old) => {
                self.shared.add_live(size);
                if let Some(old) = old {
                    self.shared.sub_live(message_bytes(&old));
                }
                Ok(())
            }
            Err(err) => {
                self.refs.forget(id);
                Err(e.sled_err(err))
            }
        }
    }

    pub(super) fn discard_message_record(&self, id: u64) -> StoreResult<()> {
        if self.refs.is_unreferenced(id) {
            let e = self.shared.engine.read();
            let old = e
                .trees
                .messages
                .remove(keys::message(id))
                .map_err(|err| e.sled_err(err))?;
            if let Some(old) = old {
                self.shared.sub_live(message_bytes(&old));
            }
            self.refs.forget(id);
        }
        Ok(())
    }

    pub(super) fn enqueue_entry(&self, queue: QueueId, entry: &EntryRecord) -> StoreResult<()> {
        let live = self.live.read();
        if !live.contains_key(&queue.0) {
            return Err(StoreError::UnknownQueue(queue.0));
        }
        let e = self.shared.engine.read();
        let value = codec::encode_entry(entry, false);
        let size = entry_bytes(&value);
        let old = e
            .trees
            .entries
            .insert(keys::entry(queue.0, entry.seq), value)
            .map_err(|err| e.sled_err(err))?;
        self.shared.add_live(size);
        self.refs.acquire(entry.message_id);
        if let Some(old) = old {
            // The broker reused a seq: the replaced entry no longer references its
            // message.
            self.release(&e, &old)?;
        }
        Ok(())
    }

    pub(super) fn mark_entries_delivered(&self, queue: QueueId, seqs: &[u64]) -> StoreResult<()> {
        let e = self.shared.engine.read();
        for &seq in seqs {
            let key = keys::entry(queue.0, seq);
            loop {
                let Some(current) = e.trees.entries.get(key).map_err(|err| e.sled_err(err))? else {
                    break;
                };
                let Some(marked) = codec::entry_with_delivered(&current) else {
                    return Err(e.corrupt("entry", format!("{} bytes", current.len())));
                };
                if marked[..] == current[..] {
                    break;
                }
                // Compare-and-swap, so an entry removed meanwhile is never resurrected.
                let swapped = e
                    .trees
                    .entries
                    .compare_and_swap(key, Some(current), Some(marked))
                    .map_err(|err| e.sled_err(err))?;
                if swapped.is_ok() {
                    break;
                }
            }
        }
        Ok(())
    }

    pub(super) fn remove_entries(&self, queue: QueueId, seqs: &[u64]) -> StoreResult<u64> {
        let e = self.shared.engine.read();
        let mut removed = 0;
        for &seq in seqs {
            let old = e
                .trees
                .entries
                .remove(keys::entry(queue.0, seq))
                .map_err(|err| e.sled_err(err))?;
            if let Some(old) = old {
                removed += 1;
                self.release(&e, &old)?;
            }
        }
        Ok(removed)
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
                self.release(&e, &old)?;
            }
        }
        Ok(removed)
    }

    /// Accounts for a removed entry and drops its reference to its message.
    fn release(&self, e: &Engine, entry: &[u8]) -> StoreResult<()> {
        self.shared.sub_live(entry_bytes(entry));
        let id = codec::entry_message_id(entry).map_err(|err| e.corrupt("entry", err))?;
        if self.refs.release(id) == Released::Last {
            let old = e
                .trees
                .messages
                .remove(keys::message(id))
                .map_err(|err| e.sled_err(err))?;
            if let Some(old) = old {
                self.shared.sub_live(message_bytes(&old));
            }
        }
        Ok(())
    }

    pub(super) fn read_message(&self, id: u64) -> StoreResult<Option<MessageRecord>> {
        let e = self.shared.engine.read();
        let Some(v) = e
            .trees
            .messages
            .get(keys::message(id))
            .map_err(|err| e.sled_err(err))?
        else {
            return Ok(None);
        };
        codec::decode_message(&Bytes::from_owner(v), 0)
            .map(Some)
            .map_err(|err| e.corrupt(&format!("message {id}"), err))
    }

    /// A queue's entries from `from_seq` on, in seq order.
    pub(super) fn entry_iter(&self, queue: QueueId, from_seq: u64) -> StoreResult<EntryIter<'_>> {
        if !self.live.read().contains_key(&queue.0) {
            return Err(StoreError::UnknownQueue(queue.0));
        }
        let (scan, path) = {
            let e = self.shared.engine.read();
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
            let (record, delivered) =
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
        Ok(e.trees
            .delayed
            .remove(keys::delayed(key))
            .map_err(|err| e.sled_err(err))?
            .is_some())
    }
}
