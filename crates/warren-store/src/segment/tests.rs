//! Unit tests of the segment log's API (crash cases and concurrency are in
//! `tests/segment_*.rs`).

use super::*;

fn config(dir: &std::path::Path, segment_bytes: u64) -> SegmentConfig {
    SegmentConfig {
        dir: dir.to_path_buf(),
        segment_bytes,
        fdatasync: true,
    }
}

fn body(i: usize, len: usize) -> Vec<u8> {
    (0..len).map(|j| (i * 31 + j) as u8).collect()
}

#[test]
fn appended_records_read_back_before_and_after_write_sync_and_reopen() {
    let tmp = tempfile::tempdir().unwrap();
    let (log, rec) = SegmentLog::open(config(tmp.path(), 1 << 20)).unwrap();
    assert_eq!(rec.truncated, None);
    assert_eq!(log.segments(), vec![1]);
    assert_eq!(log.active_segment(), 1);
    let a = log.append(&[b"hello", b", ", b"world"]).unwrap();
    assert_eq!(
        a,
        Position {
            segment: 1,
            offset: FILE_HEADER_LEN as u32,
            len: 12
        }
    );
    assert_eq!(&log.read(a).unwrap()[..], b"hello, world");
    log.write_pending().unwrap();
    let b = log.append(&[b"second"]).unwrap();
    assert_eq!(
        u64::from(b.offset),
        FILE_HEADER_LEN + RECORD_HEADER_LEN + 12
    );
    assert_eq!(&log.read(a).unwrap()[..], b"hello, world");
    assert_eq!(&log.read(b).unwrap()[..], b"second");
    log.write_pending().unwrap();
    log.sync().unwrap();
    let empty = log.append(&[]).unwrap();
    log.write_pending().unwrap();
    log.sync().unwrap();
    assert_eq!(log.total_bytes(), 8 + 20 + 14 + 8);
    assert_eq!(log.segment_bytes(1), log.total_bytes());
    drop(log);

    let (log, rec) = SegmentLog::open(config(tmp.path(), 1 << 20)).unwrap();
    assert_eq!(rec.truncated, None);
    assert_eq!(rec.tail_records, 3);
    assert_eq!(&log.read(a).unwrap()[..], b"hello, world");
    assert_eq!(&log.read(b).unwrap()[..], b"second");
    assert!(log.read(empty).unwrap().is_empty());
    let c = log.append(&[b"after reopen"]).unwrap();
    assert_eq!(u64::from(c.offset), 8 + 20 + 14 + 8);
    log.write_pending().unwrap();
    let all: Vec<_> = log.scan(1).unwrap().map(|r| r.unwrap()).collect();
    assert_eq!(all.len(), 4);
    assert_eq!(all[3], (c, bytes::Bytes::from_static(b"after reopen")));
}

#[test]
fn unwritten_records_are_not_on_disk_after_reopen() {
    let tmp = tempfile::tempdir().unwrap();
    let (log, _) = SegmentLog::open(config(tmp.path(), 1 << 20)).unwrap();
    log.append(&[b"written"]).unwrap();
    log.write_pending().unwrap();
    log.append(&[b"only in memory"]).unwrap();
    drop(log);
    let (log, rec) = SegmentLog::open(config(tmp.path(), 1 << 20)).unwrap();
    assert_eq!(rec.tail_records, 1);
    let all: Vec<_> = log.scan(1).unwrap().map(|r| r.unwrap().1).collect();
    assert_eq!(all, vec![bytes::Bytes::from_static(b"written")]);
}

