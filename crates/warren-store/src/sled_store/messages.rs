//! Messages, queue entries and delayed messages.

use bytes::Bytes;

use super::SledStore;
use crate::codec;
use crate::error::{StoreError, StoreResult};
use crate::keys;
use crate::records::{DelayedKey, DelayedRecord, EntryRecord, MessageRecord, QueueId, StoredEntry};
use crate::refcount::Released;
use crate::store::EntryIter;

impl SledStore {
    pub(super) fn put_message_record(&self, id: u64, m: &MessageRecord) -> StoreResult<()> {
        self.refs.written(id);
        let result = self
            .trees
            .messages
            .insert(keys::message(id), codec::message_bytes(m));
        if let Err(e) = result {
            self.refs.forget(id);
            return Err(self.sled_err(e));
        }
        Ok(())
    }

    pub(super) fn discard_message_record(&self, id: u64) -> StoreResult<()> {
        if self.refs.is_unreferenced(id) {
            self.trees
                .messages
                .remove(keys::message(id))
                .map_err(|e| self.sled_err(e))?;
            self.refs.forget(id);
        }
        Ok(())
    }

    pub(super) fn enqueue_entry(&self, queue: QueueId, e: &EntryRecord) -> StoreResult<()> {
        let live = self.live.read();
        if !live.contains_key(&queue.0) {
            return Err(StoreError::UnknownQueue(queue.0));
        }
        let old = self
            .trees
            .entries
            .insert(keys::entry(queue.0, e.seq), codec::encode_entry(e, false))
            .map_err(|err| self.sled_err(err))?;
        self.refs.acquire(e.message_id);
        if let Some(old) = old {
            // The broker reused a seq: the replaced entry no longer references its
            // message.
            self.release(&old)?;
        }
        Ok(())
    }

    pub(super) fn mark_entries_delivered(&self, queue: QueueId, seqs: &[u64]) -> StoreResult<()> {
        for &seq in seqs {
            let key = keys::entry(queue.0, seq);
            loop {
                let Some(current) = self.trees.entries.get(key).map_err(|e| self.sled_err(e))?
                else {
                    break;
                };
                let Some(marked) = codec::entry_with_delivered(&current) else {
                    return Err(self.corrupt("entry", format!("{} bytes", current.len())));
                };
                if marked[..] == current[..] {
                    break;
                }
                // Compare-and-swap, so an entry removed meanwhile is never resurrected.
                let swapped = self
                    .trees
                    .entries
                    .compare_and_swap(key, Some(current), Some(marked))
                    .map_err(|e| self.sled_err(e))?;
                if swapped.is_ok() {
                    break;
                }
            }
        }
        Ok(())
    }

    pub(super) fn remove_entries(&self, queue: QueueId, seqs: &[u64]) -> StoreResult<u64> {
        let mut removed = 0;
        for &seq in seqs {
            let old = self
                .trees
                .entries
                .remove(keys::entry(queue.0, seq))
                .map_err(|e| self.sled_err(e))?;
            if let Some(old) = old {
                removed += 1;
                self.release(&old)?;
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
        let mut removed = 0;
        for item in self.trees.entries.scan_prefix(keys::entry_prefix(queue)) {
            let (key, _) = item.map_err(|e| self.sled_err(e))?;
            if let Some(old) = self
                .trees
                .entries
                .remove(&key)
                .map_err(|e| self.sled_err(e))?
            {
                removed += 1;
                self.release(&old)?;
            }
        }
        Ok(removed)
    }

    /// Drops one reference to the message of a removed entry.
    fn release(&self, entry: &[u8]) -> StoreResult<()> {
        let id = codec::entry_message_id(entry).map_err(|e| self.corrupt("entry", e))?;
        if self.refs.release(id) == Released::Last {
            self.trees
                .messages
                .remove(keys::message(id))
                .map_err(|e| self.sled_err(e))?;
        }
        Ok(())
    }

    pub(super) fn read_message(&self, id: u64) -> StoreResult<Option<MessageRecord>> {
        let Some(v) = self
            .trees
            .messages
            .get(keys::message(id))
            .map_err(|e| self.sled_err(e))?
        else {
            return Ok(None);
        };
        codec::decode_message(&Bytes::from_owner(v), 0)
            .map(Some)
            .map_err(|e| self.corrupt(&format!("message {id}"), e))
    }

    pub(super) fn entry_iter(&self, queue: QueueId) -> StoreResult<EntryIter<'_>> {
        if !self.live.read().contains_key(&queue.0) {
            return Err(StoreError::UnknownQueue(queue.0));
        }
        let iter = self
            .trees
            .entries
            .scan_prefix(keys::entry_prefix(queue.0))
            .map(move |item| {
                let (k, v) = item.map_err(|e| self.sled_err(e))?;
                let (_, seq) = keys::split_entry(&k)
                    .ok_or_else(|| self.corrupt("entry key", format!("{} bytes", k.len())))?;
                let (record, delivered) =
                    codec::decode_entry(seq, &v).map_err(|e| self.corrupt("entry", e))?;
                Ok(StoredEntry { record, delivered })
            });
        Ok(Box::new(iter))
    }

    pub(super) fn put_delayed_record(&self, key: DelayedKey, d: &DelayedRecord) -> StoreResult<()> {
        self.trees
            .delayed
            .insert(keys::delayed(key), codec::encode_delayed(d))
            .map_err(|e| self.sled_err(e))?;
        Ok(())
    }

    pub(super) fn remove_delayed_record(&self, key: DelayedKey) -> StoreResult<bool> {
        Ok(self
            .trees
            .delayed
            .remove(keys::delayed(key))
            .map_err(|e| self.sled_err(e))?
            .is_some())
    }
}
