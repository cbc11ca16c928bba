//! tx.select / commit / rollback end to end, checked against RabbitMQ 3.10.8
//! (docs/rabbitmq-reference.md §4).

use std::time::Duration;

use lapin::options::*;
use lapin::types::FieldTable;
use lapin::{BasicProperties, ExchangeKind};
use warren_protocol::method::{basic, tx};
use warren_protocol::BasicProperties as RawProperties;
use warren_testkit::basic::*;
use warren_testkit::raw::{names, RawClient};
use warren_testkit::*;

#[tokio::test]
async fn publishes_wait_for_commit_and_vanish_on_rollback() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(&ch, "q").await;
    ch.tx_select().await.unwrap();
    ch.tx_select().await.expect("tx.select twice is fine");
    publish(&ch, "q", b"a").await;
    publish(&ch, "q", b"b").await;
    assert_eq!(depth(&ch, "q").await, 0, "nothing before commit");
    ch.tx_commit().await.unwrap();
    assert_eq!(depth(&ch, "q").await, 2);
    publish(&ch, "q", b"c").await;
    ch.tx_rollback().await.unwrap();
    assert_eq!(depth(&ch, "q").await, 2);
    // A commit with nothing pending is fine, and the rolled-back message stays gone.
    ch.tx_commit().await.unwrap();
    assert_eq!(
        drain(&ch, "q").await,
        [("a".into(), false), ("b".into(), false)]
    );
}

#[tokio::test]
async fn acks_wait_for_commit_and_rollback_leaves_them_unacked() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(&ch, "q").await;
    publish_numbered(&ch, "q", 3).await;
    ch.tx_select().await.unwrap();
    for _ in 0..3 {
        get(&ch, "q", false).await;
    }
    let q = server_queue(&broker, "q");
    ch.basic_ack(1, BasicAckOptions::default()).await.unwrap();
    ch.basic_reject(2, BasicRejectOptions { requeue: true })
        .await
        .unwrap();
    // Still all unacked until the commit (a round trip to be sure they were handled).
    assert_eq!(depth(&ch, "q").await, 0);
    assert_eq!(q.unacked_count(), 3);
    ch.tx_commit().await.unwrap();
    assert_eq!(q.unacked_count(), 1);
    assert_eq!(q.message_count(), 1, "the rejected message is back");
    // Rolled back: tag 3 stays unacknowledged and can be settled again.
    ch.basic_ack(3, BasicAckOptions::default()).await.unwrap();
    ch.tx_rollback().await.unwrap();
    assert_eq!(q.unacked_count(), 1);
    ch.basic_nack(
        3,
        BasicNackOptions {
            multiple: false,
            requeue: true,
        },
    )
    .await
    .unwrap();
    ch.tx_commit().await.unwrap();
    assert_eq!(q.unacked_count(), 0);
    assert_eq!(
        drain(&ch, "q").await,
        [("m1".into(), true), ("m2".into(), true)]
    );
}

#[tokio::test]
async fn an_unknown_tag_fails_at_once_in_a_transaction() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    let mut watch = watch(&ch).await;
    ch.tx_select().await.unwrap();
    ch.basic_ack(4, BasicAckOptions::default()).await.unwrap();
    assert_closed_with(
        &mut watch,
        406,
        "PRECONDITION_FAILED - unknown delivery tag 4",
    )
    .await;
}

#[tokio::test]
async fn closing_the_channel_discards_pending_work() {
    let broker = TestBroker::start().await;
    let (conn, ch) = broker.channel().await;
    declare(&ch, "q").await;
    publish_numbered(&ch, "q", 1).await;
    let work = conn.create_channel().await.unwrap();
    work.tx_select().await.unwrap();
    get(&work, "q", false).await;
    work.basic_ack(1, BasicAckOptions::default()).await.unwrap();
    publish(&work, "q", b"uncommitted").await;
    work.close(200, "bye".into()).await.unwrap();
    // The ack was never committed: the message comes back; the publish never happened.
    assert_eq!(drain(&ch, "q").await, [("m0".into(), true)]);
}

