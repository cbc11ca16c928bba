//! The soak: mixed traffic at a fixed fraction of the broker's measured capacity for a
//! long time, sampling the broker's resident memory, open file descriptors, data
//! directory size and publish → deliver latency every few seconds into a CSV, then
//! failing if memory or descriptors grew beyond a bound or if any message was lost.
//!
//! The mix (each stream's share of the total publish rate):
//!
//! | stream | share | what |
//! |---|---|---|
//! | `transient` | 35% | 2 producers, 1 KiB transient, each to its own queue; consumers prefetch 100, one ack per message |
//! | `persistent` | 25% | 1 producer, 1 KiB persistent with confirms (window 1,000) to a durable queue; consumer prefetch 200, `multiple` acks every 50 |
//! | `fanout` | 20% | 1 producer, 256 B to a fanout exchange bound to 3 queues; auto-ack consumers |
//! | `dead-letter` | 20% | 1 producer, 512 B with confirms (window 100) to a queue with a dead-letter exchange; its consumer rejects every 10th message (requeue=false), which a second consumer takes from the dead-letter queue |
//!
//! Capacity is the largest total rate at which every stream kept up when all of them
//! published as fast as they could for `--capacity-secs` (the smallest of each
//! stream's achieved rate divided by its share), so the soak's rate is a fraction of
//! what the mix sustains on this machine at the time, not a constant.

pub mod plot;
pub mod probe;
pub mod verdict;

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use serde::Serialize;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use warren_protocol::method::{exchange, queue};
use warren_protocol::{FieldTable, FieldValue, Method};

use crate::conn::Connection;
use crate::consumer::{self, ConsumerConfig};
use crate::error::{PerfError, Result};
use crate::histogram::Histogram;
use crate::producer::{self, ProducerConfig};
use crate::stats::Counters;
use crate::topology;
use crate::uri::{AmqpUri, DEFAULT_URI};
use verdict::{Bounds, Sample, Verdict};

/// warren-soak: mixed AMQP traffic at a fraction of measured capacity for a long
/// time, failing on memory or file-descriptor growth or a lost message.
#[derive(Debug, Clone, Parser)]
#[command(name = "warren-soak", version, about)]
pub struct SoakArgs {
    /// Broker URI.
    #[arg(long, default_value = DEFAULT_URI)]
    pub uri: String,
    /// PID of the broker, whose RSS and fds are sampled from /proc.
    #[arg(long)]
    pub broker_pid: u32,
    /// The broker's data directory, whose disk usage is sampled.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Length of the soak in seconds (after the capacity measurement).
    #[arg(long = "duration", default_value_t = 1800)]
    pub duration_secs: u64,
    /// Total publish rate of the mix in msg/s; when absent, capacity is measured first
    /// and the rate is `--load` times it.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Fraction of the measured capacity to run at.
    #[arg(long, default_value_t = 0.5)]
    pub load: f64,
    /// How long capacity is measured, seconds.
    #[arg(long, default_value_t = 15)]
    pub capacity_secs: u64,
    /// Seconds between samples.
    #[arg(long, default_value_t = 10)]
    pub sample_secs: u64,
    /// Seconds of warm-up that no bound looks at.
    #[arg(long, default_value_t = 60)]
    pub warmup_secs: u64,
    /// Length of the baseline window (right after warm-up) and of the end window.
    #[arg(long, default_value_t = 60)]
    pub window_secs: u64,
    /// RSS bound: the end window's mean may exceed the baseline's by this percentage …
    #[arg(long, default_value_t = 10.0)]
    pub max_rss_growth_pct: f64,
    /// … plus this many MiB (allocator caches and the store's page cache settle).
    #[arg(long, default_value_t = 16.0)]
    pub rss_slack_mib: f64,
    /// fd bound: the end window's count may exceed the baseline's by this many.
    #[arg(long, default_value_t = 8)]
    pub fd_slack: u64,
    /// Directory for soak.csv, summary.json and the PNG plots (created if needed).
    #[arg(long)]
    pub out: PathBuf,
    /// Skip the PNG plots.
    #[arg(long)]
    pub no_plots: bool,
    /// TrueType font for the plots (default: DejaVu Sans from fonts-dejavu-core).
    #[arg(long)]
    pub font: Option<PathBuf>,
    /// Runtime worker threads.
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
}

