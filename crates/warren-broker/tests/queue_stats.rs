//! A queue's counters and snapshot on paused time (what the management API and
//! metrics show): publish, deliver with and without ack, get, get-empty, ack,
//! redeliver, unacknowledged bytes, idle time, dead-letter totals, and moves between
//! queues.

mod support;

use support::*;
use warren_broker::dead_letter::DeathReason;
use warren_broker::queue::QueueCounters;
use warren_broker::vhost::{GetSettle, MoveTo};
use warren_protocol::{BasicProperties, FieldValue};

#[tokio::test(start_paused = true)]
async fn counters_follow_what_passes_through_a_queue() {
    let v = vhost();
    let q = declare(&v, "q", &[]);
    for body in ["a", "bb", "ccc", "dddd"] {
        send(&v, "q", BasicProperties::default(), body);
    }
    let idle = q.snapshot();
    assert!(
        idle.idle_since_ms.is_some(),
        "no consumer and nothing unacked: idle"
    );
    assert_eq!(idle.message_bytes_ready, 10);
    let mut c = TestConsumer::attach(&q, "c", 2, false);
    let first = c.take();
    assert_eq!(first.len(), 2, "prefetch 2");
    let s = q.snapshot();
    assert_eq!((s.messages_ready, s.messages_unacknowledged), (2, 2));
    assert_eq!(s.message_bytes_unacknowledged, 3, "a + bb");
    assert!(s.idle_since_ms.is_none());
    c.requeue(first);
    let again = c.take();
    assert!(again.iter().all(|d| d.message.redelivered));
    c.ack(again);
    let rest = c.take();
    c.ack(rest);
    let auto_delete = q.remove_consumer(&c.consumer);
    assert!(!auto_delete, "not an auto-delete queue");
    let s = q.snapshot();
    assert_eq!(s.messages(), 0);
    assert_eq!(s.message_bytes_unacknowledged, 0);
    assert_eq!(
        s.counters,
        QueueCounters {
            publish: 4,
            deliver: 6,
            ack: 4,
            redeliver: 2,
            ..QueueCounters::default()
        }
    );
    assert!(q.get(true).is_none());
    send(&v, "q", BasicProperties::default(), "e");
    let _ = q.get(true);
    let c = q.counters();
    assert_eq!((c.get_empty, c.get_no_ack, c.publish), (1, 1, 5));
    assert_eq!(c.deliver_get(), 7);
}

#[tokio::test(start_paused = true)]
async fn dead_letters_are_counted_by_reason_and_whether_an_exchange_took_them() {
    let v = vhost();
    let with_dlx = declare(
        &v,
        "with-dlx",
        &[
            ("x-message-ttl", FieldValue::I64(100)),
            ("x-dead-letter-exchange", FieldValue::LongString("".into())),
            (
                "x-dead-letter-routing-key",
                FieldValue::LongString("dlq".into()),
            ),
        ],
    );
    let _dlq = declare(&v, "dlq", &[]);
    let _without = declare(&v, "without", &[("x-message-ttl", FieldValue::I64(100))]);
    send(&v, "with-dlx", BasicProperties::default(), "x");
    send(&v, "without", BasicProperties::default(), "y");
    advance(200).await;
    assert_eq!(with_dlx.message_count(), 0);
    let totals = vhost_totals(&v);
    assert_eq!(totals.get(DeathReason::Expired, true), 1);
    assert_eq!(totals.get(DeathReason::Expired, false), 1);
    assert_eq!(totals.get(DeathReason::Rejected, true), 0);
}

fn vhost_totals(v: &warren_broker::VHost) -> &warren_broker::stats::DeadLetterTotals {
    use warren_broker::queue::QueueHost;
    v.dead_letter_totals()
}

#[tokio::test(start_paused = true)]
async fn a_move_keeps_order_and_a_replay_follows_each_first_death() {
    let v = vhost();
    let work = declare(
        &v,
        "work",
        &[
            ("x-dead-letter-exchange", FieldValue::LongString("".into())),
            (
                "x-dead-letter-routing-key",
                FieldValue::LongString("dlq".into()),
            ),
        ],
    );
    let dlq = declare(&v, "dlq", &[]);
    for body in ["1", "2", "3"] {
        send(&v, "work", BasicProperties::default(), body);
    }
    let mut c = TestConsumer::attach(&work, "c", 0, false);
    let taken = c.take();
    c.discard(taken);
    drop(c);
    assert_eq!(dlq.message_count(), 3);
    send(&v, "dlq", BasicProperties::default(), "never died");
    let plan = v
        .move_messages("dlq", &MoveTo::FirstDeath, None, true)
        .await
        .unwrap();
    assert_eq!((plan.moved, plan.skipped), (3, 1));
    assert_eq!(dlq.message_count(), 4, "a dry run takes nothing");
    let done = v
        .move_messages("dlq", &MoveTo::FirstDeath, Some(2), false)
        .await
        .unwrap();
    assert_eq!(done.moved, 2);
    assert_eq!(get_all(&work), vec!["1", "2"]);
    let done = v
        .move_messages("dlq", &MoveTo::FirstDeath, None, false)
        .await
        .unwrap();
    assert_eq!((done.moved, done.skipped), (1, 1));
    assert_eq!(get_all(&dlq), vec!["never died"], "left in place");
    assert!(v
        .move_messages("work", &MoveTo::Queue("work".into()), None, false)
        .await
        .is_err());
    let peeked = v.get_messages("work", 5, GetSettle::Requeue).await.unwrap();
    assert_eq!(peeked.len(), 1);
    assert_eq!(work.message_count(), 1, "a requeueing get leaves it");
}
