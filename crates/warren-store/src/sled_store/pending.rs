//! Message positions and queue entries written but not yet applied to sled: a
//! write-behind buffer in front of the `messages` and `entries` trees (the bodies
//! themselves are in the segment log's own buffer, see `bodies.rs`).
//!
//! A publish puts its message's position and its entry here (no sled work on the
//! publishing thread).
//! The group commit applies everything buffered at the start of each flush, before it
//! makes sled durable, so a sync still covers every write made before it. What is
//! removed while still buffered (a message acked before the flush that would have
//! written it) never reaches sled at all: no insert, no remove, no node rewrite. Marks
//! of delivery are buffered too and applied at the next flush, only for entries still
//! stored by then.
//!
//! Items move `current` -> `frozen` (taken by a flush, being applied) -> sled. Lookups go
//! in that order, so an item moving meanwhile is never missed. The frozen layer's maps
//! never change while it is applied; each item carries a state that the applier and a
//! concurrent remover settle with a compare-and-swap, so a removed item is either never
//! applied or removed from sled after it was.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

use crate::records::EntryRecord;
use crate::segment::Position;

/// An entry's identity: (queue id, seq).
pub(crate) type EntryKey = (u64, u64);

const WAITING: u8 = 0;
const APPLYING: u8 = 1;
const APPLIED: u8 = 2;
const CANCELLED: u8 = 3;

/// What cancelling a frozen item found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Cancel {
    /// It will not be applied: it never reaches sled.
    Cancelled,
    /// It is in sled (applied, or was being applied and now is).
    InSled,
    /// An earlier removal cancelled it already.
    Gone,
}

/// A buffered item with its apply state.
pub(crate) struct Slot<T> {
    state: AtomicU8,
    /// The item.
    pub value: T,
}

impl<T> Slot<T> {
    pub(crate) fn new(value: T) -> Slot<T> {
        Slot {
            state: AtomicU8::new(WAITING),
            value,
        }
    }

    /// Takes the item for applying; false if it was cancelled.
    pub(crate) fn claim(&self) -> bool {
        self.state
            .compare_exchange(WAITING, APPLYING, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    }

    /// The apply attempt is over (successful or not: a failed store fails every later
    /// sync anyway, and nobody may wait on the item forever).
    pub(crate) fn applied(&self) {
        self.state.store(APPLIED, Ordering::SeqCst);
    }

    /// Whether nobody has claimed or cancelled it yet.
    pub(crate) fn is_waiting(&self) -> bool {
        self.state.load(Ordering::SeqCst) == WAITING
    }

    /// Whether a removal cancelled it.
    pub(crate) fn is_cancelled(&self) -> bool {
        self.state.load(Ordering::SeqCst) == CANCELLED
    }

    /// Stops the item from being applied, or, if it is being applied, waits until it is
    /// in sled (a few microseconds: one sled insert).
    pub(crate) fn cancel(&self) -> Cancel {
        loop {
            match self.state.compare_exchange(
                WAITING,
                CANCELLED,
                Ordering::SeqCst,
                Ordering::SeqCst,
            ) {
                Ok(_) => return Cancel::Cancelled,
                Err(CANCELLED) => return Cancel::Gone,
                Err(APPLIED) => return Cancel::InSled,
                Err(_) => std::thread::yield_now(),
            }
        }
    }
}

/// A buffered queue entry.
pub(crate) struct PendingEntry {
    pub record: EntryRecord,
    /// Its message's record in the segment log.
    pub at: Position,
    pub delivered: AtomicBool,
}

/// One generation of buffered writes.
#[derive(Default)]
pub(crate) struct Layer {
    pub entries: HashMap<EntryKey, Slot<PendingEntry>>,
    /// Entries already in sled to mark delivered.
    pub delivered: HashSet<EntryKey>,
}

impl Layer {
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty() && self.delivered.is_empty()
    }
}

/// The buffer: the layer being written, the layer being applied, and what sled may
/// already hold (so a buffered item removed before it was applied skips sled entirely).
#[derive(Default)]
pub(crate) struct Pending {
    pub current: Mutex<Layer>,
    pub frozen: RwLock<Arc<Layer>>,
    /// One drain at a time (the flush thread, the idle pass, readers that need sled to
    /// hold everything).
    pub drain: Mutex<()>,
    /// Per queue, the highest seq sled may hold an entry for.
    sled_seqs: Mutex<HashMap<u64, u64>>,
    /// Set when applying failed: every later sync fails with it.
    pub failed: Mutex<Option<String>>,
}

impl Pending {
    /// Notes what sled held at open.
    pub(crate) fn seed(&self, seqs: HashMap<u64, u64>) {
        *self.sled_seqs.lock() = seqs;
    }

    /// Raises the watermarks to cover `layer` (before any of it is applied).
    pub(crate) fn note_applying(&self, layer: &Layer) {
        if !layer.entries.is_empty() {
            let mut seqs = self.sled_seqs.lock();
            for &(queue, seq) in layer.entries.keys() {
                let top = seqs.entry(queue).or_insert(seq);
                *top = (*top).max(seq);
            }
        }
    }

    /// The highest seq of `queue` sled may hold (None: none).
    pub(crate) fn sled_seq(&self, queue: u64) -> Option<u64> {
        self.sled_seqs.lock().get(&queue).copied()
    }

    /// Whether anything waits to be applied (or is being applied).
    pub(crate) fn is_empty(&self) -> bool {
        self.current.lock().is_empty() && self.frozen.read().is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cancelled_slot_is_never_claimed_and_a_claimed_one_reports_in_sled() {
        let a = Slot::new(1);
        assert_eq!(a.cancel(), Cancel::Cancelled);
        assert!(!a.claim());
        assert_eq!(a.cancel(), Cancel::Gone);
        let b = Slot::new(2);
        assert!(b.claim());
        b.applied();
        assert_eq!(b.cancel(), Cancel::InSled);
    }

    #[test]
    fn watermarks_cover_what_is_applied() {
        let p = Pending::default();
        let mut layer = Layer::default();
        layer.entries.insert(
            (7, 42),
            Slot::new(PendingEntry {
                record: EntryRecord {
                    seq: 42,
                    message_id: 9,
                    expires_at_ms: None,
                    priority: 0,
                    body_len: 0,
                },
                at: Position {
                    segment: 1,
                    offset: 8,
                    len: 0,
                },
                delivered: AtomicBool::new(false),
            }),
        );
        p.note_applying(&layer);
        assert_eq!(p.sled_seq(7), Some(42));
        assert_eq!(p.sled_seq(8), None);
    }
}
