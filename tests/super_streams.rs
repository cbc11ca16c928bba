//! Super streams and single-active-consumer groups through a real client: an
//! `x-super-stream` exchange creates its partition streams and routes each key to one of
//! them; a consumer group (`x-single-active-consumer` + `x-stream-consumer-name`) has
//! exactly one active member per partition, rebalances when members join and leave, keeps
//! each key's order and consumes every message once; a second group reads everything
//! independently. Hand-over semantics (docs/streams.md, "Super streams and consumer
//! groups"): a member that loses a partition to a newcomer is drained first (nothing is
//! delivered twice); a member that leaves with deliveries unacknowledged has exactly those
//! delivered again to its successor.

#[path = "streams/support.rs"]
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use futures_util::StreamExt;
use lapin::options::*;
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ExchangeKind};
use support::{consume, declare_stream, expected, nothing_more, offset_of, publish_range};
use tokio::sync::mpsc;
use warren_testkit::args::{boolean, int, s, table};
use warren_testkit::{assert_reply, TestBroker, WAIT};

async fn declare_super_stream(ch: &Channel, name: &str, partitions: i32) -> lapin::Result<()> {
    ch.exchange_declare(
        name.into(),
        ExchangeKind::Custom("x-super-stream".into()),
        ExchangeDeclareOptions {
            durable: true,
            ..Default::default()
        },
        table(&[("x-partitions", int(partitions))]),
    )
    .await
}

/// Publishes `k{key}:{seq}` with routing key `k{key}` for every seq in `seqs` and key
/// below `keys` (seq-major, so each key's messages are interleaved with the others').
async fn publish_keyed(ch: &Channel, exchange: &str, keys: u32, seqs: std::ops::Range<u32>) {
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    for seq in seqs {
        for key in 0..keys {
            ch.basic_publish(
                exchange.into(),
                format!("k{key}").as_str().into(),
                BasicPublishOptions::default(),
                format!("k{key}:{seq}").as_bytes(),
                BasicProperties::default(),
            )
            .await
            .unwrap();
        }
    }
    let returned = ch.wait_for_confirms().await.unwrap();
    assert!(returned.is_empty(), "unroutable: {}", returned.len());
}

fn split(body: &str) -> (String, u32) {
    let (key, seq) = body.split_once(':').unwrap();
    (key.to_owned(), seq.parse().unwrap())
}

#[tokio::test]
async fn a_super_stream_creates_its_partitions_and_keeps_each_key_in_one() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare_super_stream(&ch, "orders", 3).await.unwrap();
    let vhost = broker.broker().vhost("/").unwrap();
    for i in 0..3 {
        let q = vhost.find_queue(&format!("orders-{i}")).expect("partition");
        assert!(q.is_stream(), "orders-{i} is a stream");
        assert!(q.persistence().is_some(), "durable with its exchange");
    }
    assert!(vhost.find_queue("orders-3").is_none());
    let x = vhost.exchange("orders").unwrap();
    assert_eq!(x.config().type_name(), "x-super-stream");
    assert_eq!(x.bindings().len(), 3);
    // Redeclaring is idempotent.
    declare_super_stream(&ch, "orders", 3).await.unwrap();
    assert_eq!(x.bindings().len(), 3);

    publish_keyed(&ch, "orders", 30, 0..10).await;
    // Read every partition from the start: each key in one partition, in order.
    let mut home: BTreeMap<String, (usize, u32)> = BTreeMap::new();
    let mut total = 0;
    for i in 0..3usize {
        let (_c, ch) = broker.channel().await;
        let depth = vhost
            .find_queue(&format!("orders-{i}"))
            .unwrap()
            .message_count();
        let mut c = consume(
            &ch,
            &format!("orders-{i}"),
            "reader",
            50,
            &[("x-stream-offset", s("first"))],
        )
        .await;
        for (_, body) in support::take(&mut c, depth as usize).await {
            let (key, seq) = split(&body);
            let at = home.entry(key.clone()).or_insert((i, 0));
            assert_eq!(at.0, i, "{key} in partitions {} and {i}", at.0);
            assert_eq!(at.1, seq, "{key} out of order");
            at.1 += 1;
            total += 1;
        }
    }
    assert_eq!(total, 300);
    assert_eq!(home.len(), 30);
    let used: BTreeSet<usize> = home.values().map(|(p, _)| *p).collect();
    assert_eq!(used.len(), 3, "30 keys over 3 partitions");
}

