//! `x-consistent-hash` exchanges through a real client: shares follow binding weights,
//! a routing key (header, property) always reaches the same queue, binding another queue
//! moves only its share of the keys, bad binding keys and arguments get RabbitMQ 3.10.8's
//! replies (docs/rabbitmq-reference.md §2), and durable ones route the same after a
//! restart. The ring itself is unit-tested in crates/warren-broker/src/routing/.

use std::collections::BTreeMap;

use lapin::options::*;
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::{BasicProperties, Channel, ExchangeKind};
use warren_testkit::http::Api;
use warren_testkit::{assert_reply, smart, TestBroker};

const CHX: &str = "x-consistent-hash";

async fn exchange(ch: &Channel, name: &str, durable: bool, args: &[(&str, &str)]) {
    let mut t = FieldTable::default();
    for (k, v) in args {
        t.insert((*k).into(), AMQPValue::LongString(LongString::from(*v)));
    }
    ch.exchange_declare(
        name.into(),
        ExchangeKind::Custom(CHX.into()),
        ExchangeDeclareOptions {
            durable,
            ..Default::default()
        },
        t,
    )
    .await
    .expect("declare x-consistent-hash");
}

async fn queue(ch: &Channel, name: &str, durable: bool) {
    ch.queue_declare(
        name.into(),
        QueueDeclareOptions {
            durable,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await
    .expect("queue.declare");
}

async fn bind(ch: &Channel, q: &str, x: &str, weight: &str) -> lapin::Result<()> {
    ch.queue_bind(
        q.into(),
        x.into(),
        weight.into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await
}

/// Publishes each (routing key, properties) with its routing key as body, then waits for
/// every confirm (all must be acks).
async fn publish_all(
    ch: &Channel,
    x: &str,
    messages: impl IntoIterator<Item = (String, BasicProperties)>,
) {
    for (key, props) in messages {
        ch.basic_publish(
            x.into(),
            key.as_str().into(),
            BasicPublishOptions::default(),
            key.as_bytes(),
            props,
        )
        .await
        .expect("publish");
    }
    let returned = ch.wait_for_confirms().await.expect("confirms");
    assert!(returned.is_empty(), "{} returned", returned.len());
}

async fn publish_keys(ch: &Channel, x: &str, keys: impl IntoIterator<Item = String>) {
    publish_all(
        ch,
        x,
        keys.into_iter().map(|k| (k, BasicProperties::default())),
    )
    .await;
}

/// Drains `queues` with basic.get: body → queue it was in (each body seen once).
async fn drain(ch: &Channel, queues: &[&str]) -> BTreeMap<String, String> {
    let mut at = BTreeMap::new();
    for q in queues {
        while let Some(body) = smart::get_body(ch, q).await {
            let key = String::from_utf8(body).unwrap();
            let before = at.insert(key.clone(), (*q).to_owned());
            assert!(before.is_none(), "{key} routed twice: {before:?} and {q}");
        }
    }
    at
}

async fn confirming_channel(broker: &TestBroker) -> (lapin::Connection, Channel) {
    let (conn, ch) = broker.channel().await;
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    (conn, ch)
}

#[tokio::test]
async fn shares_follow_binding_weights_and_each_message_goes_to_one_queue() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = confirming_channel(&broker).await;
    exchange(&ch, "chx", false, &[]).await;
    let weights = [("q1", 1u32), ("q2", 1), ("q3", 2), ("q4", 2)];
    for (q, w) in weights {
        queue(&ch, q, false).await;
        bind(&ch, q, "chx", &w.to_string()).await.unwrap();
    }
    let n = 6_000;
    publish_keys(&ch, "chx", (0..n).map(|i| format!("key-{i}"))).await;
    let at = drain(&ch, &["q1", "q2", "q3", "q4"]).await;
    assert_eq!(at.len(), n, "every message reached exactly one queue");
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for q in at.values() {
        *counts.entry(q.as_str()).or_default() += 1;
    }
    // Expected n·w/6; the ring keeps a share within about 8% of that (one standard
    // deviation over point placement), sampling adds about 2%: 30% is a 3σ bound.
    for (q, w) in weights {
        let expected = (n as f64) * f64::from(w) / 6.0;
        let got = counts.get(q).copied().unwrap_or(0) as f64;
        assert!(
            (got - expected).abs() / expected < 0.30,
            "{q} (weight {w}) got {got}, expected about {expected}: {counts:?}"
        );
    }
}

#[tokio::test]
async fn the_same_routing_key_always_reaches_the_same_queue() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = confirming_channel(&broker).await;
    exchange(&ch, "orders", false, &[]).await;
    for q in ["a", "b", "c"] {
        queue(&ch, q, false).await;
        bind(&ch, q, "orders", "1").await.unwrap();
    }
    // Bodies "order-<k>#<i>": 20 keys, 30 messages each, interleaved.
    for i in 0..30 {
        for k in 0..20 {
            ch.basic_publish(
                "orders".into(),
                format!("order-{k}").as_str().into(),
                BasicPublishOptions::default(),
                format!("order-{k}#{i}").as_bytes(),
                BasicProperties::default(),
            )
            .await
            .unwrap();
        }
    }
    assert!(ch.wait_for_confirms().await.unwrap().is_empty());
    let mut home: BTreeMap<String, (String, usize)> = BTreeMap::new();
    let mut queues_used = std::collections::BTreeSet::new();
    for q in ["a", "b", "c"] {
        while let Some(body) = smart::get_body(&ch, q).await {
            let body = String::from_utf8(body).unwrap();
            let (key, i) = body.split_once('#').unwrap();
            let i: usize = i.parse().unwrap();
            let entry = home.entry(key.to_owned()).or_insert((q.to_owned(), 0));
            assert_eq!(entry.0, q, "{key} reached {} and {q}", entry.0);
            // One queue per key, so the key's messages stay in publish order.
            assert_eq!(entry.1, i, "{key} out of order in {q}");
            entry.1 += 1;
            queues_used.insert(q);
        }
    }
    assert_eq!(home.len(), 20);
    assert!(home.values().all(|(_, n)| *n == 30));
    assert!(queues_used.len() > 1, "20 keys all hashed to one queue");
}

#[tokio::test]
async fn hash_header_routes_on_a_header_and_messages_without_it_share_one_queue() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = confirming_channel(&broker).await;
    exchange(&ch, "by-user", false, &[("hash-header", "user")]).await;
    for q in ["h1", "h2", "h3"] {
        queue(&ch, q, false).await;
        bind(&ch, q, "by-user", "1").await.unwrap();
    }
    let with_user = |u: &str| {
        let mut h = FieldTable::default();
        h.insert("user".into(), AMQPValue::LongString(u.into()));
        BasicProperties::default().with_headers(h)
    };
    // Bodies are "<user>/<n>", routing keys all different: only the header counts.
    let mut msgs = Vec::new();
    for n in 0..5 {
        for u in 0..40 {
            msgs.push((format!("u{u}/{n}"), with_user(&format!("u{u}"))));
        }
    }
    publish_all(&ch, "by-user", msgs).await;
    let at = drain(&ch, &["h1", "h2", "h3"]).await;
    assert_eq!(at.len(), 200);
    let mut user_queue: BTreeMap<&str, &str> = BTreeMap::new();
    for (body, q) in &at {
        let user = body.split('/').next().unwrap();
        let first = *user_queue.entry(user).or_insert(q.as_str());
        assert_eq!(first, q, "{user} in two queues");
    }
    let used: std::collections::BTreeSet<_> = user_queue.values().collect();
    assert_eq!(used.len(), 3, "40 users over 3 queues: {user_queue:?}");
    // Without the header, every message goes to one (arbitrary) queue.
    publish_keys(&ch, "by-user", (0..30).map(|i| format!("none-{i}"))).await;
    let at = drain(&ch, &["h1", "h2", "h3"]).await;
    assert_eq!(at.len(), 30);
    let used: std::collections::BTreeSet<_> = at.values().collect();
    assert_eq!(used.len(), 1, "{at:?}");
}

