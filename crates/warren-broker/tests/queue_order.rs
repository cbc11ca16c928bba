//! Delivery order of the queue core: FIFO, priorities, round-robin, and requeued
//! messages going back to their original positions.

mod support;

use support::*;
use warren_protocol::{BasicProperties, FieldValue};

#[tokio::test(start_paused = true)]
async fn a_plain_queue_delivers_in_publish_order() {
    let v = vhost();
    let q = declare(&v, "q", &[]);
    for b in ["1", "2", "3", "4"] {
        send(&v, "q", BasicProperties::default(), b);
    }
    let mut c = TestConsumer::attach(&q, "c", 0, true);
    assert_eq!(c.bodies(), ["1", "2", "3", "4"]);
    send(&v, "q", BasicProperties::default(), "5");
    assert_eq!(c.bodies(), ["5"], "published with a consumer waiting");
    assert_eq!(q.message_count(), 0);
}

#[tokio::test(start_paused = true)]
async fn priorities_go_highest_first_and_fifo_within_a_level() {
    let v = vhost();
    let q = declare(&v, "q", &[("x-max-priority", FieldValue::I32(5))]);
    for (p, b) in [
        (1, "1a"),
        (4, "4a"),
        (0, "0a"),
        (9, "9a"),
        (4, "4b"),
        (1, "1b"),
    ] {
        send(&v, "q", priority(p), b);
    }
    // 9 is above x-max-priority and counts as 5, the top.
    assert_eq!(get_all(&q), ["9a", "4a", "4b", "1a", "1b", "0a"]);
}

#[tokio::test(start_paused = true)]
async fn without_max_priority_the_priority_property_is_ignored() {
    let v = vhost();
    let q = declare(&v, "q", &[]);
    for (p, b) in [(1, "a"), (9, "b"), (5, "c")] {
        send(&v, "q", priority(p), b);
    }
    assert_eq!(get_all(&q), ["a", "b", "c"]);
}

#[tokio::test(start_paused = true)]
async fn consumers_take_turns() {
    let v = vhost();
    let q = declare(&v, "q", &[]);
    let mut a = TestConsumer::attach(&q, "a", 0, true);
    let mut b = TestConsumer::attach(&q, "b", 0, true);
    for i in 0..6 {
        send(&v, "q", BasicProperties::default(), &i.to_string());
    }
    assert_eq!(a.bodies(), ["0", "2", "4"]);
    assert_eq!(b.bodies(), ["1", "3", "5"]);
}

#[tokio::test(start_paused = true)]
async fn requeued_messages_return_to_their_original_positions() {
    let v = vhost();
    let q = declare(&v, "q", &[]);
    for b in ["a", "b", "c", "d"] {
        send(&v, "q", BasicProperties::default(), b);
    }
    let mut c = TestConsumer::attach(&q, "c", 2, false);
    let first = c.take();
    assert_eq!(first.len(), 2, "prefetch 2");
    assert!(first.iter().all(|d| !d.message.redelivered));
    assert_eq!(q.unacked_count(), 2);
    // Cancel, then requeue in reverse: they go back ahead of c and d, in seq order.
    v.consumer_removed(&c.consumer);
    c.requeue(first.into_iter().rev().collect());
    assert_eq!(q.unacked_count(), 0);
    let mut order = Vec::new();
    while let Some((m, _)) = q.get(true) {
        order.push((body(&m), m.redelivered));
    }
    let expected = [("a", true), ("b", true), ("c", false), ("d", false)];
    assert_eq!(order, expected.map(|(b, r)| (b.to_owned(), r)));
}

#[tokio::test(start_paused = true)]
async fn a_requeued_message_goes_back_within_its_priority_level() {
    let v = vhost();
    let q = declare(&v, "q", &[("x-max-priority", FieldValue::I32(3))]);
    for (p, b) in [(1, "low1"), (3, "high1"), (3, "high2"), (1, "low2")] {
        send(&v, "q", priority(p), b);
    }
    let (high1, _) = q.get(false).expect("high1");
    let (high2, _) = q.get(false).expect("high2");
    assert_eq!([body(&high1), body(&high2)], ["high1", "high2"]);
    q.requeue(vec![high2, high1]);
    assert_eq!(get_all(&q), ["high1", "high2", "low1", "low2"]);
}

#[tokio::test(start_paused = true)]
async fn an_undelivered_message_goes_back_to_its_position() {
    let v = vhost();
    let q = declare(&v, "q", &[]);
    for b in ["a", "b", "c"] {
        send(&v, "q", BasicProperties::default(), b);
    }
    let (a, _) = q.get(false).expect("a");
    // As when the consumer's connection went away before writing it.
    q.return_undelivered(a, true);
    assert_eq!(q.unacked_count(), 0);
    assert_eq!(get_all(&q), ["a", "b", "c"]);
}
