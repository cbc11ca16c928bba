//! Measures the store: group-commit throughput, recovery time, bytes on disk per
//! message, and how far the data directory shrinks back after a drain.
//!
//! ```sh
//! cargo run --release -p warren-store --example store_bench -- [all|throughput|recovery|compact|reclaim|ackpath] [--messages N] [--dir PATH]
//! ```
//!
//! `ackpath` mimics the broker's calls for persistent messages with confirms and an
//! acking consumer (see [`ackpath`]) and reports the process's CPU per message.
//!
//! Each phase uses a fresh directory under `--dir` (default: the system temp dir).
//! `--body N` sets the body size (default 1,024 bytes): opening never reads bodies, so
//! `recovery --body 64` measures the open of millions of entries without gigabytes of
//! segments.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use warren_store::{EntryRecord, MessageRecord, QueueRecord, SledStore, Store, StoreConfig};

/// Body size of the messages written (`--body N`, default 1 KiB).
static BODY: AtomicU64 = AtomicU64::new(1024);

fn body_bytes() -> usize {
    BODY.load(Ordering::Relaxed) as usize
}

struct Args {
    cache_mib: u64,
    fdatasync: bool,
    idle_after_drain: bool,
    batch: u64,
    ack_lag: u64,
    ack_delay_us: Option<u64>,
    phase: String,
    messages: u64,
    dir: PathBuf,
}

fn args() -> Args {
    let mut a = Args {
        cache_mib: 128,
        fdatasync: true,
        idle_after_drain: false,
        batch: 50,
        ack_lag: 4,
        ack_delay_us: None,
        phase: "all".into(),
        messages: 1_000_000,
        dir: std::env::temp_dir(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--messages" => {
                a.messages = it.next().and_then(|v| v.parse().ok()).unwrap_or(a.messages)
            }
            "--no-fdatasync" => a.fdatasync = false,
            "--cache-mib" => {
                a.cache_mib = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(a.cache_mib)
            }
            "--idle-after-drain" => a.idle_after_drain = true,
            "--batch" => a.batch = it.next().and_then(|v| v.parse().ok()).unwrap_or(a.batch),
            "--ack-delay-us" => a.ack_delay_us = it.next().and_then(|v| v.parse().ok()),
            "--ack-lag" => a.ack_lag = it.next().and_then(|v| v.parse().ok()).unwrap_or(a.ack_lag),
            "--body" => {
                if let Some(n) = it.next().and_then(|v| v.parse().ok()) {
                    BODY.store(n, Ordering::Relaxed);
                }
            }
            "--dir" => a.dir = it.next().map(PathBuf::from).unwrap_or(a.dir),
            phase => a.phase = phase.to_string(),
        }
    }
    a
}

fn message(seq: u64) -> MessageRecord {
    let mut body = vec![0u8; body_bytes()];
    for (i, b) in body.iter_mut().enumerate() {
        *b = (seq.wrapping_mul(31).wrapping_add(i as u64 * 7) % 251) as u8;
    }
    MessageRecord {
        exchange: String::new(),
        routing_key: "bench".into(),
        raw_properties: Bytes::from_static(&[0x10, 0x00, 0x02]),
        body: Bytes::from(body),
        published_at_ms: 1_700_000_000_000 + seq,
        expiration_ms: None,
    }
}

fn queue(name: &str) -> QueueRecord {
    QueueRecord {
        vhost: "/".into(),
        name: name.into(),
        auto_delete: false,
        arguments: Bytes::new(),
    }
}

fn entry(seq: u64, id: u64) -> EntryRecord {
    EntryRecord {
        seq,
        message_id: id,
        expires_at_ms: None,
        priority: 0,
        body_len: body_bytes() as u32,
    }
}

fn fresh(root: &Path, name: &str) -> PathBuf {
    let dir = root.join(format!("warren-store-bench-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Bytes of every file under `dir` (what `du --apparent-size` counts).
fn dir_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => total += dir_bytes(&e.path()),
                Ok(m) => total += m.len(),
                Err(_) => {}
            }
        }
    }
    total
}

/// This process's resident memory (VmRSS) from /proc.
fn rss() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .map(|l| l.trim_start_matches("VmRSS:").trim().to_string())
        })
        .unwrap_or_else(|| "?".into())
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1 << 20) as f64)
}