#[tokio::test]
async fn hash_property_routes_on_message_id() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = confirming_channel(&broker).await;
    exchange(&ch, "by-id", false, &[("hash-property", "message_id")]).await;
    for q in ["p1", "p2"] {
        queue(&ch, q, false).await;
        bind(&ch, q, "by-id", "1").await.unwrap();
    }
    // Each message id is sent twice, with different routing keys (the body).
    let mut msgs = Vec::new();
    for round in 0..2 {
        for id in 0..50 {
            let props = BasicProperties::default().with_message_id(format!("m{id}").into());
            msgs.push((format!("m{id}.{round}"), props));
        }
    }
    publish_all(&ch, "by-id", msgs).await;
    let at = drain(&ch, &["p1", "p2"]).await;
    assert_eq!(at.len(), 100);
    for id in 0..50 {
        assert_eq!(at[&format!("m{id}.0")], at[&format!("m{id}.1")], "m{id}");
    }
    let used: std::collections::BTreeSet<_> = at.values().collect();
    assert_eq!(used.len(), 2);
}

#[tokio::test]
async fn binding_another_queue_moves_only_its_share_and_unbinding_moves_it_back() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = confirming_channel(&broker).await;
    exchange(&ch, "rebind", false, &[]).await;
    for q in ["r1", "r2", "r3", "r4"] {
        queue(&ch, q, false).await;
    }
    for q in ["r1", "r2", "r3"] {
        bind(&ch, q, "rebind", "1").await.unwrap();
    }
    let keys = || (0..3_000).map(|i| format!("k{i}"));
    let all = ["r1", "r2", "r3", "r4"];
    publish_keys(&ch, "rebind", keys()).await;
    let three = drain(&ch, &all).await;
    bind(&ch, "r4", "rebind", "1").await.unwrap();
    publish_keys(&ch, "rebind", keys()).await;
    let four = drain(&ch, &all).await;
    assert_eq!((three.len(), four.len()), (3_000, 3_000));
    let moved: Vec<&String> = keys()
        .filter(|k| three[k] != four[k])
        .map(|k| three.get_key_value(&k).unwrap().0)
        .collect();
    for k in &moved {
        assert_eq!(
            four[*k], "r4",
            "{k} moved from {} to {}",
            three[*k], four[*k]
        );
    }
    // The new queue's share (a quarter, 750) and nothing else.
    assert!((450..1_050).contains(&moved.len()), "{} moved", moved.len());
    ch.queue_unbind(
        "r4".into(),
        "rebind".into(),
        "1".into(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    publish_keys(&ch, "rebind", keys()).await;
    let back = drain(&ch, &all).await;
    assert_eq!(back, three, "unbinding put every key back where it was");
}

#[tokio::test]
async fn bad_binding_keys_and_arguments_get_rabbitmqs_replies() {
    let broker = TestBroker::start().await;
    let conn = broker.connect().await;
    let ch = conn.create_channel().await.unwrap();
    exchange(&ch, "chx", false, &[]).await;
    queue(&ch, "q", false).await;
    for (key, text) in [
        ("abc", "The binding key must be an integer: <<\"abc\">>"),
        ("", "The binding key must be an integer: <<>>"),
        (" 4", "The binding key must be an integer: <<\" 4\">>"),
        ("1.5", "The binding key must be an integer: <<\"1.5\">>"),
        ("0", "The binding key must be greater than 0"),
        ("-3", "The binding key must be greater than 0"),
    ] {
        let ch = conn.create_channel().await.unwrap();
        assert_reply(
            bind(&ch, "q", "chx", key).await,
            406,
            &format!("PRECONDITION_FAILED - {text}"),
        );
    }
    // Exchange-to-exchange bindings are checked too.
    let ch = conn.create_channel().await.unwrap();
    ch.exchange_declare(
        "dst".into(),
        ExchangeKind::Fanout,
        ExchangeDeclareOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    assert_reply(
        ch.exchange_bind(
            "dst".into(),
            "chx".into(),
            "abc".into(),
            ExchangeBindOptions::default(),
            FieldTable::default(),
        )
        .await,
        406,
        "PRECONDITION_FAILED - The binding key must be an integer: <<\"abc\">>",
    );
    // Accepted as RabbitMQ accepts them; nothing was bound by the refused ones.
    let ch = conn.create_channel().await.unwrap();
    bind(&ch, "q", "chx", "+4").await.unwrap();
    bind(&ch, "q", "chx", "99999999999999999999").await.unwrap();
    let x = broker.broker().vhost("/").unwrap().exchange("chx").unwrap();
    assert_eq!(x.bindings().len(), 2);
    for (args, text) in [
        (
            vec![("hash-property", "app_id")],
            "Unsupported property: app_id",
        ),
        (
            vec![("hash-property", "message_id"), ("hash-header", "h")],
            "hash-header and hash-property are mutually exclusive",
        ),
    ] {
        let ch = conn.create_channel().await.unwrap();
        let mut t = FieldTable::default();
        for (k, v) in args {
            t.insert(k.into(), AMQPValue::LongString(v.into()));
        }
        assert_reply(
            ch.exchange_declare(
                "bad".into(),
                ExchangeKind::Custom(CHX.into()),
                ExchangeDeclareOptions::default(),
                t,
            )
            .await,
            406,
            &format!("PRECONDITION_FAILED - {text}"),
        );
    }
    let ch = conn.create_channel().await.unwrap();
    let mut t = FieldTable::default();
    t.insert("hash-header".into(), AMQPValue::LongInt(5));
    assert_reply(
        ch.exchange_declare(
            "bad".into(),
            ExchangeKind::Custom(CHX.into()),
            ExchangeDeclareOptions::default(),
            t,
        )
        .await,
        406,
        "PRECONDITION_FAILED - Invalid argument 'hash-header': expected a string, got 5",
    );
    assert!(broker.broker().vhost("/").unwrap().exchange("bad").is_err());
}

#[tokio::test]
async fn a_durable_exchange_and_its_bindings_route_the_same_after_a_restart() {
    let mut broker = TestBroker::start().await;
    let keys = || (0..600).map(|i| format!("d{i}"));
    let queues = ["d1", "d2", "d3"];
    let before = {
        let (_conn, ch) = confirming_channel(&broker).await;
        exchange(&ch, "durable-chx", true, &[]).await;
        for (q, w) in queues.iter().zip(["1", "2", "3"]) {
            queue(&ch, q, true).await;
            bind(&ch, q, "durable-chx", w).await.unwrap();
        }
        publish_keys(&ch, "durable-chx", keys()).await;
        drain(&ch, &queues).await
    };
    broker.restart().await;
    let (_conn, ch) = confirming_channel(&broker).await;
    let x = broker
        .broker()
        .vhost("/")
        .unwrap()
        .exchange("durable-chx")
        .expect("recovered");
    assert_eq!(x.config().type_name(), CHX);
    assert_eq!(x.bindings().len(), 3);
    publish_keys(&ch, "durable-chx", keys()).await;
    let after = drain(&ch, &queues).await;
    assert_eq!(before.len(), 600);
    assert_eq!(
        after, before,
        "every key reaches the queue it reached before"
    );
}

#[tokio::test]
async fn the_management_api_lists_the_type() {
    let broker = TestBroker::start().await;
    let api = Api::new(&broker.management_url(), "guest", "guest");
    let reply = api.get("/api/overview").await;
    assert_eq!(reply.status, 200);
    let overview = reply.json();
    let types: Vec<&str> = overview["exchange_types"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(types.contains(&CHX), "{types:?}");
}
