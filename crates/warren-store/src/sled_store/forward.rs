//! Forwarding of message records moved by segment compaction (`segment_compact.rs`).
//!
//! A compacted ("retired") segment's live records are copied to the head of the log;
//! the queue entries and the `messages` tree keep the old positions (rewriting them
//! would need a reverse index from message to entries). Instead the sled tree `moved`
//! holds, for each retired segment, a marker (key: segment, offset 0, empty value) and
//! one forward per moved record (key: old segment, old offset; value: new position),
//! all written in one atomic batch. Positions are resolved through it — only when
//! they lie in a retired segment, so the usual read costs one uncontended read-lock
//! and a set lookup — on every body read, every release and at open. A record moved
//! twice is followed through both hops. The forwards of a message go when the message
//! is deleted; at open, forwards no entry reaches any more are dropped.

use std::collections::{HashMap, HashSet};

use crate::codec;
use crate::error::StoreResult;
use crate::segment::Position;

use super::engine::Engine;

/// At most this many hops are followed (a cycle would be damage, never a hang).
const MAX_HOPS: usize = 64;

/// The `moved` tree key of a record position (segment, offset, big-endian).
pub(crate) fn key(segment: u32, offset: u32) -> [u8; 8] {
    let mut k = [0u8; 8];
    k[..4].copy_from_slice(&segment.to_be_bytes());
    k[4..].copy_from_slice(&offset.to_be_bytes());
    k
}

fn packed(at: Position) -> u64 {
    (u64::from(at.segment) << 32) | u64::from(at.offset)
}

fn unpack(p: u64) -> [u8; 8] {
    key((p >> 32) as u32, p as u32)
}

/// The retired segments and the forwards of their moved records, in memory.
#[derive(Debug, Default)]
pub(crate) struct Forwards {
    pub(crate) retired: HashSet<u32>,
    map: HashMap<u64, Position>,
}

impl Forwards {
    /// Reads the `moved` tree.
    pub(super) fn load(e: &Engine) -> StoreResult<Forwards> {
        let mut f = Forwards::default();
        for item in e.trees.moved.iter() {
            let (k, v) = item.map_err(|err| e.sled_err(err))?;
            let k: [u8; 8] = k
                .as_ref()
                .try_into()
                .map_err(|_| e.corrupt("moved key", format!("{} bytes", k.len())))?;
            let segment = u32::from_be_bytes(k[..4].try_into().expect("4 bytes"));
            let offset = u32::from_be_bytes(k[4..].try_into().expect("4 bytes"));
            if offset == 0 {
                f.retired.insert(segment);
            } else {
                let to = codec::decode_position(&v)
                    .map_err(|err| e.corrupt("moved record position", err))?;
                f.map.insert(
                    packed(Position {
                        segment,
                        offset,
                        len: 0,
                    }),
                    to,
                );
            }
        }
        Ok(f)
    }

    /// Whether nothing was ever moved (the fast path of every read).
    pub(crate) fn is_empty(&self) -> bool {
        self.retired.is_empty()
    }

    /// Where the record first stored at `at` is now.
    pub(crate) fn resolve(&self, mut at: Position) -> Position {
        for _ in 0..MAX_HOPS {
            if !self.retired.contains(&at.segment) {
                break;
            }
            match self.map.get(&packed(at)) {
                Some(&to) => at = to,
                None => break,
            }
        }
        at
    }

    /// The forwards followed from `at`, as `moved` keys (for pruning at open).
    pub(crate) fn hops(&self, mut at: Position, out: &mut HashSet<u64>) {
        for _ in 0..MAX_HOPS {
            if !self.retired.contains(&at.segment) {
                break;
            }
            match self.map.get(&packed(at)) {
                Some(&to) => {
                    out.insert(packed(at));
                    at = to;
                }
                None => break,
            }
        }
    }

    /// Removes the forwards followed from `at` (its message was deleted): returns
    /// where it ended and the `moved` keys to delete from sled.
    pub(crate) fn take_chain(&mut self, mut at: Position) -> (Position, Vec<[u8; 8]>) {
        let mut keys = Vec::new();
        for _ in 0..MAX_HOPS {
            if !self.retired.contains(&at.segment) {
                break;
            }
            match self.map.remove(&packed(at)) {
                Some(to) => {
                    keys.push(unpack(packed(at)));
                    at = to;
                }
                None => break,
            }
        }
        (at, keys)
    }

    /// Adds a forward (a moved record still live when its segment was retired).
    pub(crate) fn insert(&mut self, from: Position, to: Position) {
        self.map.insert(packed(from), to);
    }

    /// Drops every forward not in `used` and every retired segment no used forward
    /// starts in; returns the `moved` keys to delete.
    pub(crate) fn prune(&mut self, used: &HashSet<u64>) -> Vec<[u8; 8]> {
        let mut gone: Vec<[u8; 8]> = Vec::new();
        self.map.retain(|p, _| {
            let keep = used.contains(p);
            if !keep {
                gone.push(unpack(*p));
            }
            keep
        });
        let starts: HashSet<u32> = self.map.keys().map(|p| (p >> 32) as u32).collect();
        self.retired.retain(|s| {
            let keep = starts.contains(s);
            if !keep {
                gone.push(key(*s, 0));
            }
            keep
        });
        gone
    }

    /// Forwards held (for tests).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(segment: u32, offset: u32) -> Position {
        Position {
            segment,
            offset,
            len: 10,
        }
    }

    #[test]
    fn chains_resolve_prune_and_are_taken_whole() {
        let mut f = Forwards::default();
        assert_eq!(f.resolve(at(1, 8)), at(1, 8));
        f.retired.extend([1, 2]);
        f.insert(at(1, 8), at(2, 8));
        f.insert(at(2, 8), at(5, 100));
        f.insert(at(1, 26), at(5, 200));
        assert_eq!(f.resolve(at(1, 8)), at(5, 100), "two hops");
        assert_eq!(f.resolve(at(3, 8)), at(3, 8), "not retired");
        let mut used = HashSet::new();
        f.hops(at(1, 8), &mut used);
        assert_eq!(used.len(), 2);
        let gone = f.prune(&used);
        assert_eq!(gone, vec![key(1, 26)], "the unused forward only");
        let (end, keys) = f.take_chain(at(1, 8));
        assert_eq!((end, keys), (at(5, 100), vec![key(1, 8), key(2, 8)]));
        let mut gone = f.prune(&HashSet::new());
        gone.sort();
        assert_eq!(
            gone,
            vec![key(1, 0), key(2, 0)],
            "markers of emptied segments"
        );
        assert!(f.is_empty());
    }
}
