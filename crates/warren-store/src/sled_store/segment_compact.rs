//! Compaction of mostly-dead segments: a sealed segment whose live records take less
//! than `CompactionConfig::segment_live_percent` of its bytes (one long-lived message
//! keeping a 64 MiB file) has its live records copied to the head of the log, and is
//! then retired and deleted. Bounded work per step: each step scans at most
//! `segment_step_bytes` of the segment (and `STEP_RECORDS` records), copying the live
//! ones; the background thread pauses `STEP_PAUSE` between steps. Nothing here runs
//! on a tokio worker, and no lock the publish or confirm path waits on is held for
//! more than one append (the live-count lock) or one `pwrite` of the copies.
//!
//! The copies are not referenced by rewriting the entries (that needs a reverse
//! index from message to entries) but through forwards (`forward.rs`). Order, so that
//! a crash anywhere recovers every live message once:
//!
//! 1. `begin`: the segment is marked moving (releases of its records are noted).
//! 2. `step`s: each live record (its message still stored, its position resolving
//!    here) is appended again — a new record with the same bytes, counted live where
//!    it lands. A crash now leaves dead copies (no entry or forward reaches them; a
//!    torn one is cut by the log's recovery) and the segment as it was.
//! 3. `make_copies_durable`: the log is written and `fdatasync`ed.
//! 4. `commit_forwards`: one sled batch — a forward per copy and the retired marker —
//!    then sled is made durable. Before it is durable, a crash leaves step 2's state;
//!    after, the open resolves every entry into the segment through the forwards.
//! 5. `retire`: the forwards take effect in memory; copies of messages deleted
//!    during the move are uncounted; the segment's file is deleted (a crash before
//!    that: it holds nothing live at the next open and goes with the first flush).

use std::time::{Duration, Instant};

use super::forward;
use super::Shared;
use crate::codec;
use crate::error::{StoreError, StoreResult};
use crate::segment::Position;

/// Records scanned per step at most (bounds the sled lookups of one step).
pub(super) const STEP_RECORDS: usize = 16_384;

/// Pause between two steps of one segment's compaction on the background thread.
pub(super) const STEP_PAUSE: Duration = Duration::from_millis(10);

/// What segment compaction did (totals of one call, or since open).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SegmentCompaction {
    /// Segments compacted and deleted.
    pub segments: u64,
    /// Live records copied to the head of the log.
    pub records_copied: u64,
    /// Bytes of those records (headers included).
    pub bytes_copied: u64,
    /// Bytes of the deleted segment files.
    pub bytes_freed: u64,
    /// Steps taken.
    pub steps: u64,
    /// The longest step (scan and copies, not the durable commit at the end).
    pub longest_step: Duration,
    /// Time spent making copies and forwards durable (once per segment).
    pub commit_time: Duration,
}

/// One segment being compacted.
#[derive(Debug)]
pub(super) struct Move {
    pub segment: u32,
    /// Where the next step scans from (a record boundary).
    cursor: u64,
    /// (old position, copy) of every record copied so far.
    pub moved: Vec<(Position, Position)>,
    done: bool,
}

/// The compaction state kept between steps (one at a time: behind a mutex).
#[derive(Debug, Default)]
pub(crate) struct SegmentCompactor {
    current: Option<Move>,
    /// Candidates at the last check: a segment is compacted once it is a candidate at
    /// two checks in a row (one emptying by itself is deleted whole instead).
    last_candidates: Vec<u32>,
    /// Totals since open.
    pub totals: SegmentCompaction,
}

/// Starts compacting `segment`.
pub(super) fn begin(shared: &Shared, segment: u32) -> Option<Move> {
    shared.bodies.begin_move(segment).then(|| Move {
        segment,
        cursor: 0,
        moved: Vec::new(),
        done: false,
    })
}

