//! Routing over TCP, each case published with confirms so the message has been routed
//! when the test looks at the queues: direct, fanout, topic wildcards and empty words,
//! headers matching, exchange-to-exchange bindings (cycles included), alternate
//! exchanges, one copy per queue, and mandatory returns.

use lapin::options::{
    ConfirmSelectOptions, ExchangeBindOptions, ExchangeDeclareOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::{BasicProperties, Channel, Confirmation, ExchangeKind};
use warren_testkit::{depth, publish_confirmed, TestBroker};

/// A channel in confirm mode.
async fn confirm_channel(broker: &TestBroker) -> (lapin::Connection, Channel) {
    let (conn, ch) = broker.channel().await;
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    (conn, ch)
}

async fn exchange(ch: &Channel, name: &str, kind: ExchangeKind, args: FieldTable) {
    ch.exchange_declare(name.into(), kind, ExchangeDeclareOptions::default(), args)
        .await
        .expect("exchange declare");
}

async fn queue(ch: &Channel, name: &str) {
    ch.queue_declare(
        name.into(),
        QueueDeclareOptions::default(),
        FieldTable::default(),
    )
    .await
    .expect("queue declare");
}

async fn bind(ch: &Channel, q: &str, ex: &str, key: &str, args: FieldTable) {
    ch.queue_bind(
        q.into(),
        ex.into(),
        key.into(),
        QueueBindOptions::default(),
        args,
    )
    .await
    .expect("queue bind");
}

async fn bind_exchange(ch: &Channel, destination: &str, source: &str, key: &str) {
    ch.exchange_bind(
        destination.into(),
        source.into(),
        key.into(),
        ExchangeBindOptions::default(),
        FieldTable::default(),
    )
    .await
    .expect("exchange bind");
}

async fn publish(ch: &Channel, ex: &str, key: &str) {
    publish_confirmed(ch, ex, key, BasicProperties::default())
        .await
        .expect("publish");
}

async fn publish_with_headers(ch: &Channel, ex: &str, headers: FieldTable) {
    publish_confirmed(ch, ex, "", BasicProperties::default().with_headers(headers))
        .await
        .expect("publish");
}

/// Ready messages in each queue, in order.
async fn counts(ch: &Channel, queues: &[&str]) -> Vec<u32> {
    let mut out = Vec::new();
    for q in queues {
        out.push(depth(ch, q).await);
    }
    out
}

fn table(entries: &[(&str, AMQPValue)]) -> FieldTable {
    let mut t = FieldTable::default();
    for (k, v) in entries {
        t.insert((*k).into(), v.clone());
    }
    t
}

fn s(v: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(v))
}

#[tokio::test]
async fn default_exchange_routes_by_queue_name() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = confirm_channel(&broker).await;
    queue(&ch, "a").await;
    queue(&ch, "b").await;
    publish(&ch, "", "a").await;
    publish(&ch, "", "nope").await;
    assert_eq!(counts(&ch, &["a", "b"]).await, [1, 0]);
}

#[tokio::test]
async fn direct_exchange_routes_by_exact_key() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = confirm_channel(&broker).await;
    exchange(&ch, "d", ExchangeKind::Direct, FieldTable::default()).await;
    for q in ["q1", "q2", "q3"] {
        queue(&ch, q).await;
    }
    bind(&ch, "q1", "d", "red", FieldTable::default()).await;
    bind(&ch, "q2", "d", "red", FieldTable::default()).await;
    bind(&ch, "q3", "d", "green", FieldTable::default()).await;
    publish(&ch, "d", "red").await;
    publish(&ch, "d", "Red").await;
    publish(&ch, "d", "red.x").await;
    assert_eq!(counts(&ch, &["q1", "q2", "q3"]).await, [1, 1, 0]);
}

#[tokio::test]
async fn fanout_exchange_ignores_the_key() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = confirm_channel(&broker).await;
    exchange(&ch, "f", ExchangeKind::Fanout, FieldTable::default()).await;
    queue(&ch, "q1").await;
    queue(&ch, "q2").await;
    bind(&ch, "q1", "f", "a", FieldTable::default()).await;
    bind(&ch, "q2", "f", "b", FieldTable::default()).await;
    publish(&ch, "f", "whatever").await;
    assert_eq!(counts(&ch, &["q1", "q2"]).await, [1, 1]);
}

