//! Consumer selection: single active consumer (`x-single-active-consumer`) and consumer
//! priorities (`x-priority` on `basic.consume`), driven over TCP with lapin.

use lapin::options::{BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicQosOptions};
use lapin::types::FieldTable;
use lapin::{Channel, Consumer};
use warren_testkit::args::*;
use warren_testkit::smart::*;
use warren_testkit::*;

async fn consume(ch: &Channel, queue: &str, tag: &str, args: FieldTable) -> Consumer {
    ch.basic_consume(
        queue.into(),
        tag.into(),
        BasicConsumeOptions::default(),
        args,
    )
    .await
    .expect("basic.consume")
}

/// Receives `n` deliveries, acks them, and returns their bodies.
async fn take(consumer: &mut Consumer, n: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for _ in 0..n {
        let d = next_delivery(consumer).await;
        d.ack(BasicAckOptions::default()).await.unwrap();
        out.push(d.data);
    }
    out
}

fn numbered(range: std::ops::Range<u8>) -> Vec<Vec<u8>> {
    range.map(|i| vec![i]).collect()
}

#[tokio::test]
async fn single_active_consumer_gets_everything() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(
        &ch,
        "sac",
        table(&[("x-single-active-consumer", boolean(true))]),
    )
    .await
    .unwrap();
    let a_ch = broker.connect().await.create_channel().await.unwrap();
    let b_ch = broker.connect().await.create_channel().await.unwrap();
    let mut a = consume(&a_ch, "sac", "a", FieldTable::default()).await;
    let mut b = consume(&b_ch, "sac", "b", FieldTable::default()).await;
    for i in 0..10u8 {
        publish(&ch, "sac", &[i]).await;
    }
    // Round-robin would have given `b` half of them.
    assert_eq!(take(&mut a, 10).await, numbered(0..10));
    // `b` has had nothing while `a` was active; a clock of one TTL shows it.
    declare(&ch, "clock", table(&[("x-message-ttl", int(50))]))
        .await
        .unwrap();
    publish(&ch, "clock", b"tick").await;
    nothing_until_clock(&mut b, &ch, "clock").await;
}

#[tokio::test]
async fn the_next_consumer_takes_over_on_cancel() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(
        &ch,
        "sac-cancel",
        table(&[("x-single-active-consumer", boolean(true))]),
    )
    .await
    .unwrap();
    let a_ch = broker.connect().await.create_channel().await.unwrap();
    let b_ch = broker.connect().await.create_channel().await.unwrap();
    let mut a = consume(&a_ch, "sac-cancel", "a", FieldTable::default()).await;
    let mut b = consume(&b_ch, "sac-cancel", "b", FieldTable::default()).await;
    publish(&ch, "sac-cancel", &[0]).await;
    assert_eq!(take(&mut a, 1).await, numbered(0..1));
    a_ch.basic_cancel("a".into(), BasicCancelOptions::default())
        .await
        .unwrap();
    for i in 1..4u8 {
        publish(&ch, "sac-cancel", &[i]).await;
    }
    assert_eq!(take(&mut b, 3).await, numbered(1..4));
}

#[tokio::test]
async fn the_next_consumer_takes_over_when_the_active_channel_closes() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(
        &ch,
        "sac-close",
        table(&[("x-single-active-consumer", boolean(true))]),
    )
    .await
    .unwrap();
    let a_conn = broker.connect().await;
    let a_ch = a_conn.create_channel().await.unwrap();
    let b_ch = broker.connect().await.create_channel().await.unwrap();
    let mut a = consume(&a_ch, "sac-close", "a", FieldTable::default()).await;
    let mut b = consume(&b_ch, "sac-close", "b", FieldTable::default()).await;
    publish(&ch, "sac-close", b"held").await;
    let held = next_delivery(&mut a).await;
    assert_eq!(held.data, b"held");
    // `a` goes away without acking: `b` becomes active and gets the message back.
    a_ch.close(200, "bye".into()).await.unwrap();
    let again = next_delivery(&mut b).await;
    assert_eq!(again.data, b"held");
    assert!(again.redelivered);
    again.ack(BasicAckOptions::default()).await.unwrap();
    publish(&ch, "sac-close", b"next").await;
    assert_eq!(take(&mut b, 1).await, vec![b"next".to_vec()]);
}

