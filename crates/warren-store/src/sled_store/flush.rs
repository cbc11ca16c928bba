//! What one group commit does, and the `SYNCED` marker that lets the next open prove
//! no synced write was lost.
//!
//! Each flush `n` applies the write-behind buffer (writing the segment log's pending
//! records first), `fdatasync`s the segments written, then records `n` in the default
//! tree, makes sled durable (`Db::flush`: write-out plus `sync_file_range`) and
//! `fdatasync`s sled's data file: bodies are durable before the entries pointing to
//! them. After that, segments that were already empty when the flush began are
//! deleted: the removals that emptied them are durable by then.
//! Only after that (waiters already woken) is `n` written to `SYNCED`. So `SYNCED` never
//! runs ahead of durable data: if an open recovers a generation below `SYNCED`, data
//! that writers were told is durable is missing, and the open fails instead of going
//! on without it. `SYNCED` itself is not fsynced: after a power cut it may lag, which
//! only weakens the check, never trips it falsely.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::Shared;
use crate::commit::Flusher;

/// The marker file's name in the data directory.
pub(super) const SYNCED_FILE: &str = "SYNCED";

/// Key of the sync generation in the default tree.
pub(super) const GENERATION_KEY: &[u8] = b"warren.synced_generation";

/// Key of the segment log's synced end (segment, byte) in the default tree, written
/// with each generation: the open checks the log still reaches it.
pub(super) const LOG_END_KEY: &[u8] = b"warren.synced_log_end";

/// Encodes a synced end.
pub(super) fn encode_log_end((segment, end): (u32, u64)) -> [u8; 12] {
    let mut b = [0u8; 12];
    b[..4].copy_from_slice(&segment.to_be_bytes());
    b[4..].copy_from_slice(&end.to_be_bytes());
    b
}

/// Decodes a synced end (None: malformed).
pub(super) fn decode_log_end(b: &[u8]) -> Option<(u32, u64)> {
    let segment = u32::from_be_bytes(b.get(..4)?.try_into().ok()?);
    let end = u64::from_be_bytes(b.get(4..12)?.try_into().ok()?);
    (b.len() == 12).then_some((segment, end))
}

const MARKER_CHECK: u64 = 0x5741_5252_454e_5359; // "WARRENSY"

pub(super) struct SledFlusher {
    pub shared: Arc<Shared>,
    pub marker: Marker,
}

impl Flusher for SledFlusher {
    fn flush(&mut self, generation: u64) -> Result<(), String> {
        let begun = self.shared.flushes_begun.fetch_add(1, Ordering::SeqCst) + 1;
        let bodies = &self.shared.bodies;
        // Empty now: the removals that emptied them are in sled already.
        let doomed = bodies.empty_segments();
        let e = self.shared.engine.read();
        // Positions of messages still live after a while go to sled (made durable by
        // this flush; not needed for durability, see `index.rs`).
        self.shared
            .index
            .tick(&e, false, || e.next_id())
            .map_err(|err| err.to_string())?;
        // Stream appends made before this flush began are written and synced by it.
        self.shared.streams.flush()?;
        // Buffered entries go to sled first: this flush covers them.
        self.shared.drain(&e).map_err(|err| err.to_string())?;
        let log_end = bodies.appended_end();
        bodies.log.write_pending().map_err(|err| err.to_string())?;
        bodies.log.sync().map_err(|err| err.to_string())?;
        e.db.insert(LOG_END_KEY, &encode_log_end(log_end))
            .map_err(|err| err.to_string())?;
        e.db.insert(GENERATION_KEY, &generation.to_be_bytes())
            .map_err(|err| err.to_string())?;
        e.db.flush().map_err(|err| err.to_string())?;
        if let Some(file) = &e.data_file {
            file.sync_data()
                .map_err(|err| format!("fdatasync {}: {err}", e.path.join("db").display()))?;
        }
        drop(e);
        // Everything appended or applied to sled before this flush began is durable.
        self.shared.flushes_done.store(begun, Ordering::SeqCst);
        bodies.delete(&doomed);
        Ok(())
    }

    fn idle(&mut self) {
        // Writes nobody syncs (publishes without confirms) still reach sled, whose
        // background flusher then writes them out, as before the buffer existed.
        let bodies = &self.shared.bodies;
        let doomed = bodies.empty_segments();
        if self.shared.pending.is_empty() && doomed.is_empty() && self.shared.index.is_empty() {
            return;
        }
        let e = self.shared.engine.read();
        if let Err(err) = self.shared.index.tick(&e, false, || e.next_id()) {
            tracing::error!(store = %self.shared.path.display(), "indexing message positions failed: {err}");
        }
        if let Err(err) = self.shared.drain(&e) {
            tracing::error!(store = %self.shared.path.display(), "applying buffered writes failed: {err}");
            return;
        }
        if !doomed.is_empty() {
            // The removals that emptied them must be durable before the files go (and
            // the log refuses to delete a segment with records it has not written).
            let flushed = bodies.log.write_pending().map_err(|err| err.to_string());
            let flushed = flushed
                .and_then(|()| e.db.flush().map_err(|err| err.to_string()))
                .and_then(|_| {
                    e.data_file
                        .as_ref()
                        .map_or(Ok(()), |f| f.sync_data().map_err(|err| err.to_string()))
                });
            if let Err(err) = flushed {
                tracing::error!(store = %self.shared.path.display(), "flushing removals failed: {err}");
                return;
            }
            drop(e);
            bodies.delete(&doomed);
        }
    }

    fn flushed(&mut self, generation: u64) {
        if let Err(e) = self.marker.write(generation) {
            tracing::warn!(file = %self.marker.path.display(), "cannot update sync marker: {e}");
        }
    }
}

/// The `SYNCED` file: the generation, then the generation xor a constant (so a torn or
/// foreign file reads as unusable rather than as a wrong number).
pub(super) struct Marker {
    pub path: PathBuf,
    file: File,
}

impl Marker {
    pub(super) fn open(dir: &Path) -> io::Result<Marker> {
        let path = dir.join(SYNCED_FILE);
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)?;
        Ok(Marker { path, file })
    }

    /// The recorded generation: 0 if none, `None` if the file is unreadable garbage.
    pub(super) fn read(&self) -> io::Result<Option<u64>> {
        let len = self.file.metadata()?.len();
        if len == 0 {
            return Ok(Some(0));
        }
        let mut buf = [0u8; 16];
        if len != 16 {
            return Ok(None);
        }
        self.file.read_exact_at(&mut buf, 0)?;
        let mut a = [0u8; 8];
        let mut b = [0u8; 8];
        a.copy_from_slice(&buf[..8]);
        b.copy_from_slice(&buf[8..]);
        let (generation, check) = (u64::from_be_bytes(a), u64::from_be_bytes(b));
        Ok((generation ^ MARKER_CHECK == check).then_some(generation))
    }

    pub(super) fn write(&self, generation: u64) -> io::Result<()> {
        let mut buf = [0u8; 16];
        buf[..8].copy_from_slice(&generation.to_be_bytes());
        buf[8..].copy_from_slice(&(generation ^ MARKER_CHECK).to_be_bytes());
        self.file.write_all_at(&buf, 0)
    }
}
