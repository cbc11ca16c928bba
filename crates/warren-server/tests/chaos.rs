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

/// The `warren` binary Cargo built for this test.
#[path = "chaos/topology.rs"]
mod topology;
use topology::*;
#[path = "chaos/check.rs"]
mod check;
use check::*;

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

/// Where a publisher sends a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Dest {
    Work,
    Wait,
    Delayed,
    Prio,
    Fifo,
}

impl Dest {
    fn pick(rng: &mut Rng) -> Dest {
        match rng.range(0, 100) {
            0..40 => Dest::Work,
            40..55 => Dest::Wait,
            55..70 => Dest::Delayed,
            70..85 => Dest::Prio,
            _ => Dest::Fifo,
        }
    }

    fn code(self) -> i64 {
        self as i64
    }

    /// Whether the message moves between queues (delayed exchange, TTL dead-letter)
    /// before any consumer sees it: such moves are at-least-once.
    fn moves(self) -> bool {
        matches!(self, Dest::Wait | Dest::Delayed)
    }
}

/// One copy of a message: its id and how many times it was dead-lettered.
type CopyKey = (String, u32);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Settle {
    Ack,
    Reject,
}

/// What the clients know of one copy's settlement.
#[derive(Debug, Default)]
struct CopyState {
    /// An ack or reject was written for it.
    sent: Option<Settle>,
    /// When a `qos-ok` after it arrived.
    processed_at: Option<Instant>,
    /// Further copies under the same key the last check found (an at-least-once move
    /// made it twice): each may be delivered once more after a settlement.
    extra: u32,
}

/// Everything the clients were told, across all rounds.
#[derive(Default)]
struct Ledger {
    /// Confirmed messages: id → destination.
    confirmed: HashMap<String, Dest>,
    nacked: u64,
    /// The latest send time of a publish whose confirm arrived: store writes the broker
    /// made before it are durable.
    horizon: Option<Instant>,
    copies: HashMap<CopyKey, CopyState>,
    /// Ids one of whose copies an ack was sent for.
    acked_ids: HashSet<String>,
    violations: Vec<String>,
    /// What happened to each message (for the report of a violation).
    history: HashMap<String, Vec<String>>,
    /// The broker's lifetime (bumped at each start), for the history.
    lifetime: u32,
    acked: u64,
    rejected: u64,
    requeued: u64,
    deliveries: u64,
}

impl Ledger {
    fn durable(&self, processed_at: Instant) -> bool {
        self.horizon.is_some_and(|h| processed_at < h)
    }
}

type Shared = Arc<Mutex<Ledger>>;

struct Publish {
    id: String,
    sent_at: Instant,
    dest: Dest,
}

