//! [`SegmentLog`]: appends into an in-memory buffer, `write_pending` writes it with one
//! positional write per segment touched, `sync` makes it durable, `read` serves records
//! from the buffer or with `pread`.

use std::collections::BTreeMap;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;

use crate::error::{StoreError, StoreResult};

use super::file::{self, corrupt, io_err, SegmentFile};
use super::record::{self, FILE_HEADER_LEN, RECORD_HEADER_LEN};
use super::scan::SegmentScan;
use super::Position;

/// A spare write buffer larger than this is dropped after a write rather than kept.
const MAX_SPARE_CAPACITY: usize = 16 << 20;

/// An append-only log of checksummed records in numbered segment files (see the module
/// docs and the crate README). `Send + Sync`: appends, reads, writes and syncs may come
/// from any thread; no lock is held while waiting for I/O except the one serialising
/// writers with each other (and syncs with each other).
#[derive(Debug)]
pub struct SegmentLog {
    pub(super) dir: PathBuf,
    pub(super) segment_bytes: u64,
    pub(super) fdatasync: bool,
    pub(super) inner: Mutex<Inner>,
    /// Serialises `write_pending` calls (held across their writes; appends and reads
    /// never take it).
    pub(super) write_lock: Mutex<()>,
    /// Serialises `sync` calls.
    pub(super) sync_lock: Mutex<()>,
}

/// A run of unwritten bytes of one segment, starting at file offset `start`.
#[derive(Debug, Clone)]
pub(crate) struct Chunk {
    pub(crate) segment: u32,
    pub(crate) start: u64,
    pub(crate) buf: Arc<Vec<u8>>,
}

impl Chunk {
    fn end(&self) -> u64 {
        self.start + self.buf.len() as u64
    }
}

#[derive(Debug)]
pub(super) struct SegState {
    pub(super) file: Arc<SegmentFile>,
    /// Logical length (written + unwritten); for the active segment see `Inner::active_len`.
    pub(super) len: u64,
    /// Bytes of the file that hold written records (`pread` serves below this).
    pub(super) written: u64,
}

#[derive(Debug)]
pub(super) struct Inner {
    pub(super) segments: BTreeMap<u32, SegState>,
    pub(super) active: u32,
    /// Unwritten bytes of the active segment, starting at file offset `pending_start`.
    pub(super) pending: Vec<u8>,
    pub(super) pending_start: u64,
    /// Unwritten runs older than `pending` (segments rolled away from before a write, or
    /// runs handed back by a failed write), oldest first.
    pub(super) queued: Vec<Chunk>,
    /// Runs being written by `write_pending` right now (still readable from memory).
    pub(super) inflight: Vec<Chunk>,
    /// Segments written since the last sync.
    pub(super) unsynced: BTreeMap<u32, Arc<SegmentFile>>,
    /// A segment file was created or deleted since the last sync.
    pub(super) dir_dirty: bool,
    /// A recycled write buffer (keeps appends free of allocation in steady state).
    pub(super) spare: Vec<u8>,
    /// The first failed sync: data written before it may be lost, so the log accepts
    /// nothing more as durable until reopened.
    pub(super) failed: Option<String>,
}

impl Inner {
    fn active_len(&self) -> u64 {
        self.pending_start + self.pending.len() as u64
    }

    fn seg_len(&self, segment: u32) -> Option<u64> {
        if segment == self.active {
            return Some(self.active_len());
        }
        self.segments.get(&segment).map(|s| s.len)
    }

    /// Whether `segment` has bytes not written to its file.
    fn has_unwritten(&self, segment: u32) -> bool {
        (segment == self.active && !self.pending.is_empty())
            || self
                .queued
                .iter()
                .chain(&self.inflight)
                .any(|c| c.segment == segment)
    }

