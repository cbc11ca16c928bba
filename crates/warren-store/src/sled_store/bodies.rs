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
//! entry whose removal was lost pointing into a deleted file. A sealed segment whose
//! live bytes fall below a threshold is compacted: its live records are copied to the
//! head of the log and it is retired (see `segment_compact.rs`, `forward.rs`); reads
//! and releases resolve positions in retired segments through the forwards.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use parking_lot::{Mutex, RwLock};

use crate::codec::{self, Writer};
use crate::error::{StoreError, StoreResult};
use crate::records::MessageRecord;
use crate::segment::{Position, SegmentConfig, SegmentLog};

use super::forward::{self, Forwards};

/// The segment directory's name inside the data directory.
pub(super) const SEGMENTS_DIR: &str = "segments";

/// Bytes of a record's header in a segment file (length, checksum).
const RECORD_HEADER: u64 = 8;

/// Live messages of one segment and the bytes of their records (headers included).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SegLive {
    pub count: u64,
    pub bytes: u64,
}

impl SegLive {
    fn add(&mut self, at: Position) {
        self.count += 1;
        self.bytes += record_bytes(at);
    }
}

/// What the live-count lock guards.
struct LiveState {
    /// Per segment (absent: nothing live).
    segs: HashMap<u32, SegLive>,
    /// The end of the last record appended (segment, byte after it).
    end: (u32, u64),
    /// The segment being compacted, and the offsets of its records released meanwhile
    /// (their copies are dead when it is retired).
    moving: Option<(u32, HashSet<u32>)>,
}

impl LiveState {
    fn sub(&mut self, at: Position) {
        if let Some(n) = self.segs.get_mut(&at.segment) {
            n.count = n.count.saturating_sub(1);
            n.bytes = n.bytes.saturating_sub(record_bytes(at));
            if n.count == 0 {
                self.segs.remove(&at.segment);
            }
        }
    }
}

