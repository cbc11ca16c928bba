//! Measures the segment log with 1 KiB records (no criterion: a plain timed loop):
//! append cost (with and without the memcpy into the buffer), group commits
//! (`write_pending` + `sync` = one pwrite + one fdatasync) and reads.
//!
//! ```sh
//! cargo run --release -p warren-store --example segment_bench -- \
//!     [--records N] [--size BYTES] [--batch N] [--dir PATH] [--no-fdatasync]
//! ```
//!
//! * `append`: `--records` appends in rounds of 1 MiB (a large group commit; each round
//!   then written out, untimed, so the buffer's memory stays bounded); reports ns per append, appends/s and
//!   MB/s, and the same copy done by a bare `Vec::extend_from_slice` (the memcpy the
//!   append cannot avoid), so the log's own cost per append is the difference.
//! * `commit`: rounds of `--batch` appends, each followed by `write_pending` + `sync`;
//!   reports µs per group commit (mean, p50, p99, max) and records/s, MB/s overall.
//! * `read`: reads back records spread over the log, first the unwritten ones from
//!   memory, then written ones with `pread` (from the page cache).
//!
//! Uses a fresh directory under `--dir` (default: the system temp dir), removed at the end.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use warren_store::{Position, SegmentConfig, SegmentLog};

struct Args {
    records: usize,
    size: usize,
    batch: usize,
    dir: PathBuf,
    fdatasync: bool,
}

fn args() -> Args {
    let mut a = Args {
        records: 1_000_000,
        size: 1024,
        batch: 100,
        dir: std::env::temp_dir(),
        fdatasync: true,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut num = |v: usize| it.next().and_then(|s| s.parse().ok()).unwrap_or(v);
        match arg.as_str() {
            "--records" => a.records = num(a.records),
            "--size" => a.size = num(a.size),
            "--batch" => a.batch = num(a.batch).max(1),
            "--dir" => a.dir = it.next().map(PathBuf::from).unwrap_or(a.dir),
            "--no-fdatasync" => a.fdatasync = false,
            other => panic!("unknown argument {other}"),
        }
    }
    a
}

/// CPU time this thread has run (from /proc/thread-self/schedstat, in ns): the append
/// figures are per CPU-ns as well as wall time, since on a loaded machine a tight loop's
/// wall time includes the time other processes ran.
fn thread_cpu() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .map(Duration::from_nanos)
        .unwrap_or_default()
}