#[tokio::test]
async fn super_stream_declare_errors() {
    let broker = TestBroker::start().await;
    let conn = broker.connect().await;
    let ch = conn.create_channel().await.unwrap();
    declare_super_stream(&ch, "s", 2).await.unwrap();
    assert_reply(
        declare_super_stream(&ch, "s", 3).await,
        406,
        "PRECONDITION_FAILED - inequivalent arg 'x-partitions' for exchange 's' in vhost '/': received '3' but current is '2'",
    );
    let ch = conn.create_channel().await.unwrap();
    assert_reply(
        ch.exchange_declare(
            "none".into(),
            ExchangeKind::Custom("x-super-stream".into()),
            ExchangeDeclareOptions::default(),
            FieldTable::default(),
        )
        .await,
        406,
        "PRECONDITION_FAILED - invalid arg 'x-partitions' for exchange 'none' in vhost '/': required for exchanges of type 'x-super-stream'",
    );
    let ch = conn.create_channel().await.unwrap();
    assert_reply(
        declare_super_stream(&ch, "zero", 0).await,
        406,
        "PRECONDITION_FAILED - invalid arg 'x-partitions' for exchange 'zero' in vhost '/': 0 is not between 1 and 1024",
    );
    let vhost = broker.broker().vhost("/").unwrap();
    assert!(vhost.exchange("none").is_err() && vhost.exchange("zero").is_err());
}

/// The partition count is bounded by `limits.max_super_stream_partitions`: one more is
/// refused before anything is created, with the limit in the text.
#[tokio::test]
async fn the_partition_count_is_bounded_by_the_configured_limit() {
    let broker = TestBroker::start_with(|c| c.limits.max_super_stream_partitions = 4).await;
    let conn = broker.connect().await;
    let ch = conn.create_channel().await.unwrap();
    declare_super_stream(&ch, "four", 4).await.unwrap();
    assert_reply(
        declare_super_stream(&ch, "five", 5).await,
        406,
        "PRECONDITION_FAILED - invalid arg 'x-partitions' for exchange 'five' in vhost '/': 5 is not between 1 and 4",
    );
    let vhost = broker.broker().vhost("/").unwrap();
    assert!(vhost.exchange("five").is_err());
    assert!(vhost.find_queue("five-0").is_none(), "no partition created");
    // The default limit, 1,024.
    let broker = TestBroker::start().await;
    let ch = broker.connect().await.create_channel().await.unwrap();
    assert_reply(
        declare_super_stream(&ch, "big", 1_025).await,
        406,
        "PRECONDITION_FAILED - invalid arg 'x-partitions' for exchange 'big' in vhost '/': 1025 is not between 1 and 1024",
    );
}

/// What a group member's consumer saw.
#[derive(Debug, Clone)]
struct Seen {
    member: &'static str,
    partition: usize,
    body: String,
}

/// A group member: one connection consuming every partition of a super stream, acking
/// each delivery right after reporting it.
struct Member {
    conn: Connection,
}

impl Member {
    async fn join(
        broker: &TestBroker,
        name: &'static str,
        group: &str,
        stream: &str,
        partitions: usize,
        tx: &mpsc::UnboundedSender<Seen>,
    ) -> Member {
        let conn = broker.connect().await;
        for partition in 0..partitions {
            let ch = conn.create_channel().await.unwrap();
            let mut c = consume(
                &ch,
                &format!("{stream}-{partition}"),
                name,
                10,
                &[
                    ("x-single-active-consumer", boolean(true)),
                    ("x-stream-consumer-name", s(group)),
                    ("x-stream-offset", s("first")),
                ],
            )
            .await;
            let tx = tx.clone();
            tokio::spawn(async move {
                while let Some(Ok(d)) = c.next().await {
                    let body = String::from_utf8_lossy(&d.data).into_owned();
                    let _ = tx.send(Seen {
                        member: name,
                        partition,
                        body,
                    });
                    if d.ack(BasicAckOptions::default()).await.is_err() {
                        return;
                    }
                }
            });
        }
        Member { conn }
    }