/// The segment log of message bodies and its live counts.
pub(crate) struct Bodies {
    pub log: SegmentLog,
    dir: PathBuf,
    live: Mutex<LiveState>,
    /// Retired (compacted) segments and where their moved records went. Lock order:
    /// `live`, then this.
    forwards: RwLock<Forwards>,
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
            live: Mutex::new(LiveState {
                segs: HashMap::new(),
                end: (0, 0),
                moving: None,
            }),
            forwards: RwLock::new(Forwards::default()),
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
        live.segs.entry(at.segment).or_default().add(at);
        live.end = live.end.max(end_of(at));
        Ok(at)
    }

    /// Appends a copy of a record (segment compaction), counted live where it lands.
    pub(crate) fn append_copy(&self, payload: &[u8]) -> StoreResult<Position> {
        let mut live = self.live.lock();
        let at = self.log.append(&[payload])?;
        live.segs.entry(at.segment).or_default().add(at);
        live.end = live.end.max(end_of(at));
        Ok(at)
    }

    /// The end of the last record appended so far (segment, byte after it): once a
    /// `write_pending` and `sync` called after this returned, everything up to it is
    /// durable.
    pub(crate) fn appended_end(&self) -> (u32, u64) {
        self.live.lock().end
    }

    /// Where the record stored at `at` is now (moved if its segment was compacted).
    pub(crate) fn resolve(&self, at: Position) -> Position {
        let f = self.forwards.read();
        if f.is_empty() {
            return at;
        }
        f.resolve(at)
    }

    /// Reads message `id` back from `at` (checksum verified by the log; the id in the
    /// record must match, so a stale position can never return another message).
    /// A position in a compacted segment is followed to the record's copy (again if
    /// the segment was retired while the read was under way).
    pub(crate) fn read(&self, id: u64, at: Position) -> StoreResult<MessageRecord> {
        let target = self.resolve(at);
        match self.read_at(id, target) {
            Err(err) => {
                let again = self.resolve(at);
                if again == target {
                    return Err(err);
                }
                self.read_at(id, again)
            }
            ok => ok,
        }
    }

    fn read_at(&self, id: u64, at: Position) -> StoreResult<MessageRecord> {
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

    /// A message stored at `at` was deleted. Returns the `moved` keys of its forwards,
    /// if it had been moved (the caller deletes them from sled).
    pub(crate) fn released(&self, at: Position) -> Option<Vec<[u8; 8]>> {
        let mut live = self.live.lock();
        let (target, keys) = {
            let moved = {
                let f = self.forwards.read();
                !f.is_empty() && f.retired.contains(&at.segment)
            };
            if moved {
                let (target, keys) = self.forwards.write().take_chain(at);
                (target, Some(keys))
            } else {
                (at, None)
            }
        };
        if let Some((segment, released)) = &mut live.moving {
            if *segment == target.segment {
                released.insert(target.offset);
            }
        }
        live.sub(target);
        keys
    }

    /// Sets the live counts rebuilt at open.
    pub(super) fn seed(&self, counts: HashMap<u32, SegLive>) {
        let mut live = self.live.lock();
        for (segment, n) in counts {
            let s = live.segs.entry(segment).or_default();
            s.count += n.count;
            s.bytes += n.bytes;
        }
    }

    /// Sets the forwards read at open.
    pub(super) fn set_forwards(&self, f: Forwards) {
        *self.forwards.write() = f;
    }

    /// The forwards, to resolve and prune at open.
    pub(super) fn forwards(&self) -> &RwLock<Forwards> {
        &self.forwards
    }

    /// Sealed segments whose live bytes are under `percent` % of their size, with that
    /// fraction (per mille), lowest first; none before the open-time pass is done.
    pub(crate) fn compaction_candidates(&self, percent: u32) -> Vec<(u32, u64)> {
        if percent == 0 || !self.deleting.load(Ordering::SeqCst) {
            return Vec::new();
        }
        let active = self.log.active_segment();
        let segments = self.log.segments();
        let live = self.live.lock();
        let moving = live.moving.as_ref().map(|(s, _)| *s);
        let mut out: Vec<(u32, u64)> = segments
            .into_iter()
            .filter(|s| *s != active && Some(*s) != moving)
            .filter_map(|s| {
                let n = live.segs.get(&s)?;
                let size = self.log.segment_bytes(s).max(1);
                (n.bytes.saturating_mul(100) < u64::from(percent).saturating_mul(size))
                    .then_some((s, n.bytes.saturating_mul(1000) / size))
            })
            .collect();
        drop(live);
        out.sort_by_key(|&(s, f)| (f, s));
        out
    }

    /// Starts compacting `segment`: releases of its records are noted from now on.
    /// False if it is the active segment or already retired.
    pub(crate) fn begin_move(&self, segment: u32) -> bool {
        let mut live = self.live.lock();
        if segment == self.log.active_segment()
            || self.forwards.read().retired.contains(&segment)
            || live.moving.is_some()
        {
            return false;
        }
        live.moving = Some((segment, HashSet::new()));
        true
    }

    /// Retires `segment` once the forwards of its `moved` records are durable: reads
    /// and releases follow them from now on, its live count is gone (the file may be
    /// deleted). Returns the `moved` keys of copies whose message was deleted during
    /// the move (dead already: the caller deletes them from sled).
    pub(crate) fn retire(&self, segment: u32, moved: &[(Position, Position)]) -> Vec<[u8; 8]> {
        let mut live = self.live.lock();
        let released = match live.moving.take() {
            Some((s, released)) if s == segment => released,
            other => {
                live.moving = other;
                HashSet::new()
            }
        };
        let mut dead = Vec::new();
        let mut f = self.forwards.write();
        for &(from, to) in moved {
            if released.contains(&from.offset) {
                live.sub(to);
                dead.push(forward::key(from.segment, from.offset));
            } else {
                f.insert(from, to);
            }
        }
        f.retired.insert(segment);
        live.segs.remove(&segment);
        dead
    }

    /// Gives up compacting `segment`: its copies so far are dead records.
    pub(crate) fn abort_move(&self, segment: u32, moved: &[(Position, Position)]) {
        let mut live = self.live.lock();
        if live.moving.as_ref().is_some_and(|(s, _)| *s == segment) {
            live.moving = None;
        }
        for &(_, to) in moved {
            live.sub(to);
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
        let moving = live.moving.as_ref().map(|(s, _)| *s);
        self.log
            .segments()
            .into_iter()
            .filter(|s| *s != active && Some(*s) != moving && !live.segs.contains_key(s))
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
        self.live
            .lock()
            .segs
            .iter()
            .map(|(s, n)| (*s, n.count))
            .collect()
    }
}

/// Bytes a record at `at` takes in its segment (header included).
pub(crate) fn record_bytes(at: Position) -> u64 {
    RECORD_HEADER + u64::from(at.len)
}

/// The byte after a record at `at` (segment, offset).
fn end_of(at: Position) -> (u32, u64) {
    (
        at.segment,
        u64::from(at.offset) + RECORD_HEADER + u64::from(at.len),
    )
}
