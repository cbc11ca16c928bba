//! Stream logs: the storage of `x-queue-type: stream` queues. A stream is an
//! append-only sequence of records numbered from 0 (its *offsets*), kept in its own
//! segment log directory and trimmed by whole segments (retention). Nothing is removed
//! when a consumer reads: every reader keeps its own offset.
//!
//! Each record is `offset (u64 LE) | publish time in ms (u64 LE) | payload`; the payload
//! is opaque here (the broker encodes the message in it). Carrying the offset makes the
//! log self-describing: after retention deleted the oldest segments, the first record
//! left still says where the stream starts.
//!
//! Appends are buffered by the segment log and written by the store's group commit
//! (see [`registry`]), so a publish confirmed after a [`Store::sync`](crate::Store::sync)
//! ticket is on disk.

pub mod backend;
mod index;
pub mod registry;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use parking_lot::Mutex;

use crate::error::{StoreError, StoreResult};
use crate::segment::{Position, SegmentConfig, SegmentLog};
use backend::{MemorySegments, SegmentBackend};
use index::SegmentIndex;

/// Bytes of the stream's own header in each record (offset, publish time).
pub const STREAM_HEADER: usize = 16;

/// One record read back.
#[derive(Debug, Clone)]
pub struct StreamEntry {
    /// Its offset in the stream.
    pub offset: u64,
    /// When it was published (ms since the epoch).
    pub timestamp_ms: u64,
    /// What the broker stored.
    pub payload: Bytes,
}

/// What [`StreamLog::apply_retention`] removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Trimmed {
    /// Segments deleted.
    pub segments: u32,
    /// Records they held.
    pub records: u64,
}

/// A stream's records: the segments and the index that finds any offset in them.
pub struct StreamLog {
    backend: Box<dyn SegmentBackend>,
    state: Mutex<State>,
    /// Appended since the last group commit wrote the log.
    dirty: AtomicBool,
}

impl std::fmt::Debug for StreamLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let st = self.state.lock();
        f.debug_struct("StreamLog")
            .field("first_offset", &st.first_offset())
            .field("next_offset", &st.next_offset)
            .finish()
    }
}

#[derive(Debug)]
struct State {
    /// Retained segments, oldest first (the last is the one appended to).
    segments: VecDeque<SegmentIndex>,
    next_offset: u64,
}

impl State {
    fn first_offset(&self) -> u64 {
        self.segments
            .front()
            .map_or(self.next_offset, |s| s.first_offset)
    }

    fn position(&self, offset: u64) -> Option<Position> {
        let i = self
            .segments
            .partition_point(|s| s.first_offset <= offset)
            .checked_sub(1)?;
        self.segments[i].position(offset)
    }
}

fn bad_record(what: &str, detail: String) -> StoreError {
    StoreError::Corrupt {
        path: what.into(),
        detail,
    }
}

/// Splits a stored record into its header fields and payload.
fn parse(record: Bytes) -> StoreResult<StreamEntry> {
    if record.len() < STREAM_HEADER {
        return Err(bad_record(
            "stream record",
            format!("{} bytes, shorter than its header", record.len()),
        ));
    }
    let word = |at: usize| u64::from_le_bytes(record[at..at + 8].try_into().expect("8 bytes"));
    Ok(StreamEntry {
        offset: word(0),
        timestamp_ms: word(8),
        payload: record.slice(STREAM_HEADER..),
    })
}

impl StreamLog {
    /// A stream held in memory (a broker without a store; tests), rolling segments at
    /// `segment_bytes`.
    pub fn in_memory(segment_bytes: u64) -> StreamLog {
        StreamLog::with_backend(Box::new(MemorySegments::new(segment_bytes)))
            .expect("an empty memory log opens")
    }

    /// Opens (creating) the stream stored in directory `dir`, rolling segments at
    /// `segment_bytes`, fdatasynced by [`StreamLog::flush`]. A torn tail (a crash in
    /// the middle of a write) is cut off by the segment log and reported here.
    pub fn open_dir(dir: &std::path::Path, segment_bytes: u64) -> StoreResult<StreamLog> {
        let (log, recovery) = SegmentLog::open(SegmentConfig {
            dir: dir.to_path_buf(),
            segment_bytes,
            fdatasync: true,
        })?;
        if let Some(t) = &recovery.truncated {
            tracing::warn!(
                dir = %dir.display(),
                segment = t.segment,
                dropped_bytes = t.dropped_bytes,
                reason = %t.reason,
                "stream: torn tail cut off at open"
            );
        }
        StreamLog::with_backend(Box::new(log))
    }

    /// Opens a stream over `backend`, rebuilding the index by scanning its segments.
    pub fn with_backend(backend: Box<dyn SegmentBackend>) -> StoreResult<StreamLog> {
        let mut segments = VecDeque::new();
        let mut next_offset = 0;
        for number in backend.segments() {
            let records = backend.scan_all(number)?;
            let mut index: Option<SegmentIndex> = None;
            for (pos, record) in records {
                let entry = parse(record)?;
                let seg = index.get_or_insert_with(|| SegmentIndex::new(number, entry.offset));
                if entry.offset != seg.end_offset() {
                    return Err(bad_record(
                        "stream segment",
                        format!(
                            "segment {number}: offset {} follows {}",
                            entry.offset,
                            seg.end_offset()
                        ),
                    ));
                }
                seg.push(pos, entry.timestamp_ms);
            }
            let seg = index.unwrap_or_else(|| SegmentIndex::new(number, next_offset));
            next_offset = seg.end_offset();
            segments.push_back(seg);
        }
        Ok(StreamLog {
            backend,
            state: Mutex::new(State {
                segments,
                next_offset,
            }),
            dirty: AtomicBool::new(false),
        })
    }

