//! Length limits (`x-max-length`, `x-max-length-bytes`) and what `x-overflow` does past
//! them (drop-head, reject-publish, reject-publish-dlx), driven over TCP with lapin.

use lapin::options::{BasicConsumeOptions, BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::FieldTable;
use lapin::Confirmation;
use lapin::{BasicProperties, Channel};
use warren_testkit::args::*;
use warren_testkit::smart::*;
use warren_testkit::*;

/// Publishes `body` to `queue` and waits for its confirm (the channel is in confirm mode).
async fn publish_confirmed(ch: &Channel, queue: &str, body: &[u8]) -> Confirmation {
    ch.basic_publish(
        "".into(),
        queue.into(),
        BasicPublishOptions::default(),
        body,
        BasicProperties::default(),
    )
    .await
    .expect("publish")
    .await
    .expect("confirm")
}

fn bodies(list: &[&[u8]]) -> Vec<Vec<u8>> {
    list.iter().map(|b| b.to_vec()).collect()
}

#[tokio::test]
async fn max_length_drops_the_oldest_by_default() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(&ch, "maxlen", table(&[("x-max-length", int(3))]))
        .await
        .unwrap();
    for body in [b"1", b"2", b"3", b"4", b"5"] {
        publish(&ch, "maxlen", body).await;
    }
    assert_eq!(depth(&ch, "maxlen").await, 3);
    assert_eq!(
        drain_bodies(&ch, "maxlen").await,
        bodies(&[b"3", b"4", b"5"])
    );
}

#[tokio::test]
async fn max_length_bytes_counts_body_bytes() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(&ch, "maxbytes", table(&[("x-max-length-bytes", int(10))]))
        .await
        .unwrap();
    for body in [b"aaaa", b"bbbb", b"cccc"] {
        publish(&ch, "maxbytes", body).await;
    }
    // 12 bytes do not fit in 10: the oldest goes.
    assert_eq!(depth(&ch, "maxbytes").await, 2);
    assert_eq!(
        drain_bodies(&ch, "maxbytes").await,
        bodies(&[b"bbbb", b"cccc"])
    );
    // A single body over the limit does not stay either.
    publish(&ch, "maxbytes", b"0123456789x").await;
    assert_eq!(depth(&ch, "maxbytes").await, 0);
}

#[tokio::test]
async fn reject_publish_nacks_under_confirms_and_keeps_the_queue() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(
        &ch,
        "reject",
        table(&[
            ("x-max-length", int(2)),
            ("x-overflow", s("reject-publish")),
        ]),
    )
    .await
    .unwrap();
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    assert!(publish_confirmed(&ch, "reject", b"1").await.is_ack());
    assert!(publish_confirmed(&ch, "reject", b"2").await.is_ack());
    assert!(publish_confirmed(&ch, "reject", b"3").await.is_nack());
    // Room again after one leaves.
    assert_eq!(get_body(&ch, "reject").await.as_deref(), Some(&b"1"[..]));
    assert!(publish_confirmed(&ch, "reject", b"4").await.is_ack());
    assert_eq!(drain_bodies(&ch, "reject").await, bodies(&[b"2", b"4"]));
}

#[tokio::test]
async fn reject_publish_bytes_limit_nacks_what_does_not_fit() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(
        &ch,
        "reject-bytes",
        table(&[
            ("x-max-length-bytes", int(6)),
            ("x-overflow", s("reject-publish")),
        ]),
    )
    .await
    .unwrap();
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    assert!(publish_confirmed(&ch, "reject-bytes", b"1234")
        .await
        .is_ack());
    assert!(publish_confirmed(&ch, "reject-bytes", b"567")
        .await
        .is_nack());
    assert!(publish_confirmed(&ch, "reject-bytes", b"56").await.is_ack());
    assert_eq!(
        drain_bodies(&ch, "reject-bytes").await,
        bodies(&[b"1234", b"56"])
    );
}

#[tokio::test]
async fn reject_publish_without_confirms_drops_the_message() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(
        &ch,
        "reject-quiet",
        table(&[
            ("x-max-length", int(1)),
            ("x-overflow", s("reject-publish")),
        ]),
    )
    .await
    .unwrap();
    publish(&ch, "reject-quiet", b"kept").await;
    publish(&ch, "reject-quiet", b"dropped").await;
    assert_eq!(depth(&ch, "reject-quiet").await, 1);
    assert!(ch.status().connected());
    assert_eq!(drain_bodies(&ch, "reject-quiet").await, bodies(&[b"kept"]));
}

#[tokio::test]
async fn reject_publish_dlx_nacks_and_dead_letters_the_refused_message() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(&ch, "overflowed", FieldTable::default())
        .await
        .unwrap();
    declare(
        &ch,
        "reject-dlx",
        table(&[
            ("x-max-length", int(1)),
            ("x-overflow", s("reject-publish-dlx")),
            ("x-dead-letter-exchange", s("")),
            ("x-dead-letter-routing-key", s("overflowed")),
        ]),
    )
    .await
    .unwrap();
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    assert!(publish_confirmed(&ch, "reject-dlx", b"in").await.is_ack());
    assert!(publish_confirmed(&ch, "reject-dlx", b"out").await.is_nack());
    wait_depth(&ch, "overflowed", 1).await;
    let dead = get(&ch, "overflowed").await.unwrap().delivery;
    assert_eq!(dead.data, b"out");
    let d = deaths(&dead.properties);
    assert_eq!(death_text(&d[0], "reason").as_deref(), Some("maxlen"));
    assert_eq!(death_text(&d[0], "queue").as_deref(), Some("reject-dlx"));
    assert_eq!(drain_bodies(&ch, "reject-dlx").await, bodies(&[b"in"]));
}

#[tokio::test]
async fn reject_publish_without_a_full_queue_acks_everything() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(
        &ch,
        "reject-consumed",
        table(&[
            ("x-max-length", int(1)),
            ("x-overflow", s("reject-publish")),
        ]),
    )
    .await
    .unwrap();
    // Messages handed to a consumer are not ready: they do not count.
    let cch = broker.connect().await.create_channel().await.unwrap();
    let _consumer = cch
        .basic_consume(
            "reject-consumed".into(),
            "c".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    for i in 0..5u8 {
        assert!(
            publish_confirmed(&ch, "reject-consumed", &[i])
                .await
                .is_ack(),
            "{i}"
        );
    }
}

#[tokio::test]
async fn invalid_limits_are_refused_with_rabbitmq_texts() {
    let broker = TestBroker::start().await;
    let conn = broker.connect().await;
    let cases = [
        (
            table(&[("x-max-length", int(-1))]),
            "PRECONDITION_FAILED - invalid arg 'x-max-length' for queue 'lim' in vhost '/': {value_negative,-1}",
        ),
        (
            table(&[("x-max-length-bytes", int(-1))]),
            "PRECONDITION_FAILED - invalid arg 'x-max-length-bytes' for queue 'lim' in vhost '/': {value_negative,-1}",
        ),
        (
            table(&[("x-overflow", s("foo"))]),
            "PRECONDITION_FAILED - invalid arg 'x-overflow' for queue 'lim' in vhost '/': invalid_overflow",
        ),
    ];
    for (args, text) in cases {
        let ch = conn.create_channel().await.unwrap();
        assert_reply(declare(&ch, "lim", args).await, 406, text);
    }
}