    /// Unwritten runs of `segment` (queued, in flight, and a snapshot of the pending
    /// buffer), for a scan.
    pub(crate) fn memory_runs(&self, segment: u32) -> Vec<Chunk> {
        let mut runs: Vec<Chunk> = self
            .inflight
            .iter()
            .chain(&self.queued)
            .filter(|c| c.segment == segment)
            .cloned()
            .collect();
        if segment == self.active && !self.pending.is_empty() {
            runs.push(Chunk {
                segment,
                start: self.pending_start,
                buf: Arc::new(self.pending.clone()),
            });
        }
        runs.sort_by_key(|c| c.start);
        runs
    }
}

/// Where `read` finds a record, decided under the lock and read outside it.
enum Source {
    File(Arc<SegmentFile>),
    Memory(Arc<Vec<u8>>, usize),
}

impl SegmentLog {
    /// The directory holding the segment files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Appends one record (payload given in parts, written back to back: no
    /// concatenation needed by callers). Buffered in memory, readable at once with
    /// [`read`](Self::read); written by the next [`write_pending`](Self::write_pending).
    /// Rolls to a new segment when the active one would pass `segment_bytes` (a record
    /// larger than that gets a segment of its own).
    pub fn append(&self, parts: &[&[u8]]) -> StoreResult<Position> {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        let len = u32::try_from(len)
            .ok()
            .filter(|l| u64::from(*l) + RECORD_HEADER_LEN + FILE_HEADER_LEN <= u64::from(u32::MAX))
            .ok_or_else(|| {
                invalid(
                    &self.dir,
                    format!("a record of {len} bytes does not fit in a segment"),
                )
            })?;
        let header = record::record_header(len, record::checksum(len, parts));
        let rec_len = RECORD_HEADER_LEN + u64::from(len);
        let mut inner = self.inner.lock();
        if let Some(reason) = &inner.failed {
            return Err(self.failed(reason));
        }
        let seg_len = inner.active_len();
        if seg_len > FILE_HEADER_LEN && seg_len + rec_len > self.segment_bytes {
            self.roll(&mut inner)?;
        }
        let offset = inner.active_len();
        inner.pending.reserve(rec_len as usize);
        inner.pending.extend_from_slice(&header);
        for part in parts {
            inner.pending.extend_from_slice(part);
        }
        Ok(Position {
            segment: inner.active,
            // Below segment_bytes <= u32::MAX (checked by the roll above).
            offset: offset as u32,
            len,
        })
    }

    /// Seals the active segment and starts the next one (its file is created by the
    /// next write).
    fn roll(&self, inner: &mut Inner) -> StoreResult<()> {
        let next = inner
            .active
            .checked_add(1)
            .ok_or_else(|| invalid(&self.dir, "segment numbers exhausted"))?;
        let old = inner.active;
        let old_len = inner.active_len();
        if !inner.pending.is_empty() {
            let buf = std::mem::take(&mut inner.pending);
            let start = inner.pending_start;
            inner.queued.push(Chunk {
                segment: old,
                start,
                buf: Arc::new(buf),
            });
        }
        if let Some(s) = inner.segments.get_mut(&old) {
            s.len = old_len;
        }
        inner.segments.insert(next, new_segment(&self.dir, next));
        inner.active = next;
        inner.pending_start = 0;
        inner.pending.extend_from_slice(&record::file_header());
        Ok(())
    }

