//! Crash consistency: a child process (this test binary, re-run with an environment
//! variable) writes and syncs from several threads and reports each completed sync on
//! stdout; the parent SIGKILLs it at a random moment, reopens the store and checks that
//! every write reported synced is there (and every removal reported synced is gone).
//! Repeated over several kill points on the same directory, so recovery after one
//! crash must also survive the next.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use warren_store::{QueueId, SledStore, Store};

const CHILD_DIR: &str = "WARREN_STORE_CRASH_DIR";
const CHILD_ROUND: &str = "WARREN_STORE_CRASH_ROUND";
const THREADS: u64 = 3;
const ROUNDS: u64 = 4;

fn body(round: u64, thread: u64, seq: u64) -> String {
    format!(
        "r{round} t{thread} #{seq} {}",
        "p".repeat(100 + (seq % 7) as usize * 50)
    )
}

fn own_queue(round: u64, thread: u64) -> String {
    format!("r{round}-t{thread}")
}

/// The child: each thread publishes to its own queue (every third message also to a
/// shared fan-out queue), removes the message two back every fifth step, syncs, and
/// prints `S <thread> <seq> <removed seq or ->` once the sync resolved.
fn child(dir: &Path, round: u64) {
    // Compact aggressively, so kills also land in the middle of compactions: of sled,
    // and of segments (16 KiB ones, any with a tenth of its bytes dead, moved 4 KiB
    // a step).
    let mut config = common::config(dir);
    config.compaction = warren_store::CompactionConfig {
        check_every: Some(Duration::from_millis(100)),
        min_file_bytes: 2 << 20,
        ratio: 2,
        max_live_bytes: 64 << 20,
        segment_live_percent: 90,
        segment_step_bytes: 4 << 10,
    };
    config.segment_bytes = 16 << 10;
    let store = std::sync::Arc::new(SledStore::open(&config).unwrap());
    let fan = store
        .put_queue(&common::queue(&format!("r{round}-fan")))
        .unwrap();
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                let q = store
                    .put_queue(&common::queue(&own_queue(round, t)))
                    .unwrap();
                let deadline = Instant::now() + Duration::from_secs(30);
                let mut seq = 0;
                while Instant::now() < deadline {
                    let id = store.next_message_id().unwrap();
                    let m = common::message(&body(round, t, seq));
                    store.put_message(id, &m).unwrap();
                    store.enqueue(q, &common::entry(seq, id)).unwrap();
                    if seq % 3 == 0 {
                        store
                            .enqueue(fan, &common::entry(seq * THREADS + t, id))
                            .unwrap();
                    }
                    let removed = (seq % 5 == 4).then(|| seq - 2);
                    if let Some(r) = removed {
                        store.remove(q, &[r]).unwrap();
                    }
                    store.sync().wait().unwrap();
                    let removed = removed.map_or("-".to_string(), |r| r.to_string());
                    println!("S {t} {seq} {removed}");
                    seq += 1;
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

/// What the parent knows was synced in one round: per thread, seq -> removed?
#[derive(Default)]
struct Synced {
    threads: BTreeMap<u64, BTreeMap<u64, bool>>,
}

fn parse(lines: &[String]) -> Synced {
    let mut s = Synced::default();
    for line in lines {
        let parts: Vec<&str> = line.split_whitespace().collect();
        if parts.len() != 4 || parts[0] != "S" {
            continue;
        }
        let t: u64 = parts[1].parse().unwrap();
        let seq: u64 = parts[2].parse().unwrap();
        let synced = s.threads.entry(t).or_default();
        synced.entry(seq).or_insert(false);
        if let Ok(r) = parts[3].parse::<u64>() {
            synced.insert(r, true);
        }
    }
    s
}

fn queue_ids(store: &SledStore) -> BTreeMap<String, QueueId> {
    store
        .recover()
        .unwrap()
        .queues
        .into_iter()
        .map(|q| (q.record.name, q.id))
        .collect()
}

/// Checks one round's synced writes against the reopened store.
fn verify(store: &SledStore, round: u64, synced: &Synced) -> Vec<String> {
    let ids = queue_ids(store);
    let mut problems = Vec::new();
    let fan = common::entries(store, ids[&format!("r{round}-fan")]);
    let fan: BTreeMap<u64, u64> = fan
        .iter()
        .map(|e| (e.record.seq, e.record.message_id))
        .collect();
    for (t, seqs) in &synced.threads {
        let entries = common::entries(store, ids[&own_queue(round, *t)]);
        let present: BTreeMap<u64, u64> = entries
            .iter()
            .map(|e| (e.record.seq, e.record.message_id))
            .collect();
        for (seq, removed) in seqs {
            match (present.get(seq), removed) {
                (Some(_), true) => problems.push(format!("r{round} t{t} #{seq}: removal lost")),
                // Step seq + 2 removes seq when seq % 5 == 2: if that step was not
                // reported synced, its removal may or may not have reached the disk.
                (None, false) if seq % 5 != 2 || seqs.contains_key(&(seq + 2)) => {
                    problems.push(format!("r{round} t{t} #{seq}: synced message lost"))
                }
                _ => {}
            }
            if seq % 3 == 0 && !fan.contains_key(&(seq * THREADS + t)) {
                problems.push(format!("r{round} t{t} #{seq}: fan-out entry lost"));
            }
        }
        for (seq, id) in &present {
            match store.get_message(*id) {
                Ok(Some(m)) if m.body == body(round, *t, *seq).as_bytes() => {}
                other => problems.push(format!(
                    "r{round} t{t} #{seq}: message {id} reads {other:?}"
                )),
            }
        }
    }
    for (seq, id) in &fan {
        if store.get_message(*id).unwrap().is_none() {
            problems.push(format!("r{round} fan #{seq}: message {id} missing"));
        }
    }
    problems
}

#[test]
fn synced_writes_survive_sigkill_at_random_moments() {
    if let Ok(dir) = std::env::var(CHILD_DIR) {
        let round = std::env::var(CHILD_ROUND).unwrap().parse().unwrap();
        child(Path::new(&dir), round);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    let mut rounds = Vec::new();
    for round in 0..ROUNDS {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let kill_after = Duration::from_millis(150 + seed % 900);
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "synced_writes_survive_sigkill_at_random_moments",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_DIR, dir.path())
            .env(CHILD_ROUND, round.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        // Wait for the first synced write, then let it run for the random interval.
        let mut lines = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while !lines.iter().any(|l: &String| l.starts_with("S ")) {
            assert!(Instant::now() < deadline, "child wrote nothing in 60 s");
            assert!(child.try_wait().unwrap().is_none(), "child exited early");
            if let Ok(line) = rx.recv_timeout(Duration::from_millis(50)) {
                lines.push(line);
            }
        }
        std::thread::sleep(kill_after);
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        reader.join().unwrap();
        lines.extend(rx.try_iter());
        let synced = parse(&lines);
        let count: usize = synced.threads.values().map(|s| s.len()).sum();
        assert!(count > 0, "round {round}: no synced writes reported");
        rounds.push(synced);

        let store = common::open(dir.path());
        let mut problems = Vec::new();
        for (r, synced) in rounds.iter().enumerate() {
            problems.extend(verify(&store, r as u64, synced));
        }
        drop(store);
        assert!(
            problems.is_empty(),
            "seed {seed}, round {round} killed after {kill_after:?} with {count} synced writes: {problems:#?}"
        );
    }
}
