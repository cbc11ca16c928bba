//! Segment compaction (`segment_compact.rs`): space given back with every live message
//! intact, and its crash cases, each as the state a crash leaves on disk (a copy of
//! the data directory taken while the store is open, as a kill -9 leaves it), opened
//! twice: the first open repairs, the second must find every live message again.

use std::collections::BTreeMap;
use std::path::Path;

use bytes::Bytes;

use super::segment_compact::{self as sc, Move};
use super::{SledStore, StoreConfig};
use crate::records::{EntryRecord, MessageRecord, QueueId, QueueRecord};
use crate::store::Store;

fn config(dir: &Path) -> StoreConfig {
    let mut config = StoreConfig::new(dir);
    config.cache_capacity_bytes = 8 << 20;
    config.compaction.check_every = None;
    // About 60 messages of 1 KiB per segment.
    config.segment_bytes = 64 << 10;
    config
}

fn queue(store: &SledStore, name: &str) -> QueueId {
    store
        .put_queue(&QueueRecord {
            vhost: "/".into(),
            name: name.into(),
            auto_delete: false,
            arguments: Bytes::new(),
        })
        .unwrap()
}

fn body(seq: u64) -> String {
    format!("body {seq} {}", "x".repeat(1000))
}

/// Publishes seqs `0..n` to `q` (message ids returned by seq), synced.
fn fill(store: &SledStore, q: QueueId, n: u64) -> BTreeMap<u64, u64> {
    let mut ids = BTreeMap::new();
    for seq in 0..n {
        let id = store.next_message_id().unwrap();
        let b = body(seq);
        let m = MessageRecord {
            exchange: "x".into(),
            routing_key: "k".into(),
            raw_properties: Bytes::from_static(&[0x10, 0x00, 0x02]),
            body: Bytes::from(b.clone().into_bytes()),
            published_at_ms: 1,
            expiration_ms: None,
        };
        store.put_message(id, &m).unwrap();
        store
            .enqueue(
                q,
                &EntryRecord {
                    seq,
                    message_id: id,
                    expires_at_ms: None,
                    priority: 0,
                    body_len: b.len() as u32,
                },
            )
            .unwrap();
        ids.insert(seq, id);
    }
    store.sync().wait().unwrap();
    ids
}

/// Removes every seq below `n` but the multiples of `keep_every`; syncs (the emptied
/// segments go with that flush).
fn drain_all_but(store: &SledStore, q: QueueId, n: u64, keep_every: u64) -> Vec<u64> {
    let gone: Vec<u64> = (0..n).filter(|s| s % keep_every != 0).collect();
    assert_eq!(store.remove(q, &gone).unwrap(), gone.len() as u64);
    store.sync().wait().unwrap();
    store.sync().wait().unwrap();
    (0..n).filter(|s| s % keep_every == 0).collect()
}

/// (seq, body) of every entry of `q`, bodies read back.
fn contents(store: &SledStore, q: QueueId) -> Vec<(u64, String)> {
    store
        .entries(q)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let m = store.get_message(e.record.message_id).unwrap().unwrap();
            (e.record.seq, String::from_utf8(m.body.to_vec()).unwrap())
        })
        .collect()
}

fn expected(seqs: &[u64]) -> Vec<(u64, String)> {
    seqs.iter().map(|&s| (s, body(s))).collect()
}

fn segment_files(dir: &Path) -> Vec<u32> {
    let mut v: Vec<u32> = std::fs::read_dir(dir.join(super::bodies::SEGMENTS_DIR))
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.strip_suffix(".seg")?.parse().ok())
        .collect();
    v.sort();
    v
}

/// The data directory as a kill -9 would leave it now (the store stays open).
fn crash_copy(dir: &Path) -> tempfile::TempDir {
    let crashed = tempfile::tempdir().unwrap();
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", dir.display()))
        .arg(crashed.path())
        .status()
        .unwrap();
    assert!(status.success());
    crashed
}

/// A store with `n` messages, 1 in `keep_every` live; the sealed segment with the
/// fewest live bytes is returned with the store.
fn mostly_dead(dir: &Path, n: u64, keep_every: u64) -> (SledStore, QueueId, Vec<u64>, u32) {
    let store = SledStore::open(&config(dir)).unwrap();
    let q = queue(&store, "q");
    fill(&store, q, n);
    let live = drain_all_but(&store, q, n, keep_every);
    let candidates = store.shared.bodies.compaction_candidates(25);
    assert!(!candidates.is_empty(), "no mostly-dead segment");
    let segment = candidates[0].0;
    (store, q, live, segment)
}

