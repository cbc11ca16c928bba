//! Exchange features beyond routing: the delayed-message exchange, exchange-level
//! deduplication, and direct reply-to RPC. Delivery order by due time and immediate
//! routing of zero or negative delays are tested on paused time in
//! `crates/warren-broker/tests/delayed.rs`.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use lapin::options::*;
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{BasicProperties, Channel, ExchangeKind};
use warren_testkit::TestBroker;

async fn declare_queue(ch: &Channel, name: &str) {
    ch.queue_declare(
        name.into(),
        QueueDeclareOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
}

async fn delayed_exchange(ch: &Channel, name: &str, inner: &str) {
    let mut args = FieldTable::default();
    args.insert("x-delayed-type".into(), AMQPValue::LongString(inner.into()));
    ch.exchange_declare(
        name.into(),
        ExchangeKind::Custom("x-delayed-message".into()),
        ExchangeDeclareOptions::default(),
        args,
    )
    .await
    .unwrap();
}

fn with_header(key: &str, value: AMQPValue) -> BasicProperties {
    let mut h = FieldTable::default();
    h.insert(key.into(), value);
    BasicProperties::default().with_headers(h)
}

async fn count(broker: &TestBroker, queue: &str) -> u32 {
    broker
        .broker()
        .vhost("/")
        .unwrap()
        .queue(queue, 0)
        .map(|q| q.message_count())
        .unwrap_or(0)
}

#[tokio::test]
async fn delayed_exchange_holds_a_message_until_its_delay_has_passed() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    delayed_exchange(&ch, "later", "direct").await;
    declare_queue(&ch, "q").await;
    ch.queue_bind(
        "q".into(),
        "later".into(),
        "k".into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    let start = Instant::now();
    ch.basic_publish(
        "later".into(),
        "k".into(),
        BasicPublishOptions::default(),
        b"slow",
        with_header("x-delay", AMQPValue::LongInt(400)),
    )
    .await
    .unwrap()
    .await
    .unwrap();
    ch.basic_publish(
        "later".into(),
        "k".into(),
        BasicPublishOptions::default(),
        b"now",
        BasicProperties::default(),
    )
    .await
    .unwrap()
    .await
    .unwrap();
    // The undelayed message is there at once, the delayed one is held.
    assert_eq!(count(&broker, "q").await, 1);
    assert_eq!(broker.broker().delayed().len(), 1);
    assert!(
        warren_testkit::eventually(Duration::from_secs(5), || std::future::ready(
            broker.broker().delayed().is_empty()
        ))
        .await
    );
    assert!(
        start.elapsed() >= Duration::from_millis(400),
        "not released early"
    );
    assert!(
        warren_testkit::eventually(Duration::from_secs(2), || std::future::ready({
            broker
                .broker()
                .vhost("/")
                .unwrap()
                .queue("q", 0)
                .map(|q| q.message_count() == 2)
                .unwrap_or(false)
        }))
        .await
    );
}

#[tokio::test]
async fn a_very_long_delay_is_accepted_and_held() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    delayed_exchange(&ch, "later", "direct").await;
    // Far past RabbitMQ's plugin limit of 2^32-1 ms (about 49 days).
    let props = with_header("x-delay", AMQPValue::LongLongInt(100 * 24 * 3600 * 1000));
    ch.basic_publish(
        "later".into(),
        "k".into(),
        BasicPublishOptions::default(),
        b"x",
        props,
    )
    .await
    .unwrap();
    assert!(
        warren_testkit::eventually(Duration::from_secs(2), || std::future::ready(
            broker.broker().delayed().len() == 1
        ))
        .await
    );
}

#[tokio::test]
async fn delayed_exchange_needs_a_valid_delayed_type() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    let err = ch
        .exchange_declare(
            "bad".into(),
            ExchangeKind::Custom("x-delayed-message".into()),
            ExchangeDeclareOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(warren_testkit::reply(&err).map(|(code, _)| code), Some(406));
    assert!(
        err.to_string()
            .contains("'x-delayed-type' must be an existing exchange type"),
        "{err}"
    );
}

