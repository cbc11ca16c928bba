//! Publisher confirms end to end, checked against RabbitMQ 3.10.8
//! (docs/rabbitmq-reference.md §4): acks after routing, returns before their ack,
//! multiple acks, nacks for refused messages.

use std::collections::BTreeSet;
use std::time::Duration;

use lapin::options::*;
use lapin::types::{AMQPValue, FieldTable};
use lapin::BasicProperties;
use lapin::Confirmation;
use warren_protocol::method::{basic, confirm, queue};
use warren_protocol::{BasicProperties as RawProperties, Frame, Method};
use warren_testkit::basic::*;
use warren_testkit::raw::{names, Event, RawClient};
use warren_testkit::*;

async fn confirm_channel(broker: &TestBroker) -> (lapin::Connection, lapin::Channel) {
    let (conn, ch) = broker.channel().await;
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    (conn, ch)
}

async fn publish_confirmed(
    ch: &lapin::Channel,
    exchange: &str,
    routing_key: &str,
    mandatory: bool,
) -> Confirmation {
    ch.basic_publish(
        exchange.into(),
        routing_key.into(),
        BasicPublishOptions {
            mandatory,
            ..Default::default()
        },
        b"payload",
        BasicProperties::default(),
    )
    .await
    .unwrap()
    .await
    .unwrap()
}

#[tokio::test]
async fn a_confirmed_message_is_already_in_its_queue() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = confirm_channel(&broker).await;
    declare(&ch, "q").await;
    let q = server_queue(&broker, "q");
    for n in 1..=3 {
        let c = publish_confirmed(&ch, "", "q", false).await;
        assert_eq!(c, Confirmation::Ack(None));
        // The ack is sent after the message was enqueued.
        assert_eq!(q.message_count(), n);
    }
}

#[tokio::test]
async fn unroutable_messages_are_acked_and_mandatory_ones_returned_first() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = confirm_channel(&broker).await;
    let c = publish_confirmed(&ch, "amq.direct", "nowhere", false).await;
    assert_eq!(c, Confirmation::Ack(None));
    let c = publish_confirmed(&ch, "amq.direct", "nowhere", true).await;
    let Confirmation::Ack(Some(returned)) = c else {
        panic!("expected an ack carrying the returned message, got {c:?}");
    };
    assert_eq!(
        (returned.reply_code, returned.reply_text.as_str()),
        (312, "NO_ROUTE")
    );
    assert_eq!(returned.delivery.data, b"payload");
}

#[tokio::test]
async fn on_the_wire_the_return_precedes_the_ack_of_its_message() {
    let broker = TestBroker::start().await;
    let mut c = RawClient::connect(broker.addr, true).await;
    c.open_channel(1).await;
    c.send_method(
        1,
        queue::Declare {
            queue: "q".into(),
            ..Default::default()
        },
    )
    .await;
    c.expect_method(1, "queue.declare-ok").await;
    c.send_method(1, confirm::Select { nowait: false }).await;
    c.expect_method(1, "confirm.select-ok").await;
    let props = RawProperties::default();
    let publish = |exchange: &str, routing_key: &str, mandatory: bool| basic::Publish {
        exchange: exchange.into(),
        routing_key: routing_key.into(),
        mandatory,
        ..Default::default()
    };
    c.publish(1, publish("amq.direct", "nowhere", true), &props, b"ret")
        .await;
    c.publish(1, publish("amq.direct", "nowhere", false), &props, b"x")
        .await;
    c.publish(1, publish("", "q", false), &props, b"ok").await;
    let events = c.frames_until_quiet(Duration::from_millis(300)).await;
    let names = names(&events);
    assert_eq!(
        &names[..3],
        ["1:basic.return", "1:header", "1:body"],
        "{names:?}"
    );
    let Event::Frame(Frame::Method {
        method: Method::BasicReturn(r),
        ..
    }) = &events[0]
    else {
        unreachable!("checked above")
    };
    assert_eq!(
        (r.reply_code, r.reply_text.as_str(), r.exchange.as_str()),
        (312, "NO_ROUTE", "amq.direct")
    );
    assert_eq!(acked_tags(&events[3..]), (1..=3).collect());
}

