//! A restart on a persistent backlog (issue 16, item 3) at small scale, on the real
//! binary, so that what `crates/warren-perf/backlog.sh` measures at 5,000,000 messages
//! cannot regress silently:
//!
//! * the broker binds its AMQP port before it opens the store and recovers (the log
//!   says "listening" before "store opened"), and accepts connections within 2 s of
//!   being started;
//! * a client that connects at once (while recovery may still run) gets the full,
//!   exact count back, and the messages in their order;
//! * the broker holds no memory per recovered message: its live heap (jemalloc's
//!   `stats.allocated`, logged after the store opened and after recovery) grows by at
//!   most [`BROKER_HEAP_ALLOWANCE`] while it recovers `RESTART_BACKLOG_MESSAGES`
//!   (default 200,000) persistent 1 KiB messages: an index struct of even 16 bytes per
//!   message would take 3 MiB;
//! * the whole process's RSS after the restart stays within [`FIXED_ALLOWANCE`] plus
//!   [`BYTES_PER_MESSAGE`] of its RSS after a restart on the same queue empty. That
//!   bound catches bodies being read into memory at start (1 KiB and more per message);
//!   it is loose because of what the store (sled) keeps per stored entry and position
//!   record: about 400 bytes per message here in a debug build (docs/operating.md,
//!   "Restarts").
//!
//! The store's page cache is set to 8 MiB so that it, and not the backlog's size, caps
//! what the store caches.

mod process_support;

use std::time::{Duration, Instant};

use lapin::options::{
    BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions,
    QueuePurgeOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Confirmation, Connection, ConnectionProperties};
use process_support::{env_count, mib, BrokerProcess};

/// The queue holding the backlog.
const QUEUE: &str = "restart.backlog";
/// Publishing channels, and unconfirmed publishes each keeps in flight.
const PUBLISHERS: usize = 4;
const WINDOW: usize = 500;
/// Body size.
const BODY: usize = 1024;
/// RSS growth allowed per recovered message, beyond [`FIXED_ALLOWANCE`].
const BYTES_PER_MESSAGE: u64 = 768;
/// Live heap (MiB) the broker's own recovery may add whatever the backlog: the first
/// page read back (1,024 messages of 1 KiB with their headers, about 1.3 MiB), the
/// topology, and what the store's background pass allocates meanwhile.
const BROKER_HEAP_ALLOWANCE: f64 = 3.0;
/// RSS growth allowed whatever the backlog (the store's 8 MiB page cache filling up,
/// allocator slack).
const FIXED_ALLOWANCE: u64 = 24 << 20;
/// How long RSS is watched after the restart (the store's background pass over its
/// message records runs then).
const SETTLE: Duration = Duration::from_secs(6);

async fn connect(broker: &BrokerProcess) -> Connection {
    Connection::connect(&broker.uri(), ConnectionProperties::default())
        .await
        .expect("lapin connects")
}

