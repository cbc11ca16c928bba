//! Message bodies in the segment log (`<store>/segments/`), and which segments still
//! hold a live message.
//!
//! A message is stored once as one segment record: its id (8 bytes, big-endian), then
//! the `MessageRecord` encoding (exchange, routing key, properties, publish time,
//! expiration, body to the end). The body is handed to the log as a separate part, so
//! it is never copied into an intermediate buffer. sled keeps only where the record is
//! (`messages`: id -> position, and the position in every queue entry).
//!
//! Live counts per segment are in memory: +1 when a message is appended, -1 when it is
//! deleted (its last entry removed, or discarded). At open they are rebuilt from the
//! queue entries, which carry their message's position, so no per-message sled write is
//! spent on them and no body is read to rebuild them. A segment that is not the active
//! one and holds no live message is deleted whole — after the group commit that made
//! the removals emptying it durable (see `flush.rs`), so a crash can never leave an
//! entry whose removal was lost pointing into a deleted file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use parking_lot::Mutex;

use crate::codec::{self, Writer};
use crate::error::{StoreError, StoreResult};
use crate::records::MessageRecord;
use crate::segment::{Position, SegmentConfig, SegmentLog};

/// The segment directory's name inside the data directory.
pub(super) const SEGMENTS_DIR: &str = "segments";

/// Bytes of a record's header in a segment file (length, checksum).
const RECORD_HEADER: u64 = 8;

/// The segment log of message bodies and its live counts.
pub(crate) struct Bodies {
    pub log: SegmentLog,
    dir: PathBuf,
    /// Live messages per segment (absent: none), and the end of the last record
    /// appended (segment, byte after it).
    live: Mutex<(HashMap<u32, u64>, (u32, u64))>,
    /// Recovered length of every segment present at open (records past it were lost).
    recovered_len: HashMap<u32, u64>,
    /// Whether empty segments may be deleted (not before the open-time pass over the
    /// `messages` tree is done: until then, records it has not seen may be referenced).
    deleting: AtomicBool,
}

impl Bodies {
    /// Opens (creating) `<data_dir>/segments`. A torn tail of the last segment is
    /// truncated by the log (logged, not an error: it was never confirmed).
    pub(super) fn open(
        data_dir: &Path,
        segment_bytes: u64,
        fdatasync: bool,
    ) -> StoreResult<Bodies> {
        let dir = data_dir.join(SEGMENTS_DIR);
        let (log, recovery) = SegmentLog::open(SegmentConfig {
            dir: dir.clone(),
            segment_bytes,
            fdatasync,
        })?;
        tracing::debug!(dir = %dir.display(), ?recovery, "segment log opened");
        let recovered_len = log
            .segments()
            .into_iter()
            .map(|s| (s, log.segment_bytes(s)))
            .collect();
        Ok(Bodies {
            log,
            dir,
            live: Mutex::new((HashMap::new(), (0, 0))),
            recovered_len,
            deleting: AtomicBool::new(false),
        })
    }

    /// Appends message `id` (buffered in the log until the next `write_pending`) and
    /// counts it live in its segment.
    pub(crate) fn append(&self, id: u64, m: &MessageRecord) -> StoreResult<Position> {
        let mut head = Writer::with_capacity(
            40 + m.exchange.len() + m.routing_key.len() + m.raw_properties.len(),
        );
        head.u64(id);
        codec::encode_message_head(&mut head, m);
        // Counted under the same lock as the append: a segment the append rolls away
        // from is never seen sealed and empty while it holds this record.
        let mut live = self.live.lock();
        let at = self.log.append(&[&head.0, &m.body])?;
        *live.0.entry(at.segment).or_insert(0) += 1;
        live.1 = live.1.max(end_of(at));
        Ok(at)
    }

    /// The end of the last record appended so far (segment, byte after it): once a
    /// `write_pending` and `sync` called after this returned, everything up to it is
    /// durable.
    pub(crate) fn appended_end(&self) -> (u32, u64) {
        self.live.lock().1
    }