/// Binds one queue per pattern to a fresh topic exchange, publishes `key` and returns
/// which patterns matched.
async fn topic_matches(ch: &Channel, case: usize, patterns: &[&str], key: &str) -> Vec<bool> {
    let ex = format!("t{case}");
    exchange(ch, &ex, ExchangeKind::Topic, FieldTable::default()).await;
    let mut names = Vec::new();
    for (i, p) in patterns.iter().enumerate() {
        let q = format!("t{case}-q{i}");
        queue(ch, &q).await;
        bind(ch, &q, &ex, p, FieldTable::default()).await;
        names.push(q);
    }
    publish(ch, &ex, key).await;
    let mut out = Vec::new();
    for q in &names {
        out.push(depth(ch, q).await == 1);
    }
    out
}

#[tokio::test]
async fn topic_star_matches_exactly_one_word() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = confirm_channel(&broker).await;
    let patterns = ["a.*", "*.b", "a.*.c", "*"];
    assert_eq!(
        topic_matches(&ch, 0, &patterns, "a.b").await,
        [true, true, false, false]
    );
    assert_eq!(
        topic_matches(&ch, 1, &patterns, "a.x.c").await,
        [false, false, true, false]
    );
}

#[tokio::test]
async fn topic_hash_matches_zero_or_more_words() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = confirm_channel(&broker).await;
    let patterns = ["#", "a.#", "a.#.b", "#.b", "a.*.#"];
    assert_eq!(
        topic_matches(&ch, 0, &patterns, "a").await,
        [true, true, false, false, false]
    );
    assert_eq!(
        topic_matches(&ch, 1, &patterns, "a.b").await,
        [true, true, true, true, true]
    );
    assert_eq!(
        topic_matches(&ch, 2, &patterns, "a.x.y.b").await,
        [true, true, true, true, true]
    );
}

#[tokio::test]
async fn topic_empty_words_are_words() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = confirm_channel(&broker).await;
    // RabbitMQ 3.10.8: "" has no words; "a..b" has an empty middle word.
    let patterns = ["#", "*", "", "a.*.b", "a..b", "a.*"];
    assert_eq!(
        topic_matches(&ch, 0, &patterns, "").await,
        [true, false, true, false, false, false]
    );
    assert_eq!(
        topic_matches(&ch, 1, &patterns, "a..b").await,
        [true, false, false, true, true, false]
    );
    assert_eq!(
        topic_matches(&ch, 2, &patterns, "a.").await,
        [true, false, false, false, false, true]
    );
}

#[tokio::test]
async fn headers_all_needs_every_key_and_any_needs_one() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = confirm_channel(&broker).await;
    queue(&ch, "all").await;
    queue(&ch, "any").await;
    let spec = [("format", s("pdf")), ("type", s("report"))];
    let mut all = table(&spec);
    all.insert("x-match".into(), s("all"));
    let mut any = table(&spec);
    any.insert("x-match".into(), s("any"));
    bind(&ch, "all", "amq.headers", "", all).await;
    bind(&ch, "any", "amq.headers", "", any).await;
    publish_with_headers(&ch, "amq.headers", table(&spec)).await;
    publish_with_headers(&ch, "amq.headers", table(&[("format", s("pdf"))])).await;
    publish_with_headers(&ch, "amq.headers", table(&[("format", s("zip"))])).await;
    assert_eq!(counts(&ch, &["all", "any"]).await, [1, 2]);
}

#[tokio::test]
async fn headers_compare_typed_values() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = confirm_channel(&broker).await;
    queue(&ch, "q").await;
    bind(
        &ch,
        "q",
        "amq.match",
        "",
        table(&[("n", AMQPValue::LongInt(1)), ("x-match", s("all"))]),
    )
    .await;
    // An integer of another width still matches; a string or another number does not.
    publish_with_headers(&ch, "amq.match", table(&[("n", AMQPValue::LongLongInt(1))])).await;
    publish_with_headers(&ch, "amq.match", table(&[("n", s("1"))])).await;
    publish_with_headers(&ch, "amq.match", table(&[("n", AMQPValue::LongInt(2))])).await;
    publish_with_headers(&ch, "amq.match", FieldTable::default()).await;
    assert_eq!(depth(&ch, "q").await, 1);
}

#[tokio::test]
async fn exchange_to_exchange_bindings_forward_messages() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = confirm_channel(&broker).await;
    exchange(&ch, "src", ExchangeKind::Topic, FieldTable::default()).await;
    exchange(&ch, "dst", ExchangeKind::Direct, FieldTable::default()).await;
    queue(&ch, "q").await;
    bind(&ch, "q", "dst", "logs.error", FieldTable::default()).await;
    bind_exchange(&ch, "dst", "src", "logs.#").await;
    publish(&ch, "src", "logs.error").await;
    publish(&ch, "src", "logs.info").await;
    publish(&ch, "src", "other.error").await;
    assert_eq!(depth(&ch, "q").await, 1);
}

