//! Queue expiry (`x-expires`) on paused time: an unused queue is deleted when its
//! time is up; a consumer or a redeclaration counts as use.

mod support;

use support::*;
use warren_broker::vhost::QueueDeclare;
use warren_protocol::FieldValue;

fn expires(ms: i64) -> (&'static str, FieldValue) {
    ("x-expires", FieldValue::I64(ms))
}

fn exists(v: &warren_broker::VHost, name: &str) -> bool {
    v.queue(name, CONN).is_ok()
}

#[tokio::test(start_paused = true)]
async fn an_unused_queue_is_deleted_when_it_expires() {
    let v = vhost();
    let q = declare(&v, "q", &[expires(1_000)]);
    advance(999).await;
    assert!(exists(&v, "q"));
    advance(1).await;
    assert!(!exists(&v, "q"), "deleted by the timer");
    assert!(q.is_deleted());
}

#[tokio::test(start_paused = true)]
async fn a_consumer_keeps_the_queue_and_its_cancel_restarts_the_countdown() {
    let v = vhost();
    let q = declare(&v, "q", &[expires(1_000)]);
    let mut c = TestConsumer::attach(&q, "c", 0, true);
    advance(10_000).await;
    assert!(exists(&v, "q"), "in use while consumed");
    assert!(!c.was_cancelled());
    v.consumer_removed(&c.consumer);
    advance(999).await;
    assert!(exists(&v, "q"));
    advance(1).await;
    assert!(!exists(&v, "q"));
}

#[tokio::test(start_paused = true)]
async fn a_redeclaration_counts_as_use() {
    let v = vhost();
    declare(&v, "q", &[expires(1_000)]);
    advance(600).await;
    declare(&v, "q", &[expires(1_000)]);
    advance(600).await;
    assert!(
        exists(&v, "q"),
        "1200 ms after declare, 600 after the redeclare"
    );
    let passive = QueueDeclare {
        name: "q".into(),
        passive: true,
        ..QueueDeclare::default()
    };
    applied(v.declare_queue(&passive, CONN).expect("passive declare"));
    advance(999).await;
    assert!(exists(&v, "q"), "a passive declare counts too");
    advance(1).await;
    assert!(!exists(&v, "q"));
}

#[tokio::test(start_paused = true)]
async fn a_basic_get_counts_as_use_even_when_empty() {
    let v = vhost();
    let q = declare(&v, "q", &[expires(1_000)]);
    advance(600).await;
    assert!(q.get(true).is_none());
    advance(999).await;
    assert!(exists(&v, "q"), "999 ms after the get");
    advance(1).await;
    assert!(!exists(&v, "q"));
}

#[tokio::test(start_paused = true)]
async fn messages_do_not_keep_a_queue_from_expiring_and_go_with_it() {
    let v = vhost();
    let q = declare(&v, "q", &[expires(500)]);
    send(&v, "q", Default::default(), "left behind");
    advance(500).await;
    assert!(!exists(&v, "q"), "messages do not count as use");
    assert!(q.is_deleted());
    assert_eq!(q.message_count(), 0);
}
