//! The crash cases of the segment log, each as the state a crash leaves on disk
//! (README: "Crash cases"): a torn segment tail, entries whose bodies never reached
//! the disk (crash between the index update and the segment write), bodies whose
//! entries never reached sled (crash between the segment write and the index update),
//! and synced bodies gone missing (an error, not a silent drop).

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use bytes::Bytes;

use super::bodies::SEGMENTS_DIR;
use super::{SledStore, StoreConfig};
use crate::error::StoreError;
use crate::records::{EntryRecord, MessageRecord, QueueId, QueueRecord};
use crate::store::Store;

fn config(dir: &Path) -> StoreConfig {
    let mut config = StoreConfig::new(dir);
    config.cache_capacity_bytes = 8 << 20;
    // The messages pass runs inside the open, so its repairs are reported.
    config.compaction.check_every = None;
    config
}

fn message(body: &str) -> MessageRecord {
    MessageRecord {
        exchange: "x".into(),
        routing_key: "k".into(),
        raw_properties: Bytes::from_static(&[0x10, 0x00, 0x02]),
        body: Bytes::from(body.as_bytes().to_vec()),
        published_at_ms: 1,
        expiration_ms: None,
    }
}

fn queue(store: &SledStore) -> QueueId {
    store
        .put_queue(&QueueRecord {
            vhost: "/".into(),
            name: "q".into(),
            auto_delete: false,
            arguments: Bytes::new(),
        })
        .unwrap()
}

fn publish(store: &SledStore, q: QueueId, seq: u64) {
    let id = store.next_message_id().unwrap();
    let body = format!("body {seq} {}", "x".repeat(1000));
    store.put_message(id, &message(&body)).unwrap();
    store
        .enqueue(
            q,
            &EntryRecord {
                seq,
                message_id: id,
                expires_at_ms: None,
                priority: 0,
                body_len: body.len() as u32,
            },
        )
        .unwrap();
}

/// (seq, body prefix) of every entry, bodies read back.
fn contents(store: &SledStore, q: QueueId) -> Vec<(u64, String)> {
    store
        .entries(q)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let m = store.get_message(e.record.message_id).unwrap().unwrap();
            let body = String::from_utf8(m.body.to_vec()).unwrap();
            (
                e.record.seq,
                body.split(' ').take(2).collect::<Vec<_>>().join(" "),
            )
        })
        .collect()
}

fn expected(seqs: impl Iterator<Item = u64>) -> Vec<(u64, String)> {
    seqs.map(|s| (s, format!("body {s}"))).collect()
}

fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join(SEGMENTS_DIR))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .collect();
    files.sort();
    files
}

fn last_segment(dir: &Path) -> PathBuf {
    segment_files(dir).pop().expect("a segment")
}

/// The synced end of the log as the last flush recorded it.
fn synced_end(store: &SledStore) -> u64 {
    let e = store.shared.engine.read();
    let v = e.db.get(super::flush::LOG_END_KEY).unwrap().unwrap();
    super::flush::decode_log_end(&v).unwrap().1
}

#[test]
fn a_torn_segment_tail_is_cut_and_every_synced_message_survives() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(&config(dir.path())).unwrap();
    let q = queue(&store);
    for seq in 0..20 {
        publish(&store, q, seq);
    }
    store.sync().wait().unwrap();
    drop(store);
    // A record whose write was torn: a header promising 1,000 bytes, 100 of them there.
    let mut f = OpenOptions::new()
        .append(true)
        .open(last_segment(dir.path()))
        .unwrap();
    f.write_all(&1000u32.to_le_bytes()).unwrap();
    f.write_all(&0xdead_beefu32.to_le_bytes()).unwrap();
    f.write_all(&[7u8; 100]).unwrap();
    drop(f);

    let store = SledStore::open(&config(dir.path())).unwrap();
    assert_eq!(contents(&store, q), expected(0..20));
    // Appends go after the cut, and read back across another reopen.
    publish(&store, q, 20);
    store.sync().wait().unwrap();
    drop(store);
    let store = SledStore::open(&config(dir.path())).unwrap();
    assert_eq!(contents(&store, q), expected(0..21));
}

#[test]
fn entries_whose_bodies_never_reached_the_disk_are_dropped_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(&config(dir.path())).unwrap();
    let q = queue(&store);
    for seq in 0..10 {
        publish(&store, q, seq);
    }
    store.sync().wait().unwrap();
    let synced = synced_end(&store);
    // Five more reach sled (its own write-out) but are never synced...
    for seq in 10..15 {
        publish(&store, q, seq);
    }
    {
        let e = store.shared.engine.read();
        store.shared.drain(&e).unwrap();
        e.db.flush().unwrap();
    }
    drop(store);
    // ... and a power cut loses the segment's unsynced tail.
    OpenOptions::new()
        .write(true)
        .open(last_segment(dir.path()))
        .unwrap()
        .set_len(synced)
        .unwrap();

    let store = SledStore::open(&config(dir.path())).unwrap();
    let repairs = store.recover().unwrap().repairs;
    assert_eq!(repairs.lost_bodies, 5, "{repairs:?}");
    assert_eq!(contents(&store, q), expected(0..10));
    publish(&store, q, 15);
    store.sync().wait().unwrap();
    drop(store);
    let store = SledStore::open(&config(dir.path())).unwrap();
    assert_eq!(store.recover().unwrap().repairs.lost_bodies, 0);
    assert_eq!(
        contents(&store, q),
        expected((0..10).chain(std::iter::once(15)))
    );
}

