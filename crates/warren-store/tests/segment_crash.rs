//! The segment log's crash cases, each as the damage a crash (or the disk) leaves in the
//! files, then a reopen: a torn tail of the last segment is cut at the last whole record
//! and reported; damage inside a sealed segment is a `Corrupt` error naming the file on
//! `read` (and `scan`), never a panic and never a silent wrong answer.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use warren_store::segment::{FILE_HEADER_LEN, RECORD_HEADER_LEN};
use warren_store::{Position, SegmentConfig, SegmentLog, StoreError};

fn config(dir: &Path, segment_bytes: u64) -> SegmentConfig {
    SegmentConfig {
        dir: dir.to_path_buf(),
        segment_bytes,
        fdatasync: true,
    }
}

fn body(i: usize, len: usize) -> Vec<u8> {
    (0..len).map(|j| (i * 131 + j * 7) as u8).collect()
}

fn seg_path(dir: &Path, segment: u32) -> PathBuf {
    dir.join(format!("{segment:010}.seg"))
}

/// Appends `n` records of `len` bytes, writes and syncs them, closes the log.
fn fill(dir: &Path, segment_bytes: u64, n: usize, len: usize) -> Vec<Position> {
    let (log, _) = SegmentLog::open(config(dir, segment_bytes)).unwrap();
    let positions: Vec<Position> = (0..n)
        .map(|i| log.append(&[&body(i, len)]).unwrap())
        .collect();
    log.write_pending().unwrap();
    log.sync().unwrap();
    positions
}