    async fn leave(self) {
        self.conn.close(200, "bye".into()).await.unwrap();
    }
}

/// Receives `n` records.
async fn collect(rx: &mut mpsc::UnboundedReceiver<Seen>, n: usize) -> Vec<Seen> {
    let mut out = Vec::new();
    while out.len() < n {
        match tokio::time::timeout(WAIT, rx.recv()).await {
            Ok(Some(seen)) => out.push(seen),
            _ => panic!("only {} of {n} deliveries arrived", out.len()),
        }
    }
    out
}

/// Which member received each partition's messages (each exactly one).
fn owners(seen: &[Seen]) -> BTreeMap<usize, &'static str> {
    let mut by: BTreeMap<usize, BTreeSet<&'static str>> = BTreeMap::new();
    for s in seen {
        by.entry(s.partition).or_default().insert(s.member);
    }
    by.into_iter()
        .map(|(p, members)| {
            assert_eq!(members.len(), 1, "partition {p} delivered to {members:?}");
            (p, *members.iter().next().unwrap())
        })
        .collect()
}

#[tokio::test]
async fn a_group_of_two_then_three_then_two_consumes_everything_once_in_key_order() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare_super_stream(&ch, "events", 3).await.unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();

    // Two members: partition i goes to member i mod 2 (arrival order).
    let a = Member::join(&broker, "a", "g1", "events", 3, &tx).await;
    let b = Member::join(&broker, "b", "g1", "events", 3, &tx).await;
    publish_keyed(&ch, "events", 30, 0..10).await;
    let phase1 = collect(&mut rx, 300).await;
    let o1 = owners(&phase1);
    // Only the partitions that got keys show up; with 30 keys all three do.
    assert_eq!(o1, BTreeMap::from([(0, "a"), (1, "b"), (2, "a")]));

    // A third member takes partition 2 (2 mod 3) over from a.
    let c = Member::join(&broker, "c", "g1", "events", 3, &tx).await;
    publish_keyed(&ch, "events", 30, 10..20).await;
    let phase2 = collect(&mut rx, 300).await;
    assert_eq!(
        owners(&phase2),
        BTreeMap::from([(0, "a"), (1, "b"), (2, "c")])
    );

    // c leaves (everything it got is acknowledged): partition 2 goes back to a.
    c.leave().await;
    publish_keyed(&ch, "events", 30, 20..30).await;
    let phase3 = collect(&mut rx, 300).await;
    assert_eq!(
        owners(&phase3),
        BTreeMap::from([(0, "a"), (1, "b"), (2, "a")])
    );

    // Nothing more: every message once, each key's messages in publish order.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(rx.try_recv().is_err(), "a message was delivered twice");
    let mut next: BTreeMap<String, u32> = BTreeMap::new();
    for s in phase1.iter().chain(&phase2).chain(&phase3) {
        let (key, seq) = split(&s.body);
        let expected = next.entry(key.clone()).or_insert(0);
        assert_eq!(seq, *expected, "{key}: got {seq}, expected {expected}");
        *expected += 1;
    }
    assert_eq!(next.len(), 30);
    assert!(next.values().all(|n| *n == 30));

    // A second group reads the whole super stream independently, in key order.
    let (tx2, mut rx2) = mpsc::unbounded_channel();
    let d = Member::join(&broker, "d", "g2", "events", 3, &tx2).await;
    let all = collect(&mut rx2, 900).await;
    assert_eq!(owners(&all).len(), 3);
    let mut next: BTreeMap<String, u32> = BTreeMap::new();
    for s in &all {
        let (key, seq) = split(&s.body);
        let expected = next.entry(key).or_insert(0);
        assert_eq!(seq, *expected);
        *expected += 1;
    }
    assert_eq!(next.values().sum::<u32>(), 900);
    for m in [a, b, d] {
        m.leave().await;
    }
}