    /// Reads a record back (from the unwritten buffer, or with one `pread` of header and
    /// payload). Checksum and length verified: [`StoreError::Corrupt`] naming the file
    /// otherwise (also for a position that is not a record of this log).
    pub fn read(&self, pos: Position) -> StoreResult<Bytes> {
        let start = u64::from(pos.offset);
        let rec_len = RECORD_HEADER_LEN + u64::from(pos.len);
        let end = start + rec_len;
        let (source, path) = {
            let inner = self.inner.lock();
            let Some(seg) = inner.segments.get(&pos.segment) else {
                return Err(corrupt(
                    &self.dir.join(file::file_name(pos.segment)),
                    format!("no segment {} (deleted or never written)", pos.segment),
                ));
            };
            let seg_len = inner.seg_len(pos.segment).unwrap_or(0);
            if start < FILE_HEADER_LEN || end > seg_len {
                return Err(corrupt(
                    &seg.file.path,
                    format!("position {pos:?} is outside the segment's records (length {seg_len})"),
                ));
            }
            let path = seg.file.path.clone();
            if end <= seg.written {
                (Source::File(seg.file.clone()), path)
            } else if pos.segment == inner.active && start >= inner.pending_start {
                // The one copy of an unwritten record: out of the buffer, under the lock.
                let at = (start - inner.pending_start) as usize;
                let copy = inner.pending[at..at + rec_len as usize].to_vec();
                drop(inner);
                return finish(&path, pos, copy);
            } else {
                match inner
                    .inflight
                    .iter()
                    .chain(&inner.queued)
                    .find(|c| c.segment == pos.segment && c.start <= start && end <= c.end())
                {
                    Some(c) => (
                        Source::Memory(c.buf.clone(), (start - c.start) as usize),
                        path,
                    ),
                    None => {
                        return Err(corrupt(
                            &path,
                            format!("position {pos:?} does not start a record"),
                        ))
                    }
                }
            }
        };
        let record = match source {
            Source::Memory(buf, at) => buf[at..at + rec_len as usize].to_vec(),
            Source::File(f) => {
                let mut buf = vec![0u8; rec_len as usize];
                f.read_at(&mut buf, start)?;
                buf
            }
        };
        finish(&path, pos, record)
    }

    /// Writes everything appended so far: one positional write per segment touched.
    /// Before creating a new segment file the previous segment is fdatasync'ed (when
    /// `fdatasync` is on), so only the last segment can ever have a torn tail. On error
    /// (disk full...) the unwritten records stay buffered and readable, any partial write
    /// is cut off the file, and a later call retries.
    pub fn write_pending(&self) -> StoreResult<()> {
        let _writer = self.write_lock.lock();
        let (chunks, files, previous) = {
            let mut inner = self.inner.lock();
            if let Some(reason) = &inner.failed {
                return Err(self.failed(reason));
            }
            let mut chunks = std::mem::take(&mut inner.queued);
            if !inner.pending.is_empty() {
                let spare = std::mem::take(&mut inner.spare);
                let buf = std::mem::replace(&mut inner.pending, spare);
                let start = inner.pending_start;
                inner.pending_start += buf.len() as u64;
                chunks.push(Chunk {
                    segment: inner.active,
                    start,
                    buf: Arc::new(buf),
                });
            }
            if chunks.is_empty() {
                return Ok(());
            }
            inner.inflight = chunks.clone();
            let files: Vec<Arc<SegmentFile>> = chunks
                .iter()
                .map(|c| inner.segments[&c.segment].file.clone())
                .collect();
            // For a chunk that creates a segment file: the segment before it, sealed, and
            // the end of its records.
            let previous: Vec<Option<(Arc<SegmentFile>, u64)>> = chunks
                .iter()
                .map(|c| match c.start {
                    0 => inner
                        .segments
                        .range(..c.segment)
                        .next_back()
                        .map(|(_, s)| (s.file.clone(), s.len)),
                    _ => None,
                })
                .collect();
            (chunks, files, previous)
        };
        let mut done = 0;
        let mut result = Ok(());
        for ((chunk, file), previous) in chunks.iter().zip(&files).zip(&previous) {
            if let (true, Some((prev, prev_len))) = (self.fdatasync, previous) {
                // The sealed segment loses its preallocated zeros and is made durable
                // before its successor exists.
                let sealed = match prev.allocated_past(*prev_len) {
                    true => prev.set_len(*prev_len),
                    false => Ok(()),
                };
                if let Err(e) = sealed.and_then(|()| {
                    prev.handle(false)
                        .and_then(|h| h.sync_data().map_err(|e| io_err(&prev.path, e)))
                }) {
                    self.inner
                        .lock()
                        .failed
                        .get_or_insert_with(|| e.to_string());
                    result = Err(e);
                    break;
                }
            }
            let written = file.handle(true).and_then(|h| {
                if self.fdatasync {
                    file.preallocate(chunk.end(), self.segment_bytes);
                }
                h.write_all_at(&chunk.buf, chunk.start)
                    .map_err(|e| io_err(&file.path, e))
            });
            if let Err(e) = written {
                if file.is_open() {
                    // Best effort: leave no partial record behind (recovery would cut it
                    // anyway, and the retry rewrites the same bytes at the same offset).
                    let _ = file.set_len(chunk.start);
                }
                result = Err(e);
                break;
            }
            done += 1;
        }
        let mut inner = self.inner.lock();
        inner.inflight.clear();
        for (chunk, file) in chunks.iter().zip(&files).take(done) {
            if let Some(s) = inner.segments.get_mut(&chunk.segment) {
                s.written = s.written.max(chunk.end());
            }
            inner.unsynced.insert(chunk.segment, file.clone());
            if chunk.start == 0 {
                inner.dir_dirty = true;
            }
        }
        let mut chunks = chunks;
        let failed_runs = chunks.split_off(done);
        if !failed_runs.is_empty() {
            let later = std::mem::take(&mut inner.queued);
            inner.queued = failed_runs;
            inner.queued.extend(later);
        }
        // Recycle a written buffer for the next appends (if no reader holds it).
        if inner.spare.capacity() == 0 {
            if let Some(buf) = chunks.pop().and_then(|c| Arc::try_unwrap(c.buf).ok()) {
                if buf.capacity() <= MAX_SPARE_CAPACITY {
                    let mut buf = buf;
                    buf.clear();
                    inner.spare = buf;
                }
            }
        }
        result
    }