    /// Appends a record published at `timestamp_ms` made of `parts`; returns its offset
    /// and whether the append started a new segment (a moment to apply retention).
    pub fn append(&self, timestamp_ms: u64, parts: &[&[u8]]) -> StoreResult<(u64, bool)> {
        let mut st = self.state.lock();
        let offset = st.next_offset;
        let mut header = [0u8; STREAM_HEADER];
        header[..8].copy_from_slice(&offset.to_le_bytes());
        header[8..].copy_from_slice(&timestamp_ms.to_le_bytes());
        let mut all: Vec<&[u8]> = Vec::with_capacity(parts.len() + 1);
        all.push(&header);
        all.extend_from_slice(parts);
        let pos = self.backend.append(&all)?;
        let rolled = st.segments.back().is_none_or(|s| s.segment != pos.segment);
        if rolled {
            st.segments
                .push_back(SegmentIndex::new(pos.segment, offset));
        }
        st.segments
            .back_mut()
            .expect("a segment was just ensured")
            .push(pos, timestamp_ms);
        st.next_offset = offset + 1;
        self.dirty.store(true, Ordering::Release);
        Ok((offset, rolled))
    }

    /// The offset the next append gets.
    pub fn next_offset(&self) -> u64 {
        self.state.lock().next_offset
    }

    /// The oldest retained offset (equal to [`StreamLog::next_offset`] when empty).
    pub fn first_offset(&self) -> u64 {
        self.state.lock().first_offset()
    }

    /// Records retained.
    pub fn len(&self) -> u64 {
        let st = self.state.lock();
        st.next_offset - st.first_offset()
    }

    /// Whether no record is retained.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The first retained offset published at or after `timestamp_ms` (to the second,
    /// as AMQP timestamps go), or the next offset if none is.
    pub fn offset_at_time(&self, timestamp_ms: u64) -> u64 {
        let seconds = (timestamp_ms / 1000).min(u64::from(u32::MAX)) as u32;
        let st = self.state.lock();
        st.segments
            .iter()
            .filter(|s| s.newest_ms / 1000 >= u64::from(seconds))
            .find_map(|s| s.first_at_or_after(seconds))
            .unwrap_or(st.next_offset)
    }

    /// Reads up to `max_records` records (and about `max_bytes`) from `from` on. Records
    /// before the first retained offset are skipped (they were trimmed): the first
    /// entry's offset says where reading really started. Reads from disk: call it off
    /// the async runtime for anything but the newest records.
    pub fn read_from(
        &self,
        from: u64,
        max_records: usize,
        max_bytes: usize,
    ) -> StoreResult<Vec<StreamEntry>> {
        let mut out = Vec::new();
        let mut bytes = 0usize;
        let mut next = from;
        while out.len() < max_records && bytes < max_bytes {
            let pos = {
                let st = self.state.lock();
                next = next.max(st.first_offset());
                if next >= st.next_offset {
                    break;
                }
                st.position(next)
            };
            let Some(pos) = pos else { break };
            match self.backend.read(pos) {
                Ok(record) => {
                    let entry = parse(record)?;
                    bytes += entry.payload.len();
                    next = entry.offset + 1;
                    out.push(entry);
                }
                // Trimmed between the lookup and the read: go on from the new start.
                Err(_) if next < self.first_offset() => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// Deletes whole segments, oldest first, never the active one: those whose newest
    /// record is older than `max_age_ms` at `now_ms`, and while the stream holds more
    /// than `max_bytes`.
    pub fn apply_retention(
        &self,
        now_ms: u64,
        max_age_ms: Option<u64>,
        max_bytes: Option<u64>,
    ) -> StoreResult<Trimmed> {
        let mut trimmed = Trimmed::default();
        let mut st = self.state.lock();
        let mut total: u64 = st
            .segments
            .iter()
            .map(|s| self.backend.segment_bytes(s.segment))
            .sum();
        while st.segments.len() > 1 {
            let oldest = &st.segments[0];
            let too_old =
                max_age_ms.is_some_and(|age| oldest.newest_ms.saturating_add(age) < now_ms);
            let too_big = max_bytes.is_some_and(|max| total > max);
            if !too_old && !too_big {
                break;
            }
            let size = self.backend.segment_bytes(oldest.segment);
            let (number, records) = (oldest.segment, oldest.len());
            if let Err(e) = self.backend.delete_segment(number) {
                // Not written out yet (the next group commit writes it), or an I/O
                // error: tried again on the next roll or tick.
                tracing::debug!(segment = number, error = %e, "stream segment not deleted yet");
                break;
            }
            st.segments.pop_front();
            total = total.saturating_sub(size);
            trimmed.segments += 1;
            trimmed.records += records;
        }
        Ok(trimmed)
    }

    /// Bytes of the retained segments.
    pub fn total_bytes(&self) -> u64 {
        let st = self.state.lock();
        st.segments
            .iter()
            .map(|s| self.backend.segment_bytes(s.segment))
            .sum()
    }

    /// Retained segments.
    pub fn segment_count(&self) -> usize {
        self.state.lock().segments.len()
    }

    /// Writes and syncs what was appended since the last call (the group commit's part).
    pub fn flush(&self) -> StoreResult<()> {
        if !self.dirty.swap(false, Ordering::AcqRel) {
            return Ok(());
        }
        let done = self
            .backend
            .write_pending()
            .and_then(|()| self.backend.sync());
        if done.is_err() {
            self.dirty.store(true, Ordering::Release);
        }
        done
    }
}

#[cfg(test)]
mod tests;
