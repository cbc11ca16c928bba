//! Stream retention by age (`x-max-age`) on paused time: a segment goes once every
//! message in it is older than the max age (RabbitMQ's rule), checked by the queue's
//! retention tick without any publish; the active segment is never deleted; a consumer
//! reading the old segments while they go continues from the first retained offset,
//! in order. A policy's `max-age` applies too (the smaller of it and `x-max-age`, as in
//! RabbitMQ), to a live stream.

mod support;

use std::sync::Arc;

use serde_json::json;
use support::*;
use warren_broker::definitions::PolicyDef;
use warren_broker::policy::Policy;
use warren_broker::vhost::QueueDeclare;
use warren_broker::{ConsumerSpec, Queue, VHost};
use warren_protocol::{BasicProperties, FieldValue};

const MINUTE: u64 = 60_000;
/// The retention tick is 5 s: a segment goes at most this long after it is due.
const TICK: u64 = 5_000;

/// A durable stream with 4 KiB segments and these arguments.
fn declare_stream(vhost: &VHost, name: &str, args: &[(&str, FieldValue)]) -> Arc<Queue> {
    let mut arguments = table(&[
        ("x-queue-type", FieldValue::string("stream")),
        ("x-stream-max-segment-size-bytes", FieldValue::I64(4096)),
    ]);
    for (k, v) in args {
        arguments.insert(*k, v.clone());
    }
    let declare = QueueDeclare {
        name: name.to_owned(),
        durable: true,
        arguments,
        ..QueueDeclare::default()
    };
    applied(
        vhost
            .declare_queue(&declare, CONN)
            .expect("stream declared"),
    )
    .queue
}

/// Publishes `from..to` as 200-byte bodies `m{i}` padded (several per 4 KiB segment).
fn publish_range(vhost: &VHost, name: &str, from: u64, to: u64) {
    for i in from..to {
        send(
            vhost,
            name,
            BasicProperties::default(),
            &format!("m{i:<198}"),
        );
    }
}

fn first(q: &Queue) -> u64 {
    q.stream().expect("a stream").log().first_offset()
}

fn segments(q: &Queue) -> usize {
    q.stream().expect("a stream").log().segment_count()
}

/// A stream consumer (prefetch 10) reading from `first`.
fn attach_from_first(q: &Arc<Queue>) -> TestConsumer {
    let spec = ConsumerSpec {
        connection: 0,
        tag: Arc::from("reader"),
        channel_id: 1,
        no_ack: false,
        exclusive: false,
        prefetch: 10,
        priority: 0,
        unsent_window: warren_broker::Limits::default().consumer_unsent_window,
    };
    TestConsumer::attach_stream(q, spec, &[("x-stream-offset", FieldValue::string("first"))])
}

fn offset(d: &warren_broker::Delivery) -> u64 {
    d.message.seq
}

#[tokio::test(start_paused = true)]
async fn segments_go_once_all_their_messages_are_older_than_max_age() {
    let v = vhost();
    let q = declare_stream(&v, "s", &[("x-max-age", FieldValue::string("1h"))]);
    // 0..100 at t = 0, 100..200 at t = 30 min.
    publish_range(&v, "s", 0, 100);
    let old_segments = segments(&q);
    assert!(old_segments >= 4, "{old_segments} segments");
    advance(30 * MINUTE).await;
    publish_range(&v, "s", 100, 200);
    // t = 60 min - 1 s: nothing is older than an hour yet.
    advance(30 * MINUTE - 1_000).await;
    assert_eq!(first(&q), 0, "no segment is all older than 1h");
    // The tick after t = 60 min deletes the segments holding only the first hundred;
    // one that also holds messages of the second hundred (30 min old) stays.
    advance(1_000 + TICK).await;
    let kept = first(&q);
    assert!(kept > 0 && kept <= 100, "first retained {kept}");
    assert_eq!(q.message_count(), 200 - kept as u32);
    // t = 90 min + a tick: everything is older than an hour, but the active segment
    // stays.
    advance(30 * MINUTE).await;
    assert_eq!(segments(&q), 1, "only the active segment is left");
    assert!(first(&q) > 100 && first(&q) < 200, "first {}", first(&q));
    // Publishing goes on at the next offset.
    publish_range(&v, "s", 200, 201);
    assert_eq!(q.stream().unwrap().log().next_offset(), 201);
}