impl SoakArgs {
    /// Rejects meaningless combinations.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(PerfError::Option(m.to_owned()));
        if self.sample_secs == 0 {
            return bad("--sample-secs must be at least 1");
        }
        if self.duration_secs < self.warmup_secs + 2 * self.window_secs {
            return bad("--duration must cover the warm-up and two windows");
        }
        if self.window_secs < self.sample_secs {
            return bad("--window-secs must hold at least one sample");
        }
        if !(self.load > 0.0 && self.load <= 1.0) {
            return bad("--load must be in (0, 1]");
        }
        if matches!(self.rate, Some(r) if !(r > 0.0 && r.is_finite())) {
            return bad("--rate must be a positive number");
        }
        if self.rate.is_none() && self.capacity_secs < 5 {
            return bad("--capacity-secs must be at least 5");
        }
        if self.threads == 0 {
            return bad("--threads must be at least 1");
        }
        Ok(())
    }

    fn bounds(&self) -> Bounds {
        Bounds {
            warmup_secs: self.warmup_secs as f64,
            window_secs: self.window_secs as f64,
            rss_growth_fraction: self.max_rss_growth_pct / 100.0,
            rss_slack_mib: self.rss_slack_mib,
            fd_slack: self.fd_slack,
        }
    }
}

/// How a consumer's deliveries are counted against its stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Consumes what the stream's producers publish (times the fan-out).
    Main,
    /// Consumes what the stream's main consumers rejected (the dead-letter queue).
    DeadLetters,
}

/// One kind of traffic in the mix.
#[derive(Debug, Clone)]
struct Stream {
    name: &'static str,
    share: f64,
    body: usize,
    persistent: bool,
    confirm: Option<u32>,
    exchange: &'static str,
    /// Routing key of each producer.
    keys: Vec<&'static str>,
    /// Queues each message reaches.
    fan: u64,
    consumers: Vec<(Role, ConsumerConfig)>,
}

fn consumer(queue: &str, auto_ack: bool, prefetch: u16, every: u32, reject: u32) -> ConsumerConfig {
    ConsumerConfig {
        queue: queue.to_owned(),
        auto_ack,
        prefetch,
        multi_ack_every: every,
        reject_every: reject,
        arguments: FieldTable::new(),
    }
}

/// The mix described in the module documentation.
fn mix() -> Vec<Stream> {
    vec![
        Stream {
            name: "transient",
            share: 0.35,
            body: 1024,
            persistent: false,
            confirm: None,
            exchange: "",
            keys: vec!["soak.transient-1", "soak.transient-2"],
            fan: 1,
            consumers: vec![
                (Role::Main, consumer("soak.transient-1", false, 100, 0, 0)),
                (Role::Main, consumer("soak.transient-2", false, 100, 0, 0)),
            ],
        },
        Stream {
            name: "persistent",
            share: 0.25,
            body: 1024,
            persistent: true,
            confirm: Some(1000),
            exchange: "",
            keys: vec!["soak.persistent"],
            fan: 1,
            consumers: vec![(Role::Main, consumer("soak.persistent", false, 200, 50, 0))],
        },
        Stream {
            name: "fanout",
            share: 0.20,
            body: 256,
            persistent: false,
            confirm: None,
            exchange: "soak.fanout",
            keys: vec![""],
            fan: 3,
            consumers: (1..=3)
                .map(|i| {
                    (
                        Role::Main,
                        consumer(&format!("soak.fanout-{i}"), true, 0, 0, 0),
                    )
                })
                .collect(),
        },
        Stream {
            name: "dead-letter",
            share: 0.20,
            body: 512,
            persistent: false,
            confirm: Some(100),
            exchange: "",
            keys: vec!["soak.work"],
            fan: 1,
            consumers: vec![
                (Role::Main, consumer("soak.work", false, 50, 0, 10)),
                (Role::DeadLetters, consumer("soak.dead", false, 100, 0, 0)),
            ],
        },
    ]
}

