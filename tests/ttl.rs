//! Message TTL (`x-message-ttl`, the `expiration` property) and queue expiry
//! (`x-expires`), driven over TCP with lapin: one representative case per feature.
//! The matrix (TTL at the head and per message, the shorter TTL winning, TTL 0, expiry
//! on requeue, what counts as a use for `x-expires`) runs on paused time in
//! `crates/warren-broker/tests/queue_ttl.rs` and `queue_expiry.rs`.

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

/// Whether the broker still has `queue` in the default vhost.
fn has_queue(broker: &TestBroker, queue: &str) -> bool {
    broker.broker().vhost("/").unwrap().queue(queue, 0).is_ok()
}
