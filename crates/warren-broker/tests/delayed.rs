//! Delayed delivery (`x-delayed-message` exchanges) on paused time.

mod support;

use support::*;
use warren_protocol::FieldValue;

fn delayed_exchange(v: &warren_broker::VHost) {
    declare_exchange(
        v,
        "delayed",
        "x-delayed-message",
        &[("x-delayed-type", FieldValue::string("direct"))],
    );
}

fn delay(ms: i64) -> warren_protocol::BasicProperties {
    headers(&[("x-delay", FieldValue::I64(ms))])
}

#[tokio::test(start_paused = true)]
async fn a_delayed_message_is_routed_when_due_and_not_before() {
    let v = vhost();
    delayed_exchange(&v);
    let q = declare(&v, "q", &[]);
    bind(&v, "q", "delayed", "k");
    assert!(publish(&v, "delayed", "k", delay(1_000), "later").is_empty());
    assert_eq!(q.message_count(), 0);
    advance(999).await;
    assert_eq!(q.message_count(), 0);
    advance(1).await;
    assert_eq!(get_all(&q), ["later"]);
}

#[tokio::test(start_paused = true)]
async fn delayed_messages_arrive_in_due_order() {
    let v = vhost();
    delayed_exchange(&v);
    let q = declare(&v, "q", &[]);
    bind(&v, "q", "delayed", "k");
    let mut c = TestConsumer::attach(&q, "c", 0, true);
    for (ms, b) in [(300, "third"), (100, "first"), (200, "second")] {
        publish(&v, "delayed", "k", delay(ms), b);
    }
    let mut arrivals = Vec::new();
    for _ in 0..3 {
        advance(100).await;
        arrivals.push(c.bodies());
    }
    assert_eq!(arrivals, [["first"], ["second"], ["third"]]);
}

#[tokio::test(start_paused = true)]
async fn no_zero_or_negative_delay_routes_at_once() {
    let v = vhost();
    delayed_exchange(&v);
    let q = declare(&v, "q", &[]);
    bind(&v, "q", "delayed", "k");
    publish(&v, "delayed", "k", Default::default(), "none");
    publish(&v, "delayed", "k", delay(0), "zero");
    publish(&v, "delayed", "k", delay(-5), "negative");
    assert_eq!(get_all(&q), ["none", "zero", "negative"]);
}

#[tokio::test(start_paused = true)]
async fn a_message_due_after_its_exchange_is_deleted_is_dropped() {
    let v = vhost();
    delayed_exchange(&v);
    let q = declare(&v, "q", &[]);
    bind(&v, "q", "delayed", "k");
    publish(&v, "delayed", "k", delay(1_000), "orphan");
    applied(v.delete_exchange("delayed", false).expect("deleted"));
    advance(1_000).await;
    assert_eq!(q.message_count(), 0);
}
