//! Helpers shared by the smart-queue end-to-end tests (TTL, dead-lettering, limits,
//! priorities, consumer selection, deduplication): building argument tables, publishing,
//! polling queue depths with a deadline, reading headers and checking channel closes.
#![allow(dead_code)] // each test binary uses a different subset

use std::future::Future;
use std::time::{Duration, Instant};

use lapin::message::BasicGetMessage;
use lapin::options::{BasicGetOptions, BasicPublishOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Channel, Connection};

/// How long a test waits for something the broker does on a timer (TTLs in the tests
/// are tens to hundreds of milliseconds; this only bounds a failing test).
pub const DEADLINE: Duration = Duration::from_secs(5);

/// A field table from `(key, value)` pairs.
pub fn table(entries: &[(&str, AMQPValue)]) -> FieldTable {
    let mut t = FieldTable::default();
    for (k, v) in entries {
        t.insert(ShortString::from(*k), v.clone());
    }
    t
}

/// A long-string value.
pub fn s(v: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(v))
}

/// A signed 32-bit value (what pika sends for small integers: type `I`).
pub fn int(v: i32) -> AMQPValue {
    AMQPValue::LongInt(v)
}

/// A signed 64-bit value (type `l`).
pub fn long(v: i64) -> AMQPValue {
    AMQPValue::LongLongInt(v)
}

/// A boolean value.
pub fn boolean(v: bool) -> AMQPValue {
    AMQPValue::Boolean(v)
}

/// Declares a non-durable queue with `args`.
pub async fn declare(ch: &Channel, name: &str, args: FieldTable) -> lapin::Result<lapin::Queue> {
    ch.queue_declare(name.into(), QueueDeclareOptions::default(), args)
        .await
}

/// Declares a queue with `options` and `args`.
pub async fn declare_with(
    ch: &Channel,
    name: &str,
    options: QueueDeclareOptions,
    args: FieldTable,
) -> lapin::Result<lapin::Queue> {
    ch.queue_declare(name.into(), options, args).await
}

/// Publishes `body` to `exchange` with `routing_key` and `props`.
pub async fn publish_props(
    ch: &Channel,
    exchange: &str,
    routing_key: &str,
    body: &[u8],
    props: BasicProperties,
) {
    ch.basic_publish(
        exchange.into(),
        routing_key.into(),
        BasicPublishOptions::default(),
        body,
        props,
    )
    .await
    .expect("publish");
}

/// Publishes `body` straight to `queue` through the default exchange.
pub async fn publish(ch: &Channel, queue: &str, body: &[u8]) {
    publish_props(ch, "", queue, body, BasicProperties::default()).await;
}

/// Publishes `body` to `queue` with an `expiration` property.
pub async fn publish_expiring(ch: &Channel, queue: &str, body: &[u8], expiration: &str) {
    let props = BasicProperties::default().with_expiration(expiration.into());
    publish_props(ch, "", queue, body, props).await;
}

/// `basic.get` with `no_ack`.
pub async fn get(ch: &Channel, queue: &str) -> Option<BasicGetMessage> {
    ch.basic_get(queue.into(), BasicGetOptions { no_ack: true })
        .await
        .expect("basic.get")
}

/// The body of the next message `basic.get` (no-ack) returns, if any.
pub async fn get_body(ch: &Channel, queue: &str) -> Option<Vec<u8>> {
    get(ch, queue).await.map(|m| m.delivery.data)
}

/// Every body left in `queue`, taken with `basic.get` (no-ack), in delivery order.
pub async fn drain_bodies(ch: &Channel, queue: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(body) = get_body(ch, queue).await {
        out.push(body);
    }
    out
}

/// Ready messages in `queue`, from a passive declare.
pub async fn depth(ch: &Channel, queue: &str) -> u32 {
    let opts = QueueDeclareOptions {
        passive: true,
        ..QueueDeclareOptions::default()
    };
    ch.queue_declare(queue.into(), opts, FieldTable::default())
        .await
        .expect("passive declare")
        .message_count()
}

