//! Backlogs bigger than memory: a durable queue keeps only `limits.paging.keep_in_memory`
//! ready messages in memory and leaves further persistent ones on disk, reading them
//! back a page at a time. These tests use a tiny budget (8 in memory, pages of 3) so a
//! few dozen messages cross many page boundaries, and check that order, redelivery,
//! requeue, purge, TTL, dead-lettering and restarts behave as if everything were in
//! memory.

use std::time::Duration;

use lapin::options::{
    BasicAckOptions, BasicGetOptions, BasicNackOptions, BasicPublishOptions, ConfirmSelectOptions,
    QueueDeclareOptions, QueuePurgeOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::{BasicProperties, Channel, Confirmation, Connection};
use warren_broker::queue::Paging;
use warren_testkit::{depth, drain, TestBroker};

async fn start() -> TestBroker {
    TestBroker::start_with(|c| {
        c.limits.paging = Paging {
            keep_in_memory: 8,
            page_size: 3,
            ..warren_broker::Limits::default().paging
        }
    })
    .await
}

async fn confirming(broker: &TestBroker) -> (Connection, Channel) {
    let (conn, ch) = broker.channel().await;
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    (conn, ch)
}

async fn declare(ch: &Channel, name: &str, arguments: FieldTable) {
    ch.queue_declare(
        name.into(),
        QueueDeclareOptions {
            durable: true,
            ..Default::default()
        },
        arguments,
    )
    .await
    .expect("durable declare");
}

async fn publish(ch: &Channel, queue: &str, body: &str, persistent: bool) {
    let props = if persistent {
        BasicProperties::default().with_delivery_mode(2)
    } else {
        BasicProperties::default()
    };
    let confirm = ch
        .basic_publish(
            "".into(),
            queue.into(),
            BasicPublishOptions::default(),
            body.as_bytes(),
            props,
        )
        .await
        .expect("publish")
        .await
        .expect("confirm");
    assert_eq!(confirm, Confirmation::Ack(None));
}

fn paged(broker: &TestBroker, queue: &str) -> usize {
    let vhost = broker.broker().vhost("/").expect("default vhost");
    vhost.queue(queue, 0).expect("queue").paged_count()
}

fn names(prefix: &str, range: std::ops::Range<usize>) -> Vec<(String, bool)> {
    range.map(|i| (format!("{prefix}{i}"), false)).collect()
}

#[tokio::test]
async fn a_backlog_beyond_the_budget_stays_on_disk_and_is_delivered_in_order() {
    let broker = start().await;
    let (_conn, ch) = confirming(&broker).await;
    declare(&ch, "big", FieldTable::default()).await;
    let mut expected = Vec::new();
    for i in 0..40 {
        // Every 7th message is transient: it cannot be paged, so it splits the runs.
        let persistent = i % 7 != 3;
        publish(&ch, "big", &format!("m{i}"), persistent).await;
        expected.push((format!("m{i}"), false));
    }
    let on_disk = paged(&broker, "big");
    assert!(
        on_disk >= 25,
        "most of the backlog should be on disk only, {on_disk} are"
    );
    assert_eq!(depth(&ch, "big").await, 40);

    // Take 12 (crossing the budget and a page), ack all but m5, requeue m5: it comes
    // back first, redelivered, before the rest in order.
    let mut held = None;
    for i in 0..12 {
        let m = ch
            .basic_get("big".into(), BasicGetOptions::default())
            .await
            .unwrap()
            .expect("a message");
        assert_eq!(String::from_utf8_lossy(&m.data), format!("m{i}"));
        if i == 5 {
            held = Some(m.delivery_tag);
        } else {
            ch.basic_ack(m.delivery_tag, BasicAckOptions::default())
                .await
                .unwrap();
        }
    }
    ch.basic_nack(
        held.unwrap(),
        BasicNackOptions {
            requeue: true,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let mut rest = vec![("m5".to_owned(), true)];
    rest.extend(expected[12..].iter().cloned());
    assert_eq!(drain(&ch, "big").await, rest);
    assert_eq!(paged(&broker, "big"), 0);
    broker.stop().await;
}

#[tokio::test]
async fn a_paged_backlog_comes_back_after_a_restart_without_loading_it() {
    let mut broker = start().await;
    {
        let (_conn, ch) = confirming(&broker).await;
        declare(&ch, "big", FieldTable::default()).await;
        for i in 0..30 {
            publish(&ch, "big", &format!("m{i}"), true).await;
        }
        // m0 and m1 delivered, not acked: they come back redelivered.
        for _ in 0..2 {
            ch.basic_get("big".into(), BasicGetOptions::default())
                .await
                .unwrap()
                .expect("a message");
        }
        depth(&ch, "big").await;
    }
    broker.restart().await;
    // Recovery reads one page; the rest stays on disk.
    assert_eq!(paged(&broker, "big"), 27);
    let (_conn, ch) = broker.channel().await;
    assert_eq!(depth(&ch, "big").await, 30);
    let mut expected = vec![("m0".to_owned(), true), ("m1".to_owned(), true)];
    expected.extend(names("m", 2..30));
    assert_eq!(drain(&ch, "big").await, expected);
    drop((_conn, ch));
    broker.restart().await;
    let (_conn, ch) = broker.channel().await;
    assert_eq!(depth(&ch, "big").await, 0);
    drop((_conn, ch));
    broker.stop().await;
}

#[tokio::test]
async fn purging_a_paged_queue_removes_what_was_on_disk() {
    let mut broker = start().await;
    {
        let (_conn, ch) = confirming(&broker).await;
        declare(&ch, "big", FieldTable::default()).await;
        for i in 0..40 {
            publish(&ch, "big", &format!("m{i}"), true).await;
        }
        let purged = ch
            .queue_purge("big".into(), QueuePurgeOptions::default())
            .await
            .unwrap();
        assert_eq!(purged, 40);
        assert_eq!(depth(&ch, "big").await, 0);
        publish(&ch, "big", "after", true).await;
    }
    broker.restart().await;
    let (_conn, ch) = broker.channel().await;
    assert_eq!(drain(&ch, "big").await, vec![("after".to_owned(), false)]);
    drop((_conn, ch));
    broker.stop().await;
}

#[tokio::test]
async fn paged_messages_expire_and_dead_letter_in_order() {
    let broker = start().await;
    let (_conn, ch) = confirming(&broker).await;
    declare(&ch, "dlq", FieldTable::default()).await;
    let mut arguments = FieldTable::default();
    arguments.insert("x-message-ttl".into(), AMQPValue::LongInt(200));
    arguments.insert(
        "x-dead-letter-exchange".into(),
        AMQPValue::LongString(LongString::from("")),
    );
    arguments.insert(
        "x-dead-letter-routing-key".into(),
        AMQPValue::LongString(LongString::from("dlq")),
    );
    declare(&ch, "short", arguments).await;
    for i in 0..30 {
        publish(&ch, "short", &format!("m{i}"), true).await;
    }
    assert!(paged(&broker, "short") > 0);
    let moved = warren_testkit::eventually(Duration::from_secs(10), || {
        std::future::ready(paged(&broker, "short") == 0)
    })
    .await;
    assert!(moved, "the paged messages should expire");
    let ch_ref = &ch;
    let all_there = warren_testkit::eventually(Duration::from_secs(5), || async move {
        depth(ch_ref, "dlq").await == 30
    })
    .await;
    assert!(all_there, "every expired message is dead-lettered");
    assert_eq!(depth(&ch, "short").await, 0);
    let got = drain(&ch, "dlq").await;
    assert_eq!(got, names("m", 0..30));
    broker.stop().await;
}