const QUEUES: &[&str] = &[
    "soak.transient-1",
    "soak.transient-2",
    "soak.persistent",
    "soak.fanout-1",
    "soak.fanout-2",
    "soak.fanout-3",
    "soak.work",
    "soak.dead",
];

async fn declare_queue(
    c: &mut Connection,
    name: &str,
    durable: bool,
    args: FieldTable,
) -> Result<()> {
    c.rpc(
        queue::Declare {
            queue: name.to_owned(),
            durable,
            arguments: args,
            ..Default::default()
        }
        .into(),
        |m| matches!(m, Method::QueueDeclareOk(_)),
    )
    .await
    .map(drop)
}

async fn declare_fanout(c: &mut Connection, name: &str) -> Result<()> {
    c.rpc(
        exchange::Declare {
            exchange: name.to_owned(),
            kind: "fanout".into(),
            ..Default::default()
        }
        .into(),
        |m| matches!(m, Method::ExchangeDeclareOk(_)),
    )
    .await
    .map(drop)
}

async fn bind(c: &mut Connection, queue: &str, exchange: &str) -> Result<()> {
    c.rpc(
        queue::Bind {
            queue: queue.to_owned(),
            exchange: exchange.to_owned(),
            arguments: FieldTable::new(),
            ..Default::default()
        }
        .into(),
        |m| matches!(m, Method::QueueBindOk(_)),
    )
    .await
    .map(drop)
}

/// Deletes the soak's queues (emptying them) and declares the topology afresh.
async fn reset_topology(uri: &AmqpUri) -> Result<()> {
    let mut c = Connection::open(uri, "warren-soak setup").await?;
    let names: Vec<String> = QUEUES.iter().map(|q| q.to_string()).collect();
    topology::delete_queues(&mut c, &names).await?;
    declare_fanout(&mut c, "soak.fanout").await?;
    declare_fanout(&mut c, "soak.dlx").await?;
    for q in ["soak.transient-1", "soak.transient-2"] {
        declare_queue(&mut c, q, false, FieldTable::new()).await?;
    }
    declare_queue(&mut c, "soak.persistent", true, FieldTable::new()).await?;
    for i in 1..=3 {
        let q = format!("soak.fanout-{i}");
        declare_queue(&mut c, &q, false, FieldTable::new()).await?;
        bind(&mut c, &q, "soak.fanout").await?;
    }
    let mut dlx = FieldTable::new();
    dlx.insert("x-dead-letter-exchange", FieldValue::string("soak.dlx"));
    declare_queue(&mut c, "soak.work", false, dlx).await?;
    declare_queue(&mut c, "soak.dead", false, FieldTable::new()).await?;
    bind(&mut c, "soak.dead", "soak.dlx").await?;
    c.close().await
}

/// The traffic of one phase while it runs.
struct Traffic {
    producer_stop: CancellationToken,
    consumer_stop: CancellationToken,
    producer_tasks: JoinSet<()>,
    consumer_tasks: JoinSet<()>,
    failures: mpsc::UnboundedReceiver<(String, PerfError)>,
    producers: Vec<(usize, Arc<Counters>)>,
    consumers: Vec<(usize, Role, Arc<Counters>)>,
}

