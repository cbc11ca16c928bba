//! Dead-letter cycles: RabbitMQ drops a message that would return to a queue it already
//! died in unless a rejection is part of the cycle.

mod support;

use support::*;
use warren_protocol::{BasicProperties, FieldValue};

/// Declares `name` dead-lettering to queue `to` through the default exchange, with a
/// message TTL if given.
fn dl_queue(
    v: &warren_broker::VHost,
    name: &str,
    to: &str,
    ttl: Option<i64>,
) -> std::sync::Arc<warren_broker::Queue> {
    let mut args = vec![
        ("x-dead-letter-exchange", FieldValue::string("")),
        ("x-dead-letter-routing-key", FieldValue::string(to)),
    ];
    if let Some(ms) = ttl {
        args.push(("x-message-ttl", FieldValue::I64(ms)));
    }
    declare(v, name, &args)
}

#[tokio::test(start_paused = true)]
async fn an_expiry_cycle_is_cut_when_the_message_would_come_back() {
    let v = vhost();
    let a = dl_queue(&v, "a", "b", Some(100));
    let b = dl_queue(&v, "b", "a", Some(100));
    send(&v, "a", BasicProperties::default(), "m");
    advance(100).await;
    assert_eq!((a.message_count(), b.message_count()), (0, 1), "a → b");
    advance(100).await;
    assert_eq!(
        (a.message_count(), b.message_count()),
        (0, 0),
        "b → a would close the cycle: dropped"
    );
}

#[tokio::test(start_paused = true)]
async fn a_queue_dead_lettering_to_itself_on_expiry_drops_the_message() {
    let v = vhost();
    let q = dl_queue(&v, "q", "q", Some(100));
    send(&v, "q", BasicProperties::default(), "m");
    advance(100).await;
    assert_eq!(q.message_count(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_cycle_with_a_rejection_in_it_goes_on() {
    let v = vhost();
    let a = dl_queue(&v, "a", "b", None);
    let b = dl_queue(&v, "b", "a", Some(100));
    send(&v, "a", BasicProperties::default(), "m");
    let (m, _) = a.get(false).expect("m");
    a.discard(vec![m]);
    assert_eq!(b.message_count(), 1, "rejected: a → b");
    advance(100).await;
    let (back, _) = a.get(true).expect("expired in b, back in a");
    let died = |q: &str, r: &str| (q.to_owned(), r.to_owned());
    assert_eq!(
        deaths(&back),
        [died("b", "expired"), died("a", "rejected")],
        "most recent first"
    );
    assert_eq!(
        header(&back, "x-first-death-reason").and_then(|v| v.as_str().map(str::to_owned)),
        Some("rejected".to_owned())
    );
}

#[tokio::test(start_paused = true)]
async fn a_repeat_death_increments_its_count() {
    let v = vhost();
    let a = dl_queue(&v, "a", "b", None);
    let b = dl_queue(&v, "b", "a", Some(100));
    send(&v, "a", BasicProperties::default(), "m");
    for _ in 0..2 {
        let (m, _) = a.get(false).expect("m in a");
        a.discard(vec![m]);
        advance(100).await;
    }
    assert_eq!(b.message_count(), 0);
    let (m, _) = a.get(true).expect("m back in a");
    let Some(FieldValue::Array(entries)) = header(&m, "x-death") else {
        panic!("x-death present");
    };
    let counts: Vec<i64> = entries
        .iter()
        .filter_map(|e| match e {
            FieldValue::Table(t) => t.get("count").and_then(FieldValue::as_i64),
            _ => None,
        })
        .collect();
    assert_eq!(counts, [2, 2], "one entry per (queue, reason), counted");
}
