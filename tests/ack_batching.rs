//! Acknowledgements are settled per input batch (one queue call and one store removal per
//! queue for all the `basic.ack`s one socket read brought), yet every other method sees
//! them as settled on arrival: acks pipelined with a reject, a channel close and a
//! restart behind them, and a prefetch-1 consumer whose credit comes back with each ack.

use std::time::Duration;

use bytes::BytesMut;
use futures_util::StreamExt;
use lapin::options::{BasicAckOptions, BasicPublishOptions, BasicQosOptions, ConfirmSelectOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Confirmation};
use warren_protocol::frame::write_method;
use warren_protocol::method::{basic, channel};
use warren_protocol::{Frame, Method};
use warren_testkit::basic::{consume, declare};
use warren_testkit::raw::{Event, RawClient, REPLY_TIMEOUT};
use warren_testkit::{depth, drain, TestBroker};

/// Publishes `m0`..`m{n-1}` persistent to durable queue `queue`, each confirmed.
async fn publish_persistent(broker: &TestBroker, queue: &str, n: usize) {
    let (_conn, ch) = broker.channel().await;
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    ch.queue_declare(
        queue.into(),
        lapin::options::QueueDeclareOptions {
            durable: true,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await
    .unwrap();
    for i in 0..n {
        let confirm = ch
            .basic_publish(
                "".into(),
                queue.into(),
                BasicPublishOptions::default(),
                format!("m{i}").as_bytes(),
                BasicProperties::default().with_delivery_mode(2),
            )
            .await
            .unwrap()
            .await
            .unwrap();
        assert_eq!(confirm, Confirmation::Ack(None));
    }
}

/// Reads `n` deliveries (deliver, header, body) and returns their delivery tags.
async fn delivery_tags(raw: &mut RawClient, n: usize) -> Vec<u64> {
    let mut tags = Vec::new();
    while tags.len() < n {
        match raw.next_non_heartbeat(REPLY_TIMEOUT).await {
            Event::Frame(Frame::Method {
                method: Method::BasicDeliver(d),
                ..
            }) => tags.push(d.delivery_tag),
            Event::Frame(Frame::Header { .. } | Frame::Body { .. }) => {}
            other => panic!("expected deliveries, got {other:?}"),
        }
    }
    tags
}

#[tokio::test]
async fn pipelined_acks_are_settled_before_a_reject_and_a_channel_close_behind_them() {
    let mut broker = TestBroker::start().await;
    publish_persistent(&broker, "ab", 10).await;

    let mut raw = RawClient::with_channel(broker.addr).await;
    raw.send_method(
        1,
        basic::Consume {
            queue: "ab".into(),
            consumer_tag: "c".into(),
            ..Default::default()
        },
    )
    .await;
    raw.expect_method(1, "basic.consume-ok").await;
    assert_eq!(
        delivery_tags(&mut raw, 10).await,
        (1..=10).collect::<Vec<_>>()
    );

    // One write, so one input batch: five single acks, a multiple ack of 6-7, a
    // reject with requeue of 8, then the channel close (9 and 10 go back unacked).
    let mut out = BytesMut::new();
    for tag in 1..=5 {
        let ack = basic::Ack {
            delivery_tag: tag,
            multiple: false,
        };
        write_method(&mut out, 1, &ack.into());
    }
    let ack = basic::Ack {
        delivery_tag: 7,
        multiple: true,
    };
    write_method(&mut out, 1, &ack.into());
    let reject = basic::Reject {
        delivery_tag: 8,
        requeue: true,
    };
    write_method(&mut out, 1, &reject.into());
    write_method(&mut out, 1, &channel::Close::default().into());
    raw.send_bytes(&out).await;
    // The requeued m7 may be delivered again before the close-ok.
    loop {
        match raw.next_non_heartbeat(REPLY_TIMEOUT).await {
            Event::Frame(Frame::Method {
                method: Method::ChannelCloseOk(_),
                ..
            }) => break,
            Event::Frame(Frame::Method {
                method: Method::BasicDeliver(_),
                ..
            })
            | Event::Frame(Frame::Header { .. } | Frame::Body { .. }) => {}
            other => panic!("expected channel.close-ok, got {other:?}"),
        }
    }

    let (_conn, ch) = broker.channel().await;
    assert_eq!(depth(&ch, "ab").await, 3, "m7, m8 and m9 are back");
    drop((_conn, ch));
    drop(raw);
    // The acked ones left the store too: only the three come back after a restart.
    broker.restart().await;
    let (_conn, ch) = broker.channel().await;
    assert_eq!(
        drain(&ch, "ab").await,
        vec![
            ("m7".to_owned(), true),
            ("m8".to_owned(), true),
            ("m9".to_owned(), true)
        ]
    );
}

#[tokio::test]
async fn a_prefetch_one_consumer_acking_each_message_gets_them_all() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(&ch, "p1").await;
    for i in 0..500 {
        warren_testkit::basic::publish(&ch, "p1", format!("m{i}").as_bytes()).await;
    }
    let (_c2, consumer_ch) = broker.channel().await;
    consumer_ch
        .basic_qos(1, BasicQosOptions::default())
        .await
        .unwrap();
    let mut consumer = consume(&consumer_ch, "p1", "one").await;
    for i in 0..500 {
        let d = tokio::time::timeout(Duration::from_secs(5), consumer.next())
            .await
            .unwrap_or_else(|_| panic!("delivery {i} did not come: credit not returned"))
            .expect("a delivery")
            .expect("no error");
        assert_eq!(d.data, format!("m{i}").into_bytes());
        d.ack(BasicAckOptions::default()).await.unwrap();
    }
    assert_eq!(depth(&ch, "p1").await, 0);
}
