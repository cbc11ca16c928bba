//! Churn: connections opened and closed in a loop, and queues declared and deleted by
//! the ten thousand, against the real `warren` binary. Afterwards the broker's open
//! file descriptors, resident memory and data directory must come back to what they
//! were before (within the bounds below): nothing a closed connection or a deleted
//! queue held may stay behind.
//!
//! Counts: `CHURN_CONNECTIONS` (default 2,000; the figure is 10,000) and
//! `CHURN_QUEUES` (default 20,000; the 100,000); docs/soak.md has the full
//! run's figures. Connections (each opens a channel, then closes cleanly) are opened
//! `CONCURRENCY` at a time; queues, every other one durable, are all declared over
//! `QUEUE_CONNECTIONS` connections, then all deleted. The client is the testkit's raw
//! AMQP client: lapin in a debug build managed 19 connections a second, and the test
//! is about the broker.
//!
//! `CHURN_WATCH_SECS=N` goes on printing the footprint for N seconds after it settles.
//!
//! Bounds, after the broker settles (polled for up to `SETTLE`):
//! - fds: exactly the baseline (a leaked socket or file is one more fd);
//! - RSS: baseline + 5% + 8 MiB. The baseline is read after a warm-up round of the
//!   same work, once RSS has stopped falling (the allocator's decay), so what legitimately stays — the capacity
//!   the broker's maps grew to, allocator arenas, the store's cache — is in it, and the
//!   measured round can only add what leaks: 90 bytes per queue at 100,000 queues, or
//!   850 bytes per connection at 10,000, would exceed the slack (docs/soak.md has the
//!   measurements);
//! - data directory: baseline + 16 MiB, after the store's compaction (checked every
//!   second here, with its thresholds lowered so that the deleted records are worth
//!   compacting).

mod process_support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use process_support::{env_count, mib, BrokerProcess};
use tokio::sync::Semaphore;
use warren_protocol::method::{connection, queue};
use warren_protocol::{FieldTable, Method};
use warren_testkit::raw::RawClient;

/// Connections being opened or closed at once.
const CONCURRENCY: usize = 50;
/// Connections the queues are declared and deleted over (one channel each; durable
/// declares wait for the group commit, so more connections mean bigger groups).
const QUEUE_CONNECTIONS: usize = 64;
/// How long the broker gets to come back to its baseline.
const SETTLE: Duration = Duration::from_secs(60);
/// After the warm-up round the baseline is read once RSS has stopped falling for this
/// long (jemalloc returns freed pages over ~10 s), or after `WARM_UP_MAX`.
const WARM_UP_QUIET: Duration = Duration::from_secs(12);
const WARM_UP_MAX: Duration = Duration::from_secs(60);
const RSS_GROWTH_PERCENT: u64 = 5;
const RSS_SLACK_MIB: u64 = 8;
const DATA_SLACK_MIB: u64 = 4;

/// Sends `connection.close` and waits for `close-ok`.
async fn close(mut c: RawClient) {
    c.send_method(
        0,
        connection::Close {
            reply_code: 200,
            reply_text: "churn".into(),
            class_id: 0,
            method_id: 0,
        },
    )
    .await;
    c.expect_method(0, "connection.close-ok").await;
}

/// Opens (with a channel) and closes `n` connections, `CONCURRENCY` at a time;
/// returns connections per second.
async fn churn_connections(addr: SocketAddr, n: usize) -> f64 {
    let started = Instant::now();
    let slots = Arc::new(Semaphore::new(CONCURRENCY));
    let mut tasks = Vec::with_capacity(n);
    for _ in 0..n {
        let permit = slots.clone().acquire_owned().await.unwrap();
        tasks.push(tokio::spawn(async move {
            close(RawClient::with_channel(addr).await).await;
            drop(permit);
        }));
    }
    for t in tasks {
        t.await.expect("connection task");
    }
    n as f64 / started.elapsed().as_secs_f64()
}

