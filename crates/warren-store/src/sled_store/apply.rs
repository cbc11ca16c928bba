//! Applying the write-behind buffer to sled, and deleting messages wherever they are
//! (buffer or sled; their segment's live count) once their last entry is gone.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::engine::Engine;
use super::pending::{EntryKey, Layer};
use super::Shared;
use crate::codec;
use crate::error::{StoreError, StoreResult};
use crate::keys;
use crate::records::EntryRecord;
use crate::refcount::Released;
use crate::segment::Position;

/// Bytes an entry takes (key and value), for the live-data estimate.
pub(super) fn entry_bytes(value: &[u8]) -> usize {
    16 + value.len()
}

/// Bytes a message's position record takes in sled (key and value), counted as live
/// from the start.
pub(super) const MESSAGE_BYTES: usize = 8 + 12;

/// Bytes a buffered entry will take in sled.
pub(super) fn buffered_entry_bytes(e: &EntryRecord) -> usize {
    16 + codec::entry_len(e)
}

impl Shared {
    /// Applies everything buffered so far to sled (not durably: a flush follows when a
    /// sync asked for one). When it returns, every write made before the call is in
    /// sled. The caller holds the engine's read lock (`e`).
    pub(crate) fn drain(&self, e: &Engine) -> StoreResult<()> {
        let _one_at_a_time = self.pending.drain.lock();
        if let Some(reason) = self.pending.failed.lock().clone() {
            return Err(StoreError::Failed {
                path: self.path.clone(),
                reason,
            });
        }
        let layer = {
            // Moved to the frozen layer under the current layer's lock: a lookup never
            // finds an item in neither.
            let mut current = self.pending.current.lock();
            if current.is_empty() {
                return Ok(());
            }
            let layer = Arc::new(std::mem::take(&mut *current));
            self.pending.note_applying(&layer);
            *self.pending.frozen.write() = layer.clone();
            layer
        };
        // The bodies of everything in the layer were appended before it was frozen:
        // written to their segment files before sled holds anything pointing to them
        // (sled's own background flusher may write sled out before the next sync; a
        // process crash then still finds the bodies in the page cache, and recovery
        // drops entries whose body a power cut lost, see `startup.rs`).
        let result = self
            .bodies
            .log
            .write_pending()
            .and_then(|()| self.apply(e, &layer));
        *self.pending.frozen.write() = Arc::new(Layer::default());
        if let Err(err) = &result {
            *self.pending.failed.lock() = Some(err.to_string());
        }
        result
    }

    /// Writes a frozen layer: message positions first, so a crash in between leaves at
    /// worst unreferenced messages (cleaned at open), never entries without their
    /// message.
    fn apply(&self, e: &Engine, layer: &Layer) -> StoreResult<()> {
        for (&(queue, seq), slot) in &layer.entries {
            if !slot.claim() {
                continue;
            }
            let delivered = slot.value.delivered.load(Ordering::SeqCst);
            let value = codec::encode_entry(&slot.value.record, delivered, slot.value.at);
            let inserted = e.trees.entries.insert(keys::entry(queue, seq), value);
            slot.applied();
            let old = inserted.map_err(|err| e.sled_err(err))?;
            if let Some(old) = old {
                // The broker reused a seq: the replaced entry no longer references its
                // message.
                self.release_stored(e, &old)?;
            }
        }
        for &key in &layer.delivered {
            self.mark_stored_delivered(e, key)?;
        }
        Ok(())
    }

    /// Sets the delivered flag of an entry in sled, if it is still there.
    pub(super) fn mark_stored_delivered(
        &self,
        e: &Engine,
        (queue, seq): EntryKey,
    ) -> StoreResult<()> {
        let key = keys::entry(queue, seq);
        loop {
            let Some(current) = e.trees.entries.get(key).map_err(|err| e.sled_err(err))? else {
                return Ok(());
            };
            let Some(marked) = codec::entry_with_delivered(&current) else {
                return Err(e.corrupt("entry", format!("{} bytes", current.len())));
            };
            if marked[..] == current[..] {
                return Ok(());
            }
            // Compare-and-swap, so an entry removed meanwhile is never resurrected.
            let swapped = e
                .trees
                .entries
                .compare_and_swap(key, Some(current), Some(marked))
                .map_err(|err| e.sled_err(err))?;
            if swapped.is_ok() {
                return Ok(());
            }
        }
    }

    /// Accounts for an entry removed from sled and drops its reference to its message.
    pub(super) fn release_stored(&self, e: &Engine, entry: &[u8]) -> StoreResult<()> {
        self.sub_live(entry_bytes(entry));
        let id = codec::entry_message_id(entry).map_err(|err| e.corrupt("entry", err))?;
        self.release(e, id)
    }

    /// Drops one reference to message `id`, deleting the message with the last one.
    pub(super) fn release(&self, e: &Engine, id: u64) -> StoreResult<()> {
        if self.refs.release(id) == Released::Last {
            self.drop_message(e, id)?;
        }
        Ok(())
    }

    /// Deletes message `id` from the buffer and from sled, and uncounts its record
    /// from its segment's live count (the record itself goes with its segment).
    pub(super) fn drop_message(&self, e: &Engine, id: u64) -> StoreResult<()> {
        let mut at: Option<Position> = self.index.take(id);
        if at.is_some() {
            self.sub_live(MESSAGE_BYTES);
        } else {
            let old = e
                .trees
                .messages
                .remove(keys::message(id))
                .map_err(|err| e.sled_err(err))?;
            if let Some(old) = old {
                self.sub_live(MESSAGE_BYTES);
                if at.is_none() {
                    at = Some(
                        codec::decode_position(&old)
                            .map_err(|err| e.corrupt(&format!("message {id} position"), err))?,
                    );
                }
            }
            self.sweep_drops.note(id);
        }
        if let Some(at) = at {
            self.release_body(e, at)?;
        }
        Ok(())
    }

    /// Uncounts a deleted message's record; if compaction had moved it, deletes its
    /// forwards from sled (not durably: the open drops forwards no entry reaches).
    pub(super) fn release_body(&self, e: &Engine, at: Position) -> StoreResult<()> {
        if let Some(keys) = self.bodies.released(at) {
            for k in keys {
                e.trees.moved.remove(k).map_err(|err| e.sled_err(err))?;
            }
        }
        Ok(())
    }

    /// Where message `id`'s record is: not indexed yet, or in sled's `messages` tree.
    pub(super) fn locate(&self, e: &Engine, id: u64) -> StoreResult<Option<Position>> {
        if let Some(at) = self.index.get(id) {
            return Ok(Some(at));
        }
        match e
            .trees
            .messages
            .get(keys::message(id))
            .map_err(|err| e.sled_err(err))?
        {
            Some(v) => codec::decode_position(&v)
                .map(Some)
                .map_err(|err| e.corrupt(&format!("message {id} position"), err)),
            None => Ok(None),
        }
    }
}