/// Publishes until the connection dies (or `stop` is set, then waits for every
/// outstanding confirm), recording confirms in the ledger.
async fn publisher(
    addr: SocketAddr,
    publisher: u32,
    mut rng: Rng,
    ledger: Shared,
    stop: Arc<AtomicBool>,
) {
    let Ok(conn) = connect(addr).await else {
        return;
    };
    let Ok(ch) = conn.create_channel().await else {
        return;
    };
    if ch
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .is_err()
    {
        return;
    }
    let mut seqs: HashMap<Dest, i64> = HashMap::new();
    let mut in_flight = VecDeque::new();
    let settle = |p: Publish, c: lapin::Result<Confirmation>| -> bool {
        let mut l = ledger.lock().unwrap();
        match c {
            Ok(Confirmation::Ack(_)) => {
                let event = format!("life {}: confirmed", l.lifetime);
                l.history.entry(p.id.clone()).or_default().push(event);
                l.confirmed.insert(p.id, p.dest);
                if l.horizon.is_none_or(|h| h < p.sent_at) {
                    l.horizon = Some(p.sent_at);
                }
                true
            }
            Ok(Confirmation::Nack(_)) => {
                l.nacked += 1;
                true
            }
            _ => false,
        }
    };
    for n in 0u64.. {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let dest = Dest::pick(&mut rng);
        let seq = seqs.entry(dest).or_default();
        *seq += 1;
        let id = format!("p{publisher}-{n}");
        let mut headers = vec![
            ("chaos-pub", AMQPValue::LongLongInt(i64::from(publisher))),
            ("chaos-seq", AMQPValue::LongLongInt(*seq)),
            ("chaos-dest", AMQPValue::LongLongInt(dest.code())),
        ];
        let mut props = BasicProperties::default()
            .with_delivery_mode(2)
            .with_message_id(id.as_str().into());
        let (exchange, key) = match dest {
            Dest::Work => (IN, "work"),
            Dest::Wait => (IN, "wait"),
            Dest::Fifo => (IN, "fifo"),
            Dest::Prio => {
                props = props.with_priority(rng.range(0, 6) as u8);
                (IN, "prio")
            }
            Dest::Delayed => {
                let delay = rng.range(20, MAX_DELAY_MS) as i64;
                headers.push(("x-delay", AMQPValue::LongLongInt(delay)));
                (DELAYED, "work")
            }
        };
        props = props.with_headers(table(&headers));
        let body = vec![b'c'; rng.range(16, 2048) as usize];
        let sent_at = Instant::now();
        let Ok(pending) = ch
            .basic_publish(
                exchange.into(),
                key.into(),
                BasicPublishOptions::default(),
                &body,
                props,
            )
            .await
        else {
            return;
        };
        in_flight.push_back((Publish { id, sent_at, dest }, pending));
        while in_flight.len() >= WINDOW {
            let Some((p, pending)) = in_flight.pop_front() else {
                break;
            };
            if !settle(p, pending.await) {
                return;
            }
        }
    }
    while let Some((p, pending)) = in_flight.pop_front() {
        if !settle(p, pending.await) {
            return;
        }
    }
    let _ = conn.close(200, "done".into()).await;
}

/// The number of dead-letter events in a message's `x-death` header.
fn deaths(props: &BasicProperties) -> u32 {
    let Some(AMQPValue::FieldArray(a)) = props
        .headers()
        .as_ref()
        .and_then(|h| h.inner().get("x-death"))
    else {
        return 0;
    };
    a.as_slice()
        .iter()
        .map(|e| match e {
            AMQPValue::FieldTable(t) => match t.inner().get("count") {
                Some(AMQPValue::LongLongInt(n)) => *n as u32,
                Some(AMQPValue::LongInt(n)) => *n as u32,
                _ => 1,
            },
            _ => 1,
        })
        .sum()
}

fn header_i64(props: &BasicProperties, key: &str) -> i64 {
    match props.headers().as_ref().and_then(|h| h.inner().get(key)) {
        Some(AMQPValue::LongLongInt(n)) => *n,
        Some(AMQPValue::LongInt(n)) => i64::from(*n),
        other => panic!("header {key}: {other:?}"),
    }
}

fn message_id(props: &BasicProperties) -> String {
    props
        .message_id()
        .as_ref()
        .map(|s| s.as_str().to_owned())
        .expect("every chaos message has a message_id")
}

/// The order key of a message in an ordered queue: (publisher, priority).
fn order_key(props: &BasicProperties) -> (i64, u8) {
    (
        header_i64(props, "chaos-pub"),
        props.priority().unwrap_or(0),
    )
}

