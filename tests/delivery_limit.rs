//! Delivery limits (`x-delivery-limit`, and the default of quorum queues): a message
//! returned to its queue more often than the limit is dead-lettered with reason
//! `delivery_limit`; `x-delivery-count` counts its redeliveries. Driven over TCP with
//! lapin.

use lapin::options::{BasicConsumeOptions, BasicGetOptions, BasicNackOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::Channel;
use warren_testkit::args::*;
use warren_testkit::smart::*;
use warren_testkit::*;

/// Takes the next message with `basic.get` (manual ack) and returns its
/// `x-delivery-count`, or `None` when the header is absent; nacks it with requeue.
async fn get_and_return(ch: &Channel, queue: &str) -> Option<i64> {
    let m = ch
        .basic_get(queue.into(), BasicGetOptions { no_ack: false })
        .await
        .unwrap()
        .expect("the message should be back in the queue");
    let count = header(&m.delivery.properties, "x-delivery-count").and_then(int_of);
    m.delivery
        .nack(BasicNackOptions {
            multiple: false,
            requeue: true,
        })
        .await
        .unwrap();
    count
}

fn limited(limit: i32) -> FieldTable {
    table(&[
        ("x-delivery-limit", int(limit)),
        ("x-dead-letter-exchange", s("")),
        ("x-dead-letter-routing-key", s("poison")),
    ])
}

#[tokio::test]
async fn a_message_past_the_delivery_limit_is_dead_lettered() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(&ch, "poison", FieldTable::default()).await.unwrap();
    declare(&ch, "limited", limited(2)).await.unwrap();
    publish(&ch, "limited", b"bad job").await;
    // Delivered 3 times (the first delivery and 2 redeliveries), counted in the header.
    assert_eq!(get_and_return(&ch, "limited").await, None);
    assert_eq!(get_and_return(&ch, "limited").await, Some(1));
    assert_eq!(get_and_return(&ch, "limited").await, Some(2));
    // The third return is one too many.
    wait_depth(&ch, "poison", 1).await;
    assert_eq!(depth(&ch, "limited").await, 0);
    let dead = get(&ch, "poison").await.unwrap().delivery;
    assert_eq!(dead.data, b"bad job");
    let d = deaths(&dead.properties);
    assert_eq!(
        death_text(&d[0], "reason").as_deref(),
        Some("delivery_limit")
    );
    assert_eq!(death_text(&d[0], "queue").as_deref(), Some("limited"));
    assert_eq!(
        header_text(&dead.properties, "x-first-death-reason").as_deref(),
        Some("delivery_limit")
    );
    // The redelivery count stays behind with the queue it counted for.
    assert_eq!(header(&dead.properties, "x-delivery-count"), None);
}

#[tokio::test]
async fn a_limit_of_zero_dead_letters_on_the_first_return() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(&ch, "poison", FieldTable::default()).await.unwrap();
    declare(&ch, "strict", limited(0)).await.unwrap();
    publish(&ch, "strict", b"m").await;
    assert_eq!(get_and_return(&ch, "strict").await, None);
    wait_depth(&ch, "poison", 1).await;
    assert_eq!(depth(&ch, "strict").await, 0);
}

#[tokio::test]
async fn returns_from_a_closed_channel_count_towards_the_limit() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(&ch, "poison", FieldTable::default()).await.unwrap();
    declare(&ch, "crashy", limited(1)).await.unwrap();
    publish(&ch, "crashy", b"crashes its worker").await;
    for round in 0..2 {
        // A worker takes it and dies without acking.
        let worker = broker.connect().await;
        let wch = worker.create_channel().await.unwrap();
        let mut consumer = wch
            .basic_consume(
                "crashy".into(),
                "w".into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .unwrap();
        let d = next_delivery(&mut consumer).await;
        assert_eq!(d.redelivered, round > 0);
        worker.close(200, "crash".into()).await.unwrap();
    }
    wait_depth(&ch, "poison", 1).await;
    assert_eq!(depth(&ch, "crashy").await, 0);
}

#[tokio::test]
async fn without_a_dead_letter_exchange_the_message_is_dropped() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(&ch, "dropping", table(&[("x-delivery-limit", int(1))]))
        .await
        .unwrap();
    publish(&ch, "dropping", b"m").await;
    get_and_return(&ch, "dropping").await;
    get_and_return(&ch, "dropping").await;
    assert_eq!(depth(&ch, "dropping").await, 0);
}

#[tokio::test]
async fn quorum_queues_have_a_delivery_limit_of_20_by_default() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(&ch, "poison", FieldTable::default()).await.unwrap();
    let opts = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    let args = table(&[
        ("x-queue-type", s("quorum")),
        ("x-dead-letter-exchange", s("")),
        ("x-dead-letter-routing-key", s("poison")),
    ]);
    declare_with(&ch, "qq", opts, args).await.unwrap();
    publish(&ch, "qq", b"m").await;
    assert_eq!(get_and_return(&ch, "qq").await, None);
    for n in 1..=20 {
        assert_eq!(get_and_return(&ch, "qq").await, Some(n));
    }
    wait_depth(&ch, "poison", 1).await;
    let dead = get(&ch, "poison").await.unwrap().delivery;
    let d = deaths(&dead.properties);
    assert_eq!(
        death_text(&d[0], "reason").as_deref(),
        Some("delivery_limit")
    );
}

#[tokio::test]
async fn invalid_delivery_limits_are_refused() {
    let broker = TestBroker::start().await;
    let conn = broker.connect().await;
    let cases = [
        (int(-1), "{value_negative,-1}"),
        (s("abc"), "\"expected integer, got longstr\""),
    ];
    for (value, detail) in cases {
        let ch = conn.create_channel().await.unwrap();
        let value: AMQPValue = value;
        assert_reply(
            declare(&ch, "dl", table(&[("x-delivery-limit", value)])).await,
            406,
            &format!("PRECONDITION_FAILED - invalid arg 'x-delivery-limit' for queue 'dl' in vhost '/': {detail}"),
        );
    }
}
