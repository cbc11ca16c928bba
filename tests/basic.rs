//! basic.get / ack / nack / reject / recover and publishing (mandatory, immediate,
//! size limit, user_id, expiration, large bodies), end to end with lapin, checked
//! against RabbitMQ 3.10.8 (docs/rabbitmq-reference.md §4).

use lapin::options::*;
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, ExchangeKind};
use warren_testkit::basic::*;
use warren_testkit::*;

async fn get_all(ch: &Channel, queue: &str, n: usize) -> Vec<u64> {
    let mut tags = Vec::new();
    for _ in 0..n {
        tags.push(get(ch, queue, false).await.2);
    }
    tags
}

#[tokio::test]
async fn get_reports_the_messages_left_and_get_empty_when_none() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(&ch, "q").await;
    let none = ch
        .basic_get("q".into(), BasicGetOptions::default())
        .await
        .unwrap();
    assert!(none.is_none(), "get-empty expected");
    publish_numbered(&ch, "q", 3).await;
    let (body, redelivered, tag, left) = get(&ch, "q", false).await;
    assert_eq!((body.as_str(), redelivered, tag, left), ("m0", false, 1, 2));
    let (body, _, tag, left) = get(&ch, "q", true).await;
    assert_eq!((body.as_str(), tag, left), ("m1", 2, 1));
    // The unacked m0 is not counted among the messages left.
    let (_, _, _, left) = get(&ch, "q", false).await;
    assert_eq!(left, 0);
    assert_eq!(server_queue(&broker, "q").unacked_count(), 2);
}

#[tokio::test]
async fn get_on_a_missing_queue_is_404() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    let r = ch
        .basic_get("no-such-queue".into(), BasicGetOptions::default())
        .await;
    assert_reply(r, 404, "NOT_FOUND - no queue 'no-such-queue' in vhost '/'");
}

#[tokio::test]
async fn ack_multiple_settles_everything_up_to_the_tag() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(&ch, "q").await;
    publish_numbered(&ch, "q", 5).await;
    let tags = get_all(&ch, "q", 5).await;
    assert_eq!(tags, [1, 2, 3, 4, 5]);
    ch.basic_ack(3, BasicAckOptions { multiple: true })
        .await
        .unwrap();
    assert!(wait_queue(&broker, "q", |q| q.unacked_count() == 2).await);
    // Tag 0 with multiple settles whatever is left.
    ch.basic_ack(0, BasicAckOptions { multiple: true })
        .await
        .unwrap();
    assert!(
        wait_queue(&broker, "q", |q| q.unacked_count() == 0
            && q.message_count() == 0)
        .await
    );
    // ... and is fine with nothing outstanding.
    ch.basic_ack(0, BasicAckOptions { multiple: true })
        .await
        .unwrap();
    ch.basic_nack(
        0,
        BasicNackOptions {
            multiple: true,
            requeue: true,
        },
    )
    .await
    .unwrap();
    assert_eq!(depth(&ch, "q").await, 0);
}

#[tokio::test]
async fn nack_multiple_requeues_in_original_order_as_redelivered() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(&ch, "q").await;
    publish_numbered(&ch, "q", 4).await;
    get_all(&ch, "q", 4).await;
    ch.basic_nack(
        3,
        BasicNackOptions {
            multiple: true,
            requeue: true,
        },
    )
    .await
    .unwrap();
    assert!(
        wait_queue(&broker, "q", |q| q.message_count() == 3
            && q.unacked_count() == 1)
        .await
    );
    assert_eq!(
        drain(&ch, "q").await,
        [
            ("m0".into(), true),
            ("m1".into(), true),
            ("m2".into(), true)
        ]
    );
    // Tag 4 was not covered and is still outstanding.
    ch.basic_ack(4, BasicAckOptions::default()).await.unwrap();
    assert!(wait_queue(&broker, "q", |q| q.unacked_count() == 0).await);
}