/// Consumes `queue` until the connection dies or `stop` is set; in `chaos.work` acks
/// 80%, rejects 12% and requeues 8%, elsewhere acks everything. Settlements are marked
/// processed by a `basic.qos` round trip every [`SETTLE_BATCH`] of them (or when idle).
async fn consumer(
    addr: SocketAddr,
    queue: &'static str,
    mut rng: Rng,
    ledger: Shared,
    stop: Arc<AtomicBool>,
) {
    let Ok(conn) = connect(addr).await else {
        return;
    };
    let Ok(ch) = conn.create_channel().await else {
        return;
    };
    if ch
        .basic_qos(PREFETCH, BasicQosOptions::default())
        .await
        .is_err()
    {
        return;
    }
    let Ok(mut deliveries) = ch
        .basic_consume(
            queue.into(),
            format!("chaos-{queue}").as_str().into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
    else {
        return;
    };
    let ordered = queue == FIFO || queue == PRIO;
    let mut last_seq: HashMap<(i64, u8), i64> = HashMap::new();
    let mut pending: Vec<CopyKey> = Vec::new();
    loop {
        let next = tokio::time::timeout(Duration::from_millis(30), deliveries.next()).await;
        let idle = next.is_err();
        if let Ok(next) = next {
            let Some(Ok(d)) = next else { return };
            let key: CopyKey = (message_id(&d.properties), deaths(&d.properties));
            if ordered && !d.redelivered {
                let seq = header_i64(&d.properties, "chaos-seq");
                let last = last_seq.entry(order_key(&d.properties)).or_insert(0);
                if seq <= *last {
                    ledger.lock().unwrap().violations.push(format!(
                        "{queue}: {key:?} (seq {seq}) delivered after seq {last} of the same publisher and priority"
                    ));
                }
                *last = seq;
            }
            let roll = rng.range(0, 100);
            let action = match queue {
                WORK if roll < 12 => Some(Settle::Reject),
                WORK if roll < 20 => None,
                _ => Some(Settle::Ack),
            };
            {
                let mut l = ledger.lock().unwrap();
                l.deliveries += 1;
                let event = format!(
                    "life {}: {queue} delivered copy {} (redelivered={}) -> {action:?}",
                    l.lifetime, key.1, d.redelivered
                );
                l.history.entry(key.0.clone()).or_default().push(event);
                // This copy is here again (it came back at a restart), so whatever
                // dead-lettering it makes is new: its later copies start over.
                for later in key.1 + 1..=key.1 + 4 {
                    if let Some(c) = l.copies.get_mut(&(key.0.clone(), later)) {
                        c.sent = None;
                        c.processed_at = None;
                    }
                }
                if let Some(c) = l.copies.get_mut(&key) {
                    if c.processed_at.is_some() && c.extra > 0 {
                        // The next of the copies the check counted.
                        c.extra -= 1;
                        c.sent = None;
                        c.processed_at = None;
                    }
                }
                if let Some(c) = l.copies.get(&key) {
                    if let (Some(s), Some(_)) = (c.sent, c.processed_at) {
                        let history = l.history.get(&key.0).cloned();
                        l.violations.push(format!(
                            "{queue}: {key:?} delivered again (redelivered={}) after its {s:?} was processed; history: {history:?}",
                            d.redelivered
                        ));
                    }
                }
                match action {
                    Some(s) => {
                        let c = l.copies.entry(key.clone()).or_default();
                        c.sent = Some(s);
                        c.processed_at = None;
                        if s == Settle::Ack {
                            l.acked_ids.insert(key.0.clone());
                        }
                    }
                    None => l.requeued += 1,
                }
            }
            let sent = match action {
                Some(Settle::Ack) => {
                    ch.basic_ack(d.delivery_tag, BasicAckOptions::default())
                        .await
                }
                Some(Settle::Reject) => {
                    ch.basic_reject(d.delivery_tag, BasicRejectOptions { requeue: false })
                        .await
                }
                None => {
                    ch.basic_nack(
                        d.delivery_tag,
                        BasicNackOptions {
                            multiple: false,
                            requeue: true,
                        },
                    )
                    .await
                }
            };
            if sent.is_err() {
                return;
            }
            if action.is_some() {
                pending.push(key);
            }
        }
        if pending.len() >= SETTLE_BATCH || (idle && !pending.is_empty()) {
            if ch
                .basic_qos(PREFETCH, BasicQosOptions::default())
                .await
                .is_err()
            {
                return;
            }
            let now = Instant::now();
            let mut l = ledger.lock().unwrap();
            for key in pending.drain(..) {
                let c = l.copies.entry(key).or_default();
                c.processed_at = Some(now);
                match c.sent {
                    Some(Settle::Ack) => l.acked += 1,
                    Some(Settle::Reject) => l.rejected += 1,
                    None => {}
                }
            }
        }
        if idle && stop.load(Ordering::Relaxed) {
            break;
        }
    }
    let _ = conn.close(200, "done".into()).await;
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