fn per_sec(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

fn main() {
    let a = args();
    let dir = tempfile::Builder::new()
        .prefix("segment-bench")
        .tempdir_in(&a.dir)
        .expect("temp dir");
    let config = SegmentConfig {
        fdatasync: a.fdatasync,
        ..SegmentConfig::new(dir.path().join("log"))
    };
    let (log, _) = SegmentLog::open(config).expect("open");
    let body: Vec<u8> = (0..a.size).map(|i| i as u8).collect();
    println!(
        "segment_bench: {} records of {} B, batch {}, fdatasync {}, dir {}",
        a.records,
        a.size,
        a.batch,
        a.fdatasync,
        dir.path().display()
    );

    // append
    let round = ((1 << 20) / (a.size + 8)).max(1);
    let mut appending = Duration::ZERO;
    let mut appending_cpu = Duration::ZERO;
    let mut done = 0;
    let mut positions: Vec<Position> = Vec::with_capacity(a.records);
    while done < a.records {
        let n = round.min(a.records - done);
        let (t, c) = (Instant::now(), thread_cpu());
        for _ in 0..n {
            positions.push(black_box(log.append(&[&body]).expect("append")));
        }
        appending += t.elapsed();
        appending_cpu += thread_cpu() - c;
        done += n;
        log.write_pending().expect("write");
    }
    log.sync().expect("sync");
    let mut copying = Duration::ZERO;
    let mut copying_cpu = Duration::ZERO;
    // The same bytes into a reused, already touched buffer, as the log's recycled one.
    let mut buf: Vec<u8> = vec![0; round * (a.size + 8)];
    done = 0;
    while done < a.records {
        let n = round.min(a.records - done);
        buf.clear();
        let (t, c) = (Instant::now(), thread_cpu());
        for _ in 0..n {
            buf.extend_from_slice(&[0u8; 8]);
            buf.extend_from_slice(black_box(&body));
        }
        copying += t.elapsed();
        copying_cpu += thread_cpu() - c;
        black_box(&buf);
        done += n;
    }
    let per = |d: Duration| d.as_nanos() as f64 / a.records as f64;
    let (ns, copy_ns) = (per(appending), per(copying));
    let (cpu_ns, copy_cpu_ns) = (per(appending_cpu), per(copying_cpu));
    // The checksum alone, for the breakdown.
    let (t, c) = (Instant::now(), thread_cpu());
    let mut x = 0u32;
    for _ in 0..a.records {
        x ^= crc32c::crc32c(black_box(&body));
    }
    black_box(x);
    let (crc_ns, crc_cpu_ns) = (per(t.elapsed()), per(thread_cpu() - c));
    println!(
        "append: {:.0} appends/s, {:.0} MB/s, {ns:.0} ns/append wall ({cpu_ns:.0} CPU-ns); \
         memcpy alone {copy_ns:.0} ns ({copy_cpu_ns:.0} CPU-ns) -> log's own cost {:.0} ns \
         ({:.0} CPU-ns) per append, of which crc32c {crc_ns:.0} ns ({crc_cpu_ns:.0} CPU-ns)",
        per_sec(a.records, appending),
        per_sec(a.records * a.size, appending) / 1e6,
        ns - copy_ns,
        cpu_ns - copy_cpu_ns,
    );

    // commit
    let commits = (a.records / a.batch).max(1);
    let mut times = Vec::with_capacity(commits);
    let start = Instant::now();
    for _ in 0..commits {
        for _ in 0..a.batch {
            log.append(&[&body]).expect("append");
        }
        let t = Instant::now();
        log.write_pending().expect("write");
        log.sync().expect("sync");
        times.push(t.elapsed());
    }
    let total = start.elapsed();
    times.sort_unstable();
    let mean = times.iter().sum::<Duration>() / commits as u32;
    let pct = |p: f64| times[((commits as f64 * p) as usize).min(commits - 1)];
    println!(
        "commit: {commits} group commits of {} records: {:.1} µs mean, {:.1} p50, {:.1} p99, \
         {:.1} max per write+{}; {:.0} records/s, {:.0} MB/s overall",
        a.batch,
        mean.as_secs_f64() * 1e6,
        pct(0.5).as_secs_f64() * 1e6,
        pct(0.99).as_secs_f64() * 1e6,
        times[commits - 1].as_secs_f64() * 1e6,
        if a.fdatasync {
            "fdatasync"
        } else {
            "(no sync)"
        },
        per_sec(commits * a.batch, total),
        per_sec(commits * a.batch * a.size, total) / 1e6
    );

    // read
    let unwritten: Vec<Position> = (0..round.min(100_000))
        .map(|_| log.append(&[&body]).expect("append"))
        .collect();
    let t = Instant::now();
    for p in &unwritten {
        black_box(log.read(*p).expect("read"));
    }
    let mem = t.elapsed();
    log.write_pending().expect("write");
    let step = (positions.len() / 100_000).max(1);
    let sample: Vec<Position> = positions.iter().step_by(step).copied().collect();
    let t = Instant::now();
    for p in &sample {
        black_box(log.read(*p).expect("read"));
    }
    let file = t.elapsed();
    println!(
        "read: {:.0} ns from memory (unwritten), {:.0} ns with pread (page cache), per record",
        mem.as_nanos() as f64 / unwritten.len() as f64,
        file.as_nanos() as f64 / sample.len() as f64
    );
    println!(
        "on disk: {} segments, {:.1} MiB",
        log.segments().len(),
        log.total_bytes() as f64 / (1 << 20) as f64
    );
}
