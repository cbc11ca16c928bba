//! Publisher flow control: a publisher that outruns the consumers of its queue is paused
//! (the broker stops reading its socket) so the backlog stays near
//! `Limits::publish_flow_backlog` (and with flow control off it does not); a queue
//! without consumers, or whose consumers are stuck, still fills past it. The tests
//! assert these bounds, never rates: the consumer is paced, the publisher only has to
//! be faster than the paced consumer (two messages per millisecond), and every wait has a generous deadline.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use lapin::options::*;
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel};
use warren_testkit::{eventually, TestBroker};

/// The flow threshold the tests run with.
const BACKLOG: u32 = 1_000;
/// Body size of the publishes in the bound tests: big enough that one socket read
/// (at most ~128 KiB) carries few of them, so what a read adds past the threshold is
/// small next to what the paced consumer drains in the longest pause (1 s).
const BODY: usize = 1024;
/// What one read batch can add past the threshold before the connection checks:
/// ~120 publishes of [`BODY`] bytes per 128 KiB read, twice over.
const BATCH_SLACK: u32 = 250;

async fn broker() -> TestBroker {
    TestBroker::start_with(|c| c.limits.publish_flow_backlog = BACKLOG).await
}

async fn declare(ch: &Channel, name: &str) {
    ch.queue_declare(
        name.into(),
        QueueDeclareOptions::default(),
        FieldTable::default(),
    )
    .await
    .expect("queue declared");
}

/// Publishes `n` messages to `queue` as fast as the connection takes them: the number,
/// padded to `body_len` bytes.
fn spawn_publisher(
    ch: Channel,
    queue: &'static str,
    n: u32,
    body_len: usize,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        for i in 0..n {
            let mut body = i.to_be_bytes().to_vec();
            body.resize(body_len.max(4), 0);
            ch.basic_publish(
                "".into(),
                queue.into(),
                BasicPublishOptions::default(),
                &body,
                BasicProperties::default(),
            )
            .await
            .expect("publish");
        }
    })
}

/// Ready messages in `queue`, read from the broker model.
fn ready(broker: &TestBroker, queue: &str) -> u32 {
    broker
        .broker()
        .vhost("/")
        .expect("default vhost")
        .queue(queue, 0)
        .map(|q| q.message_count())
        .unwrap_or(0)
}