/// The publish sequence numbers the acks in `events` cover; fails on anything else,
/// on a nack, or on a tag acknowledged twice.
fn acked_tags(events: &[Event]) -> BTreeSet<u64> {
    let mut acked = BTreeSet::new();
    let mut highest = 0;
    for e in events {
        let Event::Frame(Frame::Method {
            channel: 1,
            method: Method::BasicAck(ack),
        }) = e
        else {
            panic!("expected only basic.ack, got {e:?}");
        };
        assert!(
            ack.delivery_tag > highest,
            "acks must move forward: {events:?}"
        );
        let from = if ack.multiple {
            highest + 1
        } else {
            ack.delivery_tag
        };
        acked.extend(from..=ack.delivery_tag);
        highest = ack.delivery_tag;
    }
    acked
}

#[tokio::test]
async fn a_burst_of_publishes_is_acked_exactly_once_each() {
    let broker = TestBroker::start().await;
    let mut c = RawClient::connect(broker.addr, true).await;
    c.open_channel(1).await;
    c.send_method(1, confirm::Select { nowait: true }).await;
    c.send_method(
        1,
        queue::Declare {
            queue: "q".into(),
            ..Default::default()
        },
    )
    .await;
    c.expect_method(1, "queue.declare-ok").await; // and no select-ok before it
    let p = basic::Publish {
        routing_key: "q".into(),
        ..Default::default()
    };
    let batch = vec![(p, &b"m"[..]); 200];
    c.publish_batch(1, &batch).await;
    let mut events = Vec::new();
    while acked_tags(&events).last() != Some(&200) {
        match c.next_non_heartbeat(WAIT).await {
            Event::Silence => panic!("acks stopped at {:?}", acked_tags(&events).last()),
            e => events.push(e),
        }
    }
    assert_eq!(acked_tags(&events), (1..=200).collect());
    // Bursts are acknowledged with multiple=true, as RabbitMQ does.
    assert!(
        events.len() < 200,
        "{} acks for 200 publishes",
        events.len()
    );
    assert!(wait_queue(&broker, "q", |q| q.message_count() == 200).await);
}

#[tokio::test]
async fn lapin_sees_every_confirm_of_a_burst() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = confirm_channel(&broker).await;
    declare(&ch, "q").await;
    let mut pending = Vec::new();
    for i in 0..500u32 {
        let p = ch
            .basic_publish(
                "".into(),
                "q".into(),
                BasicPublishOptions::default(),
                &i.to_be_bytes(),
                BasicProperties::default(),
            )
            .await
            .unwrap();
        pending.push(p);
    }
    for p in pending {
        assert_eq!(p.await.unwrap(), Confirmation::Ack(None));
    }
    assert_eq!(server_queue(&broker, "q").message_count(), 500);
}

#[tokio::test]
async fn confirm_select_twice_and_nowait() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = confirm_channel(&broker).await;
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .expect("select-ok again");
    let mut c = RawClient::connect(broker.addr, true).await;
    c.open_channel(1).await;
    c.send_method(1, confirm::Select { nowait: true }).await;
    assert_eq!(c.frames_until_quiet(Duration::from_millis(300)).await, []);
}

#[tokio::test]
async fn a_message_refused_by_a_full_queue_is_nacked() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = confirm_channel(&broker).await;
    let mut args = FieldTable::default();
    args.insert("x-max-length".into(), AMQPValue::LongInt(1));
    args.insert(
        "x-overflow".into(),
        AMQPValue::LongString("reject-publish".into()),
    );
    ch.queue_declare("full".into(), QueueDeclareOptions::default(), args)
        .await
        .unwrap();
    assert_eq!(
        publish_confirmed(&ch, "", "full", false).await,
        Confirmation::Ack(None)
    );
    assert_eq!(
        publish_confirmed(&ch, "", "full", false).await,
        Confirmation::Nack(None)
    );
    // The channel goes on, and the sequence with it.
    let c = publish_confirmed(&ch, "amq.direct", "nowhere", false).await;
    assert_eq!(c, Confirmation::Ack(None));
    assert_eq!(server_queue(&broker, "full").message_count(), 1);
}

#[tokio::test]
async fn a_publish_that_closes_the_channel_is_not_confirmed() {
    let broker = TestBroker::start().await;
    let (conn, ch) = confirm_channel(&broker).await;
    let confirm = ch
        .basic_publish(
            "no-such-exchange".into(),
            "k".into(),
            BasicPublishOptions::default(),
            b"x",
            BasicProperties::default(),
        )
        .await
        .unwrap();
    let r = confirm.await;
    assert_reply(
        r,
        404,
        "NOT_FOUND - no exchange 'no-such-exchange' in vhost '/'",
    );
    assert!(conn.status().connected());
}
