//! One run: set up the topology, connect the consumers then the producers, report once
//! a second until the time or message count is reached, then summarise.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::cli::Args;
use crate::conn::Connection;
use crate::consumer::{self, ConsumerConfig};
use crate::cpu::{ticks_per_second, CpuMeter, Target};
use crate::error::{PerfError, Result};
use crate::histogram::Histogram;
use crate::producer::{self, ProducerConfig};
use crate::report::{Sample, Spread, Summary};
use crate::stats::{collect, Counters, Totals};
use crate::topology;
use crate::uri::AmqpUri;

/// With -C, how long deliveries may stall after the producers finish before the run
/// ends anyway (messages may have been dropped, e.g. by a length limit).
const DRAIN_IDLE: Duration = Duration::from_secs(3);
/// How long workers get to close their connections at the end.
const CLOSE_GRACE: Duration = Duration::from_secs(10);

/// Runs the load described by `args`; per-second lines go to `line`.
pub async fn run(args: &Args, mut line: impl FnMut(&str)) -> Result<Summary> {
    let mut uri = AmqpUri::parse(&args.uri)?;
    if let Some(ca) = &args.cacert {
        uri.tls = Some(crate::tls::TlsClient::with_ca_file(ca)?);
    }
    let mut setup = Connection::open(&uri, "warren-perf setup").await?;
    let keys = topology::declare(&mut setup, args).await?;
    setup.close().await?;
    let queues = args.queue_names();
    let (exchange, _) = args.exchange();

    let stop = CancellationToken::new();
    let (fail_tx, mut fail_rx) = mpsc::unbounded_channel::<(String, PerfError)>();
    let mut tasks = JoinSet::new();
    let mut workers = Vec::new();

    for i in 0..args.consumers {
        let cfg = ConsumerConfig {
            queue: queues[i % queues.len()].clone(),
            auto_ack: args.auto_ack,
            prefetch: args.prefetch,
            multi_ack_every: args.multi_ack_every,
            reject_every: 0,
            arguments: args.consumer_arguments(),
        };
        let mut conn = Connection::open(&uri, &format!("warren-perf consumer {i}")).await?;
        consumer::subscribe(&mut conn, &cfg).await?;
        let counters = Arc::new(Counters::default());
        workers.push(counters.clone());
        let (stop, fail) = (stop.clone(), fail_tx.clone());
        tasks.spawn(async move {
            if let Err(e) = consumer::run(conn, cfg, counters, stop).await {
                let _ = fail.send((format!("consumer {i}"), e));
            }
        });
    }

    let done = Arc::new(AtomicUsize::new(0));
    let mut producer_conns = Vec::new();
    for i in 0..args.producers {
        let cfg = ProducerConfig {
            exchange: exchange.clone(),
            routing_key: keys[i % keys.len()].clone(),
            body_size: args.size,
            persistent: args.persistent,
            confirm: args.confirm,
            rate: args.rate,
            count: args.message_count,
        };
        let mut conn = Connection::open(&uri, &format!("warren-perf producer {i}")).await?;
        producer::prepare(&mut conn, &cfg).await?;
        producer_conns.push((conn, cfg));
    }

    let ticks = ticks_per_second();
    let own_cpu = CpuMeter::start(Target::SelfProcess);
    let broker_cpu = args
        .broker_pid
        .and_then(|p| CpuMeter::start(Target::Pid(p)));
    let started = Instant::now();
    for (i, (conn, cfg)) in producer_conns.into_iter().enumerate() {
        let counters = Arc::new(Counters::default());
        workers.push(counters.clone());
        let (stop, fail, done) = (stop.clone(), fail_tx.clone(), done.clone());
        tasks.spawn(async move {
            if let Err(e) = producer::run(conn, cfg, counters, stop, done).await {
                let _ = fail.send((format!("producer {i}"), e));
            }
        });
    }
    drop(fail_tx);

    let expected = args.message_count * args.producers as u64 * args.deliveries_per_message();
    let mut samples = Vec::new();
    let mut overall = Histogram::default();
    let mut second = Histogram::default();
    let mut last = Totals::default();
    let mut last_at = started;
    let mut last_progress = started;
    let mut ticker = tokio::time::interval_at(
        (started + Duration::from_secs(1)).into(),
        Duration::from_secs(1),
    );
    let failure = loop {
        tokio::select! {
            f = fail_rx.recv() => {
                if let Some((who, e)) = f {
                    break Some(PerfError::Unexpected(format!("{who}: {e}")));
                }
            }
            _ = ticker.tick() => {}
        }
        let now = Instant::now();
        second.clear();
        let totals = collect(&workers, &mut second);
        overall.add(&second);
        let dt = now.duration_since(last_at).as_secs_f64().max(1e-9);
        let sample = Sample {
            at_secs: now.duration_since(started).as_secs_f64(),
            sent: (totals.sent - last.sent) as f64 / dt,
            received: (totals.received - last.received) as f64 / dt,
            confirmed: (totals.confirmed - last.confirmed) as f64 / dt,
            p50_us: second.quantile(0.5),
            p99_us: second.quantile(0.99),
        };
        line(&sample.line());
        samples.push(sample);
        if totals.received != last.received {
            last_progress = now;
        }
        last = totals;
        last_at = now;
        let timed_out =
            args.time_secs > 0 && now.duration_since(started).as_secs() >= args.time_secs;
        let producers_done =
            args.message_count > 0 && done.load(Ordering::Relaxed) == args.producers;
        let drained = args.consumers == 0
            || totals.received >= expected
            || now.duration_since(last_progress) >= DRAIN_IDLE;
        if timed_out || (producers_done && drained) {
            break None;
        }
    };
    let duration = started.elapsed();
    stop.cancel();
    let own = own_cpu.and_then(|m| m.finish(ticks));
    let broker = broker_cpu.and_then(|m| m.finish(ticks));
    // Counts from after the last tick belong to no sample, but do count in the totals.
    let totals = collect(&workers, &mut overall);
    if tokio::time::timeout(CLOSE_GRACE, async {
        while tasks.join_next().await.is_some() {}
    })
    .await
    .is_err()
    {
        tasks.abort_all();
    }
    if let Some(e) = failure {
        return Err(e);
    }
    if args.delete_queues {
        let mut conn = Connection::open(&uri, "warren-perf cleanup").await?;
        topology::delete_queues(&mut conn, &queues).await?;
        conn.close().await?;
    }

    let secs = duration.as_secs_f64();
    let per_message = if args.consumers > 0 {
        totals.received
    } else {
        totals.sent
    };
    let spread = |f: fn(&Sample) -> Option<f64>| Spread::of(samples.iter().filter_map(f));
    Ok(Summary {
        duration_secs: secs,
        producers: args.producers,
        consumers: args.consumers,
        body_size: args.size,
        sent_total: totals.sent,
        received_total: totals.received,
        confirmed_total: totals.confirmed,
        nacked_total: totals.nacked,
        stream_offsets_total: totals.stream_offsets,
        stream_offset_regressions: totals.stream_offset_regressions,
        sent_mean_rate: totals.sent as f64 / secs,
        received_mean_rate: totals.received as f64 / secs,
        sent_rate: (args.producers > 0)
            .then(|| spread(|s| Some(s.sent)))
            .flatten(),
        received_rate: (args.consumers > 0)
            .then(|| spread(|s| Some(s.received)))
            .flatten(),
        confirmed_rate: args.confirm.and_then(|_| spread(|s| Some(s.confirmed))),
        latency_p50_us: spread(|s| s.p50_us.map(|v| v as f64)),
        latency_p99_us: spread(|s| s.p99_us.map(|v| v as f64)),
        latency_p50_overall_us: overall.quantile(0.5),
        latency_p99_overall_us: overall.quantile(0.99),
        perf_cpu_percent: own.map(|u| u.percent()),
        perf_cpu_us_per_msg: own
            .filter(|_| totals.sent + totals.received > 0)
            .map(|u| u.cpu_micros as f64 / (totals.sent + totals.received) as f64),
        broker_cpu_percent: broker.map(|u| u.percent()),
        broker_cpu_us_per_msg: broker
            .filter(|_| per_message > 0)
            .map(|u| u.cpu_micros as f64 / per_message as f64),
    })
}
