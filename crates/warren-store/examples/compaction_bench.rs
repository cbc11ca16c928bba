//! Measures segment compaction (copying the live records of mostly-dead segments to
//! the head of the log): bytes copied and time per step, and whether a publisher
//! running at the same time is slowed.
//!
//! ```sh
//! cargo run --release -p warren-store --example compaction_bench -- \
//!     [--segments N] [--segment-mib N] [--keep N] [--step-kib N] [--dir PATH] [--background]
//! ```
//!
//! 1. Fills `--segments` segments of `--segment-mib` MiB with 1 KiB persistent messages
//!    in one queue.
//! 2. Baseline: after 3 s for the fill's write-back to settle, a publisher thread
//!    stores, syncs (group commit) and acks batches of 100 messages for 3 s; reports
//!    messages/s and the p50/p99/max batch latency. Repeated after step 4.
//! 3. Acks all but 1 in `--keep` of the backlog (their segments stay, mostly dead).
//! 4. The same publisher while the segments are compacted: by another thread calling
//!    `compact_segments` (every step back to back), or with `--background` by the
//!    store's own thread (checks every 200 ms, 10 ms between steps, as in the broker
//!    but for the check interval); reports the same figures for the compaction's
//!    duration, and the compaction's records and bytes copied, steps, longest step and
//!    durable commits.
//! 4. Reopens the store and checks every surviving message reads back.
//!
//! Uses a fresh directory under `--dir` (default: the system temp dir), removed at the end.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use warren_store::{
    EntryRecord, MessageRecord, QueueId, QueueRecord, SledStore, Store, StoreConfig,
};

struct Args {
    segments: u64,
    segment_mib: u64,
    keep: u64,
    step_kib: u64,
    dir: PathBuf,
    background: bool,
}

fn args() -> Args {
    let mut a = Args {
        segments: 8,
        segment_mib: 64,
        keep: 10,
        step_kib: 4096,
        dir: std::env::temp_dir(),
        background: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut num = |v: u64| it.next().and_then(|s| s.parse().ok()).unwrap_or(v);
        match arg.as_str() {
            "--segments" => a.segments = num(a.segments),
            "--segment-mib" => a.segment_mib = num(a.segment_mib),
            "--keep" => a.keep = num(a.keep).max(1),
            "--step-kib" => a.step_kib = num(a.step_kib).max(1),
            "--dir" => a.dir = it.next().map(PathBuf::from).unwrap_or(a.dir),
            "--background" => a.background = true,
            other => panic!("unknown argument {other}"),
        }
    }
    a
}

fn message(body: &Bytes) -> MessageRecord {
    MessageRecord {
        exchange: "x".into(),
        routing_key: "k".into(),
        raw_properties: Bytes::from_static(&[0x10, 0x00, 0x02]),
        body: body.clone(),
        published_at_ms: 1,
        expiration_ms: None,
    }
}