/// Begins moving `segment` and scans all of it (copies appended, not written).
fn copy_all(store: &SledStore, segment: u32) -> Move {
    let mut mv = sc::begin(&store.shared, segment).expect("begin");
    while !sc::scanned_all(&mv) {
        sc::step(&store.shared, &mut mv, 8 << 10).unwrap();
    }
    assert!(!mv.moved.is_empty(), "segment {segment} had live records");
    mv
}

#[test]
fn mostly_dead_segments_are_compacted_and_live_messages_survive_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let (store, q, live, _) = mostly_dead(dir.path(), 1000, 100);
    let before = store.stats().unwrap();
    // 17 segments filled; those left hold one live message each (+ the active one).
    assert!(before.segments >= 10, "{before:?}");
    let done = store.compact_segments().unwrap();
    assert_eq!(done.records_copied, live.len() as u64, "{done:?}");
    assert!(done.segments >= 9, "{done:?}");
    assert!(done.steps >= done.segments, "{done:?}");
    store.sync().wait().unwrap();
    let after = store.stats().unwrap();
    // The copies (10 KiB) fit in the active segment, maybe spilling into one more.
    assert!(after.segments <= 2, "{after:?}");
    assert!(
        after.segment_bytes * 8 < before.segment_bytes,
        "{before:?} -> {after:?}"
    );
    assert_eq!(segment_files(dir.path()).len() as u64, after.segments);
    assert_eq!(contents(&store, q), expected(&live));
    assert_eq!(store.shared.bodies.forwards().read().len(), live.len());
    drop(store);

    let store = SledStore::open(&config(dir.path())).unwrap();
    assert_eq!(store.recover().unwrap().repairs, Default::default());
    assert_eq!(contents(&store, q), expected(&live));
    // Acking the survivors empties the log's segments and drops their forwards.
    let n = store.remove(q, &live).unwrap();
    assert_eq!(n, live.len() as u64);
    assert_eq!(store.shared.bodies.live_counts().len(), 0);
    assert_eq!(store.shared.bodies.forwards().read().len(), 0);
    store.sync().wait().unwrap();
    drop(store);
    let store = SledStore::open(&config(dir.path())).unwrap();
    assert!(store.shared.bodies.forwards().read().is_empty());
    assert_eq!(store.shared.engine.read().trees.moved.len(), 0);
}

#[test]
fn a_message_moved_twice_and_fanned_out_is_found_and_released_once() {
    let dir = tempfile::tempdir().unwrap();
    let (store, q, live, _) = mostly_dead(dir.path(), 300, 50);
    let r = queue(&store, "r");
    let shared_id = {
        let e = store.entries(q).unwrap().next().unwrap().unwrap();
        store.enqueue(r, &e.record).unwrap();
        e.record.message_id
    };
    store.compact_segments().unwrap();
    // Enough new traffic to seal the copies' segment, then drained: moved again.
    let more = 1000;
    let extra = queue(&store, "extra");
    fill(&store, extra, more);
    let gone: Vec<u64> = (0..more).collect();
    store.remove(extra, &gone).unwrap();
    store.sync().wait().unwrap();
    store.compact_segments().unwrap();
    assert_eq!(contents(&store, q), expected(&live));
    drop(store);
    let store = SledStore::open(&config(dir.path())).unwrap();
    assert_eq!(contents(&store, q), expected(&live));
    assert_eq!(contents(&store, r), expected(&live[..1]));
    store.remove(q, &live[..1]).unwrap();
    let m = store.get_message(shared_id).unwrap().expect("still in r");
    assert_eq!(m.body, body(live[0]).into_bytes());
    store.remove(r, &live[..1]).unwrap();
    assert_eq!(store.get_message(shared_id).unwrap(), None);
    let counted: u64 = store.shared.bodies.live_counts().values().sum();
    assert_eq!(counted, live.len() as u64 - 1);
}

#[test]
fn crash_after_the_copy_before_the_forwards_keeps_the_originals() {
    let dir = tempfile::tempdir().unwrap();
    let (store, q, live, segment) = mostly_dead(dir.path(), 600, 20);
    let mv = copy_all(&store, segment);
    sc::make_copies_durable(&store.shared).unwrap();
    let crashed = crash_copy(dir.path());
    sc::abandon_for_test(&store.shared, mv);
    drop(store);

    let store = SledStore::open(&config(crashed.path())).unwrap();
    assert_eq!(store.recover().unwrap().repairs, Default::default());
    assert!(segment_files(crashed.path()).contains(&segment));
    assert_eq!(contents(&store, q), expected(&live));
    // The copies are dead records; compacting again works from the originals.
    let done = store.compact_segments().unwrap();
    assert!(done.segments >= 1, "{done:?}");
    store.sync().wait().unwrap();
    assert!(!segment_files(crashed.path()).contains(&segment));
    assert_eq!(contents(&store, q), expected(&live));
    drop(store);
    let store = SledStore::open(&config(crashed.path())).unwrap();
    assert_eq!(contents(&store, q), expected(&live));
}

