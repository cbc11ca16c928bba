//! The `messages` tree (message id -> position of its record in the segment log),
//! written lazily: a message's position goes to sled only if the message is still live
//! a while (`AGE`) after it was stored. Most persistent messages are acked sooner, and
//! then their position never touches sled: no insert, no remove.
//!
//! Durability does not depend on this tree: every entry carries its message's position
//! too. The tree only serves lookups by id (`get_message`, `enqueue` of a stored
//! message). So after a crash, positions not indexed yet are rebuilt from the entries:
//! each round records a floor in sled (`INDEX_FLOOR_KEY`) below which every live
//! message is indexed, and the open inserts the position of every entry whose message
//! id is at or above the recorded floor (a bounded number: `AGE` worth of messages).
//!
//! Two generations in memory: `young` (stored since the last rotation) and `old`
//! (stored in the rotation before). The flush thread indexes `old` for at most
//! `BUDGET` per flush, and once it is empty and `AGE` has passed, `old` becomes `young`
//! and `young` starts empty. Each move from memory to sled (one position) happens
//! under the mutex that lookups and removals take, so a message is always found in
//! exactly one of them, and no caller ever waits longer than one sled insert.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::engine::Engine;
use crate::codec;
use crate::error::StoreResult;
use crate::keys;
use crate::segment::Position;

/// Key (default tree) of the floor: every live message below it is in `messages`.
pub(super) const INDEX_FLOOR_KEY: &[u8] = b"warren.index_floor";

/// How long a generation lasts (so a position waits 1-2 of these before sled).
const AGE: Duration = Duration::from_millis(250);

/// Time spent indexing per flush at most (bounds the work added to one group commit;
/// about 1,000 positions, far more than a flush interval stores).
const BUDGET: Duration = Duration::from_millis(2);

struct Gens {
    young: HashMap<u64, Position>,
    old: HashMap<u64, Position>,
    /// The ids `old` had when it was rotated in, left to index (some may be gone).
    todo: Vec<u64>,
    /// Messages below this id are indexed directly when stored (they were allocated
    /// before the last rotation but stored after it).
    floor: u64,
    rotated: Instant,
}

/// Positions of messages not in the `messages` tree yet.
pub(crate) struct LazyIndex {
    gens: Mutex<Gens>,
}

impl LazyIndex {
    /// An empty index; ids below `floor` are indexed directly when stored.
    pub(super) fn new(floor: u64) -> LazyIndex {
        LazyIndex {
            gens: Mutex::new(Gens {
                young: HashMap::new(),
                old: HashMap::new(),
                todo: Vec::new(),
                floor,
                rotated: Instant::now(),
            }),
        }
    }

    /// Notes a stored message's position. Returns the position it replaces (an id
    /// stored twice), if any was held here.
    pub(crate) fn put(&self, e: &Engine, id: u64, at: Position) -> StoreResult<Option<Position>> {
        {
            let mut g = self.gens.lock();
            if id >= g.floor {
                let old = g.old.remove(&id);
                return Ok(g.young.insert(id, at).or(old));
            }
        }
        let old = e
            .trees
            .messages
            .insert(keys::message(id), &codec::encode_position(at))
            .map_err(|err| e.sled_err(err))?;
        old.map(|v| codec::decode_position(&v))
            .transpose()
            .map_err(|err| e.corrupt(&format!("message {id} position"), err))
    }

    /// The position of message `id` if it is held here (else look in sled).
    pub(crate) fn get(&self, id: u64) -> Option<Position> {
        let g = self.gens.lock();
        g.young.get(&id).or_else(|| g.old.get(&id)).copied()
    }

    /// Takes message `id` out (it was deleted). None: it is in sled, if anywhere.
    pub(crate) fn take(&self, id: u64) -> Option<Position> {
        let mut g = self.gens.lock();
        g.young.remove(&id).or_else(|| g.old.remove(&id))
    }