fn publish(store: &SledStore, q: QueueId, seq: u64, body: &Bytes) {
    let id = store.next_message_id().unwrap();
    store.put_message(id, &message(body)).unwrap();
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

struct Rate {
    messages: u64,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Rate {
    fn report(&mut self, label: &str) {
        self.latencies.sort();
        let pct = |p: usize| {
            self.latencies[(self.latencies.len() * p / 100).min(self.latencies.len() - 1)]
        };
        println!(
            "{label}: {:.0} msg/s ({} messages in {:.2} s), batch of 100 store+sync+ack: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            self.messages as f64 / self.elapsed.as_secs_f64(),
            self.messages,
            self.elapsed.as_secs_f64(),
            pct(50).as_secs_f64() * 1e3,
            pct(99).as_secs_f64() * 1e3,
            self.latencies.last().unwrap().as_secs_f64() * 1e3,
        );
    }
}

/// Publishes, syncs and acks batches of 100 until `stop` (or `limit` passes).
fn publisher(
    store: &SledStore,
    q: QueueId,
    first_seq: u64,
    stop: &AtomicBool,
    limit: Duration,
) -> Rate {
    let body = Bytes::from(vec![b'p'; 1024]);
    let began = Instant::now();
    let mut seq = first_seq;
    let mut latencies = Vec::new();
    while !stop.load(Ordering::Relaxed) && began.elapsed() < limit {
        let t = Instant::now();
        let seqs: Vec<u64> = (seq..seq + 100).collect();
        for &s in &seqs {
            publish(store, q, s, &body);
        }
        store.sync().wait().unwrap();
        store.remove(q, &seqs).unwrap();
        latencies.push(t.elapsed());
        seq += 100;
    }
    Rate {
        messages: seq - first_seq,
        elapsed: began.elapsed(),
        latencies,
    }
}

fn main() {
    let a = args();
    let dir = tempfile::Builder::new()
        .prefix("warren-compaction-bench")
        .tempdir_in(&a.dir)
        .unwrap();
    let mut config = StoreConfig::new(dir.path());
    config.compaction.check_every = a.background.then(|| Duration::from_millis(200));
    config.segment_bytes = a.segment_mib << 20;
    config.compaction.segment_step_bytes = a.step_kib << 10;
    let store = Arc::new(SledStore::open(&config).unwrap());
    let queue = |name: &str| {
        store
            .put_queue(&QueueRecord {
                vhost: "/".into(),
                name: name.into(),
                auto_delete: false,
                arguments: Bytes::new(),
            })
            .unwrap()
    };
    let (backlog, work) = (queue("backlog"), queue("work"));

    let body = Bytes::from(vec![b'b'; 1024]);
    let n = a.segments * (a.segment_mib << 20) / 1060;
    let began = Instant::now();
    for seq in 0..n {
        publish(&store, backlog, seq, &body);
        if seq % 1000 == 999 {
            store.sync().wait().unwrap();
        }
    }
    store.sync().wait().unwrap();
    println!(
        "filled {n} x 1 KiB in {:.1} s",
        began.elapsed().as_secs_f64()
    );
    std::thread::sleep(Duration::from_secs(3));
    let stop = AtomicBool::new(false);
    publisher(&store, work, 0, &stop, Duration::from_secs(3)).report("publisher alone      ");

    let gone: Vec<u64> = (0..n).filter(|s| s % a.keep != 0).collect();
    store.remove(backlog, &gone).unwrap();
    store.sync().wait().unwrap();
    store.sync().wait().unwrap();
    let before = store.stats().unwrap();
    println!(
        "kept 1 in {}: {} segments, {:.1} MiB of segment files",
        a.keep,
        before.segments,
        before.segment_bytes as f64 / (1 << 20) as f64
    );
    let expected = before.segments - 1;
    let compactor = {
        let store = store.clone();
        let background = a.background;
        std::thread::spawn(move || {
            let t = Instant::now();
            if !background {
                return (store.compact_segments().unwrap(), t.elapsed());
            }
            while store.segment_compaction_totals().segments < expected {
                assert!(t.elapsed() < Duration::from_secs(300), "no compaction");
                std::thread::sleep(Duration::from_millis(5));
            }
            (store.segment_compaction_totals(), t.elapsed())
        })
    };
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let r = compactor.join().unwrap();
            stop.store(true, Ordering::Relaxed);
            r
        })
    };
    let mut during = publisher(&store, work, 1 << 40, &stop, Duration::from_secs(600));
    let (done, took) = watcher.join().unwrap();
    during.report("publisher compacting");
    let stop = AtomicBool::new(false);
    publisher(&store, work, 2 << 40, &stop, Duration::from_secs(3)).report("publisher alone again");
    store.sync().wait().unwrap();
    let after = store.stats().unwrap();
    println!(
        "compaction: {} segments in {:.2} s; {} records / {:.1} MiB copied ({:.0} MB/s of wall time); {} steps of <= {} KiB scanned, longest {:.2} ms; durable commits {:.1} ms in all ({:.1} ms per segment)",
        done.segments,
        took.as_secs_f64(),
        done.records_copied,
        done.bytes_copied as f64 / (1 << 20) as f64,
        done.bytes_copied as f64 / took.as_secs_f64() / 1e6,
        done.steps,
        a.step_kib,
        done.longest_step.as_secs_f64() * 1e3,
        done.commit_time.as_secs_f64() * 1e3,
        done.commit_time.as_secs_f64() * 1e3 / done.segments.max(1) as f64,
    );
    println!(
        "segment files: {} ({:.1} MiB) -> {} ({:.1} MiB)",
        before.segments,
        before.segment_bytes as f64 / (1 << 20) as f64,
        after.segments,
        after.segment_bytes as f64 / (1 << 20) as f64
    );
    drop(store);
    let store = SledStore::open(&config).unwrap();
    let mut read = 0u64;
    for e in store.entries(backlog).unwrap() {
        let e = e.unwrap();
        let m = store
            .get_message(e.record.message_id)
            .unwrap()
            .expect("live message");
        assert_eq!(m.body, body);
        read += 1;
    }
    assert_eq!(read, n.div_ceil(a.keep));
    println!("after reopen: all {read} live messages read back intact");
}
