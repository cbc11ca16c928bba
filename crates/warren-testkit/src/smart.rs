//! One-line lapin calls of the smart-queue suites (TTL, dead-lettering, limits,
//! priorities, consumer selection, deduplication): declares with arguments, publishes
//! with properties, `basic.get` without ack.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use lapin::message::BasicGetMessage;
use lapin::options::{BasicGetOptions, BasicPublishOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel};

use crate::ops::depth;
use crate::poll::WAIT;

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

/// Asserts that `consumer` receives nothing before `queue_clock` (a queue holding one
/// message with a TTL) has emptied: a wait of one TTL without a fixed sleep.
pub async fn nothing_until_clock(consumer: &mut lapin::Consumer, ch: &Channel, queue_clock: &str) {
    let deadline = Instant::now() + WAIT;
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
