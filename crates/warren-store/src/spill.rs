//! The transient spill log: where queues put the ready messages beyond their in-memory
//! budget (the broker encodes a batch of messages as one record). A [`SegmentLog`]
//! without fdatasync in its own directory, emptied when opened: transient messages do
//! not survive a restart, so nothing in it is ever recovered.
//!
//! Records are counted per segment; a segment whose records were all released (read
//! back or dropped) is deleted whole, unless it is the one still appended to (it is
//! deleted once the log has moved past it). Appending and counting happen under one
//! short lock, so a segment is never deleted while a record is being added to it; the
//! write (one per batch) and reads happen outside it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use parking_lot::Mutex;

use crate::error::{StoreError, StoreResult};
use crate::segment::{Position, SegmentConfig, SegmentLog};

/// A spill log: append a batch, read it back, release it.
pub struct SpillLog {
    log: SegmentLog,
    dir: PathBuf,
    /// Records not yet released, per segment (a segment is listed from its first
    /// record until it is deleted).
    live: Mutex<BTreeMap<u32, u64>>,
}

impl std::fmt::Debug for SpillLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpillLog")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

fn io_error(path: &Path, source: std::io::Error) -> StoreError {
    StoreError::Io {
        path: path.to_owned(),
        source,
    }
}

impl SpillLog {
    /// Opens an empty spill log in `dir` (created if missing; whatever it held is
    /// deleted first) with segments of `segment_bytes`.
    pub fn open(dir: impl Into<PathBuf>, segment_bytes: u64) -> StoreResult<SpillLog> {
        let dir = dir.into();
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_error(&dir, e)),
        }
        std::fs::create_dir_all(&dir).map_err(|e| io_error(&dir, e))?;
        let (log, _recovery) = SegmentLog::open(SegmentConfig {
            dir: dir.clone(),
            segment_bytes,
            fdatasync: false,
        })?;
        Ok(SpillLog {
            log,
            dir,
            live: Mutex::new(BTreeMap::new()),
        })
    }

    /// The log's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Appends one record made of `parts` and writes it: one write (no sync). If an
    /// earlier write failed (its records are still buffered), that is retried first and
    /// nothing is appended while it fails, so a full disk does not grow the buffer.
    pub fn write(&self, parts: &[&[u8]]) -> StoreResult<Position> {
        if self.log.pending_bytes() > 0 {
            self.log.write_pending()?;
        }
        let (pos, rolled) = {
            let mut live = self.live.lock();
            let pos = self.log.append(parts)?;
            let rolled = !live.contains_key(&pos.segment);
            *live.entry(pos.segment).or_default() += 1;
            (pos, rolled)
        };
        if let Err(e) = self.log.write_pending() {
            self.release(pos);
            return Err(e);
        }
        if rolled {
            self.delete_released();
        }
        Ok(pos)
    }

    /// Reads a record back (checksum verified).
    pub fn read(&self, pos: Position) -> StoreResult<Bytes> {
        self.log.read(pos)
    }

    /// The record at `pos` is no longer needed; its segment goes once all its records
    /// are released and the log has moved on.
    pub fn release(&self, pos: Position) {
        let mut live = self.live.lock();
        let Some(count) = live.get_mut(&pos.segment) else {
            return;
        };
        *count = count.saturating_sub(1);
        if *count == 0 && pos.segment != self.log.active_segment() && self.delete(pos.segment) {
            live.remove(&pos.segment);
        }
    }

    /// Deletes every segment but the active one whose records were all released.
    fn delete_released(&self) {
        let mut live = self.live.lock();
        let active = self.log.active_segment();
        let done: Vec<u32> = live
            .iter()
            .filter(|&(&s, &n)| n == 0 && s != active)
            .map(|(&s, _)| s)
            .collect();
        for segment in done {
            if self.delete(segment) {
                live.remove(&segment);
            }
        }
    }

    /// Deletes a consumed segment; false if that failed (it is tried again when the log
    /// next moves to a new segment).
    fn delete(&self, segment: u32) -> bool {
        match self.log.delete_segment(segment) {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(segment, error = %e, "spill log: deleting a consumed segment failed");
                false
            }
        }
    }

    /// Segment files present.
    pub fn segments(&self) -> Vec<u32> {
        self.log.segments()
    }

    /// Bytes on disk.
    pub fn total_bytes(&self) -> u64 {
        self.log.total_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(dir: &Path) -> usize {
        std::fs::read_dir(dir)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".seg")
            })
            .count()
    }

    #[test]
    fn opening_empties_the_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("spill");
        let log = SpillLog::open(&dir, 4096).unwrap();
        let pos = log.write(&[b"left over"]).unwrap();
        assert_eq!(log.read(pos).unwrap(), Bytes::from_static(b"left over"));
        std::fs::write(dir.join("stray"), b"x").unwrap();
        drop(log);
        let log = SpillLog::open(&dir, 4096).unwrap();
        assert!(!dir.join("stray").exists());
        assert!(log.total_bytes() <= 4096, "only a fresh segment");
    }

    #[test]
    fn segments_go_once_every_record_in_them_is_released() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("spill");
        let log = SpillLog::open(&dir, 4096).unwrap();
        let payload = vec![7u8; 1000];
        let positions: Vec<Position> = (0..12).map(|_| log.write(&[&payload]).unwrap()).collect();
        let segments = log.segments();
        assert!(segments.len() >= 3, "{segments:?}");
        assert_eq!(files(&dir), segments.len());
        // Release the records of the first segment: it is deleted, the others stay.
        let first = positions[0].segment;
        for p in positions.iter().filter(|p| p.segment == first) {
            assert_eq!(log.read(*p).unwrap().len(), 1000);
            log.release(*p);
        }
        assert!(!log.segments().contains(&first));
        assert_eq!(files(&dir), segments.len() - 1);
        for p in positions.iter().filter(|p| p.segment != first) {
            log.release(*p);
        }
        // The active segment stays until the log moves past it.
        assert_eq!(log.segments().len(), 1);
        let next = log.write(&[payload.as_slice(); 4]).unwrap();
        let more = log.write(&[payload.as_slice(); 4]).unwrap();
        assert_ne!(next.segment, more.segment);
        assert!(log.segments().len() <= 2, "{:?}", log.segments());
    }
}