#[test]
fn rolls_at_segment_bytes_and_each_write_covers_every_touched_segment() {
    let tmp = tempfile::tempdir().unwrap();
    // 4 KiB segments: 8-byte header + 4 records of 1000 + 8 bytes = 4040, a 5th would pass.
    let (log, _) = SegmentLog::open(config(tmp.path(), 4096)).unwrap();
    let mut positions = Vec::new();
    for i in 0..10 {
        positions.push(log.append(&[&body(i, 1000)]).unwrap());
        if i == 5 {
            log.write_pending().unwrap();
        }
    }
    let per_segment: Vec<u32> = positions.iter().map(|p| p.segment).collect();
    assert_eq!(per_segment, vec![1, 1, 1, 1, 2, 2, 2, 2, 3, 3]);
    assert_eq!(log.segments(), vec![1, 2, 3]);
    assert_eq!(log.active_segment(), 3);
    assert_eq!(log.segment_bytes(1), 8 + 4 * 1008);
    // Readable from memory across segments before the write...
    for (i, p) in positions.iter().enumerate() {
        assert_eq!(log.read(*p).unwrap(), body(i, 1000));
    }
    log.write_pending().unwrap();
    log.sync().unwrap();
    for (i, p) in positions.iter().enumerate() {
        assert_eq!(log.read(*p).unwrap(), body(i, 1000));
    }
    drop(log);
    let (log, rec) = SegmentLog::open(config(tmp.path(), 4096)).unwrap();
    assert_eq!(rec.segments, 3);
    assert_eq!(rec.tail_records, 2);
    for (i, p) in positions.iter().enumerate() {
        assert_eq!(log.read(*p).unwrap(), body(i, 1000));
    }
    let scanned: Vec<Position> = (1..=3)
        .flat_map(|s| {
            log.scan(s)
                .unwrap()
                .map(|r| r.unwrap().0)
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(scanned, positions);
    // A record larger than a segment gets one of its own.
    let big = log.append(&[&body(99, 10_000)]).unwrap();
    assert_eq!((big.segment, u64::from(big.offset)), (4, FILE_HEADER_LEN));
    let next = log.append(&[b"x"]).unwrap();
    assert_eq!(next.segment, 5);
    assert_eq!(log.read(big).unwrap(), body(99, 10_000));
}

#[test]
fn delete_segment_refuses_the_active_and_unwritten_and_removes_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let (log, _) = SegmentLog::open(config(tmp.path(), 4096)).unwrap();
    let first = log.append(&[&body(0, 3000)]).unwrap();
    let second = log.append(&[&body(1, 3000)]).unwrap();
    assert_eq!((first.segment, second.segment), (1, 2));
    let err = log.delete_segment(2).unwrap_err().to_string();
    assert!(err.contains("active segment"), "{err}");
    let err = log.delete_segment(1).unwrap_err().to_string();
    assert!(err.contains("unwritten"), "{err}");
    log.write_pending().unwrap();
    log.sync().unwrap();
    let path = tmp.path().join("0000000001.seg");
    assert!(path.exists());
    log.delete_segment(1).unwrap();
    log.delete_segment(1).unwrap();
    log.sync().unwrap();
    assert!(!path.exists());
    assert_eq!(log.segments(), vec![2]);
    assert_eq!(log.segment_bytes(1), 0);
    assert_eq!(log.total_bytes(), 8 + 3008);
    let err = log.read(first).unwrap_err();
    assert!(
        matches!(&err, crate::StoreError::Corrupt { path: p, .. } if p.ends_with("0000000001.seg")),
        "{err}"
    );
    assert_eq!(log.read(second).unwrap(), body(1, 3000));
    drop(log);
    let (log, _) = SegmentLog::open(config(tmp.path(), 4096)).unwrap();
    assert_eq!(log.segments(), vec![2]);
    assert_eq!(log.read(second).unwrap(), body(1, 3000));
}

#[test]
fn bogus_positions_are_corrupt_errors_naming_the_file_not_panics() {
    let tmp = tempfile::tempdir().unwrap();
    let (log, _) = SegmentLog::open(config(tmp.path(), 1 << 20)).unwrap();
    let p = log.append(&[b"abcdefgh"]).unwrap();
    let q = log.append(&[b"ijkl"]).unwrap();
    for written in [false, true] {
        if written {
            log.write_pending().unwrap();
        }
        for bad in [
            Position { len: 7, ..p },
            Position {
                offset: p.offset + 1,
                ..p
            },
            Position { offset: 0, ..p },
            Position { len: u32::MAX, ..p },
            Position {
                offset: u32::MAX,
                ..q
            },
            Position { segment: 9, ..p },
        ] {
            match log.read(bad) {
                Err(crate::StoreError::Corrupt { path, .. }) => {
                    assert!(path.to_string_lossy().ends_with(".seg"), "{path:?}")
                }
                other => panic!("{bad:?}: {other:?}"),
            }
        }
        assert_eq!(&log.read(q).unwrap()[..], b"ijkl");
    }
}

#[test]
fn without_fdatasync_sync_succeeds_and_data_is_still_written() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = config(tmp.path(), 1 << 20);
    cfg.fdatasync = false;
    let (log, _) = SegmentLog::open(cfg.clone()).unwrap();
    let p = log.append(&[b"spilled"]).unwrap();
    assert_eq!(log.pending_bytes(), 8 + 8 + 7);
    log.write_pending().unwrap();
    assert_eq!(log.pending_bytes(), 0);
    log.sync().unwrap();
    drop(log);
    let (log, _) = SegmentLog::open(cfg).unwrap();
    assert_eq!(&log.read(p).unwrap()[..], b"spilled");
}

#[test]
fn a_foreign_or_newer_last_segment_is_an_error_not_truncated() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("0000000001.seg");
    std::fs::write(&path, b"NOTASEGMENT-FILE").unwrap();
    let err = SegmentLog::open(config(tmp.path(), 1 << 20)).unwrap_err();
    assert!(
        matches!(&err, crate::StoreError::Corrupt { path: p, .. } if *p == path),
        "{err}"
    );
    let mut newer = b"WSEG".to_vec();
    newer.extend_from_slice(&2u32.to_le_bytes());
    std::fs::write(&path, &newer).unwrap();
    let err = SegmentLog::open(config(tmp.path(), 1 << 20))
        .unwrap_err()
        .to_string();
    assert!(err.contains("version 2"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), newer);
}

#[test]
fn open_creates_missing_directories_durable_or_not() {
    let tmp = tempfile::tempdir().unwrap();
    for (sub, fdatasync) in [("a/b/durable", true), ("c/spill", false)] {
        let dir = tmp.path().join(sub);
        let (log, rec) = SegmentLog::open(SegmentConfig {
            fdatasync,
            ..SegmentConfig::new(&dir)
        })
        .unwrap();
        assert_eq!((rec.segments, log.segments()), (1, vec![1]));
        let p = log.append(&[b"x"]).unwrap();
        log.write_pending().unwrap();
        log.sync().unwrap();
        assert!(dir.join("0000000001.seg").is_file());
        drop(log);
        let (log, _) = SegmentLog::open(SegmentConfig::new(&dir)).unwrap();
        assert_eq!(&log.read(p).unwrap()[..], b"x");
    }
}
