//! The data-directory lock: an exclusive advisory lock (`flock`) on `<dir>/LOCK`, held
//! for the store's lifetime. The kernel drops it when the process dies, even by
//! SIGKILL, so a crashed broker never leaves a stale lock behind.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use fs2::FileExt;

use crate::error::{StoreError, StoreResult};

/// The lock file's name inside the data directory.
pub const LOCK_FILE: &str = "LOCK";

/// A held lock; released on drop.
#[derive(Debug)]
pub struct DirLock {
    file: File,
    path: PathBuf,
}

impl DirLock {
    /// Locks `dir` (which must exist), failing at once if someone else holds it.
    pub fn acquire(dir: &Path) -> StoreResult<DirLock> {
        let path = dir.join(LOCK_FILE);
        let io = |source| StoreError::Io {
            path: path.clone(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        if let Err(source) = file.try_lock_exclusive() {
            return Err(StoreError::Locked {
                path: dir.to_path_buf(),
                lock_file: path,
                source,
            });
        }
        // The holder's pid, for whoever finds the directory locked.
        file.set_len(0).map_err(io)?;
        writeln!(file, "{}", std::process::id()).map_err(io)?;
        Ok(DirLock { file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        // Closing the file releases the lock too; unlocking first makes it immediate
        // even if the descriptor was inherited somewhere.
        let _ = FileExt::unlock(&self.file);
    }
}
