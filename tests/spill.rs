//! Transient backlogs beyond memory, end to end with lapin: a queue keeps only
//! `limits.spill.keep_in_memory` ready messages in memory and writes the messages behind
//! them to the spill log (`<data>/spill/`), a page per write, reading them back when the
//! head reaches them. These tests use a tiny budget (50 in memory, pages of 20) and
//! small segment files, so a few thousand messages cross many batch and segment
//! boundaries.

use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Confirmation};
use warren_broker::queue::SpillLimits;
use warren_testkit::{depth, drain_bodies, TestBroker};

async fn start() -> TestBroker {
    TestBroker::start_with(|c| {
        c.limits.spill = SpillLimits {
            keep_in_memory: 50,
            keep_in_memory_bytes: 64 << 20,
            page_size: 20,
            page_bytes: 1 << 20,
        };
        c.limits.spill_segment_bytes = 64 << 10;
    })
    .await
}

/// A body that differs in content and length from message to message.
fn body(i: usize) -> Vec<u8> {
    let mut b = format!("m{i}:").into_bytes();
    b.extend(std::iter::repeat_n((i % 251) as u8, 100 + (i * 37) % 900));
    b
}

async fn publish_all(ch: &Channel, queue: &str, range: std::ops::Range<usize>) {
    let mut confirms = Vec::new();
    for i in range {
        let confirm = ch
            .basic_publish(
                "".into(),
                queue.into(),
                BasicPublishOptions::default(),
                &body(i),
                BasicProperties::default().with_message_id(format!("id-{i}").into()),
            )
            .await
            .expect("publish");
        confirms.push(confirm);
    }
    for c in confirms {
        assert_eq!(c.await.expect("confirm"), Confirmation::Ack(None));
    }
}

fn spilled(broker: &TestBroker, queue: &str) -> usize {
    let vhost = broker.broker().vhost("/").expect("default vhost");
    vhost.queue(queue, 0).expect("queue").spilled_count()
}

/// Bytes in the spill directory's segment files.
fn spill_bytes(broker: &TestBroker) -> u64 {
    let dir = broker.data_dir().join("spill");
    std::fs::read_dir(&dir)
        .expect("the spill directory exists")
        .map(|e| e.expect("entry").metadata().expect("metadata").len())
        .sum()
}

fn segment_files(broker: &TestBroker) -> usize {
    std::fs::read_dir(broker.data_dir().join("spill"))
        .expect("the spill directory exists")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".seg"))
        })
        .count()
}

#[tokio::test]
async fn a_transient_backlog_beyond_the_budget_is_spilled_and_consumed_in_order() {
    let broker = start().await;
    let (_conn, ch) = broker.channel().await;
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    // A transient queue (no store id) and a durable one holding transient messages.
    ch.queue_declare(
        "plain".into(),
        QueueDeclareOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    ch.queue_declare(
        "kept".into(),
        QueueDeclareOptions {
            durable: true,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await
    .unwrap();
    const N: usize = 3_000;
    publish_all(&ch, "plain", 0..N).await;
    publish_all(&ch, "kept", 0..N).await;
    for q in ["plain", "kept"] {
        assert_eq!(depth(&ch, q).await as usize, N);
        let s = spilled(&broker, q);
        assert!(s >= N - 50 - 20, "{q}: only {s} of {N} spilled");
    }
    assert!(segment_files(&broker) > 10, "many 64 KiB segments");
    assert!(spill_bytes(&broker) > 2 * 1_000_000);

    // A consumer with a prefetch gets "plain" in order with the right bodies and ids.
    ch.basic_qos(50, BasicQosOptions::default()).await.unwrap();
    let mut consumer = ch
        .basic_consume(
            "plain".into(),
            "c".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    for i in 0..N {
        let d = consumer.next().await.expect("a delivery").expect("ok");
        assert_eq!(d.data, body(i), "message {i}");
        assert_eq!(
            d.properties.message_id().as_ref().map(|s| s.to_string()),
            Some(format!("id-{i}"))
        );
        assert!(!d.redelivered);
        d.ack(BasicAckOptions::default()).await.unwrap();
    }
    // basic.get drains the durable one.
    let got = drain_bodies(&ch, "kept").await;
    assert_eq!(got.len(), N);
    assert!(got.iter().enumerate().all(|(i, b)| *b == body(i)));
    assert_eq!(spilled(&broker, "plain") + spilled(&broker, "kept"), 0);
    // Consumed segments are deleted: at most the active one and one being read remain.
    assert!(
        segment_files(&broker) <= 2,
        "{} segment files left",
        segment_files(&broker)
    );
    broker.stop().await;
}

#[tokio::test]
async fn the_spill_directory_is_emptied_at_restart() {
    let mut broker = start().await;
    {
        let (_conn, ch) = broker.channel().await;
        ch.confirm_select(ConfirmSelectOptions::default())
            .await
            .unwrap();
        ch.queue_declare(
            "kept".into(),
            QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
        publish_all(&ch, "kept", 0..2_000).await;
        assert!(spilled(&broker, "kept") > 1_900);
        assert!(spill_bytes(&broker) > 1_000_000);
    }
    broker.restart().await;
    assert!(
        spill_bytes(&broker) <= 4096,
        "{} bytes left in the spill directory",
        spill_bytes(&broker)
    );
    let (_conn, ch) = broker.channel().await;
    assert_eq!(depth(&ch, "kept").await, 0, "transient messages are gone");
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    publish_all(&ch, "kept", 0..500).await;
    assert!(spilled(&broker, "kept") > 400, "spilling works again");
    let got = drain_bodies(&ch, "kept").await;
    assert_eq!(got.len(), 500);
    assert!(got.iter().enumerate().all(|(i, b)| *b == body(i)));
    broker.stop().await;
}

#[tokio::test]
async fn near_the_watermark_the_memory_monitor_makes_queues_keep_one_page() {
    // Watermark 4 GiB, pressure from 0.1% of it (4 MiB): this process is always above
    // that, so the monitor reports pressure within a sample or two, while the alarm
    // itself (publishers blocked) stays off.
    let broker = TestBroker::start_with(|c| {
        c.limits.memory_high_watermark = warren_server::MemoryWatermark::Absolute(4 << 30);
        c.limits.spill_memory_pressure = 0.001;
        c.limits.spill = SpillLimits {
            keep_in_memory: 100_000,
            keep_in_memory_bytes: 1 << 30,
            page_size: 20,
            page_bytes: 1 << 20,
        };
    })
    .await;
    let spill = broker.broker().spill().cloned().expect("the server spills");
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while !spill.under_pressure() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no memory pressure reported"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let (_conn, ch) = broker.channel().await;
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    ch.queue_declare(
        "q".into(),
        QueueDeclareOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    publish_all(&ch, "q", 0..1_000).await;
    // Far below its own budget, the queue still keeps only about a page in memory.
    let s = spilled(&broker, "q");
    assert!(
        s >= 1_000 - 2 * 20,
        "only {s} of 1,000 spilled under pressure"
    );
    assert!(!broker.memory_alarm().is_on(), "pressure is not the alarm");
    let got = drain_bodies(&ch, "q").await;
    assert_eq!(got.len(), 1_000);
    assert!(got.iter().enumerate().all(|(i, b)| *b == body(i)));
    broker.stop().await;
}