#[tokio::test]
async fn higher_priority_consumers_are_served_first_while_they_have_room() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(&ch, "cprio", FieldTable::default()).await.unwrap();
    let high_ch = broker.connect().await.create_channel().await.unwrap();
    high_ch
        .basic_qos(2, BasicQosOptions::default())
        .await
        .unwrap();
    let low_ch = broker.connect().await.create_channel().await.unwrap();
    // The low-priority consumer registers first: order must not matter.
    let mut low = consume(&low_ch, "cprio", "low", table(&[("x-priority", int(1))])).await;
    let mut high = consume(&high_ch, "cprio", "high", table(&[("x-priority", int(10))])).await;
    for i in 0..5u8 {
        publish(&ch, "cprio", &[i]).await;
    }
    // `high` takes what its prefetch allows (it does not ack yet), `low` the rest.
    let h1 = next_delivery(&mut high).await;
    let h2 = next_delivery(&mut high).await;
    assert_eq!([h1.data.clone(), h2.data.clone()], [vec![0], vec![1]]);
    assert_eq!(take(&mut low, 3).await, numbered(2..5));
    // Once `high` has room again it is served first.
    h1.ack(BasicAckOptions::default()).await.unwrap();
    h2.ack(BasicAckOptions::default()).await.unwrap();
    for i in 5..7u8 {
        publish(&ch, "cprio", &[i]).await;
    }
    assert_eq!(take(&mut high, 2).await, numbered(5..7));
}

#[tokio::test]
async fn consumers_of_equal_priority_share_round_robin() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(&ch, "rr", FieldTable::default()).await.unwrap();
    let a_ch = broker.connect().await.create_channel().await.unwrap();
    let b_ch = broker.connect().await.create_channel().await.unwrap();
    let mut a = consume(&a_ch, "rr", "a", table(&[("x-priority", int(5))])).await;
    let mut b = consume(&b_ch, "rr", "b", table(&[("x-priority", int(5))])).await;
    for i in 0..4u8 {
        publish(&ch, "rr", &[i]).await;
    }
    assert_eq!(take(&mut a, 2).await, vec![vec![0], vec![2]]);
    assert_eq!(take(&mut b, 2).await, vec![vec![1], vec![3]]);
}

#[tokio::test]
async fn a_non_integer_consumer_priority_is_refused() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(&ch, "badprio", FieldTable::default())
        .await
        .unwrap();
    let result = ch
        .basic_consume(
            "badprio".into(),
            "c".into(),
            BasicConsumeOptions::default(),
            table(&[("x-priority", s("abc"))]),
        )
        .await;
    assert_reply(
        result,
        406,
        "PRECONDITION_FAILED - invalid arg 'x-priority' for queue 'badprio' in vhost '/': \"expected integer, got longstr\"",
    );
}

#[tokio::test]
async fn single_active_consumer_ignores_consumer_priority() {
    // RabbitMQ 3.10: the first consumer registered stays active even when one with a
    // higher x-priority joins.
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(
        &ch,
        "sac-prio",
        table(&[("x-single-active-consumer", boolean(true))]),
    )
    .await
    .unwrap();
    let a_ch = broker.connect().await.create_channel().await.unwrap();
    let b_ch = broker.connect().await.create_channel().await.unwrap();
    let mut a = consume(&a_ch, "sac-prio", "a", FieldTable::default()).await;
    let mut b = consume(&b_ch, "sac-prio", "b", table(&[("x-priority", int(10))])).await;
    for i in 0..4u8 {
        publish(&ch, "sac-prio", &[i]).await;
    }
    assert_eq!(take(&mut a, 4).await, numbered(0..4));
    declare(&ch, "clock", table(&[("x-message-ttl", int(50))]))
        .await
        .unwrap();
    publish(&ch, "clock", b"tick").await;
    nothing_until_clock(&mut b, &ch, "clock").await;
}
