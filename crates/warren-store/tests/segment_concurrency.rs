//! Appends, reads, writes and syncs from several threads at once, across segment rolls:
//! every record reads back as appended at every moment (from memory while unwritten,
//! from the file after), and a reopen finds all of them, in order, once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use warren_store::{Position, SegmentConfig, SegmentLog};

fn body(thread: usize, i: usize) -> Vec<u8> {
    let len = 1 + (i * 97 + thread * 13) % 3000;
    let mut b = vec![(thread * 7 + i) as u8; len];
    b[..8.min(len)].copy_from_slice(&((thread << 32 | i) as u64).to_le_bytes()[..8.min(len)]);
    b
}

#[test]
fn concurrent_appends_reads_writes_and_syncs_agree_and_survive_reopen() {
    let tmp = tempfile::tempdir().unwrap();
    let config = SegmentConfig {
        dir: tmp.path().to_path_buf(),
        segment_bytes: 64 << 10,
        fdatasync: true,
    };
    let (log, _) = SegmentLog::open(config.clone()).unwrap();
    let log = Arc::new(log);
    let appended: Arc<Mutex<Vec<(Position, usize, usize)>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    const THREADS: usize = 4;
    const PER_THREAD: usize = 1500;

    let committer = {
        let (log, stop) = (log.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut commits = 0;
            while !stop.load(Ordering::Relaxed) {
                log.write_pending().unwrap();
                log.sync().unwrap();
                commits += 1;
            }
            commits
        })
    };
    let reader = {
        let (log, stop, appended) = (log.clone(), stop.clone(), appended.clone());
        std::thread::spawn(move || {
            let mut reads = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let sample: Vec<_> = {
                    let all = appended.lock().unwrap();
                    all.iter().rev().step_by(7).take(50).copied().collect()
                };
                for (pos, t, i) in sample {
                    assert_eq!(log.read(pos).unwrap(), body(t, i), "{pos:?}");
                    reads += 1;
                }
            }
            reads
        })
    };
    let writers: Vec<_> = (0..THREADS)
        .map(|t| {
            let (log, appended) = (log.clone(), appended.clone());
            std::thread::spawn(move || {
                for i in 0..PER_THREAD {
                    let b = body(t, i);
                    let (head, tail) = b.split_at(b.len() / 2);
                    let pos = log.append(&[head, tail]).unwrap();
                    assert_eq!(log.read(pos).unwrap(), b);
                    appended.lock().unwrap().push((pos, t, i));
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    let commits = committer.join().unwrap();
    let reads = reader.join().unwrap();
    assert!(commits > 0 && reads > 0, "commits {commits}, reads {reads}");
    log.write_pending().unwrap();
    log.sync().unwrap();
    let expected: HashMap<Position, (usize, usize)> = appended
        .lock()
        .unwrap()
        .iter()
        .map(|(p, t, i)| (*p, (*t, *i)))
        .collect();
    assert_eq!(expected.len(), THREADS * PER_THREAD, "positions are unique");
    assert!(log.segments().len() > 10, "rolled: {:?}", log.segments());
    drop(log);

    let (log, rec) = SegmentLog::open(config).unwrap();
    assert_eq!(rec.truncated, None);
    let mut seen = 0;
    let mut last = None;
    for segment in log.segments() {
        for item in log.scan(segment).unwrap() {
            let (pos, payload) = item.unwrap();
            assert!(last < Some(pos), "scan order");
            last = Some(pos);
            let (t, i) = expected[&pos];
            assert_eq!(payload, body(t, i));
            seen += 1;
        }
    }
    assert_eq!(seen, expected.len());
    // Per thread, positions grow with the append order.
    for t in 0..THREADS {
        let mut mine: Vec<_> = expected.iter().filter(|(_, v)| v.0 == t).collect();
        mine.sort_by_key(|(_, v)| v.1);
        assert!(mine.windows(2).all(|w| w[0].0 < w[1].0));
    }
}
