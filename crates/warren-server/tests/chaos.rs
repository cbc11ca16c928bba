//! Chaos: the real `warren` binary (`CARGO_BIN_EXE_warren`) under a mixed workload is
//! SIGKILLed at random moments, N times in a row on one data directory, and after each
//! restart the broker's contents are checked against what the clients were told.
//!
//! `WARREN_CHAOS_CRASHES` sets N (default 5, what `cargo test --workspace` runs);
//! `WARREN_CHAOS_SEED` replays a run's choices (kill delays, destinations, priorities,
//! delays, ack/reject/requeue decisions; the seed is printed at the start). Thread timing
//! is not replayed, so a seed reproduces the shape of a run, not its exact interleaving.
//! Run with `-- --nocapture` to see the per-round and final counts.
//!
//! # Workload
//!
//! A durable topology on `/`: direct exchange `chaos.in` routes `work`, `wait`, `prio`
//! and `fifo` to the queues of those names (prefixed `chaos.`); `chaos.work` dead-letters
//! to the fanout `chaos.dlx`, bound to `chaos.dead`; `chaos.wait` holds messages for
//! 200 ms (`x-message-ttl`) and dead-letters them back to `chaos.in` with key `work`;
//! `chaos.prio` has `x-max-priority` 5; the `x-delayed-message` exchange `chaos.delayed`
//! routes `work` to `chaos.work` after each message's `x-delay` (20–400 ms).
//!
//! Three publishers (one connection each, confirms, 32 in flight) send persistent
//! messages with a unique `message_id`, their publisher number and a per-destination
//! sequence number in headers. Consumers (prefetch 50): two on `chaos.work` that ack 80%,
//! reject 12% (`requeue=false`: dead-lettered) and nack-requeue 8%; one each on
//! `chaos.dead`, `chaos.prio` and `chaos.fifo` that ack everything.
//!
//! # What the clients know, precisely
//!
//! A message is identified by its `message_id`; one *copy* of it by (`message_id`, number
//! of `x-death` events): dead-lettering makes a new copy (work → dead, wait → work),
//! a requeue does not.
//!
//! - **confirmed**: the publisher got `basic.ack` for it. Only these must survive.
//! - A settlement (ack or reject) is **sent** once the client wrote it, and **processed**
//!   once a later `basic.qos` on the same channel was answered: the broker handles a
//!   channel's methods in order, so the `qos-ok` proves it handled the settlement. A
//!   settlement sent but not known processed when the broker died may or may not have
//!   reached it: that copy *may come back once*.
//! - A processed settlement is **durable** once a publish that the client sent after the
//!   `qos-ok` arrived has been confirmed: a confirm waits for a group commit taken after
//!   that publish was stored, and a group commit covers every store write made before it
//!   (the removal the ack caused included). A processed but not durable settlement may
//!   be undone by `kill -9` (its copy comes back, flagged redelivered): Warren's acks are
//!   at-least-once, like RabbitMQ's.
//!
//! # Invariants checked after every restart
//!
//! With no client attached, once every delayed message is due and `chaos.wait` has
//! expired into `chaos.work`, every queue is read (consumed and left unacknowledged, so
//! closing the connection puts them back) and:
//!
//! 1. **nothing lost**: every confirmed message has a copy in some queue, or an ack was
//!    sent for one of its copies;
//! 2. **no settled copy returns**: no copy whose ack or reject was durable is in a queue;
//!    and while the broker runs, no copy is delivered again once its ack or reject was
//!    processed (exactly once from then on), except the further copies the last check
//!    counted (3.) and the copies a copy that came back makes again by dead-lettering;
//! 3. **no copy twice** in the queues, except what at-least-once moves allow: a message
//!    taken through the delayed exchange or dead-lettered may be found twice if the crash
//!    came between storing the new copy and removing the old one (counted and reported);
//! 4. **order**: in `chaos.fifo` and `chaos.prio` (no requeues there), the copies of one
//!    publisher at one priority are in publish order, in the queue and in each consumer's
//!    first deliveries;
//! 5. **durable topology intact**: every exchange and queue with its type and arguments,
//!    and every binding (read from the management API of the restarted binary).
//!
//! After the last crash, a final round stops with SIGTERM instead: after a graceful
//! stop, every processed settlement must hold (none comes back).
//!
//! The disk-full variant (`#[ignore]`d: it mounts a tmpfs, so needs root; `.ci/run`
//! runs it) runs the same rounds on a small tmpfs, fills it with a file mid-run so the
//! store's writes fail, kills the broker, deletes the file and checks the same
//! invariants (`WARREN_CHAOS_DISK_CRASHES`, default 5).

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicPublishOptions, BasicQosOptions,
    BasicRejectOptions, ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Confirmation, Connection, ConnectionProperties, ExchangeKind};