/// The queue's ready count, from a passive declare on a fresh connection.
async fn count(broker: &BrokerProcess) -> u32 {
    let conn = connect(broker).await;
    let ch = conn.create_channel().await.expect("channel");
    let ok = ch
        .queue_declare(
            QUEUE.into(),
            QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .expect("passive declare");
    let _ = conn.close(200, "bye".into()).await;
    ok.message_count()
}

/// The body of message `i`: its number, padded to [`BODY`] bytes.
fn body(i: usize) -> Vec<u8> {
    let mut b = format!("{i:010}").into_bytes();
    b.resize(BODY, b'.');
    b
}

/// Publishes messages `from..to` (step [`PUBLISHERS`], starting at `first`) on `ch`
/// with confirms, persistent.
async fn publish(ch: Channel, first: usize, to: usize) {
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .expect("confirm.select");
    let mut in_flight = std::collections::VecDeque::new();
    for i in (first..to).step_by(PUBLISHERS) {
        let pending = ch
            .basic_publish(
                "".into(),
                QUEUE.into(),
                BasicPublishOptions::default(),
                &body(i),
                BasicProperties::default().with_delivery_mode(2),
            )
            .await
            .expect("publish");
        in_flight.push_back(pending);
        if in_flight.len() >= WINDOW {
            let confirm = in_flight.pop_front().unwrap().await.expect("confirm");
            assert_eq!(confirm, Confirmation::Ack(None));
        }
    }
    for pending in in_flight {
        assert_eq!(pending.await.expect("confirm"), Confirmation::Ack(None));
    }
}

/// The highest RSS seen over [`SETTLE`], sampled every 100 ms.
async fn settled_peak_rss(broker: &mut BrokerProcess) -> u64 {
    let until = Instant::now() + SETTLE;
    let mut peak = 0;
    while Instant::now() < until {
        broker.assert_running();
        peak = peak.max(broker.rss_bytes());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    peak
}

/// The live heap (MiB) after the store opened and after recovery, from the latest
/// start's "recovered: serving connections" log line.
fn recovery_heap(log: &str) -> (f64, f64) {
    let line = log
        .lines()
        .rev()
        .find(|l| l.contains("recovered: serving connections"))
        .expect("a recovered line");
    let field = |name: &str| -> f64 {
        let at = line
            .find(name)
            .unwrap_or_else(|| panic!("{name} in {line}"))
            + name.len();
        let value: String = line[at..]
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == '-')
            .collect();
        value.parse().unwrap_or_else(|_| panic!("{name} in {line}"))
    };
    (field("heap_store_open_mib="), field("heap_recovered_mib="))
}

/// Checks the "listening before recovering" order in the log of the latest start: its
/// store was opened, and its messages recovered, after its port was bound.
fn assert_listened_before_recovering(log: &str) {
    let listened = log.rfind("listening for AMQP").expect("a listening line");
    let opened = log.rfind("store opened").expect("a store opened line");
    let recovered = log
        .rfind("persistent messages recovered")
        .expect("a recovered line");
    assert!(
        listened < opened && opened < recovered,
        "the port is bound before the store opens and the messages are recovered:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_on_a_persistent_backlog_listens_first_and_holds_no_memory_per_message() {
    let n = env_count("RESTART_BACKLOG_MESSAGES", 200_000);
    let mut broker = BrokerProcess::start_with(&[], "info", &["--store-cache-mib", "8"]).await;
    let conn = connect(&broker).await;
    let ch = conn.create_channel().await.expect("channel");
    ch.queue_declare(
        QUEUE.into(),
        QueueDeclareOptions {
            durable: true,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await
    .expect("durable declare");
    drop(conn);

    // The baseline: a restart on the same queue, empty.
    broker.kill_and_restart().await;
    assert_eq!(count(&broker).await, 0);
    let empty_rss = settled_peak_rss(&mut broker).await;

    let began = Instant::now();
    let conn = connect(&broker).await;
    let mut publishers = Vec::new();
    for p in 0..PUBLISHERS {
        let ch = conn.create_channel().await.expect("channel");
        publishers.push(tokio::spawn(publish(ch, p, n)));
    }
    for p in publishers {
        p.await.expect("publisher");
    }
    eprintln!("published {n} in {:?}", began.elapsed());
    drop(conn);

    let listening_after = broker.kill_and_restart().await;
    // At once, on a fresh connection: a count is exact or not given yet, never partial.
    assert_eq!(
        count(&broker).await as usize,
        n,
        "the whole backlog is back"
    );
    let rss = settled_peak_rss(&mut broker).await;
    let log = broker.log();
    eprintln!(
        "restart on {n}: listening after {listening_after:?}; RSS {:.1} MiB (empty: {:.1} MiB), \
         {:.0} bytes per message more",
        mib(rss),
        mib(empty_rss),
        rss.saturating_sub(empty_rss) as f64 / n as f64,
    );
    assert!(
        listening_after <= Duration::from_secs(2),
        "accepting connections {listening_after:?} after the start (at most 2 s)"
    );
    assert_listened_before_recovering(&log);
    let (heap_opened, heap_recovered) = recovery_heap(&log);
    eprintln!("live heap: {heap_opened} MiB with the store open, {heap_recovered} MiB recovered");
    assert!(
        heap_opened > 0.0 && heap_recovered - heap_opened <= BROKER_HEAP_ALLOWANCE,
        "recovering {n} messages grew the broker's heap from {heap_opened} to \
         {heap_recovered} MiB (at most {BROKER_HEAP_ALLOWANCE} MiB: no memory per message)"
    );
    let allowed = empty_rss + FIXED_ALLOWANCE + BYTES_PER_MESSAGE * n as u64;
    assert!(
        rss <= allowed,
        "RSS after the restart on {n} messages: {:.1} MiB, over the {:.1} MiB allowed \
         (empty {:.1} MiB + {:.0} MiB + {BYTES_PER_MESSAGE} bytes per message)",
        mib(rss),
        mib(allowed),
        mib(empty_rss),
        mib(FIXED_ALLOWANCE),
    );

    // The messages come back from disk in their order (each publisher's in the order it
    // published them, from its first), then a purge removes the rest.
    let conn = connect(&broker).await;
    let ch = conn.create_channel().await.expect("channel");
    const GETS: usize = 40;
    let mut next: [usize; PUBLISHERS] = std::array::from_fn(|p| p);
    for _ in 0..GETS {
        let got = ch
            .basic_get(QUEUE.into(), BasicGetOptions { no_ack: true })
            .await
            .expect("basic.get")
            .expect("a message");
        assert!(!got.delivery.redelivered, "never delivered before the stop");
        let data = &got.delivery.data;
        let i: usize = std::str::from_utf8(&data[..10])
            .ok()
            .and_then(|d| d.parse().ok())
            .expect("a numbered body");
        assert_eq!(data, &body(i), "body of message {i} intact");
        assert_eq!(
            i,
            next[i % PUBLISHERS],
            "publisher {}'s order",
            i % PUBLISHERS
        );
        next[i % PUBLISHERS] += PUBLISHERS;
    }
    let purged = ch
        .queue_purge(QUEUE.into(), QueuePurgeOptions::default())
        .await
        .expect("purge");
    assert_eq!(purged as usize, n - GETS);
}
