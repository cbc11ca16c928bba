//! A full disk surfaces as a typed error from the write or the sync (so the broker
//! nacks instead of confirming), never as a confirmed write that is not there. Runs on
//! a small tmpfs, so it needs the right to mount (root): it is `#[ignore]`d, and
//! `.ci/run` (root) runs it with `-- --ignored`; run without the right to mount, it
//! fails rather than pass without checking anything.

mod common;
// warren-testkit's tmpfs helper, by path: this crate cannot depend on warren-testkit
// (it depends on the broker, which depends on this crate).
#[path = "../../warren-testkit/src/tmpfs.rs"]
mod tmpfs;

use std::process::Command;

use common::{publish, queue};
use tmpfs::Tmpfs;
use warren_store::{SledStore, Store};

#[test]
#[ignore = "needs root: mounts a tmpfs (.ci/run runs it with --ignored)"]
fn a_full_disk_fails_writes_or_syncs_with_a_disk_full_error() {
    let fs = Tmpfs::mount("8m");
    let dir = fs.path().join("store");
    let mut config = common::config(&dir);
    config.compaction.check_every = None;
    let store = SledStore::open(&config).unwrap();
    let q = store.put_queue(&queue("q")).unwrap();
    let body = "x".repeat(4096);
    let mut confirmed = Vec::new();
    let mut error = None;
    for seq in 0..10_000u64 {
        let id = match store.next_message_id() {
            Ok(id) => id,
            Err(e) => {
                error = Some(e);
                break;
            }
        };
        let written = store
            .put_message(id, &common::message(&body))
            .and_then(|()| store.enqueue(q, &common::entry(seq, id)));
        if let Err(e) = written {
            error = Some(e);
            break;
        }
        match store.sync().wait() {
            Ok(()) => confirmed.push(seq),
            Err(e) => {
                error = Some(e);
                break;
            }
        }
    }
    let error = error.expect("8 MiB cannot hold 40 MiB of messages");
    eprintln!("after {} confirmed writes: {error}", confirmed.len());
    assert!(
        error.is_disk_full(),
        "not recognised as disk full: {error:?}"
    );
    assert!(!confirmed.is_empty());
    drop(store);
    // Everything confirmed before the disk filled is still there once space is back
    // (the store is copied to a roomier directory, as an operator would move it).
    let roomy = tempfile::tempdir().unwrap();
    let status = Command::new("cp")
        .arg("-a")
        .arg(&dir)
        .arg(roomy.path())
        .status()
        .unwrap();
    assert!(status.success());
    let store = common::open(&roomy.path().join("store"));
    let q = common::queue_id(&store, "q");
    let present: Vec<u64> = common::entries(&store, q)
        .iter()
        .map(|e| e.record.seq)
        .collect();
    for seq in &confirmed {
        assert!(present.contains(seq), "confirmed #{seq} lost");
    }
    publish(&store, &[q], 1_000_000, "room again");
    store.sync().wait().unwrap();
}

#[test]
#[ignore = "needs root: mounts a tmpfs (.ci/run runs it with --ignored)"]
fn a_full_disk_during_a_segment_write_fails_the_sync_and_keeps_what_was_confirmed() {
    let fs = Tmpfs::mount("8m");
    let dir = fs.path().join("store");
    let mut config = common::config(&dir);
    config.compaction.check_every = None;
    config.segment_bytes = 1 << 20;
    let store = SledStore::open(&config).unwrap();
    let q = store.put_queue(&queue("q")).unwrap();
    // Big bodies: the segment log, not sled, is what fills the disk.
    let body = "s".repeat(64 << 10);
    let mut confirmed = Vec::new();
    let mut error = None;
    for seq in 0..1_000u64 {
        let id = store.next_message_id().unwrap();
        let written = store
            .put_message(id, &common::message(&body))
            .and_then(|()| store.enqueue(q, &common::entry(seq, id)));
        if let Err(e) = written.and_then(|()| store.sync().wait()) {
            error = Some(e);
            break;
        }
        confirmed.push(seq);
    }
    let error = error.expect("8 MiB cannot hold 64 MiB of bodies");
    eprintln!("after {} confirmed writes: {error}", confirmed.len());
    assert!(
        error.is_disk_full(),
        "not recognised as disk full: {error:?}"
    );
    assert!(
        error.to_string().contains("segments"),
        "the segment write failed: {error}"
    );
    assert!(!confirmed.is_empty());
    // Nothing is confirmed after the failure.
    let id = store.next_message_id().unwrap();
    let after = store
        .put_message(id, &common::message("late"))
        .and_then(|()| store.enqueue(q, &common::entry(5_000, id)))
        .and_then(|()| store.sync().wait());
    assert!(after.is_err(), "a sync after the failure must fail");
    drop(store);
    let roomy = tempfile::tempdir().unwrap();
    let status = Command::new("cp")
        .arg("-a")
        .arg(&dir)
        .arg(roomy.path())
        .status()
        .unwrap();
    assert!(status.success());
    let store = common::open(&roomy.path().join("store"));
    let q = common::queue_id(&store, "q");
    let present: Vec<u64> = common::entries(&store, q)
        .iter()
        .map(|e| e.record.seq)
        .collect();
    for seq in &confirmed {
        assert!(present.contains(seq), "confirmed #{seq} lost");
    }
    for (seq, got) in present.iter().zip(common::bodies(&store, q)) {
        assert_eq!(got.len(), body.len(), "body of #{seq}");
    }
    publish(&store, &[q], 1_000_000, "room again");
    store.sync().wait().unwrap();
}
