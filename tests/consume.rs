//! basic.consume / cancel / qos and dispatch, end to end with lapin, checked against
//! RabbitMQ 3.10.8 (docs/rabbitmq-reference.md §4).

use std::time::Duration;

use futures_util::StreamExt;
use lapin::options::*;
use lapin::types::{AMQPValue, FieldTable};
use warren_protocol::method::{basic, queue};
use warren_protocol::{Frame, Method};
use warren_testkit::basic::*;
use warren_testkit::raw::{names, Event, RawClient};
use warren_testkit::*;

fn body(d: &lapin::message::Delivery) -> String {
    String::from_utf8_lossy(&d.data).into_owned()
}

#[tokio::test]
async fn empty_consumer_tag_gets_a_server_generated_amq_ctag() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(&ch, "q").await;
    let consumer = consume(&ch, "q", "").await;
    let tag = consumer.tag();
    assert!(tag.as_str().starts_with("amq.ctag-"), "{tag}");
    assert_eq!(tag.as_str().len(), "amq.ctag-".len() + 22, "{tag}");
    let other = consume(&ch, "q", "").await;
    assert_ne!(other.tag(), tag);
}

#[tokio::test]
async fn reused_consumer_tag_on_a_channel_is_a_530_connection_error() {
    let broker = TestBroker::start().await;
    let (conn, ch) = broker.channel().await;
    declare(&ch, "q").await;
    // lapin cancels a consumer whose handle is dropped: keep it.
    let _first = consume(&ch, "q", "dup").await;
    let again = ch
        .basic_consume(
            "q".into(),
            "dup".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await;
    assert_reply(
        again,
        530,
        "NOT_ALLOWED - attempt to reuse consumer tag 'dup'",
    );
    assert!(
        warren_testkit::eventually(WAIT, || std::future::ready(!conn.status().connected())).await
    );
}

#[tokio::test]
async fn consumer_tags_are_per_channel() {
    let broker = TestBroker::start().await;
    let mut c = RawClient::connect(broker.addr, true).await;
    c.open_channel(1).await;
    c.open_channel(2).await;
    c.send_method(
        1,
        queue::Declare {
            queue: "q".into(),
            ..Default::default()
        },
    )
    .await;
    c.expect_method(1, "queue.declare-ok").await;
    let consume = basic::Consume {
        queue: "q".into(),
        consumer_tag: "dup".into(),
        ..Default::default()
    };
    c.send_method(1, consume.clone()).await;
    c.expect_method(1, "basic.consume-ok").await;
    c.send_method(2, consume.clone()).await;
    c.expect_method(2, "basic.consume-ok").await;
    c.send_method(1, consume).await;
    let Method::ConnectionClose(close) = c.expect_method(0, "connection.close").await else {
        unreachable!("expect checks the name")
    };
    assert_eq!(
        (close.reply_code, close.reply_text.as_str()),
        (530, "NOT_ALLOWED - attempt to reuse consumer tag 'dup'")
    );
    assert_eq!((close.class_id, close.method_id), (60, 20));
}

#[tokio::test]
async fn reused_tag_is_checked_before_the_queue() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(&ch, "q").await;
    // lapin cancels a consumer whose handle is dropped: keep it.
    let _first = consume(&ch, "q", "dup").await;
    let again = ch
        .basic_consume(
            "no-such-queue".into(),
            "dup".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await;
    assert_reply(
        again,
        530,
        "NOT_ALLOWED - attempt to reuse consumer tag 'dup'",
    );
}

#[tokio::test]
async fn consume_on_a_missing_queue_is_404() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    let r = ch
        .basic_consume(
            "no-such-queue".into(),
            "".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await;
    assert_reply(r, 404, "NOT_FOUND - no queue 'no-such-queue' in vhost '/'");
}

#[tokio::test]
async fn exclusive_consumer_and_other_consumers_exclude_each_other() {
    let broker = TestBroker::start().await;
    let (conn, ch) = broker.channel().await;
    declare(&ch, "q").await;
    // lapin cancels a consumer whose handle is dropped: keep them all.
    let _plain = consume(&ch, "q", "plain").await;

    // Exclusive while another consumer exists (from another channel): 403.
    let ch2 = conn.create_channel().await.unwrap();
    let excl = BasicConsumeOptions {
        exclusive: true,
        ..Default::default()
    };
    let r = ch2
        .basic_consume("q".into(), "x".into(), excl, FieldTable::default())
        .await;
    assert_reply(
        r,
        403,
        "ACCESS_REFUSED - queue 'q' in vhost '/' in exclusive use",
    );
    // The refused channel is closed; the first channel goes on.
    assert!(ch.status().connected());

    // And the other way round: a consumer while an exclusive one exists.
    declare(&ch, "q2").await;
    let ch3 = conn.create_channel().await.unwrap();
    let _x = ch3
        .basic_consume("q2".into(), "x".into(), excl, FieldTable::default())
        .await
        .unwrap();
    let ch4 = conn.create_channel().await.unwrap();
    let r = ch4
        .basic_consume(
            "q2".into(),
            "y".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await;
    assert_reply(
        r,
        403,
        "ACCESS_REFUSED - queue 'q2' in vhost '/' in exclusive use",
    );
    let ch5 = conn.create_channel().await.unwrap();
    let r = ch5
        .basic_consume("q2".into(), "z".into(), excl, FieldTable::default())
        .await;
    assert_reply(
        r,
        403,
        "ACCESS_REFUSED - queue 'q2' in vhost '/' in exclusive use",
    );
}

#[tokio::test]
async fn basic_get_is_allowed_beside_an_exclusive_consumer() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(&ch, "q").await;
    ch.basic_qos(1, BasicQosOptions::default()).await.unwrap();
    let _excl = ch
        .basic_consume(
            "q".into(),
            "x".into(),
            BasicConsumeOptions {
                exclusive: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    publish_numbered(&ch, "q", 2).await;
    // The exclusive consumer holds m0 (prefetch 1); a get from another connection
    // takes m1.
    assert!(
        wait_queue(&broker, "q", |q| q.unacked_count() == 1
            && q.message_count() == 1)
        .await
    );
    let (_c2, other) = broker.channel().await;
    assert_eq!(get(&other, "q", true).await.0, "m1");
}

#[tokio::test]
async fn consumer_argument_types_are_checked() {
    let broker = TestBroker::start().await;
    let (conn, ch) = broker.channel().await;
    declare(&ch, "q").await;
    let mut args = FieldTable::default();
    args.insert("x-priority".into(), AMQPValue::LongString("high".into()));
    let r = ch
        .basic_consume("q".into(), "".into(), BasicConsumeOptions::default(), args)
        .await;
    assert_reply(
        r,
        406,
        "PRECONDITION_FAILED - invalid arg 'x-priority' for queue 'q' in vhost '/': \"expected integer, got longstr\"",
    );
    let ch = conn.create_channel().await.unwrap();
    let mut args = FieldTable::default();
    args.insert("x-priority".into(), AMQPValue::LongInt(5));
    ch.basic_consume("q".into(), "".into(), BasicConsumeOptions::default(), args)
        .await
        .expect("integer priority accepted");
}

#[tokio::test]
async fn no_ack_consumer_leaves_nothing_to_acknowledge() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(&ch, "q").await;
    publish_numbered(&ch, "q", 3).await;
    let mut watch = watch(&ch).await;
    let mut consumer = ch
        .basic_consume(
            "q".into(),
            "c".into(),
            BasicConsumeOptions {
                no_ack: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    let mut got = Vec::new();
    let mut last_tag = 0;
    for _ in 0..3 {
        let d = next_delivery(&mut consumer).await;
        last_tag = d.delivery_tag;
        got.push(body(&d));
    }
    assert_eq!(got, ["m0", "m1", "m2"]);
    assert!(
        wait_queue(&broker, "q", |q| q.unacked_count() == 0
            && q.message_count() == 0)
        .await
    );
    ch.basic_ack(last_tag, BasicAckOptions::default())
        .await
        .unwrap();
    let text = format!("PRECONDITION_FAILED - unknown delivery tag {last_tag}");
    assert_closed_with(&mut watch, 406, &text).await;
}

#[tokio::test]
async fn cancel_stops_deliveries_and_unknown_tags_cancel_fine() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(&ch, "q").await;
    publish_numbered(&ch, "q", 2).await;
    let mut consumer = consume(&ch, "q", "c").await;
    let d0 = next_delivery(&mut consumer).await;
    let d1 = next_delivery(&mut consumer).await;
    ch.basic_cancel("c".into(), BasicCancelOptions::default())
        .await
        .unwrap();
    // The stream ends, and new messages stay in the queue.
    let end = tokio::time::timeout(WAIT, consumer.next()).await.unwrap();
    assert!(end.is_none(), "{end:?}");
    publish(&ch, "q", b"after").await;
    assert!(wait_queue(&broker, "q", |q| q.message_count() == 1).await);
    assert_eq!(server_queue(&broker, "q").consumer_count(), 0);
    // Deliveries made before the cancel stay unacknowledged on the channel and can
    // still be acked.
    assert_eq!(server_queue(&broker, "q").unacked_count(), 2);
    d0.ack(BasicAckOptions::default()).await.unwrap();
    d1.ack(BasicAckOptions::default()).await.unwrap();
    assert!(wait_queue(&broker, "q", |q| q.unacked_count() == 0).await);
    // Cancelling a tag that does not exist is answered with cancel-ok, not an error.
    ch.basic_cancel("nope".into(), BasicCancelOptions::default())
        .await
        .expect("cancel-ok for an unknown tag");
    assert!(ch.status().connected());
}

#[tokio::test]
async fn deleting_the_queue_cancels_its_consumers() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(&ch, "q").await;
    // lapin announces consumer_cancel_notify, so the server sends basic.cancel and the
    // consumer's stream ends.
    let mut consumer = consume(&ch, "q", "c").await;
    let (_c2, other) = broker.channel().await;
    other
        .queue_delete("q".into(), QueueDeleteOptions::default())
        .await
        .unwrap();
    let end = tokio::time::timeout(WAIT, consumer.next()).await.unwrap();
    assert!(end.is_none(), "{end:?}");
    // The channel itself is unaffected.
    declare(&ch, "q").await;
    let _again = consume(&ch, "q", "c").await;
}

#[tokio::test]
async fn server_cancel_is_sent_only_to_clients_that_announce_it() {
    let broker = TestBroker::start().await;
    for notify in [true, false] {
        let mut c = RawClient::connect(broker.addr, notify).await;
        c.open_channel(1).await;
        let q = format!("q-{notify}");
        c.send_method(
            1,
            queue::Declare {
                queue: q.clone(),
                ..Default::default()
            },
        )
        .await;
        c.expect_method(1, "queue.declare-ok").await;
        c.send_method(
            1,
            basic::Consume {
                queue: q.clone(),
                consumer_tag: "ct".into(),
                ..Default::default()
            },
        )
        .await;
        c.expect_method(1, "basic.consume-ok").await;
        // Deleted by the consumer's own channel: delete-ok comes first.
        c.send_method(
            1,
            queue::Delete {
                queue: q.clone(),
                ..Default::default()
            },
        )
        .await;
        c.expect_method(1, "queue.delete-ok").await;
        let events = c.frames_until_quiet(Duration::from_millis(300)).await;
        if notify {
            assert_eq!(
                events,
                [Event::Frame(Frame::Method {
                    channel: 1,
                    method: basic::Cancel {
                        consumer_tag: "ct".into(),
                        no_wait: true
                    }
                    .into()
                })]
            );
        } else {
            assert_eq!(names(&events), Vec::<String>::new());
        }
    }
}

#[tokio::test]
async fn per_consumer_prefetch_bounds_unacked_deliveries() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(&ch, "q").await;
    publish_numbered(&ch, "q", 10).await;
    ch.basic_qos(2, BasicQosOptions { global: false })
        .await
        .unwrap();
    let mut consumer = consume(&ch, "q", "c").await;
    let d0 = next_delivery(&mut consumer).await;
    let d1 = next_delivery(&mut consumer).await;
    assert_eq!((body(&d0), body(&d1)), ("m0".into(), "m1".into()));
    // The queue holds the other 8: the consumer has exactly its 2.
    assert!(
        wait_queue(&broker, "q", |q| q.message_count() == 8
            && q.unacked_count() == 2)
        .await
    );
    d0.ack(BasicAckOptions::default()).await.unwrap();
    let d2 = next_delivery(&mut consumer).await;
    assert_eq!(body(&d2), "m2");
    assert!(
        wait_queue(&broker, "q", |q| q.message_count() == 7
            && q.unacked_count() == 2)
        .await
    );
    // A multiple ack frees two slots at once.
    ch.basic_ack(d2.delivery_tag, BasicAckOptions { multiple: true })
        .await
        .unwrap();
    let got = [
        body(&next_delivery(&mut consumer).await),
        body(&next_delivery(&mut consumer).await),
    ];
    assert_eq!(got, ["m3", "m4"]);
    assert!(
        wait_queue(&broker, "q", |q| q.message_count() == 5
            && q.unacked_count() == 2)
        .await
    );
}

/// Deliveries of `consumers`, as `tag:body`, until the queue reaches `depth` ready
/// messages and `unacked` unacknowledged ones.
async fn settle_deliveries(
    broker: &TestBroker,
    queue: &str,
    depth: u32,
    unacked: usize,
    consumers: &mut [&mut lapin::Consumer],
) -> Vec<String> {
    assert!(
        wait_queue(broker, queue, |q| q.message_count() == depth
            && q.unacked_count() == unacked)
        .await
    );
    let mut out = Vec::new();
    for _ in 0..unacked {
        let mut found = false;
        for c in consumers.iter_mut() {
            if let Ok(Some(Ok(d))) =
                tokio::time::timeout(Duration::from_millis(200), c.next()).await
            {
                out.push(format!("{}:{}", c.tag(), body(&d)));
                found = true;
                break;
            }
        }
        assert!(found, "a delivery the server counted did not arrive");
    }
    out.sort();
    out
}

#[tokio::test]
async fn global_prefetch_bounds_the_whole_channel() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(&ch, "q").await;
    publish_numbered(&ch, "q", 10).await;
    ch.basic_qos(1, BasicQosOptions { global: true })
        .await
        .unwrap();
    let mut c1 = consume(&ch, "q", "c1").await;
    let mut c2 = consume(&ch, "q", "c2").await;
    let got = settle_deliveries(&broker, "q", 9, 1, &mut [&mut c1, &mut c2]).await;
    assert_eq!(got, ["c1:m0"]);
}