    /// One step of indexing, run by the flush thread: positions of the old generation
    /// to sled for at most `BUDGET` (everything with `all`); once it is empty and `AGE`
    /// has passed (or `all`), rotates and records the new floor. `next_id` hands out a
    /// fresh id (every id allocated so far is below it).
    pub(crate) fn tick(
        &self,
        e: &Engine,
        all: bool,
        next_id: impl Fn() -> StoreResult<u64>,
    ) -> StoreResult<()> {
        let began = Instant::now();
        loop {
            let mut g = self.gens.lock();
            while let Some(id) = g.todo.pop() {
                if let Some(at) = g.old.remove(&id) {
                    e.trees
                        .messages
                        .insert(keys::message(id), &codec::encode_position(at))
                        .map_err(|err| e.sled_err(err))?;
                }
                if g.todo.len().is_multiple_of(64) {
                    // Let waiting lookups and removals in; stop when the budget is spent.
                    drop(g);
                    if !all && began.elapsed() >= BUDGET {
                        return Ok(());
                    }
                    g = self.gens.lock();
                }
            }
            if !(all || g.rotated.elapsed() >= AGE) {
                return Ok(());
            }
            // `todo` listed every id `old` held; ids are never added to `old` later.
            debug_assert!(g.old.is_empty());
            let young = std::mem::take(&mut g.young);
            let top = next_id()?;
            g.floor = young.keys().min().copied().unwrap_or(top).min(top);
            g.todo = young.keys().copied().collect();
            g.old = young;
            g.rotated = Instant::now();
            e.db.insert(INDEX_FLOOR_KEY, &g.floor.to_be_bytes())
                .map_err(|err| e.sled_err(err))?;
            if !all || g.old.is_empty() {
                return Ok(());
            }
        }
    }

    /// Whether anything waits to be indexed.
    pub(crate) fn is_empty(&self) -> bool {
        let g = self.gens.lock();
        g.young.is_empty() && g.old.is_empty()
    }
}

/// The floor recorded in sled (0: none, index everything at open).
pub(super) fn recorded_floor(e: &Engine) -> StoreResult<u64> {
    match e.db.get(INDEX_FLOOR_KEY).map_err(|err| e.sled_err(err))? {
        Some(v) => {
            Ok(u64::from_be_bytes(v.as_ref().try_into().map_err(|_| {
                e.corrupt("index floor record", "not 8 bytes")
            })?))
        }
        None => Ok(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sled_store::{SledStore, StoreConfig};

    fn at(n: u32) -> Position {
        Position {
            segment: 1,
            offset: 8 + n * 100,
            len: 90,
        }
    }

    #[test]
    fn positions_move_to_sled_after_two_rotations_and_are_found_throughout() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = StoreConfig::new(dir.path());
        config.compaction.check_every = None;
        config.background_flush_ms = None;
        let store = SledStore::open(&config).unwrap();
        let e = store.shared.engine.read();
        let index = LazyIndex::new(0);
        let in_sled = |id: u64| e.trees.messages.contains_key(keys::message(id)).unwrap();
        for id in 100..200 {
            assert_eq!(index.put(&e, id, at(id as u32)).unwrap(), None);
        }
        assert_eq!(index.take(150), Some(at(150)), "deleted while young");
        // First rotation: young becomes old, nothing in sled yet.
        index.tick(&e, true, || Ok(1_000)).unwrap();
        assert!(index.is_empty(), "`all` indexes both generations");
        for id in (100..200).filter(|&id| id != 150) {
            assert!(in_sled(id), "{id} indexed");
            assert_eq!(index.get(id), None);
        }
        assert!(!in_sled(150), "a deleted message is never indexed");
        assert_eq!(recorded_floor(&e).unwrap(), 1_000);
        // Below the floor (allocated before the rotation, stored after): straight to sled.
        index.put(&e, 500, at(5)).unwrap();
        assert!(in_sled(500) && index.get(500).is_none());
        // A young one stays in memory until it has aged.
        index.put(&e, 2_000, at(6)).unwrap();
        index.tick(&e, false, || Ok(3_000)).unwrap();
        assert_eq!(index.get(2_000), Some(at(6)));
        assert!(!in_sled(2_000));
    }
}