#[tokio::test]
async fn rejected_messages_go_back_to_their_original_position() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(&ch, "q").await;
    publish_numbered(&ch, "q", 4).await;
    get_all(&ch, "q", 2).await;
    // Rejected out of order, they still go back in publish order, ahead of m2 and m3.
    ch.basic_reject(2, BasicRejectOptions { requeue: true })
        .await
        .unwrap();
    ch.basic_reject(1, BasicRejectOptions { requeue: true })
        .await
        .unwrap();
    assert!(wait_queue(&broker, "q", |q| q.message_count() == 4).await);
    assert_eq!(
        drain(&ch, "q").await,
        [
            ("m0".into(), true),
            ("m1".into(), true),
            ("m2".into(), false),
            ("m3".into(), false)
        ]
    );
}

#[tokio::test]
async fn reject_or_nack_without_requeue_drops_the_message() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(&ch, "q").await;
    publish_numbered(&ch, "q", 2).await;
    get_all(&ch, "q", 2).await;
    ch.basic_reject(1, BasicRejectOptions { requeue: false })
        .await
        .unwrap();
    ch.basic_nack(
        2,
        BasicNackOptions {
            multiple: false,
            requeue: false,
        },
    )
    .await
    .unwrap();
    assert!(wait_queue(&broker, "q", |q| q.unacked_count() == 0).await);
    assert_eq!(depth(&ch, "q").await, 0);
}

/// A settlement to send.
#[derive(Clone, Copy)]
enum Settle {
    Ack(u64, bool),
    Nack(u64, bool),
    Reject(u64),
}

async fn send(ch: &Channel, op: Settle) {
    match op {
        Settle::Ack(tag, multiple) => ch.basic_ack(tag, BasicAckOptions { multiple }).await,
        Settle::Nack(tag, multiple) => {
            ch.basic_nack(
                tag,
                BasicNackOptions {
                    multiple,
                    requeue: true,
                },
            )
            .await
        }
        Settle::Reject(tag) => {
            ch.basic_reject(tag, BasicRejectOptions { requeue: true })
                .await
        }
    }
    .unwrap();
}

/// On a fresh channel holding deliveries 1..=3 of `queue`, sends `ops` and returns how
/// the channel closed.
async fn settle_error(broker: &TestBroker, queue: &str, ops: &[Settle]) -> (u16, String) {
    let (_conn, ch) = broker.channel().await;
    let mut watch = watch(&ch).await;
    declare(&ch, queue).await;
    publish_numbered(&ch, queue, 3).await;
    get_all(&ch, queue, 3).await;
    for op in ops {
        send(&ch, *op).await;
    }
    closed_with(&mut watch).await
}

#[tokio::test]
async fn unknown_delivery_tags_close_the_channel_with_406() {
    use Settle::*;
    let broker = TestBroker::start().await;
    let cases: [(&[Settle], u64); 7] = [
        (&[Ack(7, false)], 7),
        // Tag 0 without multiple is not "everything".
        (&[Ack(0, false)], 0),
        // Acking twice.
        (&[Ack(1, false), Ack(1, false)], 1),
        // With multiple, the tag itself must be outstanding: 2 is gone, though 1 and 3
        // are not (measured on RabbitMQ 3.10.8).
        (&[Ack(2, false), Ack(2, true)], 2),
        // A tag above every delivery.
        (&[Ack(9, true)], 9),
        (&[Nack(8, false)], 8),
        (&[Reject(8)], 8),
    ];
    for (i, (ops, tag)) in cases.into_iter().enumerate() {
        let e = settle_error(&broker, &format!("q{i}"), ops).await;
        let want = format!("PRECONDITION_FAILED - unknown delivery tag {tag}");
        assert_eq!(e, (406, want), "case {i}");
    }
}

