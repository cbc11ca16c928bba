//! Message TTL (`x-message-ttl`, the `expiration` property) and queue expiry
//! (`x-expires`), driven over TCP with lapin.

use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicQosOptions, ConfirmSelectOptions};
use lapin::types::FieldTable;
use lapin::BasicProperties;
use warren_testkit::args::*;
use warren_testkit::smart::*;
use warren_testkit::*;

#[tokio::test]
async fn a_queue_full_of_expired_messages_empties_itself_without_a_consumer() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(&ch, "ttl-q", table(&[("x-message-ttl", int(100))]))
        .await
        .unwrap();
    for i in 0..200u32 {
        publish(&ch, "ttl-q", &i.to_be_bytes()).await;
    }
    // No consumer, no basic.get: only the queue's own timer can empty it.
    wait_depth(&ch, "ttl-q", 0).await;
    assert_eq!(get_body(&ch, "ttl-q").await, None);
}

#[tokio::test]
async fn per_message_expiration_empties_a_queue_without_a_consumer() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(&ch, "exp-q", FieldTable::default()).await.unwrap();
    for i in 0..50u32 {
        publish_expiring(&ch, "exp-q", &i.to_be_bytes(), "50").await;
    }
    wait_depth(&ch, "exp-q", 0).await;
}

#[tokio::test]
async fn the_shorter_of_queue_ttl_and_message_expiration_applies() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    // Long queue TTL, short message expiration.
    declare(&ch, "long-ttl", table(&[("x-message-ttl", int(600_000))]))
        .await
        .unwrap();
    publish_expiring(&ch, "long-ttl", b"short", "30").await;
    // Short queue TTL, long message expiration.
    declare(&ch, "short-ttl", table(&[("x-message-ttl", int(30))]))
        .await
        .unwrap();
    publish_expiring(&ch, "short-ttl", b"long", "600000").await;
    wait_depth(&ch, "long-ttl", 0).await;
    wait_depth(&ch, "short-ttl", 0).await;
    // A message without expiration in the long-TTL queue stays.
    publish(&ch, "long-ttl", b"stays").await;
    assert_eq!(
        get_body(&ch, "long-ttl").await.as_deref(),
        Some(&b"stays"[..])
    );
}

#[tokio::test]
async fn an_expired_message_is_never_delivered() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(&ch, "never", FieldTable::default()).await.unwrap();
    ch.basic_qos(1, BasicQosOptions::default()).await.unwrap();
    let mut consumer = ch
        .basic_consume(
            "never".into(),
            "c".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    publish(&ch, "never", b"first").await;
    let first = next_delivery(&mut consumer).await;
    assert_eq!(first.data, b"first");
    // The consumer is full (prefetch 1): these wait in the queue.
    publish_expiring(&ch, "never", b"expires", "30").await;
    publish(&ch, "never", b"second").await;
    // The expiring message leaves the queue while the consumer is still busy.
    wait_depth(&ch, "never", 1).await;
    first.ack(BasicAckOptions::default()).await.unwrap();
    let next = next_delivery(&mut consumer).await;
    assert_eq!(next.data, b"second", "the expired message must be skipped");
    next.ack(BasicAckOptions::default()).await.unwrap();
    assert_eq!(depth(&ch, "never").await, 0);
}

#[tokio::test]
async fn expiration_zero_is_delivered_to_a_waiting_consumer_and_dropped_otherwise() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(&ch, "zero", FieldTable::default()).await.unwrap();
    // Nobody consuming: gone at once (the passive declare is handled after the publish).
    publish_expiring(&ch, "zero", b"nobody", "0").await;
    assert_eq!(depth(&ch, "zero").await, 0);
    // A consumer with room gets it.
    let mut consumer = ch
        .basic_consume(
            "zero".into(),
            "c".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    publish_expiring(&ch, "zero", b"now", "0").await;
    let d = next_delivery(&mut consumer).await;
    assert_eq!(d.data, b"now");
    assert_eq!(
        d.properties.expiration().as_ref().map(|e| e.as_str()),
        Some("0")
    );
    d.ack(BasicAckOptions::default()).await.unwrap();
}

#[tokio::test]
async fn queue_ttl_zero_delivers_to_a_waiting_consumer_only() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(&ch, "qzero", table(&[("x-message-ttl", int(0))]))
        .await
        .unwrap();
    publish(&ch, "qzero", b"dropped").await;
    assert_eq!(depth(&ch, "qzero").await, 0);
    let mut consumer = ch
        .basic_consume(
            "qzero".into(),
            "c".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    publish(&ch, "qzero", b"taken").await;
    let d = next_delivery(&mut consumer).await;
    assert_eq!(d.data, b"taken");
}