/// Reopens and checks that exactly the first `keep` records are readable and scanned,
/// that appends continue right after them, and that a second reopen finds no damage.
fn reopen_keeps_prefix(dir: &Path, segment_bytes: u64, positions: &[Position], keep: usize) {
    let (log, _) = SegmentLog::open(config(dir, segment_bytes)).unwrap();
    for (i, p) in positions.iter().enumerate().take(keep) {
        assert_eq!(log.read(*p).unwrap(), body(i, p.len as usize), "record {i}");
    }
    let scanned: Vec<Position> = log
        .segments()
        .into_iter()
        .flat_map(|s| {
            log.scan(s)
                .unwrap()
                .map(|r| r.unwrap().0)
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(scanned, positions[..keep]);
    let next = log.append(&[b"after recovery"]).unwrap();
    if keep > 0 && keep < positions.len() {
        let cut = positions[keep];
        assert_eq!((next.segment, next.offset), (cut.segment, cut.offset));
    }
    log.write_pending().unwrap();
    log.sync().unwrap();
    drop(log);
    let (log, rec) = SegmentLog::open(config(dir, segment_bytes)).unwrap();
    assert_eq!(rec.truncated, None, "second reopen must find a clean tail");
    assert_eq!(&log.read(next).unwrap()[..], b"after recovery");
}

fn set_len(path: &Path, len: u64) {
    OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(len)
        .unwrap();
}

fn flip_byte(path: &Path, offset: u64) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[offset as usize] ^= 0x40;
    std::fs::write(path, bytes).unwrap();
}

fn end_of(p: Position) -> u64 {
    u64::from(p.offset) + RECORD_HEADER_LEN + u64::from(p.len)
}

#[test]
fn torn_write_inside_the_last_record_payload_is_cut_at_the_record_before() {
    let tmp = tempfile::tempdir().unwrap();
    let pos = fill(tmp.path(), 1 << 20, 5, 500);
    let path = seg_path(tmp.path(), 1);
    set_len(&path, end_of(pos[4]) - 100);
    let (log, rec) = SegmentLog::open(config(tmp.path(), 1 << 20)).unwrap();
    let cut = rec.truncated.expect("reported");
    assert_eq!((cut.segment, cut.offset), (1, u64::from(pos[4].offset)));
    assert_eq!(cut.dropped_bytes, RECORD_HEADER_LEN + 400);
    assert!(
        cut.reason.contains("past the end of the file"),
        "{}",
        cut.reason
    );
    assert_eq!(rec.tail_records, 4);
    assert_eq!(
        std::fs::metadata(&path).unwrap().len(),
        u64::from(pos[4].offset)
    );
    assert!(matches!(log.read(pos[4]), Err(StoreError::Corrupt { .. })));
    drop(log);
    reopen_keeps_prefix(tmp.path(), 1 << 20, &pos, 4);
}

#[test]
fn torn_write_inside_the_last_record_header_is_cut_there() {
    let tmp = tempfile::tempdir().unwrap();
    let pos = fill(tmp.path(), 1 << 20, 3, 64);
    set_len(&seg_path(tmp.path(), 1), u64::from(pos[2].offset) + 3);
    let (_, rec) = SegmentLog::open(config(tmp.path(), 1 << 20)).unwrap();
    let cut = rec.truncated.expect("reported");
    assert_eq!(
        (cut.offset, cut.dropped_bytes),
        (u64::from(pos[2].offset), 3)
    );
    assert!(cut.reason.contains("header cut short"), "{}", cut.reason);
    reopen_keeps_prefix(tmp.path(), 1 << 20, &pos, 2);
}

#[test]
fn garbage_after_the_last_record_is_cut_off() {
    let garbage: Vec<u8> = (0..777u32).map(|i| (i * 37) as u8).collect();
    for gap in [0, 5000] {
        let tmp = tempfile::tempdir().unwrap();
        let pos = fill(tmp.path(), 1 << 20, 4, 100);
        let path = seg_path(tmp.path(), 1);
        // Garbage right after the records, or after a run of zeros (a torn write that
        // left a hole).
        set_len(&path, end_of(pos[3]) + gap);
        OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(&garbage)
            .unwrap();
        let (_, rec) = SegmentLog::open(config(tmp.path(), 1 << 20)).unwrap();
        let cut = rec.truncated.expect("reported");
        assert_eq!(
            (cut.offset, cut.dropped_bytes),
            (end_of(pos[3]), gap + garbage.len() as u64)
        );
        assert_eq!(std::fs::metadata(&path).unwrap().len(), end_of(pos[3]));
        reopen_keeps_prefix(tmp.path(), 1 << 20, &pos, 4);
    }
}

/// Durable segments are preallocated ahead of the writes (so an fdatasync seldom has a
/// size change to journal): zeros after the last record are that, not damage. They are
/// cut at open (writes preallocate again) and off a segment when it is sealed.
#[test]
fn preallocated_zeros_are_not_damage_and_are_cut_off_sealed_segments() {
    let tmp = tempfile::tempdir().unwrap();
    let seg = 64 << 10;
    let pos = fill(tmp.path(), seg, 3, 100);
    let path = seg_path(tmp.path(), 1);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), seg, "preallocated");
    let (log, rec) = SegmentLog::open(config(tmp.path(), seg)).unwrap();
    assert_eq!((rec.truncated, rec.tail_records), (None, 3));
    assert_eq!(std::fs::metadata(&path).unwrap().len(), end_of(pos[2]));
    // Zeros shorter than a record header are an end too.
    drop(log);
    set_len(&path, end_of(pos[2]) + 5);
    let (log, rec) = SegmentLog::open(config(tmp.path(), seg)).unwrap();
    assert_eq!(rec.truncated, None);
    // Roll: the sealed segment is cut to its records before the next file exists.
    let mut last = pos[2];
    while last.segment == 1 {
        last = log.append(&[&body(7, 10_000)]).unwrap();
    }
    log.write_pending().unwrap();
    log.sync().unwrap();
    assert_eq!(
        std::fs::metadata(&path).unwrap().len(),
        log.segment_bytes(1)
    );
    assert!(std::fs::metadata(seg_path(tmp.path(), 2)).unwrap().len() > log.segment_bytes(2));
    drop(log);
    let (log, rec) = SegmentLog::open(config(tmp.path(), seg)).unwrap();
    assert_eq!(rec.truncated, None);
    assert_eq!(log.read(last).unwrap(), body(7, 10_000));
    assert!(log.scan(1).unwrap().all(|r| r.is_ok()));
    // Without fdatasync (the spill log) nothing is preallocated.
    let tmp2 = tempfile::tempdir().unwrap();
    let (log, _) = SegmentLog::open(SegmentConfig {
        fdatasync: false,
        ..config(tmp2.path(), seg)
    })
    .unwrap();
    let p = log.append(&[b"x"]).unwrap();
    log.write_pending().unwrap();
    assert_eq!(
        std::fs::metadata(seg_path(tmp2.path(), 1)).unwrap().len(),
        end_of(p)
    );
}