    /// fdatasync of every segment written since the last sync (+ fsync of the directory
    /// when a segment file was created or deleted), when `fdatasync` is on; otherwise
    /// only forgets what was written. Call after [`write_pending`](Self::write_pending).
    /// A failed sync fails the log: written data may be lost (the kernel may drop the
    /// dirty pages), so every later write and sync fails until it is reopened.
    pub fn sync(&self) -> StoreResult<()> {
        let _syncer = self.sync_lock.lock();
        let (files, dir_dirty) = {
            let mut inner = self.inner.lock();
            if let Some(reason) = &inner.failed {
                return Err(self.failed(reason));
            }
            (
                std::mem::take(&mut inner.unsynced),
                std::mem::replace(&mut inner.dir_dirty, false),
            )
        };
        if !self.fdatasync {
            return Ok(());
        }
        let synced = files
            .values()
            .try_for_each(|f| f.handle(false)?.sync_data().map_err(|e| io_err(&f.path, e)))
            .and_then(|()| match dir_dirty {
                true => file::sync_dir(&self.dir),
                false => Ok(()),
            });
        if let Err(e) = &synced {
            self.inner
                .lock()
                .failed
                .get_or_insert_with(|| e.to_string());
        }
        synced
    }

    /// Iterates a segment's records in order (positions + payloads), as they are when
    /// the scan starts (records appended later are not included), stopping cleanly at
    /// the segment's end. A damaged record yields one `Err(Corrupt)` and ends the scan.
    pub fn scan(&self, segment: u32) -> StoreResult<SegmentScan<'_>> {
        self.scan_from(segment, FILE_HEADER_LEN)
    }

    /// [`scan`](Self::scan) starting at byte `offset` of the segment, which must be
    /// where a record starts (the end of one an earlier scan returned): resumes a scan
    /// in bounded steps. An offset inside a record yields a `Corrupt` item.
    pub fn scan_from(&self, segment: u32, offset: u64) -> StoreResult<SegmentScan<'_>> {
        let inner = self.inner.lock();
        let Some(seg) = inner.segments.get(&segment) else {
            return Err(corrupt(
                &self.dir.join(file::file_name(segment)),
                format!("no segment {segment} (deleted or never written)"),
            ));
        };
        let end = inner.seg_len(segment).unwrap_or(0);
        Ok(SegmentScan::new(
            self,
            segment,
            seg.file.clone(),
            seg.written,
            end,
            inner.memory_runs(segment),
        )
        .starting_at(offset.max(FILE_HEADER_LEN)))
    }

    /// Segment numbers present, oldest first (the active one last).
    pub fn segments(&self) -> Vec<u32> {
        self.inner.lock().segments.keys().copied().collect()
    }

    /// The segment appends go to.
    pub fn active_segment(&self) -> u32 {
        self.inner.lock().active
    }

    /// Deletes a whole segment file. Refused for the active segment and for a segment
    /// with unwritten records (call `write_pending` first); a segment that does not
    /// exist is a no-op. The deletion is made durable by the next `sync`. Reads already
    /// under way on it complete; later reads of its positions fail with `Corrupt`.
    pub fn delete_segment(&self, segment: u32) -> StoreResult<()> {
        let state = {
            let mut inner = self.inner.lock();
            if segment == inner.active {
                return Err(invalid(
                    &self.dir,
                    format!("segment {segment} is the active segment and cannot be deleted"),
                ));
            }
            if inner.has_unwritten(segment) {
                return Err(invalid(
                    &self.dir,
                    format!("segment {segment} has unwritten records; write them first"),
                ));
            }
            let Some(state) = inner.segments.remove(&segment) else {
                return Ok(());
            };
            inner.unsynced.remove(&segment);
            state
        };
        match std::fs::remove_file(&state.file.path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                let path = state.file.path.clone();
                self.inner.lock().segments.insert(segment, state);
                return Err(io_err(&path, e));
            }
        }
        self.inner.lock().dir_dirty = true;
        Ok(())
    }

    /// Bytes of a segment (its records written or not, with the file header); 0 for a
    /// segment that does not exist.
    pub fn segment_bytes(&self, segment: u32) -> u64 {
        self.inner.lock().seg_len(segment).unwrap_or(0)
    }

    /// Bytes of all segments (as [`segment_bytes`](Self::segment_bytes)).
    pub fn total_bytes(&self) -> u64 {
        let inner = self.inner.lock();
        inner
            .segments
            .keys()
            .map(|&s| inner.seg_len(s).unwrap_or(0))
            .sum()
    }

    /// Bytes appended but not yet handed to `write_pending` (buffer memory in use).
    pub fn pending_bytes(&self) -> u64 {
        let inner = self.inner.lock();
        inner.pending.len() as u64 + inner.queued.iter().map(|c| c.buf.len() as u64).sum::<u64>()
    }

    fn failed(&self, reason: &str) -> StoreError {
        StoreError::Failed {
            path: self.dir.clone(),
            reason: reason.to_string(),
        }
    }
}

/// Verifies a whole record read for `pos` and returns its payload (no further copy).
fn finish(path: &Path, pos: Position, record: Vec<u8>) -> StoreResult<Bytes> {
    record::verify(&record, pos.len).map_err(|detail| {
        corrupt(
            path,
            format!(
                "record at offset {} of segment {}: {detail}",
                pos.offset, pos.segment
            ),
        )
    })?;
    Ok(Bytes::from(record).slice(RECORD_HEADER_LEN as usize..))
}

/// A new, empty segment (its file is created by the first write).
pub(super) fn new_segment(dir: &Path, id: u32) -> SegState {
    SegState {
        file: Arc::new(SegmentFile::new(dir.join(file::file_name(id)))),
        len: FILE_HEADER_LEN,
        written: 0,
    }
}

/// A misuse of the log (a too-large record, deleting the active segment).
fn invalid(dir: &Path, detail: impl Into<String>) -> StoreError {
    StoreError::Io {
        path: dir.to_path_buf(),
        source: io::Error::new(io::ErrorKind::InvalidInput, detail.into()),
    }
}