#[test]
fn losing_synced_bodies_is_an_error_not_a_silent_drop() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(&config(dir.path())).unwrap();
    let q = queue(&store);
    for seq in 0..10 {
        publish(&store, q, seq);
    }
    store.sync().wait().unwrap();
    let synced = synced_end(&store);
    drop(store);
    let file = last_segment(dir.path());
    OpenOptions::new()
        .write(true)
        .open(&file)
        .unwrap()
        .set_len(synced - 1)
        .unwrap();
    match SledStore::open(&config(dir.path())) {
        Err(StoreError::Corrupt { path, detail }) => {
            assert_eq!(path, file, "{detail}");
            assert!(detail.contains("synced"), "{detail}");
        }
        other => panic!("expected a corrupt-store error, got {other:?}"),
    }
    // A deleted segment log is the same loss.
    std::fs::remove_dir_all(dir.path().join(SEGMENTS_DIR)).unwrap();
    assert!(matches!(
        SledStore::open(&config(dir.path())),
        Err(StoreError::Corrupt { .. })
    ));
}

#[test]
fn bodies_whose_entries_never_reached_sled_are_reclaimed() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.segment_bytes = 8 << 10;
    let store = SledStore::open(&config).unwrap();
    let first = store.shared.bodies.log.active_segment();
    let q = queue(&store);
    // Bodies written and synced whose entries (and positions) never reached sled:
    // what a crash between the segment write and the index update leaves.
    for _ in 0..40 {
        let id = store.next_message_id().unwrap();
        store.put_message(id, &message(&"y".repeat(1000))).unwrap();
        store.shared.bodies.log.write_pending().unwrap();
        store.discard_message(id).unwrap();
    }
    // And bodies whose positions reached sled but whose entries did not.
    let mut orphans = Vec::new();
    for _ in 0..10 {
        let id = store.next_message_id().unwrap();
        store.put_message(id, &message(&"z".repeat(1000))).unwrap();
        orphans.push(id);
    }
    publish(&store, q, 1);
    store.sync().wait().unwrap();
    let filled = store.shared.bodies.log.active_segment() - first + 1;
    assert!(filled >= 5, "{filled} segments");
    drop(store);

    let store = SledStore::open(&config).unwrap();
    let repairs = store.recover().unwrap().repairs;
    assert_eq!(repairs.orphan_messages, 10, "{repairs:?}");
    for id in orphans {
        assert_eq!(store.get_message(id).unwrap(), None);
    }
    assert_eq!(contents(&store, q), expected(1..2));
    // The first flush deletes every segment but the one holding the live message (and
    // the active one).
    store.sync().wait().unwrap();
    let left = store.stats().unwrap().segments;
    assert!(left <= 2, "{left} of {filled} segments left");
    assert_eq!(segment_files(dir.path()).len() as u64, left);
    drop(store);
    let store = SledStore::open(&config).unwrap();
    assert_eq!(contents(&store, q), expected(1..2));
}

#[test]
fn live_counts_follow_entries_across_reopen_and_fan_out() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(&config(dir.path())).unwrap();
    let q = queue(&store);
    let r = store
        .put_queue(&QueueRecord {
            vhost: "/".into(),
            name: "r".into(),
            auto_delete: false,
            arguments: Bytes::new(),
        })
        .unwrap();
    publish(&store, q, 1);
    let shared = store.next_message_id().unwrap();
    store.put_message(shared, &message("shared")).unwrap();
    for queue in [q, r] {
        store
            .enqueue(
                queue,
                &EntryRecord {
                    seq: 2,
                    message_id: shared,
                    expires_at_ms: None,
                    priority: 0,
                    body_len: 6,
                },
            )
            .unwrap();
    }
    store.sync().wait().unwrap();
    let total = |s: &SledStore| s.shared.bodies.live_counts().values().sum::<u64>();
    assert_eq!(total(&store), 2);
    drop(store);
    let store = SledStore::open(&config(dir.path())).unwrap();
    assert_eq!(total(&store), 2, "a fanned-out message counts once");
    store.remove(q, &[2]).unwrap();
    assert_eq!(total(&store), 2, "still referenced by r");
    store.remove(r, &[2]).unwrap();
    store.remove(q, &[1]).unwrap();
    assert_eq!(total(&store), 0);
}

#[test]
fn positions_not_indexed_at_a_crash_are_rebuilt_from_the_entries() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(&config(dir.path())).unwrap();
    let q = queue(&store);
    for seq in 0..5 {
        publish(&store, q, seq);
    }
    store.sync().wait().unwrap();
    {
        // A rotation indexed these five and recorded a floor above them.
        let e = store.shared.engine.read();
        store.shared.index.tick(&e, true, || e.next_id()).unwrap();
    }
    for seq in 5..10 {
        publish(&store, q, seq);
    }
    store.sync().wait().unwrap();
    assert!(
        !store.shared.index.is_empty(),
        "the last five wait in memory"
    );
    // The state a kill -9 leaves: everything synced, the last positions only in
    // memory (the copy is taken while the store is open).
    let crashed = tempfile::tempdir().unwrap();
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", dir.path().display()))
        .arg(crashed.path())
        .status()
        .unwrap();
    assert!(status.success());
    drop(store);
    let store = SledStore::open(&config(crashed.path())).unwrap();
    assert_eq!(contents(&store, q), expected(0..10));
    assert_eq!(store.recover().unwrap().repairs, Default::default());
    assert_eq!(store.stats().unwrap().messages, 10);
}