/// A consumer on `queue` (prefetch 10) that acks at most two messages per millisecond
/// until `fast` is set (fast enough to drain more than one read batch per longest pause,
/// so the bound holds), then as fast as deliveries come; counts what it took in
/// `received` and ends after `total`.
async fn paced_consumer(
    ch: &Channel,
    queue: &str,
    total: u32,
    fast: Arc<AtomicBool>,
    received: Arc<AtomicU32>,
) -> tokio::task::JoinHandle<()> {
    ch.basic_qos(10, BasicQosOptions::default()).await.unwrap();
    let mut deliveries = ch
        .basic_consume(
            queue.into(),
            "c".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    tokio::spawn(async move {
        while let Some(Ok(d)) = deliveries.next().await {
            let n = received.load(Ordering::Relaxed) + 1;
            if !fast.load(Ordering::Relaxed) && n % 2 == 1 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            d.ack(BasicAckOptions::default()).await.expect("ack");
            if received.fetch_add(1, Ordering::Relaxed) + 1 == total {
                break;
            }
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fast_publisher_is_held_near_the_threshold_while_a_slow_consumer_drains() {
    const TOTAL: u32 = 12_000;
    /// Messages the slow consumer takes while the backlog is watched.
    const WATCHED: u32 = 3_000;
    let broker = broker().await;
    let (_cc, consumer_ch) = broker.channel().await;
    declare(&consumer_ch, "slow").await;
    let fast = Arc::new(AtomicBool::new(false));
    let received = Arc::new(AtomicU32::new(0));
    let consumer =
        paced_consumer(&consumer_ch, "slow", TOTAL, fast.clone(), received.clone()).await;
    let (_pc, publisher_ch) = broker.channel().await;
    let publisher = spawn_publisher(publisher_ch, "slow", TOTAL, BODY);

    // The publisher gets ahead of the paced consumer: the backlog reaches the threshold.
    let highest = &Cell::new(0);
    let look = || {
        let now = ready(&broker, "slow");
        highest.set(highest.get().max(now));
        now
    };
    assert!(
        eventually(Duration::from_secs(20), || std::future::ready(
            look() >= BACKLOG
        ))
        .await,
        "the backlog never reached the threshold (peaked at {})",
        highest.get()
    );
    // While the consumer drains slowly (and so makes progress: no stall), the backlog
    // stays near the threshold however fast the publisher is.
    let until = received.load(Ordering::Relaxed) + WATCHED;
    assert!(
        eventually(Duration::from_secs(60), || {
            look();
            std::future::ready(received.load(Ordering::Relaxed) >= until)
        })
        .await,
        "the consumer stopped taking messages at {}",
        received.load(Ordering::Relaxed)
    );
    assert!(
        highest.get() <= BACKLOG + BATCH_SLACK,
        "backlog reached {} with a flow threshold of {BACKLOG}",
        highest.get()
    );

    // Once the consumer speeds up, the paused publisher resumes and everything arrives.
    fast.store(true, Ordering::Relaxed);
    assert!(
        eventually(Duration::from_secs(30), || std::future::ready(
            received.load(Ordering::Relaxed) == TOTAL
        ))
        .await,
        "received {} of {TOTAL}",
        received.load(Ordering::Relaxed)
    );
    publisher.await.expect("publisher done");
    consumer.await.expect("consumer done");
    assert_eq!(ready(&broker, "slow"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_flow_control_the_same_publisher_runs_far_past_the_threshold() {
    const TOTAL: u32 = 20_000;
    let broker = TestBroker::start_with(|c| c.limits.publish_flow_backlog = 0).await;
    let (_cc, consumer_ch) = broker.channel().await;
    declare(&consumer_ch, "slow").await;
    let fast = Arc::new(AtomicBool::new(false));
    let received = Arc::new(AtomicU32::new(0));
    let consumer =
        paced_consumer(&consumer_ch, "slow", TOTAL, fast.clone(), received.clone()).await;
    let (_pc, publisher_ch) = broker.channel().await;
    let publisher = spawn_publisher(publisher_ch, "slow", TOTAL, BODY);
    // The bound the test above holds the backlog to is not a property of the setup.
    assert!(
        eventually(Duration::from_secs(20), || std::future::ready(
            ready(&broker, "slow") > BACKLOG + BATCH_SLACK
        ))
        .await,
        "the backlog only reached {} with flow control off",
        ready(&broker, "slow")
    );
    fast.store(true, Ordering::Relaxed);
    publisher.await.expect("publisher done");
    consumer.await.expect("consumer done");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_without_consumers_fills_far_past_the_threshold() {
    const TOTAL: u32 = 20_000;
    let broker = broker().await;
    let (_pc, ch) = broker.channel().await;
    declare(&ch, "backlog").await;
    let publisher = spawn_publisher(ch, "backlog", TOTAL, 4);
    assert!(
        warren_testkit::eventually(Duration::from_secs(20), || std::future::ready(
            ready(&broker, "backlog") == TOTAL
        ))
        .await,
        "only {} of {TOTAL} queued",
        ready(&broker, "backlog")
    );
    publisher.await.expect("publisher done");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_whose_consumer_is_stuck_still_fills_past_the_threshold() {
    const TOTAL: u32 = 10_000;
    let broker = broker().await;
    let (_cc, consumer_ch) = broker.channel().await;
    declare(&consumer_ch, "stuck").await;
    consumer_ch
        .basic_qos(1, BasicQosOptions::default())
        .await
        .unwrap();
    // Takes one delivery and never acknowledges it.
    let _deliveries = consumer_ch
        .basic_consume(
            "stuck".into(),
            "c".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let (_pc, ch) = broker.channel().await;
    let publisher = spawn_publisher(ch, "stuck", TOTAL, 4);
    assert!(
        warren_testkit::eventually(Duration::from_secs(20), || std::future::ready(
            ready(&broker, "stuck") == TOTAL - 1
        ))
        .await,
        "only {} of {} queued",
        ready(&broker, "stuck"),
        TOTAL - 1
    );
    publisher.await.expect("publisher done");
}