#[tokio::test]
async fn global_and_per_consumer_prefetch_both_apply() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(&ch, "q").await;
    publish_numbered(&ch, "q", 10).await;
    ch.basic_qos(3, BasicQosOptions { global: true })
        .await
        .unwrap();
    ch.basic_qos(1, BasicQosOptions { global: false })
        .await
        .unwrap();
    let mut c1 = consume(&ch, "q", "c1").await;
    let mut c2 = consume(&ch, "q", "c2").await;
    let got = settle_deliveries(&broker, "q", 8, 2, &mut [&mut c1, &mut c2]).await;
    assert_eq!(got, ["c1:m0", "c2:m1"]);

    // 2 per consumer under a channel limit of 3: c1 fills up first, c2 gets the rest.
    declare(&ch, "r").await;
    let (_c, ch2) = broker.channel().await;
    ch2.basic_qos(2, BasicQosOptions { global: false })
        .await
        .unwrap();
    ch2.basic_qos(3, BasicQosOptions { global: true })
        .await
        .unwrap();
    publish_numbered(&ch2, "r", 10).await;
    let mut d1 = consume(&ch2, "r", "d1").await;
    let mut d2 = consume(&ch2, "r", "d2").await;
    let got = settle_deliveries(&broker, "r", 7, 3, &mut [&mut d1, &mut d2]).await;
    assert_eq!(got, ["d1:m0", "d1:m1", "d2:m2"]);
}