#[test]
fn crash_after_the_forwards_before_the_file_is_deleted_uses_the_copies() {
    let dir = tempfile::tempdir().unwrap();
    let (store, q, live, segment) = mostly_dead(dir.path(), 600, 20);
    let mv = copy_all(&store, segment);
    sc::make_copies_durable(&store.shared).unwrap();
    sc::commit_forwards(&store.shared, &mv).unwrap();
    let crashed = crash_copy(dir.path());
    sc::retire(&store.shared, &mv).unwrap();
    drop(store);

    let store = SledStore::open(&config(crashed.path())).unwrap();
    assert_eq!(store.recover().unwrap().repairs, Default::default());
    assert!(segment_files(crashed.path()).contains(&segment));
    assert!(!store.shared.bodies.live_counts().contains_key(&segment));
    // Damage the old file: nothing may read it any more.
    let old = crashed
        .path()
        .join(super::bodies::SEGMENTS_DIR)
        .join(format!("{segment:010}.seg"));
    std::fs::write(&old, vec![0xAB; 4096]).unwrap();
    assert_eq!(contents(&store, q), expected(&live));
    // Nothing live in it: the first flush deletes it.
    store.sync().wait().unwrap();
    assert!(!segment_files(crashed.path()).contains(&segment));
    drop(store);
    let store = SledStore::open(&config(crashed.path())).unwrap();
    assert_eq!(contents(&store, q), expected(&live));
}

#[test]
fn a_torn_copy_at_the_log_tail_is_cut_and_the_originals_remain() {
    let dir = tempfile::tempdir().unwrap();
    let (store, q, live, segment) = mostly_dead(dir.path(), 600, 20);
    let mv = copy_all(&store, segment);
    // Written, never synced: a crash may tear the last copy.
    store.shared.bodies.log.write_pending().unwrap();
    let last = mv.moved.last().unwrap().1;
    let crashed = crash_copy(dir.path());
    sc::abandon_for_test(&store.shared, mv);
    drop(store);
    let file = crashed
        .path()
        .join(super::bodies::SEGMENTS_DIR)
        .join(format!("{:010}.seg", last.segment));
    std::fs::OpenOptions::new()
        .write(true)
        .open(&file)
        .unwrap()
        .set_len(u64::from(last.offset) + 20)
        .unwrap();

    let store = SledStore::open(&config(crashed.path())).unwrap();
    assert_eq!(store.recover().unwrap().repairs, Default::default());
    assert_eq!(contents(&store, q), expected(&live));
    store.compact_segments().unwrap();
    store.sync().wait().unwrap();
    assert!(!segment_files(crashed.path()).contains(&segment));
    drop(store);
    let store = SledStore::open(&config(crashed.path())).unwrap();
    assert_eq!(contents(&store, q), expected(&live));
}

#[test]
fn messages_deleted_during_the_move_leave_no_live_copy_or_forward() {
    let dir = tempfile::tempdir().unwrap();
    let (store, q, live, segment) = mostly_dead(dir.path(), 600, 20);
    let mv = copy_all(&store, segment);
    let (gone_from, _) = mv.moved[0];
    let gone_seq = *live
        .iter()
        .find(|&&s| {
            let e = store.entries_from(q, s).unwrap().next().unwrap().unwrap();
            store
                .shared
                .locate(&store.shared.engine.read(), e.record.message_id)
                .unwrap()
                == Some(gone_from)
        })
        .unwrap();
    let counted = |s: &SledStore| s.shared.bodies.live_counts().values().sum::<u64>();
    let before = counted(&store);
    store.remove(q, &[gone_seq]).unwrap();
    sc::make_copies_durable(&store.shared).unwrap();
    sc::commit_forwards(&store.shared, &mv).unwrap();
    sc::retire(&store.shared, &mv).unwrap();
    // Before: originals and copies counted; now one copy each for the survivors.
    assert_eq!(
        before,
        2 * mv.moved.len() as u64 + (live.len() - mv.moved.len()) as u64
    );
    assert_eq!(counted(&store), live.len() as u64 - 1);
    assert_eq!(
        store.shared.bodies.forwards().read().len(),
        mv.moved.len() - 1
    );
    let rest: Vec<u64> = live.iter().copied().filter(|&s| s != gone_seq).collect();
    assert_eq!(contents(&store, q), expected(&rest));
    store.sync().wait().unwrap();
    drop(store);
    let store = SledStore::open(&config(dir.path())).unwrap();
    assert_eq!(contents(&store, q), expected(&rest));
    assert_eq!(
        store.shared.bodies.forwards().read().len(),
        mv.moved.len() - 1
    );
}