/// One group member on one stream, whose deliveries the test acks by hand (the
/// connection is returned to keep it open).
async fn manual_member(
    broker: &TestBroker,
    stream: &str,
    tag: &str,
) -> (Connection, lapin::Consumer) {
    let (conn, ch) = broker.channel().await;
    let c = consume(
        &ch,
        stream,
        tag,
        5,
        &[
            ("x-single-active-consumer", boolean(true)),
            ("x-stream-consumer-name", s("g")),
            ("x-stream-offset", s("first")),
        ],
    )
    .await;
    (conn, c)
}

async fn next_delivery(c: &mut lapin::Consumer) -> lapin::message::Delivery {
    tokio::time::timeout(WAIT, c.next())
        .await
        .expect("a delivery in time")
        .expect("consumer open")
        .expect("a delivery")
}

#[tokio::test]
async fn a_member_that_loses_its_partition_is_drained_before_the_newcomer_starts() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare_super_stream(&ch, "s", 2).await.unwrap();
    // Partition 1, written directly: its group's member 1 mod n is active.
    publish_range(&ch, "s-1", 0, 10).await;
    let (_conn_a, mut a) = manual_member(&broker, "s-1", "a").await;
    let mut held = Vec::new();
    for _ in 0..5 {
        held.push(next_delivery(&mut a).await); // prefetch 5: offsets 0..4, unacked
    }
    assert_eq!(
        held.iter().map(offset_of).collect::<Vec<_>>(),
        vec![0, 1, 2, 3, 4]
    );
    // b joins: partition 1 is b's (1 mod 2), but a still holds 5 unacknowledged.
    let (_conn_b, mut b) = manual_member(&broker, "s-1", "b").await;
    nothing_more(&mut b).await;
    // a acknowledges; it gets nothing more, b starts right after a's last delivery.
    for d in held {
        d.ack(BasicAckOptions::default()).await.unwrap();
    }
    let mut b_got = Vec::new();
    for _ in 0..5 {
        let d = next_delivery(&mut b).await;
        b_got.push((offset_of(&d), String::from_utf8_lossy(&d.data).into_owned()));
        d.ack(BasicAckOptions::default()).await.unwrap();
    }
    assert_eq!(b_got, expected(5..10));
    nothing_more(&mut a).await;
    nothing_more(&mut b).await;
}

#[tokio::test]
async fn a_member_that_leaves_with_unacked_deliveries_has_exactly_those_redelivered() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare_stream(&ch, "plain", &[]).await;
    publish_range(&ch, "plain", 0, 10).await;
    // A plain stream is partition 0: the first member to arrive is active.
    let (xconn, xch) = broker.channel().await;
    let mut x = consume(
        &xch,
        "plain",
        "x",
        5,
        &[
            ("x-single-active-consumer", boolean(true)),
            ("x-stream-consumer-name", s("g")),
            ("x-stream-offset", s("first")),
        ],
    )
    .await;
    let (_conn_y, mut y) = manual_member(&broker, "plain", "y").await;
    let mut got = Vec::new();
    for _ in 0..5 {
        got.push(next_delivery(&mut x).await);
    }
    nothing_more(&mut y).await;
    // x acknowledges offsets 0 and 1 only, then its connection goes away.
    got[1]
        .ack(BasicAckOptions { multiple: true })
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    xconn.close(200, "gone".into()).await.unwrap();
    // y resumes after the group's last acknowledged offset: 2, 3, 4 (x's unacknowledged
    // deliveries) again, then the rest.
    let mut offsets = Vec::new();
    for _ in 0..8 {
        let d = next_delivery(&mut y).await;
        offsets.push(offset_of(&d));
        d.ack(BasicAckOptions::default()).await.unwrap();
    }
    assert_eq!(offsets, (2..10).collect::<Vec<u64>>());
    nothing_more(&mut y).await;
    let tracked = broker
        .broker()
        .vhost("/")
        .unwrap()
        .find_queue("plain")
        .unwrap()
        .stream()
        .unwrap()
        .tracked_offset("g");
    assert_eq!(tracked, Some(9));
}