#[tokio::test]
async fn qos_applies_to_consumers_created_after_it() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(&ch, "q").await;
    let mut c1 = consume(&ch, "q", "c1").await;
    ch.basic_qos(1, BasicQosOptions { global: false })
        .await
        .unwrap();
    publish_numbered(&ch, "q", 6).await;
    // c1 (created before the qos, so unlimited) takes all six without acking.
    for i in 0..6 {
        assert_eq!(body(&next_delivery(&mut c1).await), format!("m{i}"));
    }
    let mut c2 = consume(&ch, "q", "c2").await;
    // With both consumers free, two messages go one to each.
    publish(&ch, "q", b"a").await;
    publish(&ch, "q", b"b").await;
    let mut pair = [
        body(&next_delivery(&mut c1).await),
        body(&next_delivery(&mut c2).await),
    ];
    pair.sort();
    assert_eq!(pair, ["a", "b"]);
    // c2 (prefetch 1) is now full: everything else goes to c1.
    publish(&ch, "q", b"c").await;
    publish(&ch, "q", b"d").await;
    assert_eq!(body(&next_delivery(&mut c1).await), "c");
    assert_eq!(body(&next_delivery(&mut c1).await), "d");
    assert!(
        wait_queue(&broker, "q", |q| q.message_count() == 0
            && q.unacked_count() == 10)
        .await
    );
}