#[test]
fn a_flipped_byte_in_the_last_record_cuts_it_off() {
    for at in [0, 5, RECORD_HEADER_LEN + 10] {
        let tmp = tempfile::tempdir().unwrap();
        let pos = fill(tmp.path(), 1 << 20, 6, 200);
        flip_byte(&seg_path(tmp.path(), 1), u64::from(pos[5].offset) + at);
        let (_, rec) = SegmentLog::open(config(tmp.path(), 1 << 20)).unwrap();
        let cut = rec.truncated.expect("reported");
        assert_eq!(cut.offset, u64::from(pos[5].offset), "flip at +{at}");
        reopen_keeps_prefix(tmp.path(), 1 << 20, &pos, 5);
    }
}

/// Damage in the middle of the last segment cuts everything after it too: a crash can
/// leave holes in the last unsynced write (pages reach the disk in any order), so a
/// whole record after a bad one proves nothing. The cut is reported (with the bytes
/// dropped); a caller whose index points past it gets `Corrupt` from `read`.
#[test]
fn a_flipped_byte_mid_last_segment_cuts_from_there_and_reports_it() {
    let tmp = tempfile::tempdir().unwrap();
    let pos = fill(tmp.path(), 1 << 20, 6, 200);
    flip_byte(&seg_path(tmp.path(), 1), u64::from(pos[2].offset) + 50);
    let file_len = std::fs::metadata(seg_path(tmp.path(), 1)).unwrap().len();
    let (log, rec) = SegmentLog::open(config(tmp.path(), 1 << 20)).unwrap();
    let cut = rec.truncated.expect("reported");
    assert_eq!(cut.offset, u64::from(pos[2].offset));
    assert_eq!(cut.dropped_bytes, file_len - u64::from(pos[2].offset));
    assert!(cut.reason.contains("checksum"), "{}", cut.reason);
    for p in &pos[2..] {
        assert!(matches!(log.read(*p), Err(StoreError::Corrupt { .. })));
    }
    drop(log);
    reopen_keeps_prefix(tmp.path(), 1 << 20, &pos, 2);
}

