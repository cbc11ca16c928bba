//! A full disk during `write_pending` is a typed disk-full error, never a record
//! reported written that is not: the records stay buffered and readable, no partial
//! record is left in the file, and once space is freed the same call succeeds and a
//! reopen finds every record. Runs on a small tmpfs, so it needs the right to mount
//! (root): `#[ignore]`d, and `.ci/run` (root) runs it with `-- --ignored`; without that
//! right it fails rather than pass without checking anything (tmpfs: tests/tmpfs/).

use warren_store::{Position, SegmentConfig, SegmentLog};

// warren-testkit's tmpfs helper, by path: this crate cannot depend on warren-testkit
// (it depends on the broker, which depends on this crate).
#[path = "../../warren-testkit/src/tmpfs.rs"]
mod tmpfs;
use tmpfs::Tmpfs;

fn body(i: usize) -> Vec<u8> {
    (0..1024).map(|j| (i * 17 + j) as u8).collect()
}

#[test]
#[ignore = "needs root: mounts a tmpfs (.ci/run runs it with --ignored)"]
fn a_full_disk_fails_the_write_keeps_records_and_recovers_when_space_returns() {
    let fs = Tmpfs::mount("1m");
    let config = SegmentConfig {
        dir: fs.path().join("log"),
        segment_bytes: 128 << 10,
        fdatasync: true,
    };
    let (log, _) = SegmentLog::open(config.clone()).unwrap();
    let mut positions: Vec<Position> = Vec::new();
    let mut committed = 0;
    let error = loop {
        // Appends never touch the disk: they succeed on a full disk.
        for _ in 0..10 {
            let i = positions.len();
            positions.push(log.append(&[&body(i)]).unwrap());
        }
        match log.write_pending().and_then(|()| log.sync()) {
            Ok(()) => committed = positions.len(),
            Err(e) => break e,
        }
        assert!(positions.len() < 2000, "a 1 MiB tmpfs never filled up");
    };
    assert!(error.is_disk_full(), "not a disk-full error: {error}");
    assert!(committed > 100, "filled too early: {committed}");
    // Everything still reads back: committed records from the files, the rest from
    // memory; and a second write fails the same way (no state lost in between).
    for (i, p) in positions.iter().enumerate() {
        assert_eq!(log.read(*p).unwrap(), body(i), "record {i}");
    }
    assert!(log.write_pending().unwrap_err().is_disk_full());
    // No partial record: past the end of the records the log knows about, the files
    // hold nothing but preallocated zeros.
    for s in log.segments() {
        let bytes = std::fs::read(config.dir.join(format!("{s:010}.seg"))).unwrap_or_default();
        let end = (log.segment_bytes(s) as usize).min(bytes.len());
        assert!(
            bytes[end..].iter().all(|b| *b == 0),
            "segment {s}: data past its records"
        );
    }
    // Free space by deleting the oldest sealed segment: the retry succeeds.
    let oldest = log.segments()[0];
    log.delete_segment(oldest).unwrap();
    log.write_pending().unwrap();
    log.sync().unwrap();
    drop(log);
    let (log, rec) = SegmentLog::open(config).unwrap();
    assert_eq!(rec.truncated, None);
    for (i, p) in positions
        .iter()
        .enumerate()
        .filter(|(_, p)| p.segment != oldest)
    {
        assert_eq!(log.read(*p).unwrap(), body(i), "record {i} after reopen");
    }
}