/// Declares queues `churn-0` .. `churn-{n-1}` (even ones durable), then deletes them
/// all; returns declares + deletes per second.
async fn churn_queues(addr: SocketAddr, n: usize) -> f64 {
    let started = Instant::now();
    let workers = QUEUE_CONNECTIONS.min(n);
    let tasks: Vec<_> = (0..workers)
        .map(|w| {
            tokio::spawn(async move {
                let mut c = RawClient::with_channel(addr).await;
                for i in (w..n).step_by(workers) {
                    c.send_method(
                        1,
                        queue::Declare {
                            queue: format!("churn-{i}"),
                            durable: i % 2 == 0,
                            arguments: FieldTable::new(),
                            ..Default::default()
                        },
                    )
                    .await;
                    c.expect_method(1, "queue.declare-ok").await;
                }
                c
            })
        })
        .collect();
    let mut clients = Vec::new();
    for t in tasks {
        clients.push(t.await.expect("declaring worker"));
    }
    let tasks: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(w, mut c)| {
            tokio::spawn(async move {
                for i in (w..n).step_by(workers) {
                    c.send_method(
                        1,
                        queue::Delete {
                            queue: format!("churn-{i}"),
                            ..Default::default()
                        },
                    )
                    .await;
                    match c.expect_method(1, "queue.delete-ok").await {
                        Method::QueueDeleteOk(ok) => {
                            assert_eq!(ok.message_count, 0, "churn-{i} held no messages")
                        }
                        other => unreachable!("{other:?}"),
                    }
                }
                close(c).await;
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("deleting worker");
    }
    (2 * n) as f64 / started.elapsed().as_secs_f64()
}

/// Waits until the broker's RSS has not fallen for `WARM_UP_QUIET` (at most
/// `WARM_UP_MAX`).
async fn settle_rss(broker: &BrokerProcess) {
    let started = Instant::now();
    let mut low = broker.rss_bytes();
    let mut low_at = Instant::now();
    while low_at.elapsed() < WARM_UP_QUIET && started.elapsed() < WARM_UP_MAX {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let rss = broker.rss_bytes();
        if rss + (256 << 10) < low {
            low = rss;
            low_at = Instant::now();
        }
    }
}

/// RSS, fds and data directory bytes, now.
fn footprint(b: &BrokerProcess) -> (u64, usize, u64) {
    (b.rss_bytes(), b.fd_count(), b.data_dir_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn churned_connections_and_queues_leave_nothing_behind() {
    let connections = env_count("CHURN_CONNECTIONS", 2_000);
    let queues = env_count("CHURN_QUEUES", 20_000);
    let mut broker = BrokerProcess::start(&[
        ("WARREN_LIMITS__STORE_COMPACTION_CHECK_EVERY_MS", "1000"),
        ("WARREN_LIMITS__STORE_COMPACTION_MIN_FILE_BYTES", "1048576"),
        ("WARREN_LIMITS__STORE_COMPACTION_RATIO", "2"),
    ])
    .await;

    // Warm-up: the same work once, so that what legitimately stays (the capacity the
    // broker's maps grew to, allocator arenas, the store's cache) is in the baseline and
    // a second round can only add what leaks. Then the allocator's decay.
    churn_connections(broker.addr, connections).await;
    churn_queues(broker.addr, queues).await;
    settle_rss(&broker).await;
    let (rss0, fds0, data0) = footprint(&broker);
    eprintln!(
        "baseline: rss {:.1} MiB, {fds0} fds, data {:.1} MiB",
        mib(rss0),
        mib(data0)
    );

    let rate = churn_connections(broker.addr, connections).await;
    let (rss, fds, data) = footprint(&broker);
    eprintln!(
        "{connections} connections at {rate:.0}/s: rss {:.1} MiB, {fds} fds, data {:.1} MiB",
        mib(rss),
        mib(data)
    );
    let rate = churn_queues(broker.addr, queues).await;
    let (rss, fds, data) = footprint(&broker);
    eprintln!(
        "{queues} queues declared and deleted at {rate:.0} ops/s: rss {:.1} MiB, {fds} fds, data {:.1} MiB",
        mib(rss),
        mib(data)
    );
    broker.assert_running();

    let rss_limit = rss0 + rss0 * RSS_GROWTH_PERCENT / 100 + (RSS_SLACK_MIB << 20);
    let data_limit = data0 + (DATA_SLACK_MIB << 20);
    let started = Instant::now();
    let settled = loop {
        let now = footprint(&broker);
        let (rss, fds, data) = now;
        if fds == fds0 && rss <= rss_limit && data <= data_limit {
            break now;
        }
        if started.elapsed() > SETTLE {
            break now;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let (rss, fds, data) = settled;
    eprintln!(
        "after {:.1} s: rss {:.1} MiB (limit {:.1}), {fds} fds (baseline {fds0}), data {:.1} MiB (limit {:.1})",
        started.elapsed().as_secs_f64(),
        mib(rss),
        mib(rss_limit),
        mib(data),
        mib(data_limit)
    );
    for s in 1..=env_count("CHURN_WATCH_SECS", 0) {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let (rss, fds, data) = footprint(&broker);
        eprintln!(
            "+{s} s: rss {:.1} MiB, {fds} fds, data {:.1} MiB",
            mib(rss),
            mib(data)
        );
    }
    broker.assert_running();
    assert_eq!(fds, fds0, "every connection's socket and file is closed");
    assert!(
        rss <= rss_limit,
        "RSS {:.1} MiB did not come back under {:.1} MiB (baseline {:.1} MiB)",
        mib(rss),
        mib(rss_limit),
        mib(rss0)
    );
    assert!(
        data <= data_limit,
        "the data directory stayed at {:.1} MiB (baseline {:.1} MiB, limit {:.1} MiB)",
        mib(data),
        mib(data0),
        mib(data_limit)
    );
}