#[tokio::test]
async fn a_bad_ack_closes_only_its_channel_and_requeues_its_deliveries() {
    let broker = TestBroker::start().await;
    let (conn, ch1) = broker.channel().await;
    let ch2 = conn.create_channel().await.unwrap();
    let mut watch2 = watch(&ch2).await;
    declare(&ch1, "q").await;
    publish_numbered(&ch1, "q", 3).await;
    // Delivered on channel 1; channel 2 does not know tag 1.
    assert_eq!(get(&ch1, "q", false).await.2, 1);
    ch2.basic_ack(1, BasicAckOptions::default()).await.unwrap();
    assert_closed_with(
        &mut watch2,
        406,
        "PRECONDITION_FAILED - unknown delivery tag 1",
    )
    .await;
    // Channel 1 and the connection go on.
    assert!(conn.status().connected());
    assert_eq!(get(&ch1, "q", false).await.0, "m1");
    ch1.basic_ack(2, BasicAckOptions { multiple: true })
        .await
        .unwrap();
    assert!(
        wait_queue(&broker, "q", |q| q.unacked_count() == 0
            && q.message_count() == 1)
        .await
    );
    // A channel closed by an error gives its deliveries back like any other.
    let ch3 = conn.create_channel().await.unwrap();
    let mut watch3 = watch(&ch3).await;
    assert_eq!(get(&ch3, "q", false).await.0, "m2");
    ch3.basic_reject(5, BasicRejectOptions::default())
        .await
        .unwrap();
    assert_closed_with(
        &mut watch3,
        406,
        "PRECONDITION_FAILED - unknown delivery tag 5",
    )
    .await;
    assert_eq!(drain(&ch1, "q").await, [("m2".into(), true)]);
}

#[tokio::test]
async fn recover_requeues_every_unacked_delivery_as_redelivered() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(&ch, "q").await;
    publish_numbered(&ch, "q", 3).await;
    let mut c = consume(&ch, "q", "c").await;
    let first: Vec<(u64, bool)> = [
        next_delivery(&mut c).await,
        next_delivery(&mut c).await,
        next_delivery(&mut c).await,
    ]
    .iter()
    .map(|d| (d.delivery_tag, d.redelivered))
    .collect();
    assert_eq!(first, [(1, false), (2, false), (3, false)]);
    ch.basic_ack(2, BasicAckOptions::default()).await.unwrap();
    ch.basic_recover(BasicRecoverOptions { requeue: true })
        .await
        .unwrap();
    // m0 and m2 come again, with new tags and redelivered set.
    let again: Vec<(String, u64, bool)> =
        [next_delivery(&mut c).await, next_delivery(&mut c).await]
            .iter()
            .map(|d| {
                (
                    String::from_utf8_lossy(&d.data).into_owned(),
                    d.delivery_tag,
                    d.redelivered,
                )
            })
            .collect();
    assert_eq!(again, [("m0".into(), 4, true), ("m2".into(), 5, true)]);
    // recover-async does the same without a reply.
    ch.basic_recover_async(BasicRecoverAsyncOptions { requeue: true })
        .await
        .unwrap();
    let d = next_delivery(&mut c).await;
    assert_eq!((d.delivery_tag, d.redelivered), (6, true));
}

#[tokio::test]
async fn recover_without_requeue_is_a_540_connection_error() {
    let broker = TestBroker::start().await;
    let (conn, ch) = broker.channel().await;
    let r = ch
        .basic_recover(BasicRecoverOptions { requeue: false })
        .await;
    assert_reply(r, 540, "NOT_IMPLEMENTED - requeue=false");
    assert!(
        warren_testkit::eventually(WAIT, || std::future::ready(!conn.status().connected())).await
    );
}