#[tokio::test]
async fn basic_get_ignores_prefetch() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(&ch, "q").await;
    publish_numbered(&ch, "q", 3).await;
    ch.basic_qos(1, BasicQosOptions { global: true })
        .await
        .unwrap();
    assert_eq!(get(&ch, "q", false).await.0, "m0");
    assert_eq!(get(&ch, "q", false).await.0, "m1");
}

#[tokio::test]
async fn prefetch_size_is_a_540_connection_error() {
    let broker = TestBroker::start().await;
    let mut c = RawClient::connect(broker.addr, true).await;
    c.open_channel(1).await;
    c.send_method(
        1,
        basic::Qos {
            prefetch_size: 1000,
            prefetch_count: 0,
            global: false,
        },
    )
    .await;
    let Method::ConnectionClose(close) = c.expect_method(0, "connection.close").await else {
        unreachable!("expect checks the name")
    };
    assert_eq!(close.reply_code, 540);
    assert_eq!(
        close.reply_text,
        "NOT_IMPLEMENTED - prefetch_size!=0 (1000)"
    );
    assert_eq!((close.class_id, close.method_id), (60, 10));
}

#[tokio::test]
async fn deliveries_go_round_robin_across_consumers_with_room() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(&ch, "q").await;
    let (_c2, ch2) = broker.channel().await;
    let mut a = consume(&ch, "q", "a").await;
    let mut b = consume(&ch2, "q", "b").await;
    publish_numbered(&ch, "q", 6).await;
    let mut got_a = Vec::new();
    let mut got_b = Vec::new();
    for _ in 0..3 {
        got_a.push(body(&next_delivery(&mut a).await));
        got_b.push(body(&next_delivery(&mut b).await));
    }
    assert_eq!(got_a, ["m0", "m2", "m4"]);
    assert_eq!(got_b, ["m1", "m3", "m5"]);
}