/// Per-stream totals at one instant.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StreamTotals {
    /// The stream's name.
    pub name: &'static str,
    /// Its publish rate, msg/s (0: unlimited).
    pub rate: f64,
    /// Messages published.
    pub published: u64,
    /// Messages confirmed by the broker.
    pub confirmed: u64,
    /// Messages nacked by the broker.
    pub nacked: u64,
    /// Deliveries to the stream's main consumers.
    pub delivered: u64,
    /// Deliveries the main consumers rejected.
    pub rejected: u64,
    /// Deliveries from the dead-letter queue.
    pub dead_lettered_delivered: u64,
}

impl Traffic {
    /// Connects every consumer, then every producer, and starts them. `rate(i)` is
    /// stream i's total publish rate (0: unlimited).
    async fn start(uri: &AmqpUri, streams: &[Stream], rate: impl Fn(usize) -> f64) -> Result<Self> {
        let (fail_tx, failures) = mpsc::unbounded_channel();
        let mut t = Traffic {
            producer_stop: CancellationToken::new(),
            consumer_stop: CancellationToken::new(),
            producer_tasks: JoinSet::new(),
            consumer_tasks: JoinSet::new(),
            failures,
            producers: Vec::new(),
            consumers: Vec::new(),
        };
        for (si, s) in streams.iter().enumerate() {
            for (role, cfg) in &s.consumers {
                let name = format!("{} consumer of {}", s.name, cfg.queue);
                let mut conn = Connection::open(uri, &format!("warren-soak {name}")).await?;
                consumer::subscribe(&mut conn, cfg).await?;
                let counters = Arc::new(Counters::default());
                t.consumers.push((si, *role, counters.clone()));
                let (cfg, stop, fail) = (cfg.clone(), t.consumer_stop.clone(), fail_tx.clone());
                t.consumer_tasks.spawn(async move {
                    if let Err(e) = consumer::run(conn, cfg, counters, stop).await {
                        let _ = fail.send((name, e));
                    }
                });
            }
        }
        let done = Arc::new(AtomicUsize::new(0));
        for (si, s) in streams.iter().enumerate() {
            for (pi, key) in s.keys.iter().enumerate() {
                let cfg = ProducerConfig {
                    exchange: s.exchange.to_owned(),
                    routing_key: (*key).to_owned(),
                    body_size: s.body,
                    persistent: s.persistent,
                    confirm: s.confirm,
                    rate: rate(si) / s.keys.len() as f64,
                    count: 0,
                };
                let name = format!("{} producer {pi}", s.name);
                let mut conn = Connection::open(uri, &format!("warren-soak {name}")).await?;
                producer::prepare(&mut conn, &cfg).await?;
                let counters = Arc::new(Counters::default());
                t.producers.push((si, counters.clone()));
                let (stop, fail, done) = (t.producer_stop.clone(), fail_tx.clone(), done.clone());
                t.producer_tasks.spawn(async move {
                    if let Err(e) = producer::run(conn, cfg, counters, stop, done).await {
                        let _ = fail.send((name, e));
                    }
                });
            }
        }
        Ok(t)
    }

    fn totals(&self, streams: &[Stream], rate: impl Fn(usize) -> f64) -> Vec<StreamTotals> {
        let load = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
        let mut out: Vec<StreamTotals> = streams
            .iter()
            .enumerate()
            .map(|(i, s)| StreamTotals {
                name: s.name,
                rate: rate(i),
                ..Default::default()
            })
            .collect();
        for (si, c) in &self.producers {
            out[*si].published += load(&c.sent);
            out[*si].confirmed += load(&c.confirmed);
            out[*si].nacked += load(&c.nacked);
        }
        for (si, role, c) in &self.consumers {
            match role {
                Role::Main => {
                    out[*si].delivered += load(&c.received);
                    out[*si].rejected += load(&c.rejected);
                }
                Role::DeadLetters => out[*si].dead_lettered_delivered += load(&c.received),
            }
        }
        out
    }