#[tokio::test]
async fn exchange_deduplication_drops_repeated_ids() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    let mut args = FieldTable::default();
    args.insert("x-message-deduplication".into(), AMQPValue::Boolean(true));
    args.insert("x-cache-size".into(), AMQPValue::LongInt(100));
    ch.exchange_declare(
        "dedup".into(),
        ExchangeKind::Fanout,
        ExchangeDeclareOptions::default(),
        args,
    )
    .await
    .unwrap();
    declare_queue(&ch, "q").await;
    ch.queue_bind(
        "q".into(),
        "dedup".into(),
        "".into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    for id in ["a", "b", "a", "c", "b"] {
        let props = with_header("x-deduplication-header", AMQPValue::LongString(id.into()));
        ch.basic_publish(
            "dedup".into(),
            "".into(),
            BasicPublishOptions::default(),
            id.as_bytes(),
            props,
        )
        .await
        .unwrap()
        .await
        .unwrap();
    }
    assert_eq!(count(&broker, "q").await, 3);
}

#[tokio::test]
async fn direct_reply_to_rpc_round_trip() {
    let broker = TestBroker::start().await;
    // The server side: answers every request to `rpc` on its reply_to.
    let (_sconn, server) = broker.channel().await;
    declare_queue(&server, "rpc").await;
    let mut requests = server
        .basic_consume(
            "rpc".into(),
            "server".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let server_task = tokio::spawn(async move {
        let req = requests.next().await.unwrap().unwrap();
        let reply_to = req
            .properties
            .reply_to()
            .clone()
            .expect("reply_to set")
            .to_string();
        assert!(reply_to.starts_with("amq.rabbitmq.reply-to."), "{reply_to}");
        let mut answer = b"answer to ".to_vec();
        answer.extend_from_slice(&req.data);
        server
            .basic_publish(
                "".into(),
                reply_to.as_str().into(),
                BasicPublishOptions::default(),
                &answer,
                BasicProperties::default(),
            )
            .await
            .unwrap();
        req.ack(BasicAckOptions::default()).await.unwrap();
    });
    // The client side: no reply queue declared.
    let (_cconn, client) = broker.channel().await;
    let mut replies = client
        .basic_consume(
            "amq.rabbitmq.reply-to".into(),
            "replies".into(),
            BasicConsumeOptions {
                no_ack: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    let props =
        BasicProperties::default().with_reply_to(ShortString::from("amq.rabbitmq.reply-to"));
    client
        .basic_publish(
            "".into(),
            "rpc".into(),
            BasicPublishOptions::default(),
            b"42",
            props,
        )
        .await
        .unwrap();
    let reply = tokio::time::timeout(Duration::from_secs(5), replies.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(reply.data, b"answer to 42");
    server_task.await.unwrap();
}

#[tokio::test]
async fn direct_reply_to_errors_match_rabbitmq() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    let err = ch
        .basic_consume(
            "amq.rabbitmq.reply-to".into(),
            "r".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(warren_testkit::reply(&err).map(|(code, _)| code), Some(406));
    assert!(
        err.to_string()
            .contains("reply consumer cannot acknowledge"),
        "{err}"
    );

    let (_conn2, ch2) = broker.channel().await;
    let props =
        BasicProperties::default().with_reply_to(ShortString::from("amq.rabbitmq.reply-to"));
    ch2.basic_publish(
        "".into(),
        "nowhere".into(),
        BasicPublishOptions::default(),
        b"x",
        props,
    )
    .await
    .unwrap();
    assert!(
        warren_testkit::eventually(Duration::from_secs(5), || std::future::ready(
            !ch2.status().connected()
        ))
        .await,
        "fast reply consumer does not exist closes the channel"
    );
}
