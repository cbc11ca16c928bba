//! The stored streams of one store: each stream's log in its own directory under the
//! store's (`streams/<queue id>/`), and the group commit's part in them: every flush
//! writes and syncs the logs appended to since the previous one, before the flush
//! completes, so a ticket taken after an append resolves only once it is on disk.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};

use parking_lot::Mutex;

use super::StreamLog;
use crate::error::{StoreError, StoreResult};

/// The streams directory of a store and its open logs.
pub struct StreamRegistry {
    dir: PathBuf,
    logs: Mutex<HashMap<u64, Weak<StreamLog>>>,
}

impl std::fmt::Debug for StreamRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamRegistry")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl StreamRegistry {
    /// Streams under `dir` (created when the first stream opens).
    pub fn new(dir: PathBuf) -> StreamRegistry {
        StreamRegistry {
            dir,
            logs: Mutex::new(HashMap::new()),
        }
    }

    fn stream_dir(&self, queue: u64) -> PathBuf {
        self.dir.join(queue.to_string())
    }

    /// Opens (creating) stream `queue`'s log; an open one is shared.
    pub fn open(&self, queue: u64, segment_bytes: u64) -> StoreResult<Arc<StreamLog>> {
        let mut logs = self.logs.lock();
        if let Some(log) = logs.get(&queue).and_then(Weak::upgrade) {
            return Ok(log);
        }
        let log = Arc::new(StreamLog::open_dir(&self.stream_dir(queue), segment_bytes)?);
        logs.insert(queue, Arc::downgrade(&log));
        Ok(log)
    }

    /// Deletes stream `queue`'s directory (its queue is deleted).
    pub fn delete(&self, queue: u64) -> StoreResult<()> {
        self.logs.lock().remove(&queue);
        let dir = self.stream_dir(queue);
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(StoreError::Io { path: dir, source }),
        }
    }

    /// Writes and syncs every log appended to since the last flush (the group
    /// commit calls this before it completes a flush).
    pub fn flush(&self) -> Result<(), String> {
        let logs: Vec<Arc<StreamLog>> = {
            let mut logs = self.logs.lock();
            logs.retain(|_, l| l.strong_count() > 0);
            logs.values().filter_map(Weak::upgrade).collect()
        };
        for log in logs {
            log.flush().map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// The streams directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}
