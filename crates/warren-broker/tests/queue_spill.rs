//! Transient backlogs beyond memory, on paused time: a queue over its in-memory budget
//! writes the messages behind it to the spill log a batch at a time and reads them back
//! when the head reaches them. Order, requeue, TTL, length limits, dead-lettering, purge
//! and deletion all see the spilled messages as if they had stayed in memory, and every
//! spilled batch is released once it is consumed or dropped.

mod support;

use std::sync::Arc;

use support::*;
use warren_broker::queue::{MemorySpill, Spill, SpillLimits};
use warren_broker::{Broker, VHost};
use warren_protocol::{BasicProperties, FieldValue};

/// Keep 5 messages in memory, spill pages of 4.
const LIMITS: SpillLimits = SpillLimits {
    keep_in_memory: 5,
    keep_in_memory_bytes: usize::MAX,
    page_size: 4,
    page_bytes: usize::MAX,
};

fn spilling_vhost(limits: SpillLimits) -> (Arc<VHost>, Arc<MemorySpill>, Broker) {
    let log = MemorySpill::new();
    let broker = Broker::with_spill(None, Spill::new(log.clone(), limits));
    let v = broker.vhost("/").expect("default vhost");
    (v, log, broker)
}

fn send_n(v: &VHost, queue: &str, range: std::ops::Range<usize>) {
    for i in range {
        send(v, queue, BasicProperties::default(), &format!("m{i}"));
    }
}

fn bodies(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("m{i}")).collect()
}

