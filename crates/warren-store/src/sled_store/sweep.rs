//! The messages pass of opening, run after the store is open: it reads every stored
//! message (all the bodies, the slow part of opening: ~2 s per million 1 KiB messages),
//! deletes messages no entry referenced at open (a crash between `put_message` and
//! `enqueue`), reports entries whose message is missing, and adds the messages' bytes
//! to the live total.
//!
//! It runs on the compaction thread before that thread's first compaction check, so
//! the broker accepts connections while it runs and no compaction can start from a
//! live total that does not count the messages yet. Running it late is safe: a message
//! unreferenced at open can never be referenced again (new entries reference new ids or
//! ids that were referenced), and readers skip entries whose message is missing.

use std::time::{Duration, Instant};

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

/// Runs the pass. `stop` is polled now and then; when it returns true the pass ends
/// early (the store is closing; the next open repeats it).
pub(super) fn sweep(
    shared: &Shared,
    job: SweepJob,
    stop: impl Fn() -> bool,
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
                report.dangling_entries += 1;
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
        report.dangling_entries += (ids.len() - next) as u64;
        for k in &orphans {
            e.trees.messages.remove(k).map_err(|err| e.sled_err(err))?;
        }
    }
    report.orphan_messages = orphans.len() as u64;
    report.elapsed = began.elapsed();
    if report.dangling_entries > 0 {
        tracing::error!(store = %shared.path.display(), entries = report.dangling_entries, "queue entries without their message: skipped when read");
    }
    tracing::info!(store = %shared.path.display(), ?report, "store: messages pass done");
    Ok(report)
}
