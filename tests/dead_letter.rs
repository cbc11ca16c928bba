//! Dead-lettering (`x-dead-letter-exchange`, `x-dead-letter-routing-key`) and the
//! `x-death` bookkeeping, driven over TCP with lapin. Field names, types and order of
//! the headers follow what RabbitMQ 3.10 writes (checked against it with pika).
//! Timing-driven cases keep one representative each here; the matrix (expiry of every
//! message, death order across queues, cycles) runs on paused time in
//! `crates/warren-broker/tests/queue_ttl.rs` and `dead_letter_cycles.rs`.

use std::time::{SystemTime, UNIX_EPOCH};

use lapin::options::{
    BasicConsumeOptions, BasicGetOptions, BasicNackOptions, BasicRejectOptions,
    ExchangeDeclareOptions, QueueBindOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, ExchangeKind};
use warren_testkit::args::*;
use warren_testkit::smart::*;
use warren_testkit::*;

/// Declares exchange `dlx` (direct) and queue `dead` bound to it with `key`.
async fn dead_letter_target(ch: &Channel, key: &str) {
    ch.exchange_declare(
        "dlx".into(),
        ExchangeKind::Direct,
        ExchangeDeclareOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    declare(ch, "dead", FieldTable::default()).await.unwrap();
    ch.queue_bind(
        "dead".into(),
        "dlx".into(),
        key.into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Asserts one `x-death` entry's fields.
fn assert_death(
    entry: &FieldTable,
    count: i64,
    reason: &str,
    queue: &str,
    exchange: &str,
    keys: &[&str],
) {
    assert_eq!(death_count(entry), count, "count of {entry:?}");
    assert_eq!(death_text(entry, "reason").as_deref(), Some(reason));
    assert_eq!(death_text(entry, "queue").as_deref(), Some(queue));
    assert_eq!(death_text(entry, "exchange").as_deref(), Some(exchange));
    match entry.inner().get("routing-keys") {
        Some(AMQPValue::FieldArray(a)) => {
            let got: Vec<String> = a.as_slice().iter().filter_map(text_of).collect();
            assert_eq!(got, keys);
        }
        other => panic!("routing-keys should be an array, got {other:?}"),
    }
    match entry.inner().get("time") {
        Some(AMQPValue::Timestamp(t)) => {
            assert!(
                t.abs_diff(now_secs()) < 60,
                "time {t} should be now, in seconds"
            )
        }
        other => panic!("time should be a timestamp, got {other:?}"),
    }
}

#[tokio::test]
async fn rejected_messages_go_to_the_dead_letter_exchange_with_x_death() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    dead_letter_target(&ch, "work").await;
    declare(&ch, "work", table(&[("x-dead-letter-exchange", s("dlx"))]))
        .await
        .unwrap();
    let props = BasicProperties::default().with_headers(table(&[("app", s("kept"))]));
    publish_props(&ch, "", "work", b"job", props).await;
    let m = ch
        .basic_get("work".into(), BasicGetOptions { no_ack: false })
        .await
        .unwrap()
        .unwrap();
    m.delivery
        .reject(BasicRejectOptions { requeue: false })
        .await
        .unwrap();
    wait_depth(&ch, "dead", 1).await;
    let dead = get(&ch, "dead").await.unwrap().delivery;
    assert_eq!(dead.data, b"job");
    assert_eq!(dead.exchange.as_str(), "dlx");
    assert_eq!(dead.routing_key.as_str(), "work");
    assert!(!dead.redelivered);
    let p = &dead.properties;
    assert_eq!(header_text(p, "app").as_deref(), Some("kept"));
    let d = deaths(p);
    assert_eq!(d.len(), 1);
    assert_death(&d[0], 1, "rejected", "work", "", &["work"]);
    assert!(d[0].inner().get("original-expiration").is_none());
    assert_eq!(
        header_text(p, "x-first-death-reason").as_deref(),
        Some("rejected")
    );
    assert_eq!(
        header_text(p, "x-first-death-queue").as_deref(),
        Some("work")
    );
    assert_eq!(
        header_text(p, "x-first-death-exchange").as_deref(),
        Some("")
    );
    assert_eq!(
        header_text(p, "x-last-death-reason").as_deref(),
        Some("rejected")
    );
    assert_eq!(
        header_text(p, "x-last-death-queue").as_deref(),
        Some("work")
    );
    assert_eq!(header_text(p, "x-last-death-exchange").as_deref(), Some(""));
    assert_eq!(depth(&ch, "work").await, 0);
}

#[tokio::test]
async fn nack_without_requeue_dead_letters_every_message_it_covers() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    dead_letter_target(&ch, "k").await;
    declare(
        &ch,
        "nacked",
        table(&[
            ("x-dead-letter-exchange", s("dlx")),
            ("x-dead-letter-routing-key", s("k")),
        ]),
    )
    .await
    .unwrap();
    for body in [b"a", b"b", b"c"] {
        publish(&ch, "nacked", body).await;
    }
    let mut consumer = ch
        .basic_consume(
            "nacked".into(),
            "c".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let mut last = None;
    for _ in 0..3 {
        last = Some(next_delivery(&mut consumer).await);
    }
    last.unwrap()
        .nack(BasicNackOptions {
            multiple: true,
            requeue: false,
        })
        .await
        .unwrap();
    wait_depth(&ch, "dead", 3).await;
    let dead = get(&ch, "dead").await.unwrap().delivery;
    // The dead-letter routing key replaces the key; x-death keeps the original one.
    assert_eq!(dead.routing_key.as_str(), "k");
    assert_death(
        &deaths(&dead.properties)[0],
        1,
        "rejected",
        "nacked",
        "",
        &["nacked"],
    );
    assert_eq!(
        drain_bodies(&ch, "dead").await,
        vec![b"b".to_vec(), b"c".to_vec()]
    );
}

#[tokio::test]
async fn requeued_rejections_are_not_dead_lettered() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    dead_letter_target(&ch, "rq").await;
    declare(&ch, "rq", table(&[("x-dead-letter-exchange", s("dlx"))]))
        .await
        .unwrap();
    publish(&ch, "rq", b"m").await;
    let m = ch
        .basic_get("rq".into(), BasicGetOptions { no_ack: false })
        .await
        .unwrap()
        .unwrap();
    m.delivery
        .reject(BasicRejectOptions { requeue: true })
        .await
        .unwrap();
    let again = get(&ch, "rq").await.unwrap().delivery;
    assert!(again.redelivered);
    assert_eq!(depth(&ch, "dead").await, 0);
}

#[tokio::test]
async fn expired_messages_are_dead_lettered_without_their_expiration() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    ch.exchange_declare(
        "src".into(),
        ExchangeKind::Direct,
        ExchangeDeclareOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    dead_letter_target(&ch, "rk").await;
    declare(
        &ch,
        "expiring",
        table(&[("x-dead-letter-exchange", s("dlx"))]),
    )
    .await
    .unwrap();
    ch.queue_bind(
        "expiring".into(),
        "src".into(),
        "rk".into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    let props = BasicProperties::default().with_expiration("40".into());
    publish_props(&ch, "src", "rk", b"late", props).await;
    wait_depth(&ch, "dead", 1).await;
    let dead = get(&ch, "dead").await.unwrap().delivery;
    assert_eq!(dead.data, b"late");
    assert_eq!(dead.properties.expiration(), &None, "expiration is removed");
    let d = deaths(&dead.properties);
    assert_death(&d[0], 1, "expired", "expiring", "src", &["rk"]);
    assert_eq!(
        death_text(&d[0], "original-expiration").as_deref(),
        Some("40")
    );
    assert_eq!(
        header_text(&dead.properties, "x-first-death-exchange").as_deref(),
        Some("src")
    );
}

#[tokio::test]
async fn drop_head_overflow_dead_letters_the_oldest() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    dead_letter_target(&ch, "bounded").await;
    declare(
        &ch,
        "bounded",
        table(&[
            ("x-max-length", int(2)),
            ("x-dead-letter-exchange", s("dlx")),
        ]),
    )
    .await
    .unwrap();
    for body in [b"1", b"2", b"3"] {
        publish(&ch, "bounded", body).await;
    }
    wait_depth(&ch, "dead", 1).await;
    let dead = get(&ch, "dead").await.unwrap().delivery;
    assert_eq!(dead.data, b"1");
    assert_death(
        &deaths(&dead.properties)[0],
        1,
        "maxlen",
        "bounded",
        "",
        &["bounded"],
    );
    assert_eq!(
        drain_bodies(&ch, "bounded").await,
        vec![b"2".to_vec(), b"3".to_vec()]
    );
}

#[tokio::test]
async fn dying_again_in_the_same_queue_for_the_same_reason_increments_the_count() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    // Rejections dead-letter straight back into the same queue (through the default
    // exchange): a cycle with a rejection in it is allowed.
    declare(
        &ch,
        "again",
        table(&[
            ("x-dead-letter-exchange", s("")),
            ("x-dead-letter-routing-key", s("again")),
        ]),
    )
    .await
    .unwrap();
    publish(&ch, "again", b"m").await;
    for round in 1..=3i64 {
        let m = ch
            .basic_get("again".into(), BasicGetOptions { no_ack: false })
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("round {round}: the message came back"));
        if round > 1 {
            let d = deaths(&m.delivery.properties);
            assert_eq!(d.len(), 1, "one entry per queue and reason");
            assert_death(&d[0], round - 1, "rejected", "again", "", &["again"]);
        }
        m.delivery
            .nack(BasicNackOptions {
                multiple: false,
                requeue: false,
            })
            .await
            .unwrap();
        wait_depth(&ch, "again", 1).await;
    }
}