fn dlx_to(queue: &str) -> [(&'static str, FieldValue); 2] {
    [
        ("x-dead-letter-exchange", FieldValue::string("")),
        ("x-dead-letter-routing-key", FieldValue::string(queue)),
    ]
}

#[tokio::test(start_paused = true)]
async fn order_and_bodies_survive_the_memory_spill_boundary() {
    let (v, log, _b) = spilling_vhost(LIMITS);
    let q = declare(&v, "q", &[]);
    send_n(&v, "q", 0..50);
    // 5 in memory, 44 spilled in 11 batches (one write each), 1 gathering.
    assert_eq!(q.message_count(), 50);
    assert_eq!(q.spilled_count(), 44);
    assert_eq!(log.writes(), 11);
    assert_eq!(log.live_records(), 11);
    let s = q.snapshot();
    assert_eq!(s.messages_paged_out, 44);
    assert_eq!(s.message_bytes_paged_out, 5 * 2 + 39 * 3);
    // A consumer takes them in order; the queue keeps spilling what arrives meanwhile.
    let mut c = TestConsumer::attach(&q, "c", 7, false);
    let mut got = Vec::new();
    let mut next = 50;
    while got.len() < 80 {
        let batch = c.take();
        assert!(!batch.is_empty(), "deliveries stalled after {}", got.len());
        got.extend(batch.iter().map(|d| body(&d.message)));
        if next < 80 {
            send_n(&v, "q", next..next + 10);
            next += 10;
        }
        c.ack(batch);
    }
    assert_eq!(got, bodies(0..80));
    assert_eq!(q.message_count(), 0);
    assert_eq!(log.live_records(), 0, "every batch released once read back");
}

#[tokio::test(start_paused = true)]
async fn requeued_messages_that_were_spilled_go_back_to_their_place() {
    let (v, _log, _b) = spilling_vhost(LIMITS);
    let q = declare(&v, "q", &[]);
    send_n(&v, "q", 0..30);
    let mut c = TestConsumer::attach(&q, "c", 12, false);
    let first = c.take();
    assert_eq!(first.len(), 12, "read back past the first spilled batches");
    // Requeue the later half first, then the earlier half: original positions win.
    let mut first = first;
    let late = first.split_off(6);
    v.consumer_removed(&c.consumer);
    c.requeue(late);
    c.requeue(first);
    assert_eq!(q.message_count(), 30);
    let mut order = Vec::new();
    while let Some((m, _)) = q.get(true) {
        order.push((body(&m), m.redelivered));
    }
    let expected: Vec<(String, bool)> = (0..30).map(|i| (format!("m{i}"), i < 12)).collect();
    assert_eq!(order, expected);
}

#[tokio::test(start_paused = true)]
async fn spilled_messages_expire_and_are_dead_lettered_in_order() {
    let (v, log, _b) = spilling_vhost(LIMITS);
    let dlq = declare(&v, "dlq", &[]);
    let mut args = dlx_to("dlq").to_vec();
    args.push(("x-message-ttl", FieldValue::I64(1_000)));
    let q = declare(&v, "q", &args);
    send_n(&v, "q", 0..20);
    advance(500).await;
    send_n(&v, "q", 20..30);
    assert!(q.spilled_count() > 0);
    advance(500).await;
    assert_eq!(
        q.message_count(),
        10,
        "the first 20 expired, spilled ones too"
    );
    assert_eq!(dlq.message_count(), 20);
    advance(500).await;
    assert_eq!(q.message_count(), 0);
    let mut dead = Vec::new();
    while let Some((m, _)) = dlq.get(true) {
        assert_eq!(deaths(&m), [("q".to_owned(), "expired".to_owned())]);
        dead.push(body(&m));
    }
    assert_eq!(dead, bodies(0..30));
    assert_eq!(log.live_records(), 0);
}

#[tokio::test(start_paused = true)]
async fn max_length_drops_spilled_messages_from_the_head() {
    let (v, log, _b) = spilling_vhost(LIMITS);
    let dlq = declare(&v, "dlq", &[]);
    let mut args = dlx_to("dlq").to_vec();
    args.push(("x-max-length", FieldValue::I64(12)));
    let q = declare(&v, "q", &args);
    send_n(&v, "q", 0..40);
    assert_eq!(q.message_count(), 12);
    assert!(q.spilled_count() > 0, "the kept tail is partly spilled");
    assert_eq!(get_all(&dlq), bodies(0..28));
    assert_eq!(get_all(&q), bodies(28..40));
    assert_eq!(log.live_records(), 0);
}

#[tokio::test(start_paused = true)]
async fn rejected_spilled_messages_are_dead_lettered() {
    let (v, _log, _b) = spilling_vhost(LIMITS);
    let dlq = declare(&v, "dlq", &[]);
    let q = declare(&v, "q", &dlx_to("dlq"));
    send_n(&v, "q", 0..25);
    let mut c = TestConsumer::attach(&q, "c", 0, false);
    let all = c.take();
    assert_eq!(all.len(), 25);
    c.discard(all);
    assert_eq!(q.message_count(), 0);
    let dead: Vec<_> = std::iter::from_fn(|| dlq.get(true).map(|(m, _)| m)).collect();
    assert_eq!(dead.iter().map(body).collect::<Vec<_>>(), bodies(0..25));
    assert!(dead
        .iter()
        .all(|m| deaths(m) == [("q".to_owned(), "rejected".to_owned())]));
}

#[tokio::test(start_paused = true)]
async fn purge_and_delete_release_every_spilled_batch() {
    let (v, log, _b) = spilling_vhost(LIMITS);
    let q = declare(&v, "q", &[]);
    send_n(&v, "q", 0..50);
    assert_eq!(log.live_records(), 11);
    assert_eq!(q.purge(), 50);
    assert_eq!(log.live_records(), 0);
    assert_eq!((q.message_count(), q.spilled_count()), (0, 0));
    send_n(&v, "q", 0..30);
    assert_eq!(get_all(&q), bodies(0..30), "spills again after a purge");
    send_n(&v, "q", 0..50);
    assert!(log.live_records() > 0);
    assert_eq!(
        applied(v.delete_queue("q", false, false, CONN).unwrap()),
        50
    );
    assert_eq!(log.live_records(), 0);
}

#[tokio::test(start_paused = true)]
async fn the_byte_budget_spills_big_messages_early() {
    let limits = SpillLimits {
        keep_in_memory: 1_000,
        keep_in_memory_bytes: 3 * 1024,
        page_size: 1_000,
        page_bytes: 2 * 1024,
    };
    let (v, log, _b) = spilling_vhost(limits);
    let q = declare(&v, "q", &[]);
    let big = "x".repeat(1_000);
    for _ in 0..10 {
        send(&v, "q", BasicProperties::default(), &big);
    }
    // About 1.2 KB each as counted: 3 in memory, then batches of 2.
    assert_eq!(q.spilled_count(), 6);
    assert_eq!(log.writes(), 3);
    assert_eq!(get_all(&q).len(), 10);
}

#[tokio::test(start_paused = true)]
async fn memory_pressure_sheds_every_queue_to_one_page() {
    let limits = SpillLimits {
        keep_in_memory: 1_000,
        ..LIMITS
    };
    let (v, log, broker) = spilling_vhost(limits);
    let a = declare(&v, "a", &[]);
    let b = declare(&v, "b", &[("x-max-priority", FieldValue::I64(3))]);
    send_n(&v, "a", 0..30);
    for i in 0..30 {
        send(&v, "b", priority((i % 4) as u8), &format!("m{i}"));
    }
    assert_eq!(a.spilled_count() + b.spilled_count(), 0, "within budget");
    broker.spill().expect("spilling broker").set_pressure(true);
    let shed = broker.shed_memory();
    assert_eq!(a.spilled_count(), 26, "a keeps one page of 4");
    assert_eq!(shed, 26 + b.spilled_count());
    assert!(b.spilled_count() > 0);
    // Under pressure new messages spill at once (beyond one page in memory).
    send_n(&v, "a", 30..40);
    assert!(a.spilled_count() >= 34);
    broker.spill().unwrap().set_pressure(false);
    assert_eq!(get_all(&a), bodies(0..40));
    let b_order: Vec<String> = get_all(&b);
    let expected: Vec<String> = [3usize, 2, 1, 0]
        .iter()
        .flat_map(|p| {
            (0..30)
                .filter(move |i| i % 4 == *p)
                .map(|i| format!("m{i}"))
        })
        .collect();
    assert_eq!(b_order, expected);
    assert_eq!(log.live_records(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_failing_spill_log_keeps_messages_in_memory() {
    let (v, log, _b) = spilling_vhost(LIMITS);
    let q = declare(&v, "q", &[]);
    log.fail_writes(true);
    send_n(&v, "q", 0..30);
    assert_eq!(q.spilled_count(), 0);
    assert_eq!(log.attempts(), 6, "one attempt per batch, not per message");
    log.fail_writes(false);
    send_n(&v, "q", 30..40);
    assert!(q.spilled_count() > 0);
    assert_eq!(get_all(&q), bodies(0..40));
}
