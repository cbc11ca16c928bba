//! Publisher flow control: a publisher that outruns the consumers of its queue is paused
//! (the broker stops reading its socket) so the backlog stays near
//! `Limits::publish_flow_backlog`; a queue without consumers, or whose consumers are
//! stuck, still fills at full speed.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use lapin::options::*;
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel};
use warren_testkit::TestBroker;

/// The flow threshold the tests run with.
const BACKLOG: u32 = 1_000;
/// What one read batch can add past the threshold before the connection checks: a read
/// is at most ~128 KiB, ~70 bytes per small publish.
const BATCH_SLACK: u32 = 2_500;

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

/// Publishes `n` small messages to `queue` as fast as the connection takes them.
fn spawn_publisher(ch: Channel, queue: &'static str, n: u32) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        for i in 0..n {
            ch.basic_publish(
                "".into(),
                queue.into(),
                BasicPublishOptions::default(),
                &i.to_be_bytes(),
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fast_publisher_is_held_near_the_threshold_while_a_slow_consumer_drains() {
    const TOTAL: u32 = 12_000;
    let broker = broker().await;
    let (_cc, consumer_ch) = broker.channel().await;
    declare(&consumer_ch, "slow").await;
    consumer_ch
        .basic_qos(10, BasicQosOptions::default())
        .await
        .unwrap();
    let mut deliveries = consumer_ch
        .basic_consume(
            "slow".into(),
            "c".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    // The consumer acks about two messages per millisecond until told to go fast, so
    // it drains the backlog from the threshold to half of it well within the longest
    // pause (1 s).
    let fast = Arc::new(AtomicBool::new(false));
    let received = Arc::new(AtomicU32::new(0));
    let consumer = {
        let (fast, received) = (fast.clone(), received.clone());
        tokio::spawn(async move {
            while let Some(Ok(d)) = deliveries.next().await {
                let n = received.fetch_add(1, Ordering::Relaxed) + 1;
                if !fast.load(Ordering::Relaxed) && n % 2 == 0 {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                d.ack(BasicAckOptions::default()).await.expect("ack");
                if n == TOTAL {
                    break;
                }
            }
        })
    };
    let (_pc, publisher_ch) = broker.channel().await;
    let publisher = spawn_publisher(publisher_ch, "slow", TOTAL);

    // While the consumer is slow, the backlog rises to the threshold and stays near it.
    let mut highest = 0;
    let watch_until = Instant::now() + Duration::from_millis(1_500);
    while Instant::now() < watch_until {
        highest = highest.max(ready(&broker, "slow"));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let got = received.load(Ordering::Relaxed);
    assert!(
        got < TOTAL / 2,
        "the consumer was meant to be slow, yet took {got}"
    );
    assert!(
        highest > BACKLOG / 2,
        "the publisher was meant to outrun the consumer (backlog peaked at {highest})"
    );
    assert!(
        highest <= BACKLOG + BATCH_SLACK,
        "backlog reached {highest} with a flow threshold of {BACKLOG}"
    );

    // Once the consumer speeds up, the paused publisher resumes and everything arrives.
    fast.store(true, Ordering::Relaxed);
    assert!(
        warren_testkit::eventually(Duration::from_secs(30), || std::future::ready(
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
async fn a_queue_without_consumers_fills_far_past_the_threshold() {
    const TOTAL: u32 = 20_000;
    let broker = broker().await;
    let (_pc, ch) = broker.channel().await;
    declare(&ch, "backlog").await;
    let publisher = spawn_publisher(ch, "backlog", TOTAL);
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
    let publisher = spawn_publisher(ch, "stuck", TOTAL);
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