#[tokio::test]
async fn messages_are_routed_when_published_not_when_committed() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    ch.exchange_declare(
        "fan".into(),
        ExchangeKind::Fanout,
        ExchangeDeclareOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    declare(&ch, "q").await;
    ch.tx_select().await.unwrap();
    let to_fan = async |body: &[u8]| {
        ch.basic_publish(
            "fan".into(),
            "".into(),
            BasicPublishOptions::default(),
            body,
            BasicProperties::default(),
        )
        .await
        .unwrap();
    };
    to_fan(b"before bind").await;
    ch.queue_bind(
        "q".into(),
        "fan".into(),
        "".into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    to_fan(b"after bind").await;
    ch.tx_commit().await.unwrap();
    // Measured on RabbitMQ 3.10.8: only the message published after the bind arrives.
    assert_eq!(drain(&ch, "q").await, [("after bind".into(), false)]);
}

#[tokio::test]
async fn a_mandatory_return_comes_at_commit_before_commit_ok() {
    let broker = TestBroker::start().await;
    let mut c = RawClient::connect(broker.addr, true).await;
    c.open_channel(1).await;
    c.send_method(1, tx::Select {}).await;
    c.expect_method(1, "tx.select-ok").await;
    let publish = basic::Publish {
        exchange: "amq.direct".into(),
        routing_key: "nowhere".into(),
        mandatory: true,
        ..Default::default()
    };
    c.publish(1, publish, &RawProperties::default(), b"x").await;
    assert_eq!(c.frames_until_quiet(Duration::from_millis(200)).await, []);
    c.send_method(1, tx::Commit {}).await;
    let events = c.frames_until_quiet(Duration::from_millis(300)).await;
    assert_eq!(
        names(&events),
        ["1:basic.return", "1:header", "1:body", "1:tx.commit-ok"]
    );
}

#[tokio::test]
async fn a_queue_deleted_before_commit_makes_a_mandatory_message_return() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    let (_c2, other) = broker.channel().await;
    declare(&ch, "q").await;
    ch.tx_select().await.unwrap();
    ch.basic_publish(
        "".into(),
        "q".into(),
        BasicPublishOptions {
            mandatory: true,
            ..Default::default()
        },
        b"x",
        BasicProperties::default(),
    )
    .await
    .unwrap();
    other
        .queue_delete("q".into(), QueueDeleteOptions::default())
        .await
        .unwrap();
    ch.tx_commit().await.unwrap();
    let returned = ch.wait_for_confirms().await.unwrap();
    let codes: Vec<u16> = returned.iter().map(|r| r.reply_code).collect();
    assert_eq!(codes, [312]);
}

#[tokio::test]
async fn commit_or_rollback_without_select_is_406() {
    let broker = TestBroker::start().await;
    let (conn, ch) = broker.channel().await;
    assert_reply(
        ch.tx_commit().await,
        406,
        "PRECONDITION_FAILED - channel is not transactional",
    );
    let ch = conn.create_channel().await.unwrap();
    assert_reply(
        ch.tx_rollback().await,
        406,
        "PRECONDITION_FAILED - channel is not transactional",
    );
}

#[tokio::test]
async fn tx_and_confirm_modes_exclude_each_other() {
    let broker = TestBroker::start().await;
    let (conn, ch) = broker.channel().await;
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    assert_reply(
        ch.tx_select().await,
        406,
        "PRECONDITION_FAILED - cannot switch from confirm to tx mode",
    );
    let ch = conn.create_channel().await.unwrap();
    ch.tx_select().await.unwrap();
    assert_reply(
        ch.confirm_select(ConfirmSelectOptions::default()).await,
        406,
        "PRECONDITION_FAILED - cannot switch from tx to confirm mode",
    );
    assert!(conn.status().connected());
}