    /// Moves every consumer's latencies into `h`.
    fn drain_latency(&self, h: &mut Histogram) {
        for (_, _, c) in &self.consumers {
            c.latency.drain_into(h);
        }
    }

    /// A worker's failure, if one was reported.
    fn failure(&mut self) -> Option<String> {
        self.failures
            .try_recv()
            .ok()
            .map(|(who, e)| format!("{who}: {e}"))
    }

    /// Stops the producers and waits (up to 30 s) for them to close.
    async fn stop_producers(&mut self) {
        self.producer_stop.cancel();
        let tasks = &mut self.producer_tasks;
        if tokio::time::timeout(Duration::from_secs(30), async {
            while tasks.join_next().await.is_some() {}
        })
        .await
        .is_err()
        {
            tasks.abort_all();
        }
    }

    /// Stops the consumers and waits (up to 10 s) for them to close.
    async fn stop_consumers(&mut self) {
        self.consumer_stop.cancel();
        let tasks = &mut self.consumer_tasks;
        if tokio::time::timeout(Duration::from_secs(10), async {
            while tasks.join_next().await.is_some() {}
        })
        .await
        .is_err()
        {
            tasks.abort_all();
        }
    }
}

/// Each stream's sustained rate: published messages that were also delivered (fan-out
/// counted once) per second between two snapshots.
fn achieved(
    before: &[StreamTotals],
    after: &[StreamTotals],
    streams: &[Stream],
    secs: f64,
) -> Vec<f64> {
    before
        .iter()
        .zip(after)
        .zip(streams)
        .map(|((b, a), s)| {
            let published = a.published.saturating_sub(b.published) as f64;
            let delivered = a.delivered.saturating_sub(b.delivered) as f64 / s.fan as f64;
            published.min(delivered) / secs
        })
        .collect()
}

/// The largest total rate at which every stream keeps its share.
fn capacity_of(achieved: &[f64], streams: &[Stream]) -> f64 {
    achieved
        .iter()
        .zip(streams)
        .map(|(r, s)| r / s.share)
        .fold(f64::INFINITY, f64::min)
}

/// Runs all streams unthrottled for `secs` and returns the mix's capacity in msg/s
/// published, with each stream's achieved rate.
async fn measure_capacity(
    uri: &AmqpUri,
    streams: &[Stream],
    secs: u64,
    log: &mut impl FnMut(&str),
) -> Result<(f64, Vec<f64>)> {
    reset_topology(uri).await?;
    let mut t = Traffic::start(uri, streams, |_| 0.0).await?;
    // The first seconds fill prefetch windows and queues up to the flow-control mark.
    let settle = Duration::from_secs(3.min(secs / 3));
    tokio::time::sleep(settle).await;
    let before = t.totals(streams, |_| 0.0);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(secs) - settle).await;
    let after = t.totals(streams, |_| 0.0);
    let dt = started.elapsed().as_secs_f64();
    let failure = t.failure();
    t.stop_producers().await;
    t.stop_consumers().await;
    if let Some(f) = failure {
        return Err(PerfError::Unexpected(format!(
            "during the capacity measurement: {f}"
        )));
    }
    let rates = achieved(&before, &after, streams, dt);
    for (s, r) in streams.iter().zip(&rates) {
        log(&format!(
            "capacity: stream {:<12} {:>9.0} msg/s published and delivered ({:.0}% of the mix)",
            s.name,
            r,
            s.share * 100.0
        ));
    }
    Ok((capacity_of(&rates, streams), rates))
}