    /// Reads message `id` back from `at` (checksum verified by the log; the id in the
    /// record must match, so a stale position can never return another message).
    pub(crate) fn read(&self, id: u64, at: Position) -> StoreResult<MessageRecord> {
        let bytes: Bytes = self.log.read(at)?;
        let corrupt = |detail: String| StoreError::Corrupt {
            path: self.dir.join(format!("{:010}.seg", at.segment)),
            detail,
        };
        let stored = bytes
            .get(..8)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map(u64::from_be_bytes)
            .ok_or_else(|| corrupt(format!("record at {} too short", at.offset)))?;
        if stored != id {
            return Err(corrupt(format!(
                "record at {} holds message {stored}, not {id}",
                at.offset
            )));
        }
        codec::decode_message(&bytes, 8)
            .map_err(|e| corrupt(format!("message {id} at {}: {e}", at.offset)))
    }

    /// A message stored at `at` was deleted.
    pub(crate) fn released(&self, at: Position) {
        let mut guard = self.live.lock();
        let live = &mut guard.0;
        if let Some(n) = live.get_mut(&at.segment) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                live.remove(&at.segment);
            }
        }
    }

    /// Sets the live counts rebuilt at open.
    pub(super) fn seed(&self, counts: HashMap<u32, u64>) {
        let mut live = self.live.lock();
        for (segment, n) in counts {
            *live.0.entry(segment).or_insert(0) += n;
        }
    }

    /// Checks that the log still holds everything a completed flush made durable
    /// (`synced`: the end recorded with that flush). Records past it were never
    /// confirmed and may be lost to a crash; records before it may not.
    pub(super) fn check_synced(&self, synced: (u32, u64)) -> StoreResult<()> {
        let (segment, end) = synced;
        if end == 0 {
            return Ok(());
        }
        let newest = self.recovered_len.keys().max().copied();
        let missing = match self.recovered_len.get(&segment) {
            Some(&len) => (len < end).then_some(len),
            // Deleted when it emptied, if a later segment exists; else lost.
            None => (newest.is_none_or(|n| n < segment)).then_some(0),
        };
        match missing {
            None => Ok(()),
            Some(len) => Err(StoreError::Corrupt {
                path: self.dir.join(format!("{segment:010}.seg")),
                detail: format!(
                    "holds {len} bytes, but {end} had been synced and confirmed: the segment \
                     log is truncated or was deleted"
                ),
            }),
        }
    }

    /// Whether a record at `at` lies within what the log recovered at open: a position
    /// past a segment's recovered end (or in a missing segment) points to a body that
    /// never reached the disk.
    pub(super) fn holds(&self, at: Position) -> bool {
        self.recovered_len
            .get(&at.segment)
            .is_some_and(|&len| u64::from(at.offset) + RECORD_HEADER + u64::from(at.len) <= len)
    }

    /// Allows deleting empty segments (once the open-time pass is done).
    pub(super) fn start_deleting(&self) {
        self.deleting.store(true, Ordering::SeqCst);
    }

    /// Segments other than the active one that hold no live message.
    pub(crate) fn empty_segments(&self) -> Vec<u32> {
        if !self.deleting.load(Ordering::SeqCst) {
            return Vec::new();
        }
        let live = self.live.lock();
        let active = self.log.active_segment();
        self.log
            .segments()
            .into_iter()
            .filter(|s| *s != active && !live.0.contains_key(s))
            .collect()
    }

    /// Deletes `segments` (chosen by `empty_segments` before a flush that completed).
    pub(crate) fn delete(&self, segments: &[u32]) {
        for &s in segments {
            if let Err(e) = self.log.delete_segment(s) {
                tracing::warn!(dir = %self.dir.display(), segment = s, "cannot delete an empty segment: {e}");
            }
        }
    }

    /// Live messages per segment (for tests).
    #[cfg(test)]
    pub(crate) fn live_counts(&self) -> HashMap<u32, u64> {
        self.live.lock().0.clone()
    }
}

/// The byte after a record at `at` (segment, offset).
fn end_of(at: Position) -> (u32, u64) {
    (
        at.segment,
        u64::from(at.offset) + RECORD_HEADER + u64::from(at.len),
    )
}