#[tokio::test]
async fn declaring_a_super_stream_needs_the_permissions_of_its_partitions() {
    use warren_broker::access::User;
    use warren_broker::definitions::PermissionDef;
    let broker = TestBroker::start().await;
    let b = broker.broker();
    b.put_user(User::with_password("bob", "bob-pw", vec![]))
        .unwrap()
        .committed()
        .await
        .unwrap();
    // bob may configure the exchange "ss" but not the queues "ss-0", "ss-1".
    b.set_permissions(&PermissionDef {
        user: "bob".into(),
        vhost: "/".into(),
        configure: "^ss$".into(),
        write: ".*".into(),
        read: ".*".into(),
    })
    .unwrap()
    .committed()
    .await
    .unwrap();
    let conn = broker.connect_as("bob", "bob-pw", "/").await.unwrap();
    let ch = conn.create_channel().await.unwrap();
    assert_reply(
        declare_super_stream(&ch, "ss", 2).await,
        403,
        "ACCESS_REFUSED - access to queue 'ss-0' in vhost '/' refused for user 'bob'",
    );
    let vhost = b.vhost("/").unwrap();
    assert!(vhost.exchange("ss").is_err() && vhost.find_queue("ss-0").is_none());
}

/// Partition streams, their bindings and a group's tracked position survive a restart
/// (streams and their offsets are on disk); a super stream stored before the partition
/// limit was lowered comes back whole and can still be redeclared, while a new one over
/// the limit is refused.
#[tokio::test]
async fn partitions_bindings_and_a_groups_position_survive_a_restart() {
    let mut broker = TestBroker::start().await;
    {
        let (_conn, ch) = broker.channel().await;
        declare_super_stream(&ch, "kept", 2).await.unwrap();
        publish_keyed(&ch, "kept", 20, 0..5).await;
        let (tx, mut rx) = mpsc::unbounded_channel();
        let m = Member::join(&broker, "a", "g", "kept", 2, &tx).await;
        collect(&mut rx, 100).await;
        // The acks are tracked before the server stops.
        tokio::time::sleep(Duration::from_millis(200)).await;
        m.leave().await;
    }
    broker.config_mut().limits.max_super_stream_partitions = 1;
    broker.restart().await;
    let vhost = broker.broker().vhost("/").unwrap();
    let x = vhost.exchange("kept").expect("exchange recovered");
    assert_eq!(x.config().type_name(), "x-super-stream");
    assert_eq!(x.bindings().len(), 2);
    for i in 0..2 {
        let q = vhost.find_queue(&format!("kept-{i}")).unwrap();
        assert!(q.is_stream(), "kept-{i} is still a stream");
    }
    let (_conn, ch) = broker.channel().await;
    declare_super_stream(&ch, "kept", 2).await.unwrap();
    assert_reply(
        declare_super_stream(&ch, "new", 2).await,
        406,
        "PRECONDITION_FAILED - invalid arg 'x-partitions' for exchange 'new' in vhost '/': 2 is not between 1 and 1",
    );
    let (_conn, ch) = broker.channel().await;
    publish_keyed(&ch, "kept", 20, 5..10).await;
    // The group resumes after what it acknowledged: only the new 100, in key order.
    let (tx, mut rx) = mpsc::unbounded_channel();
    let m = Member::join(&broker, "b", "g", "kept", 2, &tx).await;
    let seen = collect(&mut rx, 100).await;
    let mut next: BTreeMap<String, u32> = BTreeMap::new();
    for s in &seen {
        let (key, seq) = split(&s.body);
        let expected = next.entry(key).or_insert(5);
        assert_eq!(seq, *expected);
        *expected += 1;
    }
    assert_eq!(next.len(), 20);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        rx.try_recv().is_err(),
        "nothing from before the restart again"
    );
    m.leave().await;
}