use serde_json::Value;
use warren_testkit::eventually;
use warren_testkit::http::Api;
use warren_testkit::tmpfs::Tmpfs;

#[path = "chaos/topology.rs"]
mod topology;
use topology::*;
#[path = "chaos/check.rs"]
mod check;
#[path = "chaos/clients.rs"]
mod clients;
use check::*;
use clients::*;

/// The `warren` binary Cargo built for this test.
const WARREN: &str = env!("CARGO_BIN_EXE_warren");

const IN: &str = "chaos.in";
const DLX: &str = "chaos.dlx";
const DELAYED: &str = "chaos.delayed";
const WORK: &str = "chaos.work";
const DEAD: &str = "chaos.dead";
const WAIT: &str = "chaos.wait";
const PRIO: &str = "chaos.prio";
const FIFO: &str = "chaos.fifo";
/// In the order the check reads them: a message moving from one to another while they
/// are read (none should) moves towards a queue read later.
const QUEUES: [&str; 5] = [WAIT, WORK, DEAD, PRIO, FIFO];

/// `chaos.wait`'s TTL and the longest `x-delay`, in ms.
const WAIT_TTL_MS: i64 = 200;
const MAX_DELAY_MS: u64 = 400;

const PUBLISHERS: u32 = 3;
/// Unconfirmed publishes each publisher keeps in flight.
const WINDOW: usize = 32;
const PREFETCH: u16 = 50;
/// Settlements between two `basic.qos` round trips.
const SETTLE_BATCH: usize = 16;

/// A small seeded generator (SplitMix64): the run's choices replay from its seed.
#[derive(Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `lo..hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo)
    }

    /// A generator for a task, derived from this one.
    fn fork(&mut self) -> Rng {
        Rng(self.next())
    }
}

