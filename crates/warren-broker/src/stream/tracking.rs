//! Server-side offset tracking (Warren's extension): for each consumer name
//! (`x-stream-consumer-name`), the last offset a consumer of that name acknowledged.
//! Kept in memory and in the store's definitions (kind [`STREAM_OFFSET`], key
//! `<queue id>/<name>`), written on every acknowledgement that advances it: a plain
//! store write, durable with the next group commit (a crash may forget the last few
//! acks, so a resumed consumer may see them again: at least once).

use std::collections::HashMap;

use bytes::Bytes;
use parking_lot::Mutex;
use warren_store::DefinitionRecord;

use crate::persist::QueueStore;

/// The definitions kind of a tracked offset.
pub const STREAM_OFFSET: &str = "stream_offset";

/// Tracked offsets of one stream.
#[derive(Debug, Default)]
pub(crate) struct Tracking {
    offsets: Mutex<HashMap<String, u64>>,
}

/// The definitions key of `name`'s offset in stored stream `queue`.
pub fn offset_key(queue: u64, name: &str) -> String {
    format!("{queue}/{name}")
}

/// Splits a definitions key back into the queue id and the name.
pub fn parse_offset_key(key: &str) -> Option<(u64, &str)> {
    let (id, name) = key.split_once('/')?;
    Some((id.parse().ok()?, name))
}

/// A stored offset's value.
pub fn decode_offset(value: &[u8]) -> Option<u64> {
    Some(u64::from_le_bytes(value.try_into().ok()?))
}

impl Tracking {
    /// The last offset `name` acknowledged.
    pub fn get(&self, name: &str) -> Option<u64> {
        self.offsets.lock().get(name).copied()
    }

    /// Restores a stored offset (start-up).
    pub fn restore(&self, name: &str, offset: u64) {
        self.offsets.lock().insert(name.to_owned(), offset);
    }

    /// `name` acknowledged `offset`: remembered (and stored) if it advances.
    pub fn acked(&self, name: &str, offset: u64, store: Option<&QueueStore>) {
        {
            let mut offsets = self.offsets.lock();
            match offsets.get_mut(name) {
                Some(o) if *o >= offset => return,
                Some(o) => *o = offset,
                None => {
                    offsets.insert(name.to_owned(), offset);
                }
            }
        }
        let Some(p) = store else { return };
        let record = DefinitionRecord {
            kind: STREAM_OFFSET.to_owned(),
            key: offset_key(p.id.0, name),
            value: Bytes::copy_from_slice(&offset.to_le_bytes()),
        };
        if let Err(e) = p.store.put_definition(&record) {
            tracing::error!(name, error = %e, "store: stream offset not written");
        }
    }

    /// Forgets every name (the stream is deleted), removing them from the store.
    pub fn clear(&self, store: Option<&QueueStore>) {
        let names: Vec<String> = self.offsets.lock().drain().map(|(n, _)| n).collect();
        let Some(p) = store else { return };
        for name in names {
            if let Err(e) = p
                .store
                .delete_definition(STREAM_OFFSET, &offset_key(p.id.0, &name))
            {
                tracing::error!(name, error = %e, "store: stream offset not deleted");
            }
        }
    }

    /// Names and offsets, for the management view.
    pub fn all(&self) -> Vec<(String, u64)> {
        let mut v: Vec<_> = self
            .offsets
            .lock()
            .iter()
            .map(|(n, o)| (n.clone(), *o))
            .collect();
        v.sort();
        v
    }
}
