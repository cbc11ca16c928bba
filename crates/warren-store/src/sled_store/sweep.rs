//! The messages pass of opening, run after the store is open: it reads the `messages`
//! tree (positions of the records in the segment log, never a body), deletes messages
//! no entry referenced at open (a crash between `put_message` and `enqueue`, or entries
//! dropped because their body was lost), reports entries whose message is missing, and
//! adds the position records' bytes to the live total. Until it is done no segment is
//! deleted (an unreferenced record it has not removed yet may point into one).
//!
//! It runs on the compaction thread before that thread's first compaction check, so
//! the broker accepts connections while it runs and no compaction can start from a
//! live total that does not count the messages yet. Running it late is safe: a message
//! unreferenced at open can never be referenced again (new entries reference new ids or
//! ids that were referenced), and readers skip entries whose message is missing.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::Shared;
use crate::error::StoreResult;
use crate::keys;

/// What the open-time entries pass leaves for the sweep.
pub(super) struct SweepJob {
    /// Message ids referenced by entries at open, sorted (duplicates: fanned out).
    pub referenced: Vec<u64>,
    /// Ids from here on were written after the open: never candidates.
    pub below: u64,
}

/// What the sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SweepReport {
    /// Messages deleted because no entry referenced them.
    pub orphan_messages: u64,
    /// Entries whose message was missing (skipped by readers, who remove them).
    pub dangling_entries: u64,
    /// How long the pass took.
    pub elapsed: Duration,
}

/// Messages deleted while the pass runs. The pass reads the messages while the broker
/// already acks, expires and dead-lettering removes: an entry referenced at open whose
/// message went meanwhile was removed with it, so it is not dangling.
pub(crate) struct SweepDrops {
    recording: AtomicBool,
    ids: Mutex<Vec<u64>>,
}

impl SweepDrops {
    /// Recording from the open on (the pass turns it off when it ends).
    pub(super) fn recording() -> SweepDrops {
        SweepDrops {
            recording: AtomicBool::new(true),
            ids: Mutex::new(Vec::new()),
        }
    }

    /// Message `id` was deleted. Costs one relaxed load once the pass is over.
    pub(crate) fn note(&self, id: u64) {
        if self.recording.load(Ordering::Relaxed) {
            self.ids.lock().push(id);
        }
    }

    /// Stops recording and returns what was recorded.
    fn finish(&self) -> HashSet<u64> {
        self.recording.store(false, Ordering::Relaxed);
        std::mem::take(&mut *self.ids.lock()).into_iter().collect()
    }
}

/// Runs the pass. `stop` is polled now and then; when it returns true the pass ends
/// early (the store is closing; the next open repeats it).
pub(super) fn sweep(
    shared: &Shared,
    job: SweepJob,
    stop: impl Fn() -> bool,
) -> StoreResult<SweepReport> {
    let mut dangling = Vec::new();
    let result = sweep_messages(shared, job, stop, &mut dangling);
    let dropped = shared.sweep_drops.finish();
    let mut report = result?;
    shared.bodies.start_deleting();
    report.dangling_entries = dangling.iter().filter(|id| !dropped.contains(id)).count() as u64;
    if report.dangling_entries > 0 {
        tracing::error!(store = %shared.path.display(), entries = report.dangling_entries, "queue entries without their message: skipped when read");
    }
    tracing::info!(store = %shared.path.display(), ?report, "store: messages pass done");
    Ok(report)
}

/// The pass itself; the ids of entries whose message it did not find go to `dangling`.
fn sweep_messages(
    shared: &Shared,
    job: SweepJob,
    stop: impl Fn() -> bool,
    dangling: &mut Vec<u64>,
) -> StoreResult<SweepReport> {
    let began = Instant::now();
    let ids = job.referenced;
    let mut report = SweepReport::default();
    let mut orphans = Vec::new();
    let mut next = 0;
    {
        let e = shared.engine.read();
        for (n, item) in e.trees.messages.iter().enumerate() {
            if n % 16_384 == 0 && stop() {
                return Ok(report);
            }
            let (k, v) = item.map_err(|err| e.sled_err(err))?;
            let id = keys::split_message(&k)
                .ok_or_else(|| e.corrupt("message key", format!("{} bytes", k.len())))?;
            if id >= job.below {
                break;
            }
            while next < ids.len() && ids[next] < id {
                dangling.push(ids[next]);
                next += 1;
            }
            let start = next;
            while next < ids.len() && ids[next] == id {
                next += 1;
            }
            if next == start {
                orphans.push(k);
            } else {
                shared.add_live(k.len() + v.len());
            }
        }
        dangling.extend_from_slice(&ids[next..]);
        for k in &orphans {
            e.trees.messages.remove(k).map_err(|err| e.sled_err(err))?;
        }
    }
    report.orphan_messages = orphans.len() as u64;
    report.elapsed = began.elapsed();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sled_store::SledStore;
    use crate::StoreConfig;

    // Regression (seen in crates/warren-server/tests/chaos.rs's broker logs): messages
    // acked or dead-lettered while the pass ran were reported as "queue entries
    // without their message", an ERROR for what was a normal removal.
    #[test]
    fn entries_whose_message_was_deleted_during_the_pass_are_not_dangling() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = StoreConfig::new(dir.path());
        config.compaction.check_every = None;
        let store = SledStore::open(&config).unwrap();
        let drops = &store.shared.sweep_drops;
        // The open-time pass has run: it no longer records.
        drops.note(1);
        assert!(drops.finish().is_empty());

        // Another pass: messages 7 and 9 were referenced at open and are not in the
        // (empty) store; 7 was deleted while the pass ran, 9 is really missing.
        drops.recording.store(true, Ordering::Relaxed);
        drops.note(7);
        let job = SweepJob {
            referenced: vec![7, 9],
            below: u64::MAX,
        };
        let report = sweep(&store.shared, job, || false).unwrap();
        assert_eq!(report.dangling_entries, 1);
        // And the pass stopped recording.
        drops.note(11);
        assert!(drops.finish().is_empty());
    }
}