/// `writers` threads each doing put + enqueue + sync for `duration`, with up to
/// `window` syncs outstanding per writer (1: wait for each write's sync before the
/// next; more: like a publisher with a confirm window).
fn throughput(root: &Path, fdatasync: bool, writers: u64, window: usize, duration: Duration) {
    let dir = fresh(root, &format!("tp{writers}"));
    let mut config = StoreConfig::new(&dir);
    config.fdatasync = fdatasync;
    let store = Arc::new(SledStore::open(&config).expect("open"));
    let q = store.put_queue(&queue("q")).expect("queue");
    let done = Arc::new(AtomicU64::new(0));
    let flushes_before = store.stats().expect("stats").flushes;
    let start = Instant::now();
    let threads: Vec<_> = (0..writers)
        .map(|t| {
            let (store, done) = (store.clone(), done.clone());
            std::thread::spawn(move || {
                let mut seq = t << 40;
                let mut pending = std::collections::VecDeque::new();
                while start.elapsed() < duration {
                    let id = store.next_message_id().expect("id");
                    store.put_message(id, &message(seq)).expect("put");
                    store.enqueue(q, &entry(seq, id)).expect("enqueue");
                    pending.push_back(store.sync());
                    while pending.len() >= window {
                        if let Some(ticket) = pending.pop_front() {
                            ticket.wait().expect("sync");
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    seq += 1;
                }
                for ticket in pending {
                    ticket.wait().expect("sync");
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("writer");
    }
    let secs = start.elapsed().as_secs_f64();
    let n = done.load(Ordering::Relaxed);
    let flushes = store.stats().expect("stats").flushes - flushes_before;
    println!(
        "throughput writers={writers} window={window} fdatasync={fdatasync}: {:.0} durable writes/s, {:.0} flushes/s, {:.1} writes per flush ({n} writes in {secs:.1} s)",
        n as f64 / secs,
        flushes as f64 / secs,
        n as f64 / flushes.max(1) as f64
    );
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Puts and enqueues `n` messages into one queue, syncing every 1,000.
fn fill(store: &SledStore, n: u64) {
    let q = store.put_queue(&queue("backlog")).expect("queue");
    for seq in 0..n {
        let id = store.next_message_id().expect("id");
        store.put_message(id, &message(seq)).expect("put");
        store.enqueue(q, &entry(seq, id)).expect("enqueue");
        if seq % 1000 == 999 {
            store.sync().wait().expect("sync");
        }
    }
    store.sync().wait().expect("sync");
}

fn recovery(root: &Path, n: u64, cache_mib: u64) {
    let dir = fresh(root, "recovery");
    let mut config = StoreConfig::new(&dir);
    config.cache_capacity_bytes = cache_mib << 20;
    let start = Instant::now();
    {
        let store = SledStore::open(&config).expect("open");
        fill(&store, n);
        let secs = start.elapsed().as_secs_f64();
        println!(
            "fill: {n} messages put+enqueued in {secs:.1} s ({:.0}/s, sync every 1000); RSS {}",
            n as f64 / secs,
            rss()
        );
        let mut delivered: Vec<u64> = (0..n).step_by(10).collect();
        delivered.truncate(100_000);
        let q = store.recover().expect("recover").queues[0].id;
        store.mark_delivered(q, &delivered).expect("mark");
        store.sync().wait().expect("sync");
    }
    let bytes = dir_bytes(&dir);
    println!(
        "on disk: {} for {n} messages = {:.0} bytes per stored 1 KiB message; RSS after closing {}",
        mib(bytes),
        bytes as f64 / n as f64,
        rss()
    );
    let start = Instant::now();
    let store = SledStore::open(&config).expect("reopen");
    let opened = start.elapsed();
    println!("open timings: {:?}; RSS {}", store.open_timings(), rss());
    let recovered = store.recover().expect("recover");
    let topology = start.elapsed();
    let mut count = 0u64;
    let mut delivered = 0u64;
    for q in &recovered.queues {
        for e in store.entries(q.id).expect("entries") {
            let e = e.expect("entry");
            count += 1;
            delivered += u64::from(e.delivered);
        }
    }
    let all = start.elapsed();
    assert_eq!(count, n, "every message recovered");
    println!(
        "recovery of {n} messages: open (sled + refcount pass) {:.2} s, topology {:.2} s, all entries streamed {:.2} s ({delivered} delivered flags); RSS {}",
        opened.as_secs_f64(),
        topology.as_secs_f64(),
        all.as_secs_f64(),
        rss()
    );
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}

fn reclaim(root: &Path, n: u64, idle: bool) {
    let dir = fresh(root, "reclaim");
    let store = SledStore::open(&StoreConfig::new(&dir)).expect("open");
    let q = store.put_queue(&queue("q")).expect("queue");
    store.sync().wait().expect("sync");
    let start_bytes = dir_bytes(&dir);
    // Published and consumed with a backlog of up to 100,000 messages.
    let backlog = 100_000.min(n);
    let mut peak = 0;
    let began = Instant::now();
    for seq in 0..n {
        let id = store.next_message_id().expect("id");
        store.put_message(id, &message(seq)).expect("put");
        store.enqueue(q, &entry(seq, id)).expect("enqueue");
        if seq >= backlog {
            store.remove(q, &[seq - backlog]).expect("remove");
        }
        if seq % 1000 == 999 {
            store.sync().wait().expect("sync");
            if seq % 100_000 == 99_999 {
                peak = peak.max(dir_bytes(&dir));
            }
        }
    }
    let seqs: Vec<u64> = (n - backlog..n).collect();
    store.remove(q, &seqs).expect("drain");
    store.sync().wait().expect("sync");
    let drained = dir_bytes(&dir);
    println!(
        "reclaim: {n} x 1 KiB published and consumed (backlog {backlog}) in {:.1} s; start {}, peak {}, right after drain {}",
        began.elapsed().as_secs_f64(),
        mib(start_bytes),
        mib(peak),
        mib(drained)
    );
    // Then a trickle, as a live broker would see: one message published and consumed
    // every millisecond (or nothing, with --idle-after-drain), until the directory is
    // back within 8 MiB of its start.
    let settle = Instant::now();
    let mut last = drained;
    let mut seq = n;
    while settle.elapsed() < Duration::from_secs(120) && last > start_bytes + (8 << 20) {
        let tick = Instant::now();
        while tick.elapsed() < Duration::from_millis(100) {
            if idle {
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
            let id = store.next_message_id().expect("id");
            store.put_message(id, &message(seq)).expect("put");
            store.enqueue(q, &entry(seq, id)).expect("enqueue");
            store.remove(q, &[seq]).expect("remove");
            seq += 1;
            std::thread::sleep(Duration::from_millis(1));
        }
        store.sync().wait().expect("sync");
        last = dir_bytes(&dir);
    }
    let stats = store.stats().expect("stats");
    println!(
        "reclaim: {}, back to {} ({} above the start) {:.1} s after the drain; {} compaction(s)",
        if idle {
            "idle"
        } else {
            "with a trickle of 1 msg/ms"
        },
        mib(last),
        mib(last.saturating_sub(start_bytes)),
        settle.elapsed().as_secs_f64(),
        stats.compactions
    );
    drop(store);
    let reopened = SledStore::open(&StoreConfig::new(&dir)).expect("reopen");
    drop(reopened);
    println!("reclaim: after a restart {}", mib(dir_bytes(&dir)));
    let _ = std::fs::remove_dir_all(&dir);
}

/// How long writers wait while a compaction copies `n` live messages.
fn compaction_pause(root: &Path, n: u64) {
    let dir = fresh(root, "compact");
    let mut config = StoreConfig::new(&dir);
    config.compaction.check_every = None;
    let store = SledStore::open(&config).expect("open");
    fill(&store, n);
    let report = store.compact().expect("compact");
    println!(
        "compaction with {n} live 1 KiB messages: writers paused {:.0} ms, {} -> {}",
        report.paused.as_secs_f64() * 1000.0,
        mib(report.before_bytes),
        mib(report.after_bytes)
    );
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}

/// CPU time (user + system) of this process, all threads, from /proc.
fn process_cpu() -> Duration {
    let ticks = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            // Fields after the parenthesised command name; utime and stime are the
            // 14th and 15th fields of the line.
            let rest = s.rsplit_once(')')?.1;
            let f: Vec<&str> = rest.split_whitespace().collect();
            Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
        })
        .unwrap_or(0);
    // USER_HZ is 100 on Linux.
    Duration::from_millis(ticks * 10)
}

/// The broker's calls for persistent messages published with confirms into a durable
/// queue whose consumer acks (issue 6 scenario c), without the network: per batch of
/// `batch` publishes (one batch of frames read), `next_message_id` + `put_message` +
/// `enqueue` each, then one `sync` ticket (the confirms; at most 1,000 messages
/// unconfirmed, as `-c 1000`), `mark_delivered` of the batch (one dispatch round), and
/// `remove` of the batch published `ack_lag` batches earlier (one multiple-ack; 0: acked
/// before its group commit had a chance to run). With `ack_delay` instead, a batch is
/// acked once that long has passed since it was published (the consumer's round trip),
/// which is what decides whether the ack beats the group commit. Reports CPU µs per
/// message.
fn ackpath(
    root: &Path,
    n: u64,
    batch: u64,
    ack_lag: u64,
    ack_delay: Option<Duration>,
    fdatasync: bool,
) {
    let dir = fresh(root, "ackpath");
    let mut config = StoreConfig::new(&dir);
    config.fdatasync = fdatasync;
    let store = SledStore::open(&config).expect("open");
    let q = store.put_queue(&queue("q")).expect("queue");
    store.sync().wait().expect("sync");
    let bodies: Vec<MessageRecord> = (0..64).map(message).collect();
    let flushes_before = store.stats().expect("stats").flushes;
    let window = (1000 / batch.max(1)).max(1) as usize;
    let mut tickets = std::collections::VecDeque::new();
    let mut unacked = std::collections::VecDeque::new();
    let cpu_before = process_cpu();
    let start = Instant::now();
    let mut seq = 0u64;
    while seq < n {
        let first = seq;
        for _ in 0..batch {
            let id = store.next_message_id().expect("id");
            store
                .put_message(id, &bodies[(seq % 64) as usize])
                .expect("put");
            store.enqueue(q, &entry(seq, id)).expect("enqueue");
            seq += 1;
        }
        tickets.push_back(store.sync());
        let seqs: Vec<u64> = (first..seq).collect();
        store.mark_delivered(q, &seqs).expect("mark");
        unacked.push_back((Instant::now(), seqs));
        loop {
            let due = match (unacked.front(), ack_delay) {
                (Some((at, _)), Some(delay)) => at.elapsed() >= delay,
                (Some(_), None) => unacked.len() as u64 > ack_lag,
                (None, _) => false,
            };
            if !due {
                break;
            }
            if let Some((_, acked)) = unacked.pop_front() {
                store.remove(q, &acked).expect("remove");
            }
        }
        while tickets.len() > window {
            if let Some(t) = tickets.pop_front() {
                t.wait().expect("sync");
            }
        }
    }
    for (_, acked) in unacked {
        store.remove(q, &acked).expect("remove");
    }
    for t in tickets {
        t.wait().expect("sync");
    }
    let wall = start.elapsed().as_secs_f64();
    let cpu = process_cpu() - cpu_before;
    let stats = store.stats().expect("stats");
    assert_eq!(stats.entries, 0, "every entry acked");
    let acks = match ack_delay {
        Some(d) => format!("ack_delay={}us", d.as_micros()),
        None => format!("ack_lag={ack_lag}"),
    };
    println!(
        "ackpath batch={batch} {acks} fdatasync={fdatasync}: {n} messages in {wall:.2} s ({:.0}/s), CPU {:.2} s = {:.1} CPU-us per message, {} flushes ({:.1} messages per flush), {} on disk after",
        n as f64 / wall,
        cpu.as_secs_f64(),
        cpu.as_secs_f64() * 1e6 / n as f64,
        stats.flushes - flushes_before,
        n as f64 / (stats.flushes - flushes_before).max(1) as f64,
        mib(stats.size_on_disk),
    );
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}

fn main() {
    let a = args();
    let all = a.phase == "all";
    if all || a.phase == "throughput" {
        for (writers, window) in [(1, 1), (4, 1), (16, 1), (1, 256), (4, 256)] {
            throughput(&a.dir, a.fdatasync, writers, window, Duration::from_secs(5));
        }
    }
    if all || a.phase == "recovery" {
        recovery(&a.dir, a.messages, a.cache_mib);
    }
    if all || a.phase == "compact" {
        for n in [0, 10_000, 60_000] {
            compaction_pause(&a.dir, n);
        }
    }
    if all || a.phase == "ackpath" {
        ackpath(
            &a.dir,
            a.messages,
            a.batch,
            a.ack_lag,
            a.ack_delay_us.map(Duration::from_micros),
            a.fdatasync,
        );
    }
    if all || a.phase == "reclaim" {
        reclaim(&a.dir, a.messages, a.idle_after_drain);
    }
}