#[tokio::test]
async fn an_exchange_cycle_delivers_once_to_each_queue() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = confirm_channel(&broker).await;
    exchange(&ch, "A", ExchangeKind::Fanout, FieldTable::default()).await;
    exchange(&ch, "B", ExchangeKind::Fanout, FieldTable::default()).await;
    queue(&ch, "on-a").await;
    queue(&ch, "on-b").await;
    queue(&ch, "on-both").await;
    bind(&ch, "on-a", "A", "", FieldTable::default()).await;
    bind(&ch, "on-b", "B", "", FieldTable::default()).await;
    bind(&ch, "on-both", "A", "", FieldTable::default()).await;
    bind(&ch, "on-both", "B", "", FieldTable::default()).await;
    bind_exchange(&ch, "B", "A", "").await;
    bind_exchange(&ch, "A", "B", "").await;
    publish(&ch, "A", "").await;
    assert_eq!(counts(&ch, &["on-a", "on-b", "on-both"]).await, [1, 1, 1]);
    publish(&ch, "B", "").await;
    assert_eq!(counts(&ch, &["on-a", "on-b", "on-both"]).await, [2, 2, 2]);
}

#[tokio::test]
async fn a_diamond_of_exchanges_delivers_once() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = confirm_channel(&broker).await;
    for e in ["X", "Y1", "Y2"] {
        exchange(&ch, e, ExchangeKind::Fanout, FieldTable::default()).await;
    }
    queue(&ch, "q").await;
    bind_exchange(&ch, "Y1", "X", "").await;
    bind_exchange(&ch, "Y2", "X", "").await;
    bind(&ch, "q", "Y1", "", FieldTable::default()).await;
    bind(&ch, "q", "Y2", "", FieldTable::default()).await;
    bind(&ch, "q", "X", "", FieldTable::default()).await;
    publish(&ch, "X", "").await;
    assert_eq!(depth(&ch, "q").await, 1);
}

#[tokio::test]
async fn two_bindings_to_one_queue_deliver_once() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = confirm_channel(&broker).await;
    queue(&ch, "q").await;
    bind(&ch, "q", "amq.topic", "a.*", FieldTable::default()).await;
    bind(&ch, "q", "amq.topic", "*.b", FieldTable::default()).await;
    bind(&ch, "q", "amq.topic", "*.b", FieldTable::default()).await;
    publish(&ch, "amq.topic", "a.b").await;
    assert_eq!(depth(&ch, "q").await, 1);
}

#[tokio::test]
async fn unroutable_messages_go_to_the_alternate_exchange() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = confirm_channel(&broker).await;
    exchange(&ch, "ae", ExchangeKind::Fanout, FieldTable::default()).await;
    exchange(
        &ch,
        "main",
        ExchangeKind::Direct,
        table(&[("alternate-exchange", s("ae"))]),
    )
    .await;
    queue(&ch, "routed").await;
    queue(&ch, "unrouted").await;
    bind(&ch, "routed", "main", "k", FieldTable::default()).await;
    bind(&ch, "unrouted", "ae", "", FieldTable::default()).await;
    publish(&ch, "main", "k").await;
    publish(&ch, "main", "other").await;
    publish(&ch, "main", "other").await;
    assert_eq!(counts(&ch, &["routed", "unrouted"]).await, [1, 2]);
}

#[tokio::test]
async fn mandatory_unroutable_message_is_returned_with_312() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = confirm_channel(&broker).await;
    let confirm = ch
        .basic_publish(
            "amq.direct".into(),
            "nobody".into(),
            lapin::options::BasicPublishOptions {
                mandatory: true,
                ..Default::default()
            },
            b"lost",
            BasicProperties::default(),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    let Confirmation::Ack(Some(returned)) = confirm else {
        panic!("expected an ack carrying the returned message, got {confirm:?}");
    };
    assert_eq!(returned.reply_code, 312);
    assert_eq!(returned.reply_text.as_str(), "NO_ROUTE");
    assert_eq!(returned.routing_key.as_str(), "nobody");
    assert_eq!(returned.data, b"lost");
}

#[tokio::test]
async fn mandatory_routable_message_is_not_returned() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = confirm_channel(&broker).await;
    queue(&ch, "q").await;
    let confirm = ch
        .basic_publish(
            "".into(),
            "q".into(),
            lapin::options::BasicPublishOptions {
                mandatory: true,
                ..Default::default()
            },
            b"kept",
            BasicProperties::default(),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    assert!(matches!(confirm, Confirmation::Ack(None)), "{confirm:?}");
    assert_eq!(depth(&ch, "q").await, 1);
}
