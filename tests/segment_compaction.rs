//! Compaction of mostly-dead segments, end to end with lapin: persistent messages to
//! two durable queues share the store's segment files (64 KiB here); one queue is
//! drained, so each segment keeps 1 live message in 100. The broker's background
//! thread copies those to the head of the log and deletes the old files; every kept
//! message then reads back intact, across a restart too.

use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Confirmation};
use std::time::{Duration, Instant};
use warren_testkit::{depth, drain_bodies, TestBroker};

const TOTAL: usize = 3_000;
const KEEP_EVERY: usize = 100;

fn body(i: usize) -> Vec<u8> {
    let mut b = format!("m{i}:").into_bytes();
    b.extend(std::iter::repeat_n((i % 251) as u8, 1000));
    b
}

fn segment_files(broker: &TestBroker) -> usize {
    std::fs::read_dir(broker.data_dir().join("store").join("segments"))
        .expect("the store's segment directory exists")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".seg"))
        })
        .count()
}

async fn declare(ch: &Channel, name: &str) {
    ch.queue_declare(
        name.into(),
        QueueDeclareOptions {
            durable: true,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await
    .expect("queue.declare");
}

#[tokio::test]
async fn a_drained_queue_leaves_few_segment_files_and_the_kept_messages_survive_a_restart() {
    let mut broker = TestBroker::start_with(|c| {
        c.limits.store_segment_bytes = 64 << 10;
        c.limits.store_compaction.check_every = Some(Duration::from_millis(100));
    })
    .await;
    {
        let (_conn, ch) = broker.channel().await;
        ch.confirm_select(ConfirmSelectOptions::default())
            .await
            .unwrap();
        declare(&ch, "keep").await;
        declare(&ch, "work").await;
        let mut confirms = Vec::new();
        for i in 0..TOTAL {
            let queue = if i % KEEP_EVERY == 0 { "keep" } else { "work" };
            let confirm = ch
                .basic_publish(
                    "".into(),
                    queue.into(),
                    BasicPublishOptions::default(),
                    &body(i),
                    BasicProperties::default().with_delivery_mode(2),
                )
                .await
                .expect("publish");
            confirms.push(confirm);
        }
        for c in confirms {
            assert_eq!(c.await.expect("confirm"), Confirmation::Ack(None));
        }
        let filled = segment_files(&broker);
        assert!(filled >= 40, "{filled} segment files for 3 MB of bodies");
        let drained = drain_bodies(&ch, "work").await;
        assert_eq!(drained.len(), TOTAL - TOTAL / KEEP_EVERY);
        // Each sealed segment now holds one live message in about 60: under 25%.
        let deadline = Instant::now() + Duration::from_secs(60);
        while segment_files(&broker) > 3 {
            assert!(
                Instant::now() < deadline,
                "{} of {filled} segment files left after 60 s",
                segment_files(&broker)
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(depth(&ch, "keep").await as usize, TOTAL / KEEP_EVERY);
    }
    broker.restart().await;
    let (_conn, ch) = broker.channel().await;
    assert_eq!(depth(&ch, "work").await, 0);
    let kept = drain_bodies(&ch, "keep").await;
    let expected: Vec<Vec<u8>> = (0..TOTAL).step_by(KEEP_EVERY).map(body).collect();
    assert_eq!(kept.len(), expected.len());
    assert!(
        kept == expected,
        "kept bodies differ after compaction and restart"
    );
    assert!(segment_files(&broker) <= 3, "{}", segment_files(&broker));
    broker.stop().await;
}
