//! Space reclamation: after messages are published and consumed, the data directory
//! shrinks back near where it started: segments of bodies are deleted whole once none
//! of their messages is live, and sled (which alone never shrinks its file) is
//! compacted by the store.

mod common;

use std::time::{Duration, Instant};

use common::{publish, queue};
use warren_store::{CompactionConfig, SledStore, Store};

#[test]
fn the_data_directory_shrinks_back_after_a_drain() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = common::config(dir.path());
    config.compaction = CompactionConfig {
        check_every: Some(Duration::from_millis(100)),
        min_file_bytes: 0,
        ..CompactionConfig::default()
    };
    config.segment_bytes = 1 << 20;
    let store = SledStore::open(&config).unwrap();
    let q = store.put_queue(&queue("q")).unwrap();
    store.sync().wait().unwrap();
    let start = store.stats().unwrap().size_on_disk;
    assert_eq!(store.stats().unwrap().compactions, 0, "nothing to gain yet");
    let body = "b".repeat(1024);
    let n = 20_000u64;
    for seq in 0..n {
        publish(&store, &[q], seq, &body);
    }
    store.sync().wait().unwrap();
    let full = store.stats().unwrap();
    assert!(full.size_on_disk > start + (16 << 20), "{full:?}");
    assert!(full.segments >= 16, "bodies fill segments: {full:?}");
    let seqs: Vec<u64> = (0..n).collect();
    assert_eq!(store.remove(q, &seqs).unwrap(), n);
    store.sync().wait().unwrap();
    // Everything but the active segment (at most 1 MiB) goes.
    let bound = start + (2 << 20);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let stats = store.stats().unwrap();
        if stats.size_on_disk <= bound && stats.segments == 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still {} bytes (started at {start}, bound {bound}): {stats:?}",
            stats.size_on_disk
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The compacted store works and survives a reopen.
    publish(&store, &[q], n, "after");
    store.sync().wait().unwrap();
    drop(store);
    let store = SledStore::open(&config).unwrap();
    assert_eq!(common::bodies(&store, q), vec!["after"]);
    let dirs: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("sled"))
        .collect();
    assert_eq!(dirs.len(), 1, "old databases removed: {dirs:?}");
}

#[test]
fn automatic_compaction_keeps_every_message_while_writers_write() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = common::config(dir.path());
    // Compact whenever the files are at least as big as the live data: constantly;
    // and segments (4 KiB ones) with under 90% of their bytes live (2 in 3 messages stay), 1 KiB a step.
    config.compaction = CompactionConfig {
        check_every: Some(Duration::from_millis(20)),
        min_file_bytes: 0,
        ratio: 1,
        max_live_bytes: 64 << 20,
        segment_live_percent: 90,
        segment_step_bytes: 1 << 10,
    };
    config.segment_bytes = 4 << 10;
    let store = SledStore::open(&config).unwrap();
    let q = store.put_queue(&queue("q")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seq = 0u64;
    while store.stats().unwrap().compactions < 3 || store.segment_compaction_totals().segments < 3 {
        assert!(
            Instant::now() < deadline,
            "no compaction: {:?}",
            store.stats()
        );
        publish(&store, &[q], seq, &format!("m{seq}"));
        if seq % 3 == 2 {
            store.remove(q, &[seq - 1]).unwrap();
            store.mark_delivered(q, &[seq]).unwrap();
        }
        store.sync().wait().unwrap();
        seq += 1;
    }
    let expected: Vec<(u64, bool)> = (0..seq)
        .filter(|s| s % 3 != 1 || *s + 1 == seq)
        .map(|s| (s, s % 3 == 2))
        .collect();
    drop(store);
    let store = SledStore::open(&config).unwrap();
    let got: Vec<(u64, bool)> = common::entries(&store, q)
        .iter()
        .map(|e| (e.record.seq, e.delivered))
        .collect();
    assert_eq!(got, expected);
    for (s, body) in got.iter().zip(common::bodies(&store, q)) {
        assert_eq!(body, format!("m{}", s.0));
    }
}