/// One bounded step: scans up to `budget` bytes (at least one record) from the
/// cursor, copying live records. Returns the bytes copied.
pub(super) fn step(shared: &Shared, mv: &mut Move, budget: u64) -> StoreResult<u64> {
    let bodies = &shared.bodies;
    let e = shared.engine.read();
    let mut scanned = 0u64;
    let mut copied = 0u64;
    let mut records = 0;
    let mut scan = bodies.log.scan_from(mv.segment, mv.cursor)?;
    loop {
        if scanned >= budget.max(1) || records >= STEP_RECORDS {
            return Ok(copied);
        }
        let Some(item) = scan.next() else {
            mv.done = true;
            return Ok(copied);
        };
        let (at, payload) = item?;
        let len = super::bodies::record_bytes(at);
        scanned += len;
        records += 1;
        mv.cursor = u64::from(at.offset) + len;
        let id = payload
            .get(..8)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map(u64::from_be_bytes)
            .ok_or_else(|| StoreError::Corrupt {
                path: bodies.log.dir().join(format!("{:010}.seg", at.segment)),
                detail: format!("record at {} too short for a message", at.offset),
            })?;
        let live = match shared.locate(&e, id)? {
            Some(stored) => bodies.resolve(stored) == at,
            None => false,
        };
        if live {
            let to = bodies.append_copy(&payload)?;
            mv.moved.push((at, to));
            copied += len;
        }
    }
}

/// Whether every record of the segment has been scanned.
pub(super) fn scanned_all(mv: &Move) -> bool {
    mv.done
}

/// How long to wait for a group commit to make copies or forwards durable before
/// doing it here (no publisher traffic: then an extra `fdatasync` delays nobody).
const RIDE_ALONG: Duration = Duration::from_millis(100);

