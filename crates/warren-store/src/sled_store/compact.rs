//! Giving disk space back. sled 0.34 reuses the space of removed data but never
//! shrinks its file (measured: a drained 370 MB database stays 370 MB, even after
//! `drop_tree` and a restart). So the store compacts itself: it copies the live data
//! into a fresh sled database in a new directory and switches to it.
//!
//! The switch is crash-safe: the new database is flushed, then the `CURRENT` file (the
//! name of the live sled directory) is replaced atomically (write, fsync, rename, fsync
//! the directory). A crash before the rename keeps the old database (the half-built one
//! is deleted at the next open); after it, the new one is complete.
//!
//! Writes wait while a compaction copies (it holds the engine lock), so it only runs
//! when the live data is small: by default when the files exceed 64 MiB and four times
//! the live data, and the live data is under 16 MiB — after a backlog drained.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use super::engine::{open_sled, Engine, ID_BASE_KEY, TREE_NAMES};
use super::segment_compact::STEP_PAUSE;
use super::Shared;
use crate::error::{StoreError, StoreResult};

/// The file naming the live sled directory.
pub(super) const CURRENT_FILE: &str = "CURRENT";
/// The sled directory of a store that was never compacted.
pub(super) const FIRST_DIR: &str = "sled";

/// What a compaction did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compaction {
    /// Bytes of the sled directory before.
    pub before_bytes: u64,
    /// Bytes of the sled directory after.
    pub after_bytes: u64,
    /// How long writers waited.
    pub paused: Duration,
}