/// Everything the soak measured.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// The measured capacity of the mix (msg/s published), if it was measured.
    pub capacity_msgs_per_sec: Option<f64>,
    /// The total publish rate the soak ran at.
    pub rate_msgs_per_sec: f64,
    /// The soak's length, seconds.
    pub duration_secs: f64,
    /// The bounds it was judged by.
    pub bounds: Bounds,
    /// Per-stream totals at the end (after the drain).
    pub streams: Vec<StreamTotals>,
    /// Messages published and deliveries made, over all streams.
    pub published: u64,
    /// See `published`.
    pub delivered: u64,
    /// Latency over the whole soak after warm-up: p50, p99, p99.9 and maximum, µs.
    pub latency_us: [Option<u64>; 4],
    /// The growth comparison (`None` if the run ended too early to have one).
    pub verdict: Option<Verdict>,
    /// Every reason the soak failed; empty when it passed.
    pub failures: Vec<String>,
    /// The samples.
    #[serde(skip)]
    pub samples: Vec<Sample>,
}

/// How long a drain may make no progress before undelivered messages count as lost.
const DRAIN_IDLE: Duration = Duration::from_secs(15);

/// Runs the soak; `log` gets one line per sample and per phase. Only setup errors
/// (cannot connect, cannot write the output) are `Err`: a failed soak is an `Ok`
/// outcome with `failures`.
pub async fn run(args: &SoakArgs, mut log: impl FnMut(&str)) -> Result<Outcome> {
    let uri = AmqpUri::parse(&args.uri)?;
    let streams = mix();
    std::fs::create_dir_all(&args.out)?;
    let (capacity, rate) = match args.rate {
        Some(r) => (None, r),
        None => {
            log(&format!(
                "measuring the mix's capacity for {} s",
                args.capacity_secs
            ));
            let (cap, _) = measure_capacity(&uri, &streams, args.capacity_secs, &mut log).await?;
            if !(cap.is_finite() && cap > 0.0) {
                return Err(PerfError::Unexpected(
                    "the capacity measurement delivered nothing".into(),
                ));
            }
            log(&format!(
                "capacity {cap:.0} msg/s; soaking at {:.0}% = {:.0} msg/s",
                args.load * 100.0,
                cap * args.load
            ));
            (Some(cap), cap * args.load)
        }
    };
    let stream_rate = |i: usize| (rate * streams[i].share).max(1.0);
    reset_topology(&uri).await?;

    let mut csv = std::fs::File::create(args.out.join("soak.csv"))?;
    writeln!(csv, "{}", Sample::CSV_HEADER)?;
    let mut t = Traffic::start(&uri, &streams, stream_rate).await?;
    let started = Instant::now();
    let every = Duration::from_secs(args.sample_secs);
    let mut ticker = tokio::time::interval_at((started + every).into(), every);
    let mut samples = Vec::new();
    let mut failures = Vec::new();
    let mut window = Histogram::default();
    let mut after_warmup = Histogram::default();
    let mut last = (0u64, 0u64, started);
    let delivered_total = |v: &[StreamTotals]| {
        v.iter()
            .map(|s| s.delivered + s.dead_lettered_delivered)
            .sum::<u64>()
    };
    loop {
        ticker.tick().await;
        if let Some(f) = t.failure() {
            failures.push(f);
            break;
        }
        let now = Instant::now();
        let at = now.duration_since(started).as_secs_f64();
        let totals = t.totals(&streams, stream_rate);
        let published: u64 = totals.iter().map(|s| s.published).sum();
        let delivered = delivered_total(&totals);
        window.clear();
        t.drain_latency(&mut window);
        if at >= args.warmup_secs as f64 {
            after_warmup.add(&window);
        }
        let (Some(rss), Some(fds)) = (
            probe::rss_bytes(args.broker_pid),
            probe::fd_count(args.broker_pid),
        ) else {
            failures.push(format!("the broker (pid {}) is gone", args.broker_pid));
            break;
        };
        let dt = now.duration_since(last.2).as_secs_f64().max(1e-9);
        let s = Sample {
            at_secs: at.round(),
            rss_mib: rss as f64 / 1048576.0,
            fds,
            data_dir_mib: args
                .data_dir
                .as_deref()
                .map_or(0.0, |d| probe::dir_bytes(d) as f64 / 1048576.0),
            published_per_sec: (published - last.0) as f64 / dt,
            delivered_per_sec: (delivered - last.1) as f64 / dt,
            p50_us: window.quantile(0.5),
            p99_us: window.quantile(0.99),
            max_us: window.quantile(1.0),
        };
        last = (published, delivered, now);
        writeln!(csv, "{}", s.csv_row())?;
        csv.flush()?;
        log(&format!(
            "{:>5.0}s  rss {:>7.1} MiB  fds {:>4}  data {:>7.1} MiB  published {:>7.0}/s  delivered {:>7.0}/s  latency p50 {} p99 {} max {} µs",
            s.at_secs, s.rss_mib, s.fds, s.data_dir_mib, s.published_per_sec, s.delivered_per_sec,
            fmt_us(s.p50_us), fmt_us(s.p99_us), fmt_us(s.max_us)
        ));
        samples.push(s);
        if at + 0.5 >= args.duration_secs as f64 {
            break;
        }
    }
    let duration = started.elapsed().as_secs_f64();

    // Stop publishing, then every published message must arrive.
    t.stop_producers().await;
    let streams_total = drain(&mut t, &streams, stream_rate, &mut failures).await;
    t.stop_consumers().await;
    if let Some(f) = t.failure() {
        failures.push(f);
    }
    let verdict = verdict::judge(&samples, args.duration_secs as f64, &args.bounds());
    match &verdict {
        Some(v) => failures.extend(v.failures.iter().cloned()),
        None if failures.is_empty() => {
            failures.push("the run ended before its end window: no growth verdict".into())
        }
        None => {}
    }
    let outcome = Outcome {
        capacity_msgs_per_sec: capacity,
        rate_msgs_per_sec: rate,
        duration_secs: duration,
        bounds: args.bounds(),
        published: streams_total.iter().map(|s| s.published).sum(),
        delivered: delivered_total(&streams_total),
        streams: streams_total,
        latency_us: [0.5, 0.99, 0.999, 1.0].map(|q| after_warmup.quantile(q)),
        verdict,
        failures,
        samples,
    };
    let mut summary = std::fs::File::create(args.out.join("summary.json"))?;
    serde_json::to_writer_pretty(&mut summary, &outcome)
        .map_err(|e| PerfError::Unexpected(e.to_string()))?;
    writeln!(summary)?;
    Ok(outcome)
}