#[tokio::test]
async fn mandatory_unroutable_messages_come_back_with_312_no_route() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    let mandatory = BasicPublishOptions {
        mandatory: true,
        ..Default::default()
    };
    ch.basic_publish(
        "amq.direct".into(),
        "nowhere".into(),
        mandatory,
        b"lost",
        BasicProperties::default().with_content_type("text/plain".into()),
    )
    .await
    .unwrap();
    // Not mandatory: silently dropped.
    ch.basic_publish(
        "".into(),
        "no-such-queue".into(),
        BasicPublishOptions::default(),
        b"dropped",
        BasicProperties::default(),
    )
    .await
    .unwrap();
    ch.basic_publish(
        "".into(),
        "no-such-queue".into(),
        mandatory,
        b"lost too",
        BasicProperties::default(),
    )
    .await
    .unwrap();
    let returned = &std::cell::RefCell::new(Vec::new());
    let ch_ref = &ch;
    eventually(WAIT, || async move {
        let more = ch_ref.wait_for_confirms().await.unwrap();
        returned.borrow_mut().extend(more);
        returned.borrow().len() >= 2
    })
    .await;
    let returned = returned.take();
    let seen: Vec<(u16, String, String, String, Vec<u8>)> = returned
        .iter()
        .map(|r| {
            (
                r.reply_code,
                r.reply_text.to_string(),
                r.delivery.exchange.to_string(),
                r.delivery.routing_key.to_string(),
                r.delivery.data.clone(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (
                312,
                "NO_ROUTE".into(),
                "amq.direct".into(),
                "nowhere".into(),
                b"lost".to_vec()
            ),
            (
                312,
                "NO_ROUTE".into(),
                "".into(),
                "no-such-queue".into(),
                b"lost too".to_vec()
            ),
        ]
    );
    assert_eq!(
        returned[0].delivery.properties.content_type(),
        &Some("text/plain".into())
    );
}

#[tokio::test]
async fn immediate_is_a_540_connection_error() {
    let broker = TestBroker::start().await;
    let (conn, ch) = broker.channel().await;
    let mut watch = watch(&ch).await;
    ch.basic_publish(
        "amq.direct".into(),
        "k".into(),
        BasicPublishOptions {
            immediate: true,
            ..Default::default()
        },
        b"x",
        BasicProperties::default(),
    )
    .await
    .unwrap();
    assert_closed_with(&mut watch, 540, "NOT_IMPLEMENTED - immediate=true").await;
    assert!(
        warren_testkit::eventually(WAIT, || std::future::ready(!conn.status().connected())).await
    );
}

#[tokio::test]
async fn bodies_over_the_size_limit_are_refused_with_406() {
    let broker = TestBroker::start_with(|c| c.limits.max_message_bytes = 1024).await;
    let (conn, ch) = broker.channel().await;
    declare(&ch, "q").await;
    publish(&ch, "q", &[7u8; 1024]).await;
    assert_eq!(get(&ch, "q", true).await.0.len(), 1024);
    let mut watch = watch(&ch).await;
    publish(&ch, "q", &[7u8; 1025]).await;
    assert_closed_with(
        &mut watch,
        406,
        "PRECONDITION_FAILED - message size 1025 is larger than configured max size 1024",
    )
    .await;
    // A channel error: the connection stays.
    let ch2 = conn.create_channel().await.unwrap();
    assert_eq!(depth(&ch2, "q").await, 0);
}

#[tokio::test]
async fn a_user_id_other_than_the_login_is_refused_with_406() {
    let broker = TestBroker::start().await;
    let (conn, ch) = broker.channel().await;
    declare(&ch, "q").await;
    ch.basic_publish(
        "".into(),
        "q".into(),
        BasicPublishOptions::default(),
        b"mine",
        BasicProperties::default().with_user_id("guest".into()),
    )
    .await
    .unwrap();
    assert_eq!(get(&ch, "q", true).await.0, "mine");
    let mut watch = watch(&ch).await;
    ch.basic_publish(
        "".into(),
        "q".into(),
        BasicPublishOptions::default(),
        b"forged",
        BasicProperties::default().with_user_id("bob".into()),
    )
    .await
    .unwrap();
    assert_closed_with(
        &mut watch,
        406,
        "PRECONDITION_FAILED - user_id property set to 'bob' but authenticated user was 'guest'",
    )
    .await;
    let ch2 = conn.create_channel().await.unwrap();
    assert_eq!(depth(&ch2, "q").await, 0);
}

#[tokio::test]
async fn an_invalid_expiration_is_refused_with_406() {
    let broker = TestBroker::start().await;
    let (conn, _ch) = broker.channel().await;
    for (expiration, reason) in [
        ("abc", "no_integer"),
        ("-1", "{value_negative,-1}"),
        ("1.5", "{leftover_string,\".5\"}"),
        ("315360000001", "{value_too_large,315360000001}"),
    ] {
        let ch = conn.create_channel().await.unwrap();
        let mut watch = watch(&ch).await;
        ch.basic_publish(
            "amq.direct".into(),
            "k".into(),
            BasicPublishOptions::default(),
            b"x",
            BasicProperties::default().with_expiration(expiration.into()),
        )
        .await
        .unwrap();
        let text = format!("PRECONDITION_FAILED - invalid expiration '{expiration}': {reason}");
        assert_closed_with(&mut watch, 406, &text).await;
    }
}

#[tokio::test]
async fn publishing_to_a_missing_or_internal_exchange_fails() {
    let broker = TestBroker::start().await;
    let (conn, ch) = broker.channel().await;
    let mut watch1 = watch(&ch).await;
    publish_to(&ch, "no-such-exchange").await;
    assert_closed_with(
        &mut watch1,
        404,
        "NOT_FOUND - no exchange 'no-such-exchange' in vhost '/'",
    )
    .await;
    let ch = conn.create_channel().await.unwrap();
    ch.exchange_declare(
        "inner".into(),
        ExchangeKind::Direct,
        ExchangeDeclareOptions {
            internal: true,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await
    .unwrap();
    let mut watch2 = watch(&ch).await;
    publish_to(&ch, "inner").await;
    assert_closed_with(
        &mut watch2,
        403,
        "ACCESS_REFUSED - cannot publish to internal exchange 'inner' in vhost '/'",
    )
    .await;
}

async fn publish_to(ch: &Channel, exchange: &str) {
    ch.basic_publish(
        exchange.into(),
        "k".into(),
        BasicPublishOptions::default(),
        b"x",
        BasicProperties::default(),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn a_one_mebibyte_body_crosses_frames_intact() {
    let broker = TestBroker::start().await;
    let uri = format!("{}?frame_max=131072", broker.uri());
    let conn = lapin::Connection::connect(&uri, lapin::ConnectionProperties::default())
        .await
        .unwrap();
    let ch = conn.create_channel().await.unwrap();
    declare(&ch, "big").await;
    let body: Vec<u8> = (0..1024 * 1024u32).map(|i| (i * 31 % 251) as u8).collect();
    publish(&ch, "big", &body).await;
    publish(&ch, "big", &body[..131_072 - 8]).await; // exactly one full body frame
    let m = ch
        .basic_get("big".into(), BasicGetOptions::default())
        .await
        .unwrap()
        .unwrap();
    assert!(m.delivery.data == body, "1 MiB body differs after get");
    let mut c = consume(&ch, "big", "c").await;
    let d = next_delivery(&mut c).await;
    assert!(d.data == body[..131_072 - 8], "one-frame body differs");
    ch.basic_nack(
        0,
        BasicNackOptions {
            multiple: true,
            requeue: true,
        },
    )
    .await
    .unwrap();
    // The requeued 1 MiB message is delivered again, whole.
    let again = next_delivery(&mut c).await;
    let again2 = next_delivery(&mut c).await;
    let sizes = [again.data.len(), again2.data.len()];
    assert_eq!(sizes, [1024 * 1024, 131_072 - 8]);
    assert!(again.data == body);
}
