//! The write-behind buffer: messages and entries are applied to sled by the group
//! commit. What a sync covered survives a crash; what was removed before any flush
//! wrote it is simply gone (never written), and buffered writes are visible at once.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use common::{entries, publish, queue};
use warren_store::{Repairs, SledStore, Store};

/// A copy of the data directory as it is on disk now (what a `kill -9` would leave:
/// nothing in memory, the store never closed), and the copy's path.
fn crash_copy(dir: &Path) -> (tempfile::TempDir, PathBuf) {
    let copy = tempfile::tempdir().unwrap();
    let status = Command::new("cp")
        .arg("-a")
        .arg(dir)
        .arg(copy.path())
        .status()
        .unwrap();
    assert!(status.success());
    let path = copy.path().join(dir.file_name().unwrap());
    (copy, path)
}

#[test]
fn synced_messages_survive_a_crash_and_ones_acked_before_the_flush_leave_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("store");
    let store = common::open(&data);
    let q = store.put_queue(&queue("q")).unwrap();
    let kept = publish(&store, &[q], 1, "confirmed");
    store.sync().wait().unwrap();
    // Published, delivered and acked with no flush in between: nothing to write.
    let acked = publish(&store, &[q], 2, "acked at once");
    store.mark_delivered(q, &[2]).unwrap();
    assert_eq!(store.remove(q, &[2]).unwrap(), 1);
    assert_eq!(store.remove(q, &[2]).unwrap(), 0, "removal is idempotent");
    assert_eq!(store.get_message(acked).unwrap(), None);
    // Published and delivered, still unacked at the sync: it must survive, delivered.
    publish(&store, &[q], 3, "in flight");
    store.mark_delivered(q, &[3]).unwrap();
    store.sync().wait().unwrap();

    let (_copy, path) = crash_copy(&data);
    let crashed = common::open(&path);
    let recovered = crashed.recover().unwrap();
    assert_eq!(
        recovered.repairs,
        Repairs::default(),
        "nothing half-written"
    );
    let got: Vec<(u64, bool)> = entries(&crashed, q)
        .iter()
        .map(|e| (e.record.seq, e.delivered))
        .collect();
    assert_eq!(got, vec![(1, false), (3, true)]);
    assert_eq!(crashed.get_message(acked).unwrap(), None);
    assert_eq!(
        common::bodies(&crashed, q),
        vec!["confirmed".to_string(), "in flight".to_string()]
    );
    assert!(crashed.get_message(kept).unwrap().is_some());
    drop(crashed);
    drop(store);
}

#[test]
fn buffered_writes_are_visible_before_any_sync_and_marks_reach_applied_entries() {
    let dir = tempfile::tempdir().unwrap();
    let store = common::open(dir.path());
    let q = store.put_queue(&queue("q")).unwrap();
    let id = publish(&store, &[q], 10, "not yet flushed");
    let m = store
        .get_message(id)
        .unwrap()
        .expect("buffered message readable");
    assert_eq!(&m.body[..], b"not yet flushed");
    assert_eq!(entries(&store, q).len(), 1, "entries() sees the buffer");
    store.sync().wait().unwrap();
    // Now in sled: the mark is buffered and applied at the next flush.
    store.mark_delivered(q, &[10]).unwrap();
    store.sync().wait().unwrap();
    let (_copy, path) = crash_copy(dir.path());
    let crashed = common::open(&path);
    let e = entries(&crashed, q);
    assert_eq!(e.len(), 1);
    assert!(e[0].delivered, "the mark was flushed");
}

#[test]
fn a_message_in_two_queues_acked_from_one_before_the_flush_stays_for_the_other() {
    let dir = tempfile::tempdir().unwrap();
    let store = common::open(dir.path());
    let a = store.put_queue(&queue("a")).unwrap();
    let b = store.put_queue(&queue("b")).unwrap();
    let id = publish(&store, &[a, b], 1, "fanned out");
    assert_eq!(store.remove(a, &[1]).unwrap(), 1);
    store.sync().wait().unwrap();
    let (_copy, path) = crash_copy(dir.path());
    let crashed = common::open(&path);
    assert!(entries(&crashed, a).is_empty());
    assert_eq!(common::bodies(&crashed, b), vec!["fanned out".to_string()]);
    drop(crashed);
    assert_eq!(store.remove(b, &[1]).unwrap(), 1);
    assert_eq!(store.get_message(id).unwrap(), None);
}

#[test]
fn removals_racing_the_flushes_lose_nothing_and_leave_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(common::open(dir.path()));
    let q = store.put_queue(&queue("q")).unwrap();
    let n = 20_000u64;
    let (tx, rx) = std::sync::mpsc::channel::<u64>();
    let publisher = {
        let store = store.clone();
        std::thread::spawn(move || {
            let mut tickets = Vec::new();
            for seq in 0..n {
                publish(store.as_ref(), &[q], seq, "x");
                if seq % 16 == 15 {
                    tickets.push(store.sync());
                }
                tx.send(seq).unwrap();
            }
            for t in tickets {
                t.wait().unwrap();
            }
        })
    };
    // The consumer acks every message except each 100th, at whatever moment relative
    // to the flushes the threads happen to reach.
    let mut removed = 0;
    for seq in rx {
        if seq % 100 != 0 {
            removed += store.remove(q, &[seq]).unwrap();
        }
    }
    publisher.join().unwrap();
    store.sync().wait().unwrap();
    assert_eq!(removed, n - n / 100);
    let stats = store.stats().unwrap();
    assert_eq!(stats.entries, n / 100, "{stats:?}");
    assert_eq!(stats.messages, n / 100, "{stats:?}");
    let (_copy, path) = crash_copy(dir.path());
    let crashed = SledStore::open(&common::config(&path)).unwrap();
    assert_eq!(crashed.recover().unwrap().repairs, Repairs::default());
    let seqs: Vec<u64> = entries(&crashed, q).iter().map(|e| e.record.seq).collect();
    let expected: Vec<u64> = (0..n).step_by(100).collect();
    assert_eq!(seqs, expected);
}