#[tokio::test]
async fn a_dead_letter_cycle_without_rejection_drops_the_message() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    // `looping` expires into a fanout that leads back to `looping` and to `observer`.
    ch.exchange_declare(
        "loop-fan".into(),
        ExchangeKind::Fanout,
        ExchangeDeclareOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    declare(
        &ch,
        "looping",
        table(&[
            ("x-message-ttl", int(20)),
            ("x-dead-letter-exchange", s("loop-fan")),
        ]),
    )
    .await
    .unwrap();
    declare(&ch, "observer", FieldTable::default())
        .await
        .unwrap();
    for q in ["looping", "observer"] {
        ch.queue_bind(
            q.into(),
            "loop-fan".into(),
            "".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    }
    // `clock` measures a period of many TTLs without sleeping.
    declare(&ch, "clock", table(&[("x-message-ttl", int(300))]))
        .await
        .unwrap();
    publish(&ch, "looping", b"m").await;
    publish(&ch, "clock", b"tick").await;
    wait_depth(&ch, "clock", 0).await;
    // A loop would have put a copy in `observer` every 20 ms.
    assert_eq!(depth(&ch, "observer").await, 1);
    assert_eq!(depth(&ch, "looping").await, 0);
}

#[tokio::test]
async fn a_missing_dead_letter_exchange_drops_silently() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(
        &ch,
        "orphan",
        table(&[("x-dead-letter-exchange", s("no-such-exchange"))]),
    )
    .await
    .unwrap();
    publish(&ch, "orphan", b"m").await;
    let m = ch
        .basic_get("orphan".into(), BasicGetOptions { no_ack: false })
        .await
        .unwrap()
        .unwrap();
    m.delivery
        .reject(BasicRejectOptions { requeue: false })
        .await
        .unwrap();
    // The channel is still usable and the message is gone.
    assert_eq!(depth(&ch, "orphan").await, 0);
    assert!(ch.status().connected());
}