#[tokio::test]
async fn a_full_consumer_is_skipped_until_it_acks() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(&ch, "q").await;
    ch.basic_qos(1, BasicQosOptions { global: false })
        .await
        .unwrap();
    let (_c2, ch2) = broker.channel().await;
    let mut a = consume(&ch, "q", "a").await;
    let mut b = consume(&ch2, "q", "b").await;
    publish_numbered(&ch, "q", 4).await;
    // a holds one and is full; b (no limit) takes everything else.
    let a0 = next_delivery(&mut a).await;
    assert_eq!(body(&a0), "m0");
    let got_b = [
        body(&next_delivery(&mut b).await),
        body(&next_delivery(&mut b).await),
        body(&next_delivery(&mut b).await),
    ];
    assert_eq!(got_b, ["m1", "m2", "m3"]);
    assert!(wait_queue(&broker, "q", |q| q.message_count() == 0).await);
    // Once a acks, it is back in the rotation: of the next two, one is a's.
    a0.ack(BasicAckOptions::default()).await.unwrap();
    publish(&ch, "q", b"m4").await;
    publish(&ch, "q", b"m5").await;
    let mut pair = [
        body(&next_delivery(&mut a).await),
        body(&next_delivery(&mut b).await),
    ];
    pair.sort();
    assert_eq!(pair, ["m4", "m5"]);
}

/// RabbitMQ 3.10.8 keeps its consumers in a rotation: the one served moves to the back
/// and a new consumer joins at the back. Measured: c1, c2, c3 consume; m0 goes to c1;
/// c4 joins; then m1 c2, m2 c3, m3 c1, m4 c4.
#[tokio::test]
async fn a_new_consumer_joins_the_rotation_at_the_back() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(&ch, "q").await;
    let mut c1 = consume(&ch, "q", "c1").await;
    let mut c2 = consume(&ch, "q", "c2").await;
    let mut c3 = consume(&ch, "q", "c3").await;
    publish(&ch, "q", b"m0").await;
    assert_eq!(body(&next_delivery(&mut c1).await), "m0");
    let mut c4 = consume(&ch, "q", "c4").await;
    let order: [&mut lapin::Consumer; 4] = [&mut c2, &mut c3, &mut c1, &mut c4];
    for (i, c) in order.into_iter().enumerate() {
        let m = format!("m{}", i + 1);
        publish(&ch, "q", m.as_bytes()).await;
        assert_eq!(body(&next_delivery(c).await), m, "{}", c.tag());
    }
}

