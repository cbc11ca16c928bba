//! Length limits with each overflow mode, and the delivery limit.

mod support;

use support::*;
use warren_broker::PublishOutcome;
use warren_protocol::{BasicProperties, FieldValue};

fn to_dlq() -> [(&'static str, FieldValue); 2] {
    [
        ("x-dead-letter-exchange", FieldValue::string("")),
        ("x-dead-letter-routing-key", FieldValue::string("dlq")),
    ]
}

fn limited(v: &warren_broker::VHost, overflow: &str) -> std::sync::Arc<warren_broker::Queue> {
    let [dlx, dlrk] = to_dlq();
    declare(
        v,
        "q",
        &[
            ("x-max-length", FieldValue::I32(2)),
            ("x-overflow", FieldValue::string(overflow)),
            dlx,
            dlrk,
        ],
    )
}

fn send_three(v: &warren_broker::VHost) -> Vec<PublishOutcome> {
    ["1", "2", "3"]
        .iter()
        .map(|b| send(v, "q", BasicProperties::default(), b))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn drop_head_drops_and_dead_letters_the_oldest() {
    let v = vhost();
    let dlq = declare(&v, "dlq", &[]);
    let q = limited(&v, "drop-head");
    assert!(send_three(&v)
        .iter()
        .all(|o| *o == PublishOutcome::Enqueued));
    assert_eq!(get_all(&q), ["2", "3"]);
    let (dropped, _) = dlq.get(true).expect("dead-lettered head");
    assert_eq!(body(&dropped), "1");
    assert_eq!(deaths(&dropped), [("q".to_owned(), "maxlen".to_owned())]);
}

#[tokio::test(start_paused = true)]
async fn drop_head_drops_the_highest_priority_head_first() {
    let v = vhost();
    let q = declare(
        &v,
        "q",
        &[
            ("x-max-length", FieldValue::I32(2)),
            ("x-max-priority", FieldValue::I32(5)),
        ],
    );
    send(&v, "q", priority(1), "low");
    send(&v, "q", priority(5), "high");
    send(&v, "q", priority(1), "low2");
    // The head in delivery order goes, as in RabbitMQ.
    assert_eq!(get_all(&q), ["low", "low2"]);
}

#[tokio::test(start_paused = true)]
async fn reject_publish_refuses_the_new_message_without_dead_lettering() {
    let v = vhost();
    let dlq = declare(&v, "dlq", &[]);
    let q = limited(&v, "reject-publish");
    let outcomes = send_three(&v);
    assert_eq!(
        outcomes,
        [
            PublishOutcome::Enqueued,
            PublishOutcome::Enqueued,
            PublishOutcome::Rejected
        ]
    );
    assert_eq!(get_all(&q), ["1", "2"]);
    assert_eq!(dlq.message_count(), 0);
}

#[tokio::test(start_paused = true)]
async fn reject_publish_dlx_refuses_and_dead_letters_the_new_message() {
    let v = vhost();
    let dlq = declare(&v, "dlq", &[]);
    let q = limited(&v, "reject-publish-dlx");
    assert_eq!(send_three(&v)[2], PublishOutcome::Rejected);
    assert_eq!(get_all(&q), ["1", "2"]);
    let (refused, _) = dlq.get(true).expect("dead-lettered refusal");
    assert_eq!(body(&refused), "3");
    assert_eq!(deaths(&refused), [("q".to_owned(), "maxlen".to_owned())]);
}

#[tokio::test(start_paused = true)]
async fn max_length_bytes_counts_body_bytes() {
    let v = vhost();
    let q = declare(&v, "q", &[("x-max-length-bytes", FieldValue::I32(10))]);
    for b in ["aaaa", "bbbb", "cccc"] {
        send(&v, "q", BasicProperties::default(), b);
    }
    assert_eq!(
        q.message_bytes(),
        8,
        "the oldest went to fit 12 bytes into 10"
    );
    assert_eq!(get_all(&q), ["bbbb", "cccc"]);
}

#[tokio::test(start_paused = true)]
async fn the_delivery_limit_dead_letters_after_that_many_returns() {
    let v = vhost();
    let dlq = declare(&v, "dlq", &[]);
    let [dlx, dlrk] = to_dlq();
    let q = declare(
        &v,
        "q",
        &[("x-delivery-limit", FieldValue::I32(2)), dlx, dlrk],
    );
    send(&v, "q", BasicProperties::default(), "m");
    let mut c = TestConsumer::attach(&q, "c", 1, false);
    let mut counts = Vec::new();
    for _ in 0..3 {
        let got = c.take();
        assert_eq!(got.len(), 1, "delivered again after each requeue");
        counts.push(header(&got[0].message, "x-delivery-count").and_then(|v| v.as_i64()));
        c.requeue(got);
    }
    assert_eq!(counts, [None, Some(1), Some(2)]);
    assert!(c.take().is_empty(), "the third return went over the limit");
    assert_eq!(q.message_count(), 0);
    let (dead, _) = dlq.get(true).expect("dead-lettered");
    assert_eq!(
        deaths(&dead),
        [("q".to_owned(), "delivery_limit".to_owned())]
    );
    assert_eq!(header(&dead, "x-delivery-count"), None, "not carried over");
}