/// Polls `check` every 10 ms until it yields true or `timeout` passes; returns the last
/// answer. The async counterpart of `common::wait_for`.
pub async fn wait_until<F, Fut>(timeout: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits until `queue` holds exactly `n` ready messages; panics with the last depth
/// seen if it does not within [`DEADLINE`].
pub async fn wait_depth(ch: &Channel, queue: &str, n: u32) {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let last = depth(ch, queue).await;
        if last == n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "queue '{queue}' should reach {n} ready messages, last saw {last}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Whether a queue exists, from a passive declare on a fresh channel (a 404 closes it).
pub async fn queue_exists(conn: &Connection, queue: &str) -> bool {
    let ch = conn.create_channel().await.expect("channel");
    let opts = QueueDeclareOptions {
        passive: true,
        ..QueueDeclareOptions::default()
    };
    match ch
        .queue_declare(queue.into(), opts, FieldTable::default())
        .await
    {
        Ok(_) => {
            let _ = ch.close(200, "bye".into()).await;
            true
        }
        Err(e) => {
            assert_eq!(crate::common::reply_code(&e), Some(404), "{e}");
            false
        }
    }
}

/// The reply code and text of the channel or connection close behind `err`.
pub fn close_of(err: &lapin::Error) -> (u16, String) {
    match err.kind() {
        lapin::ErrorKind::ProtocolError(e) => (e.get_id(), e.get_message().to_string()),
        other => panic!("expected a protocol error, got {other:?}"),
    }
}

/// Asserts that `result` failed with reply `code` and exactly `text`.
pub fn assert_closed<T: std::fmt::Debug>(result: lapin::Result<T>, code: u16, text: &str) {
    let err = result.expect_err("the broker should refuse this");
    assert_eq!(close_of(&err), (code, text.to_owned()));
}

/// A header of a delivered message.
pub fn header<'a>(props: &'a BasicProperties, key: &str) -> Option<&'a AMQPValue> {
    props.headers().as_ref()?.inner().get(key)
}

/// A string value as text (long or short string).
pub fn text_of(v: &AMQPValue) -> Option<String> {
    match v {
        AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        AMQPValue::ShortString(s) => Some(s.to_string()),
        _ => None,
    }
}

/// An integer value of any width.
pub fn int_of(v: &AMQPValue) -> Option<i64> {
    match *v {
        AMQPValue::ShortShortInt(n) => Some(n.into()),
        AMQPValue::ShortShortUInt(n) => Some(n.into()),
        AMQPValue::ShortInt(n) => Some(n.into()),
        AMQPValue::ShortUInt(n) => Some(n.into()),
        AMQPValue::LongInt(n) => Some(n.into()),
        AMQPValue::LongUInt(n) => Some(n.into()),
        AMQPValue::LongLongInt(n) => Some(n),
        _ => None,
    }
}

/// A string header of a delivered message.
pub fn header_text(props: &BasicProperties, key: &str) -> Option<String> {
    header(props, key).and_then(text_of)
}

/// The `x-death` entries of a message, most recent first.
pub fn deaths(props: &BasicProperties) -> Vec<FieldTable> {
    match header(props, "x-death") {
        Some(AMQPValue::FieldArray(a)) => a
            .as_slice()
            .iter()
            .map(|e| match e {
                AMQPValue::FieldTable(t) => t.clone(),
                other => panic!("x-death entry is not a table: {other:?}"),
            })
            .collect(),
        other => panic!("x-death should be an array, got {other:?}"),
    }
}

/// A string field of an `x-death` entry.
pub fn death_text(entry: &FieldTable, key: &str) -> Option<String> {
    entry.inner().get(key).and_then(text_of)
}

/// The `count` of an `x-death` entry.
pub fn death_count(entry: &FieldTable) -> i64 {
    entry
        .inner()
        .get("count")
        .and_then(int_of)
        .expect("x-death count")
}

/// The next delivery of `consumer`; panics if none comes within [`DEADLINE`].
pub async fn next_delivery(consumer: &mut lapin::Consumer) -> lapin::message::Delivery {
    use futures_util::StreamExt;
    tokio::time::timeout(DEADLINE, consumer.next())
        .await
        .expect("a delivery should arrive")
        .expect("the consumer should not end")
        .expect("the delivery should not be an error")
}

/// Asserts that `consumer` receives nothing before `queue_clock` (a queue holding one
/// message with a TTL) has emptied: a wait of one TTL without a fixed sleep.
pub async fn nothing_until_clock(consumer: &mut lapin::Consumer, ch: &Channel, queue_clock: &str) {
    use futures_util::StreamExt;
    let deadline = Instant::now() + DEADLINE;
    loop {
        if depth(ch, queue_clock).await == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "clock queue '{queue_clock}' never emptied"
        );
        if let Ok(Some(d)) = tokio::time::timeout(Duration::from_millis(10), consumer.next()).await
        {
            panic!("unexpected delivery: {d:?}");
        }
    }
}