/// In RabbitMQ a consumer found without credit leaves the rotation and rejoins at the
/// back when it has credit again.
#[tokio::test]
async fn a_consumer_that_was_full_rejoins_the_rotation_at_the_back() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(&ch, "q").await;
    ch.basic_qos(1, BasicQosOptions { global: false })
        .await
        .unwrap();
    let (_c2, ch2) = broker.channel().await;
    let mut a = consume(&ch, "q", "a").await;
    let mut b = consume(&ch2, "q", "b").await;
    publish_numbered(&ch, "q", 4).await;
    let a0 = next_delivery(&mut a).await;
    for i in 1..4 {
        assert_eq!(body(&next_delivery(&mut b).await), format!("m{i}"));
    }
    a0.ack(BasicAckOptions::default()).await.unwrap();
    assert!(wait_queue(&broker, "q", |q| q.unacked_count() == 3).await);
    // Rotation is now [b, a]: m4 to b, m5 to a.
    publish(&ch, "q", b"m4").await;
    assert_eq!(body(&next_delivery(&mut b).await), "m4");
    publish(&ch, "q", b"m5").await;
    assert_eq!(body(&next_delivery(&mut a).await), "m5");
}

#[tokio::test]
async fn closing_a_channel_requeues_its_unacked_in_place_as_redelivered() {
    let broker = TestBroker::start().await;
    let (conn, ch) = broker.channel().await;
    declare(&ch, "q").await;
    publish_numbered(&ch, "q", 5).await;
    let work = conn.create_channel().await.unwrap();
    work.basic_qos(3, BasicQosOptions::default()).await.unwrap();
    let mut c = consume(&work, "q", "c").await;
    for i in 0..3 {
        assert_eq!(body(&next_delivery(&mut c).await), format!("m{i}"));
    }
    // One from basic.get too.
    assert!(wait_queue(&broker, "q", |q| q.message_count() == 2).await);
    assert_eq!(get(&work, "q", false).await.0, "m3");
    work.close(200, "bye".into()).await.unwrap();
    assert!(
        wait_queue(&broker, "q", |q| q.message_count() == 5
            && q.unacked_count() == 0)
        .await
    );
    assert_eq!(
        drain(&ch, "q").await,
        [
            ("m0".into(), true),
            ("m1".into(), true),
            ("m2".into(), true),
            ("m3".into(), true),
            ("m4".into(), false),
        ]
    );
}

#[tokio::test]
async fn closing_a_connection_requeues_its_unacked_as_redelivered() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(&ch, "q").await;
    publish_numbered(&ch, "q", 4).await;
    {
        let (conn2, work) = broker.channel().await;
        let mut c = consume(&work, "q", "c").await;
        assert!(wait_queue(&broker, "q", |q| q.unacked_count() == 4).await);
        // Acked messages are gone for good; the rest come back.
        let d0 = next_delivery(&mut c).await;
        d0.ack(BasicAckOptions::default()).await.unwrap();
        assert!(wait_queue(&broker, "q", |q| q.unacked_count() == 3).await);
        conn2.close(200, "bye".into()).await.unwrap();
    }
    assert!(
        wait_queue(&broker, "q", |q| q.message_count() == 3
            && q.unacked_count() == 0)
        .await
    );
    assert_eq!(
        drain(&ch, "q").await,
        [
            ("m1".into(), true),
            ("m2".into(), true),
            ("m3".into(), true)
        ]
    );
}

#[tokio::test]
async fn a_dropped_socket_requeues_its_unacked() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(&ch, "q").await;
    publish_numbered(&ch, "q", 2).await;
    let mut raw = RawClient::connect(broker.addr, true).await;
    raw.open_channel(1).await;
    raw.send_method(
        1,
        basic::Get {
            queue: "q".into(),
            ..Default::default()
        },
    )
    .await;
    raw.expect_method(1, "basic.get-ok").await;
    assert!(wait_queue(&broker, "q", |q| q.unacked_count() == 1).await);
    drop(raw);
    assert!(
        wait_queue(&broker, "q", |q| q.message_count() == 2
            && q.unacked_count() == 0)
        .await
    );
    assert_eq!(
        drain(&ch, "q").await,
        [("m0".into(), true), ("m1".into(), false)]
    );
}
