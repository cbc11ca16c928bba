//! Message deduplication on a queue (`x-message-deduplication`, `x-cache-size`,
//! `x-cache-ttl`, `x-deduplication-header`), driven over TCP with lapin.

use lapin::options::{
    BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, ExchangeKind};
use warren_testkit::args::*;
use warren_testkit::smart::*;
use warren_testkit::*;

/// Publishes `body` to `queue` with header `header` set to `id`.
async fn publish_id(ch: &Channel, queue: &str, header: &str, id: &str, body: &str) {
    let props = BasicProperties::default().with_headers(table(&[(header, s(id))]));
    publish_props(ch, "", queue, body.as_bytes(), props).await;
}

async fn publish_dedup(ch: &Channel, queue: &str, id: &str, body: &str) {
    publish_id(ch, queue, "x-deduplication-header", id, body).await;
}

async fn drain_text(ch: &Channel, queue: &str) -> Vec<String> {
    drain_bodies(ch, queue)
        .await
        .into_iter()
        .map(|b| String::from_utf8(b).unwrap())
        .collect()
}

fn dedup(extra: &[(&str, AMQPValue)]) -> FieldTable {
    let mut args = vec![("x-message-deduplication", boolean(true))];
    args.extend(extra.iter().cloned());
    table(&args)
}

#[tokio::test]
async fn repeated_ids_are_dropped() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(&ch, "dd", dedup(&[])).await.unwrap();
    publish_dedup(&ch, "dd", "a", "a1").await;
    publish_dedup(&ch, "dd", "a", "a2").await;
    publish_dedup(&ch, "dd", "b", "b1").await;
    // Messages without an id are never duplicates.
    publish(&ch, "dd", b"plain1").await;
    publish(&ch, "dd", b"plain2").await;
    assert_eq!(
        drain_text(&ch, "dd").await,
        ["a1", "b1", "plain1", "plain2"]
    );
    // Consumed ids are still remembered.
    publish_dedup(&ch, "dd", "a", "a3").await;
    assert_eq!(depth(&ch, "dd").await, 0);
}

#[tokio::test]
async fn queues_without_deduplication_keep_repeats() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(&ch, "nodd", FieldTable::default()).await.unwrap();
    declare(
        &ch,
        "off",
        table(&[("x-message-deduplication", boolean(false))]),
    )
    .await
    .unwrap();
    for q in ["nodd", "off"] {
        publish_dedup(&ch, q, "a", "1").await;
        publish_dedup(&ch, q, "a", "2").await;
        assert_eq!(depth(&ch, q).await, 2, "{q}");
    }
}

#[tokio::test]
async fn duplicates_are_confirmed_to_the_publisher() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(&ch, "dd-confirm", dedup(&[])).await.unwrap();
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    for body in ["first", "repeat"] {
        let props =
            BasicProperties::default().with_headers(table(&[("x-deduplication-header", s("id"))]));
        let confirm = ch
            .basic_publish(
                "".into(),
                "dd-confirm".into(),
                BasicPublishOptions::default(),
                body.as_bytes(),
                props,
            )
            .await
            .unwrap()
            .await
            .unwrap();
        assert!(confirm.is_ack(), "{body}");
    }
    assert_eq!(drain_text(&ch, "dd-confirm").await, ["first"]);
}

#[tokio::test]
async fn the_cache_size_bounds_what_is_remembered() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(&ch, "small", dedup(&[("x-cache-size", int(2))]))
        .await
        .unwrap();
    for id in ["a", "b", "c"] {
        publish_dedup(&ch, "small", id, id).await;
    }
    // `a` was pushed out by `c`; `c` is still remembered.
    publish_dedup(&ch, "small", "a", "a again").await;
    publish_dedup(&ch, "small", "c", "c again").await;
    assert_eq!(drain_text(&ch, "small").await, ["a", "b", "c", "a again"]);
}

#[tokio::test]
async fn the_cache_ttl_bounds_how_long_an_id_is_remembered() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(&ch, "window", dedup(&[("x-cache-ttl", int(300))]))
        .await
        .unwrap();
    declare(&ch, "clock", table(&[("x-message-ttl", int(350))]))
        .await
        .unwrap();
    publish_dedup(&ch, "window", "a", "first").await;
    publish(&ch, "clock", b"tick").await;
    publish_dedup(&ch, "window", "a", "within the window").await;
    assert_eq!(depth(&ch, "window").await, 1);
    // Once the clock queue has emptied, more than the cache TTL has passed.
    wait_depth(&ch, "clock", 0).await;
    publish_dedup(&ch, "window", "a", "after the window").await;
    assert_eq!(
        drain_text(&ch, "window").await,
        ["first", "after the window"]
    );
}

#[tokio::test]
async fn a_custom_header_carries_the_id() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(
        &ch,
        "custom",
        dedup(&[("x-deduplication-header", s("msg-id"))]),
    )
    .await
    .unwrap();
    publish_id(&ch, "custom", "msg-id", "42", "one").await;
    publish_id(&ch, "custom", "msg-id", "42", "two").await;
    // The default header means nothing to this queue.
    publish_dedup(&ch, "custom", "x", "three").await;
    publish_dedup(&ch, "custom", "x", "four").await;
    assert_eq!(drain_text(&ch, "custom").await, ["one", "three", "four"]);
}

#[tokio::test]
async fn each_queue_keeps_its_own_cache() {
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
    for q in ["left", "right"] {
        declare(&ch, q, dedup(&[])).await.unwrap();
        ch.queue_bind(
            q.into(),
            "fan".into(),
            "".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    }
    for body in ["1", "2"] {
        let props = BasicProperties::default()
            .with_headers(table(&[("x-deduplication-header", s("same"))]));
        publish_props(&ch, "fan", "", body.as_bytes(), props).await;
    }
    assert_eq!(drain_text(&ch, "left").await, ["1"]);
    assert_eq!(drain_text(&ch, "right").await, ["1"]);
}

#[tokio::test]
async fn invalid_deduplication_settings_are_refused() {
    let broker = TestBroker::start().await;
    let conn = broker.connect().await;
    let invalid = |key: &str, detail: &str| {
        format!(
            "PRECONDITION_FAILED - invalid arg '{key}' for queue 'bad-dd' in vhost '/': {detail}"
        )
    };
    let cases = [
        (
            table(&[("x-message-deduplication", s("yes"))]),
            invalid("x-message-deduplication", "{unacceptable_type,longstr}"),
        ),
        (dedup(&[("x-cache-size", int(0))]), invalid("x-cache-size", "{value_zero,0}")),
        (dedup(&[("x-cache-size", int(-3))]), invalid("x-cache-size", "{value_negative,-3}")),
        (dedup(&[("x-cache-ttl", int(0))]), invalid("x-cache-ttl", "{value_zero,0}")),
        (
            dedup(&[("x-deduplication-header", int(1))]),
            "PRECONDITION_FAILED - invalid type 'signedint' for arg 'x-deduplication-header' in queue 'bad-dd' in vhost '/'"
                .to_owned(),
        ),
    ];
    for (args, text) in cases {
        let ch = conn.create_channel().await.unwrap();
        assert_reply(declare(&ch, "bad-dd", args).await, 406, &text);
    }
}