#[tokio::test(start_paused = true)]
async fn a_consumer_reading_old_segments_continues_from_the_first_retained_offset() {
    let v = vhost();
    let q = declare_stream(&v, "s", &[("x-max-age", FieldValue::string("7D"))]);
    publish_range(&v, "s", 0, 100);
    advance(3 * 24 * 60 * MINUTE).await;
    publish_range(&v, "s", 100, 200);
    let mut c = attach_from_first(&q);
    advance(1).await;
    let got = c.take();
    assert_eq!(
        got.iter().map(offset).collect::<Vec<_>>(),
        (0..10).collect::<Vec<_>>()
    );
    // 7 days after the first hundred: their segments go while the consumer holds 0..9.
    advance(4 * 24 * 60 * MINUTE + TICK).await;
    let kept = first(&q);
    assert!(kept > 10 && kept <= 100, "first retained {kept}");
    // Acking gives credit back: the reader goes on from the first retained offset, in
    // order, to the end.
    c.ack(got);
    let mut seen = Vec::new();
    while seen.len() < (200 - kept) as usize {
        advance(1).await;
        let batch = c.take();
        assert!(!batch.is_empty(), "the reader stalled after {seen:?}");
        seen.extend(batch.iter().map(offset));
        c.ack(batch);
    }
    assert_eq!(seen, (kept..200).collect::<Vec<_>>());
}

#[tokio::test(start_paused = true)]
async fn without_max_age_nothing_goes_by_age() {
    let v = vhost();
    let q = declare_stream(&v, "s", &[]);
    publish_range(&v, "s", 0, 100);
    advance(400 * 24 * 60 * MINUTE).await;
    publish_range(&v, "s", 100, 101);
    advance(TICK).await;
    assert_eq!(first(&q), 0);
    assert_eq!(q.message_count(), 101);
}

/// Sets policy `name` with `definition` for queues matching `pattern`.
fn set_policy(v: &VHost, name: &str, pattern: &str, definition: serde_json::Value) {
    let def = PolicyDef {
        vhost: "/".into(),
        name: name.into(),
        pattern: pattern.into(),
        apply_to: "queues".into(),
        definition: definition.as_object().expect("an object").clone(),
        priority: 0,
    };
    let policy = Policy::from_def(&def, false).expect("valid policy");
    v.set_policy(policy).expect("policy set");
}

#[tokio::test(start_paused = true)]
async fn a_max_age_policy_applies_to_a_live_stream_and_the_smaller_age_wins() {
    let v = vhost();
    let plain = declare_stream(&v, "plain", &[]);
    let week = declare_stream(&v, "week", &[("x-max-age", FieldValue::string("7D"))]);
    publish_range(&v, "plain", 0, 100);
    publish_range(&v, "week", 0, 100);
    set_policy(&v, "hour", "^(plain|week)$", json!({"max-age": "1h"}));
    advance(30 * MINUTE).await;
    publish_range(&v, "plain", 100, 200);
    publish_range(&v, "week", 100, 200);
    advance(30 * MINUTE - 1_000).await;
    assert_eq!(
        (first(&plain), first(&week)),
        (0, 0),
        "nothing an hour old yet"
    );
    advance(1_000 + TICK).await;
    for q in [&plain, &week] {
        let kept = first(q);
        assert!(
            kept > 0 && kept <= 100,
            "first retained {kept}: the policy's hour"
        );
    }
}