#[tokio::test]
async fn an_internal_exchange_can_be_the_dead_letter_exchange() {
    // Clients cannot publish to an internal exchange, but the broker dead-letters
    // through one (RabbitMQ 3.10.8, measured with pika).
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    let internal = ExchangeDeclareOptions {
        internal: true,
        ..ExchangeDeclareOptions::default()
    };
    ch.exchange_declare(
        "hidden-dlx".into(),
        ExchangeKind::Fanout,
        internal,
        FieldTable::default(),
    )
    .await
    .unwrap();
    declare(&ch, "hidden-dead", FieldTable::default())
        .await
        .unwrap();
    ch.queue_bind(
        "hidden-dead".into(),
        "hidden-dlx".into(),
        "".into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    declare(
        &ch,
        "to-hidden",
        table(&[("x-dead-letter-exchange", s("hidden-dlx"))]),
    )
    .await
    .unwrap();
    publish(&ch, "to-hidden", b"m").await;
    let m = ch
        .basic_get("to-hidden".into(), BasicGetOptions { no_ack: false })
        .await
        .unwrap()
        .unwrap();
    m.delivery
        .reject(BasicRejectOptions { requeue: false })
        .await
        .unwrap();
    wait_depth(&ch, "hidden-dead", 1).await;
    let dead = get(&ch, "hidden-dead").await.unwrap().delivery;
    assert_eq!(dead.exchange.as_str(), "hidden-dlx");
}