/// Waits for a group commit begun after this call to complete (true), at most
/// `RIDE_ALONG`. Under publisher traffic one completes within a few milliseconds, and
/// compaction adds no `fdatasync` of its own to the confirm path.
fn ride_along(shared: &Shared) -> bool {
    use std::sync::atomic::Ordering;
    let target = shared.flushes_begun.load(Ordering::SeqCst) + 1;
    let deadline = Instant::now() + RIDE_ALONG;
    while shared.flushes_done.load(Ordering::SeqCst) < target {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    true
}

/// Makes the copies durable before any forward names them: by the next group commit
/// (which writes and syncs everything appended before it began), or by writing and
/// syncing the log here.
pub(super) fn make_copies_durable(shared: &Shared) -> StoreResult<()> {
    if ride_along(shared) {
        return Ok(());
    }
    shared.bodies.log.write_pending()?;
    shared.bodies.log.sync()
}

/// Writes the forwards and the retired marker in one batch and makes sled durable.
pub(super) fn commit_forwards(shared: &Shared, mv: &Move) -> StoreResult<()> {
    let e = shared.engine.read();
    let mut batch = sled::Batch::default();
    for &(from, to) in &mv.moved {
        batch.insert(
            &forward::key(from.segment, from.offset)[..],
            &codec::encode_position(to)[..],
        );
    }
    batch.insert(&forward::key(mv.segment, 0)[..], &[][..]);
    e.trees
        .moved
        .apply_batch(batch)
        .map_err(|err| e.sled_err(err))?;
    drop(e);
    if ride_along(shared) {
        return Ok(());
    }
    let e = shared.engine.read();
    e.db.flush().map_err(|err| e.sled_err(err))?;
    if let Some(file) = &e.data_file {
        file.sync_data().map_err(|source| StoreError::Io {
            path: e.path.join("db"),
            source,
        })?;
    }
    Ok(())
}

/// Makes the forwards take effect and deletes the segment's file. Returns its size.
pub(super) fn retire(shared: &Shared, mv: &Move) -> StoreResult<u64> {
    let size = shared.bodies.log.segment_bytes(mv.segment);
    let dead = shared.bodies.retire(mv.segment, &mv.moved);
    {
        let e = shared.engine.read();
        for k in dead {
            e.trees.moved.remove(k).map_err(|err| e.sled_err(err))?;
        }
    }
    shared.bodies.log.delete_segment(mv.segment)?;
    Ok(size)
}

/// Gives a move up (tests: the state a crash leaves, then the store closes).
#[cfg(test)]
pub(super) fn abandon_for_test(shared: &Shared, mv: Move) {
    shared.bodies.abort_move(mv.segment, &mv.moved);
}

/// Steps 3-5 for a move whose scan is complete; gives the move up on failure.
fn finish(shared: &Shared, mv: Move, totals: &mut SegmentCompaction) -> StoreResult<()> {
    let began = Instant::now();
    let result = make_copies_durable(shared).and_then(|()| commit_forwards(shared, &mv));
    if let Err(err) = result {
        shared.bodies.abort_move(mv.segment, &mv.moved);
        return Err(err);
    }
    let freed = retire(shared, &mv)?;
    totals.commit_time += began.elapsed();
    totals.segments += 1;
    totals.bytes_freed += freed;
    tracing::info!(store = %shared.path.display(), segment = mv.segment,
        records = mv.moved.len(), "segment compacted: live records copied, file deleted");
    Ok(())
}

/// One step of a move, timed; on failure the move is given up (its copies are dead).
/// Ok(false): the segment was deleted meanwhile (it emptied between the choice and
/// the start of the move: nothing left to copy), the move is dropped.
fn timed_step(
    shared: &Shared,
    mv: &mut Move,
    budget: u64,
    totals: &mut SegmentCompaction,
) -> StoreResult<bool> {
    let began = Instant::now();
    let before = mv.moved.len();
    match step(shared, mv, budget) {
        Ok(bytes) => {
            totals.steps += 1;
            totals.bytes_copied += bytes;
            totals.records_copied += (mv.moved.len() - before) as u64;
            totals.longest_step = totals.longest_step.max(began.elapsed());
            Ok(true)
        }
        Err(err) => {
            shared.bodies.abort_move(mv.segment, &mv.moved);
            if !shared.bodies.log.segments().contains(&mv.segment) {
                tracing::debug!(
                    segment = mv.segment,
                    "segment deleted before its compaction"
                );
                return Ok(false);
            }
            Err(err)
        }
    }
}

impl SegmentCompactor {
    /// Whether a segment is being compacted (the thread steps again soon).
    pub(super) fn in_progress(&self) -> bool {
        self.current.is_some()
    }

    /// One tick of the background thread: a step of the current move (finishing it
    /// when its scan is complete), or a check for a new candidate.
    pub(super) fn tick(&mut self, shared: &Shared) -> StoreResult<()> {
        let c = &shared.config.compaction;
        let Some(mut mv) = self.current.take() else {
            let now = shared.bodies.compaction_candidates(c.segment_live_percent);
            let pick = now
                .iter()
                .map(|(s, _)| *s)
                .find(|s| self.last_candidates.contains(s));
            self.last_candidates = now.into_iter().map(|(s, _)| s).collect();
            if let Some(segment) = pick {
                self.current = begin(shared, segment);
            }
            return Ok(());
        };
        if scanned_all(&mv) {
            return finish(shared, mv, &mut self.totals);
        }
        if timed_step(shared, &mut mv, c.segment_step_bytes, &mut self.totals)? {
            self.current = Some(mv);
        }
        Ok(())
    }

    /// Compacts every candidate now (and the move under way), step after step without
    /// pauses. Returns what this call did.
    pub(super) fn run_all(&mut self, shared: &Shared) -> StoreResult<SegmentCompaction> {
        let c = &shared.config.compaction;
        let before = self.totals;
        let mut queue: Vec<u32> = shared
            .bodies
            .compaction_candidates(c.segment_live_percent)
            .into_iter()
            .map(|(s, _)| s)
            .collect();
        queue.reverse();
        loop {
            let mut mv = match self.current.take() {
                Some(mv) => mv,
                None => match queue.pop() {
                    Some(segment) => match begin(shared, segment) {
                        Some(mv) => mv,
                        None => continue,
                    },
                    None => break,
                },
            };
            let mut kept = true;
            while kept && !scanned_all(&mv) {
                kept = timed_step(shared, &mut mv, c.segment_step_bytes, &mut self.totals)?;
            }
            if kept {
                finish(shared, mv, &mut self.totals)?;
            }
        }
        let t = self.totals;
        Ok(SegmentCompaction {
            segments: t.segments - before.segments,
            records_copied: t.records_copied - before.records_copied,
            bytes_copied: t.bytes_copied - before.bytes_copied,
            bytes_freed: t.bytes_freed - before.bytes_freed,
            steps: t.steps - before.steps,
            longest_step: t.longest_step,
            commit_time: t.commit_time - before.commit_time,
        })
    }

    /// Gives up the move under way (the store is closing).
    pub(super) fn abandon(&mut self, shared: &Shared) {
        if let Some(mv) = self.current.take() {
            shared.bodies.abort_move(mv.segment, &mv.moved);
        }
    }
}