#[test]
fn a_flipped_byte_in_a_sealed_segment_is_a_corrupt_read_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    // 4 KiB segments of 3 records of 1 KiB: segments 1..=3 sealed, 4 active.
    let pos = fill(tmp.path(), 4096, 10, 1024);
    assert_eq!(pos[4].segment, 2);
    let path = seg_path(tmp.path(), 2);
    flip_byte(&path, u64::from(pos[4].offset) + RECORD_HEADER_LEN + 512);
    let (log, rec) = SegmentLog::open(config(tmp.path(), 4096)).unwrap();
    assert_eq!(rec.truncated, None, "sealed segments are not read at open");
    match log.read(pos[4]) {
        Err(StoreError::Corrupt { path: p, detail }) => {
            assert_eq!(p, path);
            assert!(detail.contains("checksum"), "{detail}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    for (i, p) in pos.iter().enumerate().filter(|(i, _)| *i != 4) {
        assert_eq!(log.read(*p).unwrap(), body(i, 1024));
    }
    let scanned: Vec<_> = log.scan(2).unwrap().collect();
    assert_eq!(
        scanned.len(),
        2,
        "one good record, then the error, then the end"
    );
    assert_eq!(scanned[0].as_ref().unwrap().0, pos[3]);
    assert!(matches!(&scanned[1], Err(StoreError::Corrupt { path: p, .. }) if *p == path));
    // A damaged length field in a sealed segment: an error, no huge allocation.
    flip_byte(&path, u64::from(pos[5].offset) + 3);
    assert!(matches!(log.read(pos[5]), Err(StoreError::Corrupt { .. })));
}

#[test]
fn a_sealed_segment_cut_short_is_a_corrupt_read_and_scan() {
    let tmp = tempfile::tempdir().unwrap();
    let pos = fill(tmp.path(), 4096, 8, 1024);
    let path = seg_path(tmp.path(), 1);
    set_len(&path, end_of(pos[1]) + 10);
    let (log, rec) = SegmentLog::open(config(tmp.path(), 4096)).unwrap();
    assert_eq!(rec.truncated, None);
    assert_eq!(log.segment_bytes(1), end_of(pos[1]) + 10);
    match log.read(pos[2]) {
        Err(StoreError::Corrupt { path: p, detail }) => {
            assert_eq!(p, path);
            assert!(detail.contains("outside"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
    let scanned: Vec<_> = log.scan(1).unwrap().collect();
    assert_eq!(scanned.len(), 3);
    assert!(scanned[2].is_err());
}

#[test]
fn a_new_segment_whose_header_never_reached_the_disk_is_restarted() {
    for content in [&[][..], &b"WSE"[..], &[0u8; 8][..], &[0u8; 300][..]] {
        let tmp = tempfile::tempdir().unwrap();
        let pos = fill(tmp.path(), 4096, 4, 1024);
        assert_eq!(pos[3].segment, 2);
        // The crash hit while segment 3 was being created.
        std::fs::write(seg_path(tmp.path(), 3), content).unwrap();
        let (log, rec) = SegmentLog::open(config(tmp.path(), 4096)).unwrap();
        assert_eq!(rec.segments, 3);
        let cut = rec.truncated.expect("reported");
        assert_eq!((cut.segment, cut.offset), (3, 0));
        assert_eq!(log.active_segment(), 3);
        // The header is rewritten at open: garbage a later crash leaves after it is a
        // tail to cut, not a foreign file.
        let path = seg_path(tmp.path(), 3);
        assert_eq!(std::fs::read(&path).unwrap(), b"WSEG\x01\0\0\0");
        OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"garbage!")
            .unwrap();
        drop(log);
        let (log, rec) = SegmentLog::open(config(tmp.path(), 4096)).unwrap();
        assert_eq!(
            rec.truncated.map(|t| (t.offset, t.dropped_bytes)),
            Some((8, 8))
        );
        let p = log.append(&[b"first of 3"]).unwrap();
        assert_eq!((p.segment, u64::from(p.offset)), (3, FILE_HEADER_LEN));
        log.write_pending().unwrap();
        log.sync().unwrap();
        drop(log);
        let (log, rec) = SegmentLog::open(config(tmp.path(), 4096)).unwrap();
        assert_eq!((rec.truncated, rec.tail_records), (None, 1));
        assert_eq!(&log.read(p).unwrap()[..], b"first of 3");
        for (i, q) in pos.iter().enumerate() {
            assert_eq!(log.read(*q).unwrap(), body(i, 1024));
        }
    }
}

#[test]
fn rollover_boundaries_survive_reopen() {
    let tmp = tempfile::tempdir().unwrap();
    // 8 + 4 × 1016 = 4072 <= 4096 < 4072 + 1016: exactly four 1008-byte records a segment.
    let seg = 4096;
    let mut all = fill(tmp.path(), seg, 4, 1008);
    assert!(all.iter().all(|p| p.segment == 1));
    // Reopen on a full segment: the next append rolls to a new file.
    let (log, rec) = SegmentLog::open(config(tmp.path(), seg)).unwrap();
    assert_eq!((rec.tail_records, log.active_segment()), (4, 1));
    let p = log.append(&[&body(4, 1008)]).unwrap();
    assert_eq!((p.segment, u64::from(p.offset)), (2, FILE_HEADER_LEN));
    all.push(p);
    // Write, then tear the new segment's only record: segment 1 untouched.
    log.write_pending().unwrap();
    log.sync().unwrap();
    drop(log);
    set_len(&seg_path(tmp.path(), 2), FILE_HEADER_LEN + 10);
    let (log, rec) = SegmentLog::open(config(tmp.path(), seg)).unwrap();
    assert_eq!(
        rec.truncated.map(|t| (t.segment, t.offset)),
        Some((2, FILE_HEADER_LEN))
    );
    assert_eq!(log.segments(), vec![1, 2]);
    drop(log);
    reopen_keeps_prefix(tmp.path(), seg, &all, 4);
    // A smaller segment size on the next run: the active segment, now over it, rolls.
    let (log, _) = SegmentLog::open(config(tmp.path(), 1 << 20)).unwrap();
    let big = log.append(&[&body(9, 8000)]).unwrap();
    log.write_pending().unwrap();
    drop(log);
    let (log, _) = SegmentLog::open(config(tmp.path(), seg)).unwrap();
    assert_eq!(log.active_segment(), big.segment);
    let p = log.append(&[b"small"]).unwrap();
    assert_eq!(p.segment, big.segment + 1);
    assert_eq!(log.read(big).unwrap(), body(9, 8000));
}
