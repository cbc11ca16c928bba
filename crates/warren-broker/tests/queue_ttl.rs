//! Message TTL on paused time: the queue's `x-message-ttl`, the per-message
//! `expiration`, expiry at the head only, TTL 0, and dead-lettering of what expires.

mod support;

use support::*;
use warren_protocol::{BasicProperties, FieldValue};

fn ttl(ms: i64) -> (&'static str, FieldValue) {
    ("x-message-ttl", FieldValue::I64(ms))
}

#[tokio::test(start_paused = true)]
async fn the_queue_ttl_expires_messages_when_due_and_not_before() {
    let v = vhost();
    let q = declare(&v, "q", &[ttl(1_000)]);
    send(&v, "q", BasicProperties::default(), "a");
    advance(400).await;
    send(&v, "q", BasicProperties::default(), "b");
    advance(599).await;
    assert_eq!(q.message_count(), 2, "999 ms: nothing due yet");
    advance(1).await;
    assert_eq!(q.message_count(), 1, "a expired by the timer alone");
    advance(399).await;
    assert_eq!(q.message_count(), 1);
    advance(1).await;
    assert_eq!(
        q.message_count(),
        0,
        "b expired 1000 ms after it was published"
    );
}

#[tokio::test(start_paused = true)]
async fn a_per_message_ttl_expires_that_message_only() {
    let v = vhost();
    let q = declare(&v, "q", &[]);
    send(&v, "q", expiration(500), "short");
    send(&v, "q", expiration(2_000), "long");
    advance(500).await;
    assert_eq!(get_all(&q), ["long"]);
}

#[tokio::test(start_paused = true)]
async fn the_shorter_of_queue_and_message_ttl_applies() {
    let v = vhost();
    let q = declare(&v, "q", &[ttl(300)]);
    send(&v, "q", expiration(100), "message-ttl");
    send(&v, "q", expiration(5_000), "queue-ttl");
    advance(100).await;
    assert_eq!(q.message_count(), 1);
    advance(200).await;
    assert_eq!(q.message_count(), 0);
}

#[tokio::test(start_paused = true)]
async fn only_the_head_expires_a_message_without_ttl_shields_those_behind() {
    let v = vhost();
    let q = declare(&v, "q", &[]);
    send(&v, "q", expiration(100), "a");
    send(&v, "q", BasicProperties::default(), "b");
    send(&v, "q", expiration(100), "c");
    advance(1_000).await;
    // As in RabbitMQ: a is dropped at the head; c waits behind b until it is the head.
    assert_eq!(q.message_count(), 2);
    let (b, left) = q.get(true).expect("b");
    assert_eq!((body(&b), left), ("b".to_owned(), 1));
    assert!(q.get(true).is_none(), "c expired once it reached the head");
}

#[tokio::test(start_paused = true)]
async fn ttl_zero_reaches_a_waiting_consumer_and_is_dropped_otherwise() {
    let v = vhost();
    let q = declare(&v, "q", &[ttl(0)]);
    send(&v, "q", BasicProperties::default(), "nobody");
    assert_eq!(q.message_count(), 0, "no consumer: expired at once");
    let mut c = TestConsumer::attach(&q, "c", 0, true);
    send(&v, "q", BasicProperties::default(), "taken");
    assert_eq!(c.bodies(), ["taken"]);
}

#[tokio::test(start_paused = true)]
async fn an_unacked_message_does_not_expire_until_it_is_requeued() {
    let v = vhost();
    let q = declare(&v, "q", &[ttl(1_000)]);
    send(&v, "q", BasicProperties::default(), "a");
    let mut c = TestConsumer::attach(&q, "c", 1, false);
    let held = c.take();
    assert_eq!(held.len(), 1);
    advance(5_000).await;
    assert_eq!(q.unacked_count(), 1, "delivered messages are not expired");
    v.consumer_removed(&c.consumer);
    c.requeue(held);
    assert_eq!(q.message_count(), 0, "past its TTL when it came back");
}

#[tokio::test(start_paused = true)]
async fn expired_messages_are_dead_lettered_with_reason_expired() {
    let v = vhost();
    let dlq = declare(&v, "dlq", &[]);
    declare(
        &v,
        "q",
        &[
            ttl(1_000),
            ("x-dead-letter-exchange", FieldValue::string("")),
            ("x-dead-letter-routing-key", FieldValue::string("dlq")),
        ],
    );
    send(&v, "q", expiration(200), "per-message");
    send(&v, "q", BasicProperties::default(), "per-queue");
    advance(200).await;
    assert_eq!(dlq.message_count(), 1);
    advance(800).await;
    assert_eq!(dlq.message_count(), 2);
    let (first, _) = dlq.get(true).expect("first dead letter");
    assert_eq!(body(&first), "per-message");
    assert_eq!(deaths(&first), [("q".to_owned(), "expired".to_owned())]);
    let FieldValue::Table(death) = &deaths_table(&first)[0] else {
        panic!("x-death entries are tables");
    };
    assert_eq!(
        death
            .get("original-expiration")
            .and_then(FieldValue::as_str),
        Some("200")
    );
    assert!(
        first.message.properties().expiration.is_none(),
        "the expiration property is removed when dead-lettered"
    );
    let (second, _) = dlq.get(true).expect("second dead letter");
    assert_eq!(body(&second), "per-queue");
}

fn deaths_table(m: &warren_broker::QueuedMessage) -> Vec<FieldValue> {
    match header(m, "x-death") {
        Some(FieldValue::Array(a)) => a,
        _ => Vec::new(),
    }
}
