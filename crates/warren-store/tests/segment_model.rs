//! Model test of the segment log's durability: random appends, writes, syncs and
//! simulated crashes (the log dropped with unwritten records, then the last segment file
//! cut, extended with garbage or damaged anywhere past what was synced, as a torn write
//! leaves it). After every reopen the log holds exactly a prefix of the appended
//! records, at least everything synced, with the same positions and payloads.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

use proptest::prelude::*;
use warren_store::segment::{FILE_HEADER_LEN, RECORD_HEADER_LEN};
use warren_store::{Position, SegmentConfig, SegmentLog};

#[derive(Debug, Clone)]
enum Damage {
    /// Cut the last file at this fraction (per mille) of the unsynced span.
    Cut(u16),
    /// Append garbage bytes (zeros when the seed is even).
    Garbage(u16, u8),
    /// Flip a byte at this fraction (per mille) of the unsynced records.
    Flip(u16),
    /// None: a clean stop.
    Clean,
}

#[derive(Debug, Clone)]
enum Op {
    Append(usize, u8),
    Write,
    Sync,
    Crash(Damage),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0usize..1500, any::<u8>()).prop_map(|(l, s)| Op::Append(l, s)),
        2 => Just(Op::Write),
        2 => Just(Op::Sync),
        1 => prop_oneof![
            (0u16..=1000).prop_map(Damage::Cut),
            (1u16..3000, any::<u8>()).prop_map(|(n, s)| Damage::Garbage(n, s)),
            (0u16..1000).prop_map(Damage::Flip),
            Just(Damage::Clean),
        ]
        .prop_map(Op::Crash),
    ]
}

fn payload(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| seed.wrapping_add(i as u8).wrapping_mul(31))
        .collect()
}

fn end_of(p: &Position) -> u64 {
    u64::from(p.offset) + RECORD_HEADER_LEN + u64::from(p.len)
}

/// The model: records appended (in order), how many were written, how many synced.
struct Model {
    records: Vec<(Position, Vec<u8>)>,
    written: usize,
    synced: usize,
}

fn config(dir: &Path) -> SegmentConfig {
    SegmentConfig {
        dir: dir.to_path_buf(),
        segment_bytes: 4096,
        fdatasync: true,
    }
}

/// Damages the highest-numbered segment file past its synced records; returns nothing,
/// the check after reopen derives what must survive from the files' state.
fn damage(dir: &Path, model: &Model, how: &Damage) {
    let Some(last) = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            e.unwrap()
                .file_name()
                .to_str()?
                .strip_suffix(".seg")?
                .parse::<u32>()
                .ok()
        })
        .max()
    else {
        return;
    };
    let path = dir.join(format!("{last:010}.seg"));
    let len = std::fs::metadata(&path).unwrap().len();
    // Bytes of this file that a crash cannot lose: up to its last synced record.
    let floor = model.records[..model.synced]
        .iter()
        .rev()
        .find(|(p, _)| p.segment == last)
        .map_or(0, |(p, _)| end_of(p));
    match how {
        Damage::Clean => {}
        Damage::Cut(f) => {
            let at = floor + (len - floor) * u64::from(*f) / 1000;
            OpenOptions::new()
                .write(true)
                .open(&path)
                .unwrap()
                .set_len(at)
                .unwrap();
        }
        Damage::Garbage(n, seed) => {
            let bytes: Vec<u8> = (0..*n)
                .map(|i| if seed % 2 == 0 { 0 } else { (i as u8) ^ seed })
                .collect();
            OpenOptions::new()
                .append(true)
                .open(&path)
                .unwrap()
                .write_all(&bytes)
                .unwrap();
        }
        Damage::Flip(f) => {
            let from = floor.max(FILE_HEADER_LEN);
            if len > from {
                let at = from + (len - from) * u64::from(*f) / 1000;
                let mut bytes = std::fs::read(&path).unwrap();
                bytes[at as usize] ^= 0x10;
                std::fs::write(&path, bytes).unwrap();
            }
        }
    }
}

/// Reopens and checks the log holds exactly a prefix of the model, at least the synced
/// part; the model becomes that prefix.
fn reopen_and_check(dir: &Path, model: &mut Model) -> SegmentLog {
    let (log, _) = SegmentLog::open(config(dir)).unwrap();
    let mut found = Vec::new();
    for s in log.segments() {
        for item in log.scan(s).unwrap() {
            found.push(item.unwrap());
        }
    }
    let k = found.len();
    assert!(
        k >= model.synced,
        "lost synced records: {k} < {}",
        model.synced
    );
    assert!(
        k <= model.written,
        "found unwritten records: {k} > {}",
        model.written
    );
    for (i, (pos, bytes)) in found.iter().enumerate() {
        assert_eq!(*pos, model.records[i].0, "record {i}");
        assert_eq!(&bytes[..], &model.records[i].1[..], "record {i}");
        assert_eq!(log.read(*pos).unwrap(), bytes, "read of record {i}");
    }
    model.records.truncate(k);
    model.written = k;
    model.synced = model.synced.min(k);
    log
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn recovery_keeps_exactly_a_prefix_including_everything_synced(
        ops in proptest::collection::vec(op(), 1..60)
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let mut model = Model { records: Vec::new(), written: 0, synced: 0 };
        let (mut log, _) = SegmentLog::open(config(tmp.path())).unwrap();
        for op in ops {
            match op {
                Op::Append(len, seed) => {
                    let p = payload(len, seed);
                    let (a, b) = p.split_at(len / 3);
                    let pos = log.append(&[a, b]).unwrap();
                    prop_assert_eq!(&log.read(pos).unwrap()[..], &p[..]);
                    model.records.push((pos, p));
                }
                Op::Write => {
                    log.write_pending().unwrap();
                    model.written = model.records.len();
                }
                Op::Sync => {
                    log.sync().unwrap();
                    model.synced = model.written;
                }
                Op::Crash(how) => {
                    drop(log);
                    model.records.truncate(model.written);
                    damage(tmp.path(), &model, &how);
                    log = reopen_and_check(tmp.path(), &mut model);
                }
            }
        }
        log.write_pending().unwrap();
        log.sync().unwrap();
        model.written = model.records.len();
        model.synced = model.written;
        drop(log);
        let log = reopen_and_check(tmp.path(), &mut model);
        prop_assert_eq!(model.records.len(), model.written);
        drop(log);
    }
}