fn env_u64(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    Some(
        v.trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number")),
    )
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A broker child process, killed when dropped.
struct Broker {
    child: Child,
    amqp: SocketAddr,
    http: SocketAddr,
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Broker {
    fn kill9(&mut self) {
        self.child.kill().expect("SIGKILL");
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits (up to 20 s) for a clean exit.
    async fn terminate(&mut self) {
        let pid = self.child.id().to_string();
        let status = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill -TERM");
        assert!(status.success(), "kill -TERM {pid}: {status}");
        let child = &mut self.child;
        let exited = eventually(Duration::from_secs(20), || {
            std::future::ready(matches!(child.try_wait(), Ok(Some(_))))
        })
        .await;
        assert!(exited, "warren did not exit within 20 s of SIGTERM");
        let status = self.child.wait().expect("exit status");
        assert!(
            status.success(),
            "warren exited with {status} after SIGTERM"
        );
    }

    fn api(&self) -> Api {
        Api::new(&format!("http://{}", self.http), "guest", "guest")
    }
}

/// Starts the binary on `dir` (with `config` if given) and waits (up to 30 s) until its
/// AMQP and HTTP listeners accept connections.
async fn start(dir: &Path, log: &Path, config: Option<&Path>) -> Broker {
    let amqp: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let http: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("log file");
    let mut cmd = Command::new(WARREN);
    // The test's own settings are not the broker's (it warns about unknown WARREN_*).
    for var in [
        "WARREN_CHAOS_CRASHES",
        "WARREN_CHAOS_SEED",
        "WARREN_CHAOS_DISK_CRASHES",
    ] {
        cmd.env_remove(var);
    }
    if let Some(config) = config {
        cmd.arg("--config").arg(config);
    }
    let child = cmd
        .arg("--listen")
        .arg(amqp.to_string())
        .arg("--management-listen")
        .arg(http.to_string())
        .arg("--data-dir")
        .arg(dir)
        .args(["--log", "info"])
        .stdout(log.try_clone().expect("log file"))
        .stderr(log)
        .stdin(Stdio::null())
        .spawn()
        .expect("warren starts");
    let mut broker = Broker { child, amqp, http };
    let listening = eventually(Duration::from_secs(30), || {
        if let Ok(Some(status)) = broker.child.try_wait() {
            panic!("warren exited at start-up: {status}");
        }
        std::future::ready(TcpStream::connect(amqp).is_ok() && TcpStream::connect(http).is_ok())
    })
    .await;
    assert!(listening, "warren did not start listening");
    broker
}

/// Fills the file system of `dir` with a file, leaving about `leave` bytes free.
fn fill_disk(dir: &Path, leave: u64) -> PathBuf {
    let filler = dir.join("filler");
    let free = rustix::fs::statvfs(dir)
        .map(|s| s.f_bavail * s.f_frsize)
        .expect("statvfs");
    let size = free.saturating_sub(leave);
    let chunk = vec![0u8; 1 << 20];
    let mut f = std::fs::File::create(&filler).expect("filler file");
    let mut written = 0u64;
    use std::io::Write;
    while written < size {
        let n = chunk.len().min((size - written) as usize);
        if f.write_all(&chunk[..n]).is_err() {
            break;
        }
        written += n as u64;
    }
    filler
}

struct Options {
    crashes: u64,
    /// Mid-round, fill the disk (leaving this many bytes) before the kill.
    fill_leaving: Option<u64>,
    config: Option<PathBuf>,
}

async fn run_chaos(data: &Path, work: &Path, opts: Options) -> (Ledger, Totals) {
    let seed = env_u64("WARREN_CHAOS_SEED").unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1)
    });
    eprintln!(
        "chaos: seed {seed} (replay with WARREN_CHAOS_SEED={seed}), {} crashes",
        opts.crashes
    );
    let mut rng = Rng(seed);
    let log = work.join("warren.log");
    let config = opts.config.as_deref();
    let ledger: Shared = Arc::default();
    let mut totals = Totals::default();
    let mut broker = start(data, &log, config).await;
    declare_topology(broker.amqp).await;
    let started = Instant::now();
    let fail = |bad: Vec<String>, round: u64, log: &Path| {
        if bad.is_empty() {
            return;
        }
        let log = std::fs::read_to_string(log).unwrap_or_default();
        let tail: String = log
            .lines()
            .filter(|l| !l.contains(" INFO "))
            .rev()
            .take(60)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n");
        panic!(
            "chaos seed {seed}, round {round}: {} violation(s):\n{}\nbroker log (warnings and errors, tail):\n{tail}",
            bad.len(),
            bad.iter().take(40).cloned().collect::<Vec<_>>().join("\n")
        );
    };
    for round in 0..=opts.crashes {
        let graceful = round == opts.crashes;
        let stop = Arc::new(AtomicBool::new(false));
        let mut tasks = Vec::new();
        for p in 0..PUBLISHERS {
            tasks.push(tokio::spawn(publisher(
                broker.amqp,
                round as u32 * PUBLISHERS + p,
                rng.fork(),
                ledger.clone(),
                stop.clone(),
            )));
        }
        for q in [WORK, WORK, DEAD, PRIO, FIFO] {
            tasks.push(tokio::spawn(consumer(
                broker.amqp,
                q,
                rng.fork(),
                ledger.clone(),
                stop.clone(),
            )));
        }
        // Most kills land in steady traffic (counted from the round's first confirm, so
        // a slow start on a loaded machine does not waste the round); some right after
        // start-up, while clients are connecting and recovery's background work runs.
        let early = rng.range(0, 100) < 15;
        let delay = if early {
            Duration::from_millis(rng.range(0, 150))
        } else {
            let before = ledger.lock().unwrap().confirmed.len();
            let flowing = eventually(Duration::from_secs(15), || {
                std::future::ready(ledger.lock().unwrap().confirmed.len() > before)
            })
            .await;
            assert!(
                flowing,
                "round {round}: no publish was confirmed within 15 s"
            );
            Duration::from_millis(rng.range(100, 1300))
        };
        let mut filler = None;
        if let Some(leave) = opts.fill_leaving.filter(|_| !graceful) {
            tokio::time::sleep(delay / 2).await;
            filler = Some(fill_disk(data.parent().expect("data dir parent"), leave));
            tokio::time::sleep(delay / 2 + Duration::from_millis(300)).await;
        } else {
            tokio::time::sleep(delay).await;
        }
        if graceful {
            stop.store(true, Ordering::Relaxed);
            for t in tasks {
                let _ = tokio::time::timeout(Duration::from_secs(20), t).await;
            }
            broker.terminate().await;
        } else {
            broker.kill9();
            totals.crashes += 1;
            for t in tasks {
                let _ = tokio::time::timeout(Duration::from_secs(10), t).await;
            }
        }
        if let Some(f) = filler {
            std::fs::remove_file(f).expect("remove the filler file");
        }
        drop(broker);
        broker = start(data, &log, config).await;
        ledger.lock().unwrap().lifetime += 1;
        let mut bad = check_topology(&broker).await;
        let found = snapshot(&broker).await;
        {
            let mut l = ledger.lock().unwrap();
            bad.extend(check(&mut l, &found, graceful, &mut totals));
            bad.append(&mut l.violations);
            eprintln!(
                "round {round}: {} {delay:?} after {}; {} confirmed, {} acked, {} dead-lettered so far; {} in the queues after restart",
                if graceful { "SIGTERM" } else { "kill -9" },
                if early { "start-up" } else { "the first confirm" },
                l.confirmed.len(),
                l.acked,
                l.rejected,
                found.len()
            );
        }
        if bad.iter().any(|b| b.starts_with("LOST")) {
            // Tell a late arrival from a loss: look once more, a while later.
            tokio::time::sleep(Duration::from_secs(3)).await;
            let again = snapshot(&broker).await;
            for b in bad.iter_mut().filter(|b| b.starts_with("LOST")) {
                let id = b.split_whitespace().nth(2).unwrap_or_default().to_owned();
                let later: Vec<_> = again
                    .iter()
                    .filter(|f| f.key.0 == id)
                    .map(|f| format!("{} copy {}", f.queue, f.key.1))
                    .collect();
                b.push_str(&format!("; 3 s later: {later:?}"));
            }
        }
        fail(bad, round, &log);
    }
    broker.terminate().await;
    let ledger = std::mem::take(&mut *ledger.lock().unwrap());
    // Errors the broker logged (a full disk's write errors are expected there; any
    // other is worth a look even when no invariant broke).
    let broker_log = std::fs::read_to_string(&log).unwrap_or_default();
    let errors: Vec<&str> = broker_log
        .lines()
        .filter(|l| l.contains(" ERROR "))
        .collect();
    eprintln!("chaos: the broker logged {} error(s)", errors.len());
    for e in errors.iter().take(10) {
        eprintln!("  {e}");
    }
    eprintln!(
        "chaos: {} crashes (kill -9) + 1 graceful stop in {:.1?}; {} confirmed ({} nacked), {} deliveries, {} acked, {} dead-lettered, {} requeued; {} found in queues over all restarts, {} processed-not-durable settlements undone, {} move duplicates; lost 0",
        totals.crashes,
        started.elapsed(),
        ledger.confirmed.len(),
        ledger.nacked,
        ledger.deliveries,
        ledger.acked,
        ledger.rejected,
        ledger.requeued,
        totals.found,
        totals.undone_settlements,
        totals.move_duplicates,
    );
    (ledger, totals)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirmed_messages_survive_repeated_sigkills_under_a_mixed_workload() {
    let crashes = env_u64("WARREN_CHAOS_CRASHES").unwrap_or(5);
    let dir = tempfile::tempdir().expect("temp dir");
    let (ledger, totals) = run_chaos(
        &dir.path().join("data"),
        dir.path(),
        Options {
            crashes,
            fill_leaving: None,
            config: None,
        },
    )
    .await;
    assert_eq!(totals.crashes, crashes);
    assert!(
        ledger.confirmed.len() >= 100 && ledger.acked > 0 && ledger.rejected > 0,
        "too little traffic to prove anything: {} confirmed, {} acked, {} rejected",
        ledger.confirmed.len(),
        ledger.acked,
        ledger.rejected
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs root: mounts a tmpfs (.ci/run runs it with --ignored)"]
async fn confirmed_messages_survive_a_full_disk_and_sigkill() {
    let crashes = env_u64("WARREN_CHAOS_DISK_CRASHES").unwrap_or(5);
    let fs = Tmpfs::mount("96m");
    let work = tempfile::tempdir().expect("temp dir");
    // The disk alarm would block publishers first: this test fills the disk for real.
    let config = work.path().join("warren.toml");
    std::fs::write(&config, "[limits]\ndisk_free_limit = 0\n").expect("config");
    let (ledger, totals) = run_chaos(
        &fs.path().join("data"),
        work.path(),
        Options {
            crashes,
            fill_leaving: Some(256 << 10),
            config: Some(config),
        },
    )
    .await;
    assert_eq!(totals.crashes, crashes);
    assert!(
        ledger.nacked > 0
            || std::fs::read_to_string(work.path().join("warren.log"))
                .unwrap_or_default()
                .contains("No space left"),
        "the disk never filled up: {} confirmed, none nacked",
        ledger.confirmed.len()
    );
}
