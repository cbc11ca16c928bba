//! Priority queues (`x-max-priority` and the `priority` property), driven over TCP with
//! lapin.

use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicGetOptions, BasicNackOptions, BasicQosOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel};
use warren_testkit::args::*;
use warren_testkit::smart::*;
use warren_testkit::*;

async fn publish_priority(ch: &Channel, queue: &str, body: &str, priority: u8) {
    let props = BasicProperties::default().with_priority(priority);
    publish_props(ch, "", queue, body.as_bytes(), props).await;
}

async fn drain_text(ch: &Channel, queue: &str) -> Vec<String> {
    drain_bodies(ch, queue)
        .await
        .into_iter()
        .map(|b| String::from_utf8(b).unwrap())
        .collect()
}

#[tokio::test]
async fn higher_priority_first_and_fifo_within_a_priority() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(&ch, "prio", table(&[("x-max-priority", int(10))]))
        .await
        .unwrap();
    for (body, p) in [
        ("1a", 1),
        ("5a", 5),
        ("1b", 1),
        ("5b", 5),
        ("9", 9),
        ("0", 0),
        ("5c", 5),
    ] {
        publish_priority(&ch, "prio", body, p).await;
    }
    // No priority property counts as 0.
    publish(&ch, "prio", b"none").await;
    assert_eq!(
        drain_text(&ch, "prio").await,
        ["9", "5a", "5b", "5c", "1a", "1b", "0", "none"]
    );
}

#[tokio::test]
async fn priorities_above_the_maximum_count_as_the_maximum() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(&ch, "capped", table(&[("x-max-priority", int(5))]))
        .await
        .unwrap();
    for (body, p) in [("four", 4), ("five", 5), ("200", 200), ("nine", 9)] {
        publish_priority(&ch, "capped", body, p).await;
    }
    assert_eq!(
        drain_text(&ch, "capped").await,
        ["five", "200", "nine", "four"]
    );
}

#[tokio::test]
async fn queues_without_max_priority_ignore_priority() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(&ch, "plain", FieldTable::default()).await.unwrap();
    declare(&ch, "zero", table(&[("x-max-priority", int(0))]))
        .await
        .unwrap();
    for q in ["plain", "zero"] {
        for (body, p) in [("a", 1), ("b", 9), ("c", 5)] {
            publish_priority(&ch, q, body, p).await;
        }
        assert_eq!(drain_text(&ch, q).await, ["a", "b", "c"], "{q}");
    }
}

#[tokio::test]
async fn redelivered_messages_keep_their_priority() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(&ch, "requeue-prio", table(&[("x-max-priority", int(10))]))
        .await
        .unwrap();
    publish_priority(&ch, "requeue-prio", "high", 8).await;
    publish_priority(&ch, "requeue-prio", "low", 1).await;
    let high = ch
        .basic_get("requeue-prio".into(), BasicGetOptions { no_ack: false })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(high.delivery.data, b"high");
    publish_priority(&ch, "requeue-prio", "mid", 4).await;
    high.delivery
        .nack(BasicNackOptions {
            multiple: false,
            requeue: true,
        })
        .await
        .unwrap();
    let again = get(&ch, "requeue-prio").await.unwrap().delivery;
    assert_eq!(again.data, b"high");
    assert!(again.redelivered);
    assert_eq!(again.properties.priority(), &Some(8));
    assert_eq!(drain_text(&ch, "requeue-prio").await, ["mid", "low"]);
}

#[tokio::test]
async fn a_busy_consumer_gets_the_most_urgent_message_next() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(&ch, "urgent", table(&[("x-max-priority", int(3))]))
        .await
        .unwrap();
    ch.basic_qos(1, BasicQosOptions::default()).await.unwrap();
    let mut consumer = ch
        .basic_consume(
            "urgent".into(),
            "c".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    publish_priority(&ch, "urgent", "first", 0).await;
    let first = next_delivery(&mut consumer).await;
    assert_eq!(first.data, b"first");
    publish_priority(&ch, "urgent", "routine", 0).await;
    publish_priority(&ch, "urgent", "urgent", 3).await;
    wait_depth(&ch, "urgent", 2).await;
    first.ack(BasicAckOptions::default()).await.unwrap();
    let next = next_delivery(&mut consumer).await;
    assert_eq!(next.data, b"urgent");
    next.ack(BasicAckOptions::default()).await.unwrap();
    let last = next_delivery(&mut consumer).await;
    assert_eq!(last.data, b"routine");
}

#[tokio::test]
async fn max_priority_out_of_range_is_refused_with_rabbitmq_texts() {
    let broker = TestBroker::start().await;
    let conn = broker.connect().await;
    let ch = conn.create_channel().await.unwrap();
    declare(&ch, "max255", table(&[("x-max-priority", int(255))]))
        .await
        .unwrap();
    let cases = [
        (int(256), "{max_value_exceeded,256}"),
        (int(-1), "{value_negative,-1}"),
        (s("abc"), "\"expected integer, got longstr\""),
    ];
    for (value, detail) in cases {
        let ch = conn.create_channel().await.unwrap();
        assert_reply(
            declare(&ch, "p", table(&[("x-max-priority", value)])).await,
            406,
            &format!("PRECONDITION_FAILED - invalid arg 'x-max-priority' for queue 'p' in vhost '/': {detail}"),
        );
    }
}

#[tokio::test]
async fn drop_head_on_a_priority_queue_drops_the_next_message_to_deliver() {
    // Measured on RabbitMQ 3.10.8: with x-max-length 2, publishing low(1), high(5),
    // low(1) drops `high`, the message that would have been delivered next.
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(
        &ch,
        "prio-bounded",
        table(&[("x-max-priority", int(5)), ("x-max-length", int(2))]),
    )
    .await
    .unwrap();
    for (body, p) in [("low-old", 1), ("high", 5), ("low-new", 1)] {
        publish_priority(&ch, "prio-bounded", body, p).await;
    }
    assert_eq!(
        drain_text(&ch, "prio-bounded").await,
        ["low-old", "low-new"]
    );
}