/// The live sled directory's name (from `CURRENT`, or the first one).
pub(super) fn current_dir(data_dir: &Path) -> StoreResult<String> {
    let path = data_dir.join(CURRENT_FILE);
    match std::fs::read_to_string(&path) {
        Ok(name) => {
            let name = name.trim().to_string();
            if is_sled_dir(&name) {
                Ok(name)
            } else {
                Err(StoreError::Corrupt {
                    path,
                    detail: format!("names {name:?}, not a sled directory"),
                })
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(FIRST_DIR.to_string()),
        Err(source) => Err(StoreError::Io { path, source }),
    }
}

/// Deletes sled directories other than the live one (left by a compaction that was
/// interrupted, or whose old database was still open when it finished).
pub(super) fn remove_stale_dirs(data_dir: &Path, live: &str) {
    let Ok(entries) = std::fs::read_dir(data_dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if is_sled_dir(&name) && name != live && entry.path().is_dir() {
            if let Err(e) = std::fs::remove_dir_all(entry.path()) {
                tracing::warn!(dir = %entry.path().display(), "cannot remove stale sled directory: {e}");
            }
        }
    }
}

/// Whether `name` is one of the store's sled directories (`sled` or `sled-N`).
fn is_sled_dir(name: &str) -> bool {
    name == FIRST_DIR
        || name
            .strip_prefix("sled-")
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

fn next_dir(current: &Path) -> String {
    let name = current
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let n: u64 = name
        .strip_prefix("sled-")
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    format!("sled-{}", n + 1)
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Points `CURRENT` at `name`, durably.
fn switch_current(data_dir: &Path, name: &str) -> StoreResult<()> {
    let tmp = data_dir.join("CURRENT.tmp");
    let mut f = std::fs::File::create(&tmp).map_err(io(&tmp))?;
    f.write_all(name.as_bytes()).map_err(io(&tmp))?;
    f.sync_all().map_err(io(&tmp))?;
    drop(f);
    let current = data_dir.join(CURRENT_FILE);
    std::fs::rename(&tmp, &current).map_err(io(&current))?;
    std::fs::File::open(data_dir)
        .and_then(|d| d.sync_all())
        .map_err(io(data_dir))
}

/// Copies every tree of `from` into a new database at `to`, flushed.
fn copy_into(from: &Engine, to: &Path, shared: &Shared) -> StoreResult<sled::Db> {
    if to.exists() {
        std::fs::remove_dir_all(to).map_err(io(to))?;
    }
    let new = open_sled(&shared.config, to)?;
    let err = |e| StoreError::from_sled(to, e);
    let copy = |src: &sled::Tree, dst: &sled::Tree| -> StoreResult<()> {
        let mut batch = sled::Batch::default();
        let mut n = 0;
        for item in src.iter() {
            let (k, v) = item.map_err(|e| from.sled_err(e))?;
            batch.insert(k, v);
            n += 1;
            if n % 1024 == 0 {
                dst.apply_batch(std::mem::take(&mut batch)).map_err(err)?;
            }
        }
        dst.apply_batch(batch).map_err(err)
    };
    copy(&from.db, &new)?;
    for name in TREE_NAMES {
        let src = from.db.open_tree(name).map_err(|e| from.sled_err(e))?;
        let dst = new.open_tree(name).map_err(err)?;
        copy(&src, &dst)?;
    }
    // Ids continue above every id the old database handed out.
    let id_base = from.next_id()? + 1;
    new.insert(ID_BASE_KEY, &id_base.to_be_bytes())
        .map_err(err)?;
    new.flush().map_err(err)?;
    Ok(new)
}

/// Compacts now: copies the live data into a new sled directory and switches to it.
pub(super) fn compact(shared: &Shared) -> StoreResult<Compaction> {
    let mut engine = shared.engine.write();
    let began = Instant::now();
    let before_bytes = super::dir_bytes(&engine.path);
    let name = next_dir(&engine.path);
    let new_path: PathBuf = shared.path.join(&name);
    let db = copy_into(&engine, &new_path, shared)?;
    let new = Engine::with_db(&shared.config, &new_path, db)?;
    if let Some(file) = &new.data_file {
        // sled's flush stops at sync_file_range: make the copy durable before CURRENT
        // names it, file sizes and directory entries included.
        file.sync_all().map_err(io(&new_path))?;
        std::fs::File::open(&new_path)
            .and_then(|d| d.sync_all())
            .map_err(io(&new_path))?;
    }
    if let Err(e) = switch_current(&shared.path, &name) {
        // Go on with whichever database the next open will read.
        if current_dir(&shared.path).ok().as_deref() != Some(name.as_str()) {
            drop(new);
            let _ = std::fs::remove_dir_all(&new_path);
            return Err(e);
        }
        tracing::warn!(store = %shared.path.display(), "compaction switched, but: {e}");
    }
    let old = std::mem::replace(&mut *engine, new);
    let after_bytes = super::dir_bytes(&engine.path);
    drop(engine);
    let old_path = old.path.clone();
    drop(old);
    if let Err(e) = std::fs::remove_dir_all(&old_path) {
        tracing::warn!(dir = %old_path.display(), "cannot remove the compacted database: {e}");
    }
    shared.compactions.fetch_add(1, Ordering::Relaxed);
    let report = Compaction {
        before_bytes,
        after_bytes,
        paused: began.elapsed(),
    };
    tracing::info!(store = %shared.path.display(), ?report, "compacted");
    Ok(report)
}

/// Whether the files are big enough, and the live data small enough, to compact.
pub(super) fn worthwhile(shared: &Shared) -> bool {
    let c = &shared.config.compaction;
    let live = shared.live_bytes.load(Ordering::Relaxed);
    let size = super::dir_bytes(&shared.engine.read().path);
    size >= c.min_file_bytes
        && live <= c.max_live_bytes
        && size >= live.saturating_mul(u64::from(c.ratio))
}

/// The compaction loop, until stopped: every `every`, compacts sled if worthwhile and
/// checks for mostly-dead segments; while one is being compacted, a step of it every
/// `STEP_PAUSE` (see `segment_compact.rs`).
fn maintain(shared: &Shared, stop: &(Mutex<bool>, Condvar), every: Duration) {
    let mut next_check = Instant::now() + every;
    loop {
        // `try_lock` throughout: a `compact_segments` call may hold it for a while.
        let moving = shared
            .segment_compactor
            .try_lock()
            .is_some_and(|c| c.in_progress());
        {
            let (stopped, cv) = stop;
            let mut stopped = stopped.lock();
            if !*stopped {
                let until = if moving {
                    Instant::now() + STEP_PAUSE
                } else {
                    next_check
                };
                cv.wait_until(&mut stopped, until);
            }
            if *stopped {
                if let Some(mut c) = shared.segment_compactor.try_lock() {
                    c.abandon(shared);
                }
                return;
            }
        }
        let check = Instant::now() >= next_check;
        if check {
            next_check = Instant::now() + every;
            if worthwhile(shared) {
                if let Err(e) = compact(shared) {
                    tracing::error!(store = %shared.path.display(), "compaction failed: {e}");
                }
            }
        }
        if check || moving {
            if let Some(mut compactor) = shared.segment_compactor.try_lock() {
                if let Err(e) = compactor.tick(shared) {
                    tracing::error!(store = %shared.path.display(), "segment compaction failed: {e}");
                }
            }
        }
    }
}

/// The background thread that compacts when worthwhile.
pub(super) struct Maintenance {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Maintenance {
    /// Starts the thread; it first runs the open's messages pass (`sweep`), if given.
    pub(super) fn start(
        shared: Arc<Shared>,
        every: Duration,
        sweep: Option<super::sweep::SweepJob>,
    ) -> StoreResult<Maintenance> {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let thread_stop = stop.clone();
        let path = shared.path.clone();
        let thread = std::thread::Builder::new()
            .name("warren-store-compact".into())
            .spawn(move || {
                if let Some(job) = sweep {
                    let stopping = || *thread_stop.0.lock();
                    if let Err(e) = super::sweep::sweep(&shared, job, stopping) {
                        tracing::error!(store = %shared.path.display(), "messages pass failed: {e}");
                    }
                }
                maintain(&shared, &thread_stop, every)
            })
            .map_err(|source| StoreError::Io { path, source })?;
        Ok(Maintenance {
            stop,
            thread: Some(thread),
        })
    }

    pub(super) fn shutdown(&mut self) {
        {
            let (stopped, cv) = &*self.stop;
            *stopped.lock() = true;
            cv.notify_all();
        }
        if let Some(t) = self.thread.take() {
            if t.join().is_err() {
                tracing::error!("warren-store compaction thread panicked");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_stores_own_directories_count_as_sled_directories() {
        assert!(is_sled_dir("sled"));
        assert!(is_sled_dir("sled-12"));
        assert!(!is_sled_dir("sled-"));
        assert!(!is_sled_dir("sled-backup"));
        assert!(!is_sled_dir("sledge"));
        assert!(!is_sled_dir("../sled-1"));
        assert_eq!(next_dir(Path::new("/d/sled")), "sled-1");
        assert_eq!(next_dir(Path::new("/d/sled-9")), "sled-10");
    }
}