/// Waits until every stream's consumers got everything published (and dead-lettered),
/// recording a failure per stream that is still short after [`DRAIN_IDLE`] without
/// progress.
async fn drain(
    t: &mut Traffic,
    streams: &[Stream],
    rate: impl Fn(usize) -> f64 + Copy,
    failures: &mut Vec<String>,
) -> Vec<StreamTotals> {
    let short = |v: &[StreamTotals]| -> Vec<String> {
        v.iter()
            .zip(streams)
            .filter_map(|(s, spec)| {
                let want = s.published * spec.fan;
                let mut m = Vec::new();
                if s.delivered != want {
                    m.push(format!(
                        "{} delivered of {want} published×fan-out",
                        s.delivered
                    ));
                }
                if s.dead_lettered_delivered != s.rejected {
                    m.push(format!(
                        "{} dead letters delivered of {} rejected",
                        s.dead_lettered_delivered, s.rejected
                    ));
                }
                (!m.is_empty()).then(|| format!("stream {}: {}", s.name, m.join(", ")))
            })
            .collect()
    };
    let mut last_progress = Instant::now();
    let mut last = t.totals(streams, rate);
    loop {
        let now = t.totals(streams, rate);
        let missing = short(&now);
        if missing.is_empty() {
            return now;
        }
        let moved = now.iter().zip(&last).any(|(a, b)| {
            a.delivered != b.delivered || a.dead_lettered_delivered != b.dead_lettered_delivered
        });
        if moved {
            last_progress = Instant::now();
        } else if last_progress.elapsed() >= DRAIN_IDLE {
            failures.extend(missing.into_iter().map(|m| format!("lost messages: {m}")));
            return now;
        }
        last = now;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn fmt_us(v: Option<u64>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

/// The text summary printed at the end.
pub fn summary_text(o: &Outcome) -> String {
    let mut s = String::new();
    if let Some(c) = o.capacity_msgs_per_sec {
        s += &format!("capacity of the mix: {c:.0} msg/s published\n");
    }
    s += &format!(
        "soak: {:.0} s at {:.0} msg/s published; {} published, {} delivered\n",
        o.duration_secs, o.rate_msgs_per_sec, o.published, o.delivered
    );
    for st in &o.streams {
        s += &format!(
            "  {:<12} published {:>10}  confirmed {:>10}  delivered {:>10}  rejected {:>8}  dead letters delivered {:>8}\n",
            st.name, st.published, st.confirmed, st.delivered, st.rejected, st.dead_lettered_delivered
        );
    }
    let [p50, p99, p999, max] = o.latency_us;
    s += &format!(
        "latency after warm-up: p50 {} µs, p99 {} µs, p99.9 {} µs, max {} µs\n",
        fmt_us(p50),
        fmt_us(p99),
        fmt_us(p999),
        fmt_us(max)
    );
    if let Some(v) = &o.verdict {
        s += &format!(
            "RSS: baseline {:.1} MiB, end {:.1} MiB, limit {:.1} MiB\nfds: baseline {}, end {}, limit {}\np99 (worst sample): baseline {} µs, end {} µs\n",
            v.rss_baseline_mib, v.rss_end_mib, v.rss_limit_mib, v.fds_baseline, v.fds_end, v.fds_limit,
            fmt_us(v.p99_baseline_us), fmt_us(v.p99_end_us)
        );
    }
    if o.failures.is_empty() {
        s += "PASS\n";
    } else {
        for f in &o.failures {
            s += &format!("FAIL: {f}\n");
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_add_up_and_capacity_is_the_first_stream_to_saturate() {
        let streams = mix();
        let total: f64 = streams.iter().map(|s| s.share).sum();
        assert!((total - 1.0).abs() < 1e-9);
        // transient keeps 70k (200k of mix), persistent 10k (40k), fanout 50k, dlx 20k.
        let cap = capacity_of(&[70_000.0, 10_000.0, 50_000.0, 20_000.0], &streams);
        assert!((cap - 40_000.0).abs() < 1e-6, "{cap}");
    }

    #[test]
    fn achieved_counts_fanout_once_and_only_what_was_delivered() {
        let streams = mix();
        let snap = |p: u64, d: u64| {
            streams
                .iter()
                .map(|s| StreamTotals {
                    name: s.name,
                    published: p,
                    delivered: d * s.fan,
                    ..Default::default()
                })
                .collect::<Vec<_>>()
        };
        let r = achieved(&snap(0, 0), &snap(1000, 800), &streams, 2.0);
        assert_eq!(r, vec![400.0; 4]);
    }

    #[test]
    fn options_are_checked() {
        let parse = |l: &str| {
            SoakArgs::try_parse_from(
                ["warren-soak", "--broker-pid", "1", "--out", "x"]
                    .into_iter()
                    .chain(l.split_whitespace()),
            )
            .unwrap()
        };
        assert!(parse("").validate().is_ok());
        assert!(
            parse("--duration 100").validate().is_err(),
            "shorter than warm-up + 2 windows"
        );
        assert!(parse("--duration 120 --warmup-secs 20 --window-secs 30")
            .validate()
            .is_ok());
        assert!(parse("--load 0").validate().is_err());
        assert!(parse("--rate=-5").validate().is_err());
        assert!(parse("--window-secs 5").validate().is_err());
    }
}