#[tokio::test]
async fn invalid_expirations_close_the_channel_with_rabbitmq_texts() {
    let broker = TestBroker::start().await;
    let conn = broker.connect().await;
    let cases = [
        (
            "abc",
            "PRECONDITION_FAILED - invalid expiration 'abc': no_integer",
        ),
        (
            "-1",
            "PRECONDITION_FAILED - invalid expiration '-1': {value_negative,-1}",
        ),
        (
            "1.5",
            "PRECONDITION_FAILED - invalid expiration '1.5': {leftover_string,\".5\"}",
        ),
    ];
    for (expiration, text) in cases {
        let ch = conn.create_channel().await.unwrap();
        ch.confirm_select(ConfirmSelectOptions::default())
            .await
            .unwrap();
        declare(&ch, "bad-exp", FieldTable::default())
            .await
            .unwrap();
        let props = BasicProperties::default().with_expiration(expiration.into());
        let confirm = ch
            .basic_publish("".into(), "bad-exp".into(), Default::default(), b"x", props)
            .await
            .unwrap();
        assert_reply(confirm.await, 406, text);
        // Nothing was enqueued.
        let check = conn.create_channel().await.unwrap();
        assert_eq!(depth(&check, "bad-exp").await, 0, "{expiration}");
    }
}

#[tokio::test]
async fn a_message_that_expired_while_unacked_is_dropped_when_requeued() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(&ch, "requeue-ttl", table(&[("x-message-ttl", int(30))]))
        .await
        .unwrap();
    declare(&ch, "clock", table(&[("x-message-ttl", int(100))]))
        .await
        .unwrap();
    let consumer_conn = broker.connect().await;
    let cch = consumer_conn.create_channel().await.unwrap();
    let mut consumer = cch
        .basic_consume(
            "requeue-ttl".into(),
            "c".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    publish(&ch, "requeue-ttl", b"m").await;
    let d = next_delivery(&mut consumer).await;
    assert_eq!(d.data, b"m");
    // Hold it unacked past its TTL, then let the consumer go: the message comes back
    // expired, with no consumer left to notice, and must not stay in the queue.
    publish(&ch, "clock", b"tick").await;
    wait_depth(&ch, "clock", 0).await;
    consumer_conn.close(200, "bye".into()).await.unwrap();
    wait_depth(&ch, "requeue-ttl", 0).await;
    assert_eq!(get_body(&ch, "requeue-ttl").await, None);
}

#[tokio::test]
async fn a_requeued_message_keeps_its_expiry() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(&ch, "requeue-keep", table(&[("x-message-ttl", int(200))]))
        .await
        .unwrap();
    let consumer_conn = broker.connect().await;
    let cch = consumer_conn.create_channel().await.unwrap();
    let mut consumer = cch
        .basic_consume(
            "requeue-keep".into(),
            "c".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    publish(&ch, "requeue-keep", b"m").await;
    next_delivery(&mut consumer).await;
    // Requeued with no consumer left: the TTL that was running still runs out.
    consumer_conn.close(200, "bye".into()).await.unwrap();
    wait_depth(&ch, "requeue-keep", 0).await;
}

#[tokio::test]
async fn an_unused_queue_expires() {
    let broker = TestBroker::start().await;
    let (conn, ch) = broker.channel().await;
    declare(&ch, "short-lived", table(&[("x-expires", int(200))]))
        .await
        .unwrap();
    publish(&ch, "short-lived", b"does not keep it alive").await;
    let gone = warren_testkit::eventually(WAIT, || {
        std::future::ready(!has_queue(&broker, "short-lived"))
    })
    .await;
    assert!(gone, "the queue should expire");
    assert!(!queue_exists(&conn, "short-lived").await);
}

#[tokio::test]
async fn a_consumed_or_redeclared_queue_does_not_expire() {
    let broker = TestBroker::start().await;
    let (conn, ch) = broker.channel().await;
    let expires = || table(&[("x-expires", int(400))]);
    // `clock` is never used: its disappearance shows that the period has passed.
    for q in ["clock", "consumed", "redeclared", "polled", "got"] {
        declare(&ch, q, expires()).await.unwrap();
    }
    let cch = conn.create_channel().await.unwrap();
    // Dropping a lapin consumer cancels it: keep it.
    let _consumer = cch
        .basic_consume(
            "consumed".into(),
            "c".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let clock_gone = eventually(WAIT, || {
        let ch = ch.clone();
        let exists = has_queue(&broker, "clock");
        async move {
            declare(&ch, "redeclared", expires()).await.unwrap();
            // A passive declare and a basic.get (even an empty one) are uses too
            // (RabbitMQ 3.10.8, measured with pika).
            depth(&ch, "polled").await;
            get(&ch, "got").await;
            !exists
        }
    })
    .await;
    assert!(clock_gone, "the unused queue should expire");
    assert!(queue_exists(&conn, "consumed").await);
    for q in ["redeclared", "polled", "got"] {
        assert!(queue_exists(&conn, q).await, "{q}");
    }
    // Once its consumer goes, the consumed queue expires too.
    cch.close(200, "bye".into()).await.unwrap();
    let gone =
        warren_testkit::eventually(WAIT, || std::future::ready(!has_queue(&broker, "consumed")))
            .await;
    assert!(gone, "the queue should expire once unused");
}

/// Whether the broker still has `queue` in the default vhost.
fn has_queue(broker: &TestBroker, queue: &str) -> bool {
    broker.broker().vhost("/").unwrap().queue(queue, 0).is_ok()
}
