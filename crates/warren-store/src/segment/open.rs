//! [`SegmentLog::open`]: finds the segments, checks the last one's tail record by record
//! and cuts what follows its last whole record.

use std::collections::BTreeMap;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::error::StoreResult;

use super::file::{self, io_err, SegmentFile};
use super::log::{new_segment, Inner, SegState, SegmentLog};
use super::record::{self, FILE_HEADER_LEN};
use super::{SegmentConfig, SegmentRecovery, TailTruncation};

impl SegmentLog {
    /// Opens the directory, creating it if missing (and, for a durable log, fsyncing its
    /// parent so the new directory outlives a power cut). The last segment's tail is checked record by
    /// record; a torn or corrupt tail is truncated (reported in [`SegmentRecovery`], not
    /// an error). Earlier segments are not read at open (one `stat` each for their size).
    /// Segment numbers start at 1.
    pub fn open(config: SegmentConfig) -> StoreResult<(SegmentLog, SegmentRecovery)> {
        let dir = config.dir;
        let created = !dir.is_dir();
        std::fs::create_dir_all(&dir).map_err(|e| io_err(&dir, e))?;
        if created && config.fdatasync {
            // The new directory's own entry must survive a power cut too, or the first
            // sync's records would be in a directory that is not there after it.
            if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
                file::sync_dir(parent)?;
            }
        }
        let segment_bytes = config.segment_bytes.clamp(4096, u64::from(u32::MAX));
        let ids = file::list(&dir)?;
        let mut segments = BTreeMap::new();
        let mut recovery = SegmentRecovery {
            segments: ids.len(),
            tail_records: 0,
            truncated: None,
        };
        let (active, pending, pending_start) = match ids.split_last() {
            None => {
                let active = 1;
                segments.insert(active, new_segment(&dir, active));
                recovery.segments = 1;
                (active, record::file_header().to_vec(), 0)
            }
            Some((&last, older)) => {
                for &id in older {
                    let path = dir.join(file::file_name(id));
                    let len = std::fs::metadata(&path)
                        .map_err(|e| io_err(&path, e))?
                        .len();
                    let file = Arc::new(SegmentFile::new(path));
                    segments.insert(
                        id,
                        SegState {
                            file,
                            len,
                            written: len,
                        },
                    );
                }
                let path = dir.join(file::file_name(last));
                let handle = std::fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(&path)
                    .map_err(|e| io_err(&path, e))?;
                let tail = file::check_tail(&path, &handle)?;
                recovery.tail_records = tail.records;
                if tail.damage.is_some() || tail.file_len > tail.valid_len {
                    // Cut whatever follows the records (a torn tail, or preallocated zeros:
                    // writes preallocate again), so no stale bytes can ever follow them.
                    handle
                        .set_len(tail.valid_len)
                        .map_err(|e| io_err(&path, e))?;
                    if config.fdatasync && tail.damage.is_none() {
                        handle.sync_data().map_err(|e| io_err(&path, e))?;
                    }
                }
                if let Some(reason) = tail.damage {
                    if tail.blank_header {
                        // Rewritten now, so the file is a valid (empty) segment at once:
                        // anything a later crash leaves after it is a tail to cut, not
                        // a foreign file.
                        handle
                            .write_all_at(&record::file_header(), 0)
                            .map_err(|e| io_err(&path, e))?;
                    }
                    if config.fdatasync {
                        handle.sync_data().map_err(|e| io_err(&path, e))?;
                    }
                    tracing::warn!(
                        file = %path.display(), offset = tail.valid_len,
                        dropped_bytes = tail.file_len - tail.valid_len, %reason,
                        "segment log: truncated a torn or corrupt tail"
                    );
                    recovery.truncated = Some(TailTruncation {
                        segment: last,
                        offset: tail.valid_len,
                        dropped_bytes: tail.file_len - tail.valid_len,
                        reason,
                    });
                }
                let written = match tail.blank_header {
                    true => FILE_HEADER_LEN,
                    false => tail.valid_len,
                };
                let file = Arc::new(SegmentFile::with_file(path, handle, written));
                segments.insert(
                    last,
                    SegState {
                        file,
                        len: written,
                        written,
                    },
                );
                (last, Vec::new(), written)
            }
        };
        let log = SegmentLog {
            dir,
            segment_bytes,
            fdatasync: config.fdatasync,
            inner: Mutex::new(Inner {
                segments,
                active,
                pending,
                pending_start,
                queued: Vec::new(),
                inflight: Vec::new(),
                unsynced: BTreeMap::new(),
                dir_dirty: false,
                spare: Vec::new(),
                failed: None,
            }),
            write_lock: Mutex::new(()),
            sync_lock: Mutex::new(()),
        };
        Ok((log, recovery))
    }
}
