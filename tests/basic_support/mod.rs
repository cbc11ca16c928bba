//! Helpers shared by the basic-class, consume, confirm and transaction tests: short
//! lapin calls, error inspection, server-side queue state, and a raw AMQP client.
#![allow(dead_code)] // each test binary uses a different subset

pub mod raw;

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use lapin::message::Delivery;
use lapin::options::*;
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Consumer};
use warren_broker::Queue;

use crate::common::TestBroker;

/// How long a test waits for something that should happen.
pub const WAIT: Duration = Duration::from_secs(5);

/// The reply code and text of a lapin error that carries one.
pub fn reply(err: &lapin::Error) -> Option<(u16, String)> {
    match err.kind() {
        lapin::ErrorKind::ProtocolError(e) => Some((e.get_id(), e.get_message().to_string())),
        _ => None,
    }
}

/// Asserts that `result` failed with exactly `code` and `text`.
pub fn assert_reply<T: std::fmt::Debug>(result: lapin::Result<T>, code: u16, text: &str) {
    match result {
        Ok(v) => panic!("expected {code} {text:?}, got Ok({v:?})"),
        Err(e) => assert_eq!(reply(&e), Some((code, text.to_owned())), "error: {e}"),
    }
}

/// Declares a non-exclusive, non-durable queue.
pub async fn declare(ch: &Channel, name: &str) {
    ch.queue_declare(
        name.into(),
        QueueDeclareOptions::default(),
        FieldTable::default(),
    )
    .await
    .expect("queue.declare");
}

/// Publishes `body` to the default exchange with routing key `queue`.
pub async fn publish(ch: &Channel, queue: &str, body: &[u8]) {
    ch.basic_publish(
        "".into(),
        queue.into(),
        BasicPublishOptions::default(),
        body,
        BasicProperties::default(),
    )
    .await
    .expect("basic.publish");
}

/// Publishes `m0`, `m1`, ... to `queue`.
pub async fn publish_numbered(ch: &Channel, queue: &str, n: usize) {
    for i in 0..n {
        publish(ch, queue, format!("m{i}").as_bytes()).await;
    }
}

/// Starts a consumer with tag `tag` (acks required).
pub async fn consume(ch: &Channel, queue: &str, tag: &str) -> Consumer {
    ch.basic_consume(
        queue.into(),
        tag.into(),
        BasicConsumeOptions::default(),
        FieldTable::default(),
    )
    .await
    .expect("basic.consume")
}

/// The next delivery of `consumer`, failing the test after [`WAIT`].
pub async fn next(consumer: &mut Consumer) -> Delivery {
    tokio::time::timeout(WAIT, consumer.next())
        .await
        .expect("a delivery in time")
        .expect("consumer still open")
        .expect("delivery without error")
}

/// `basic.get` that must find a message: returns its body, redelivered flag, tag and
/// the message count left.
pub async fn get(ch: &Channel, queue: &str, no_ack: bool) -> (String, bool, u64, u32) {
    let m = ch
        .basic_get(queue.into(), BasicGetOptions { no_ack })
        .await
        .expect("basic.get")
        .expect("a message");
    (
        String::from_utf8_lossy(&m.delivery.data).into_owned(),
        m.delivery.redelivered,
        m.delivery.delivery_tag,
        m.message_count,
    )
}

/// Bodies of every message left in `queue`, taken with auto-ack gets, with their
/// redelivered flags.
pub async fn drain(ch: &Channel, queue: &str) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    while let Some(m) = ch
        .basic_get(queue.into(), BasicGetOptions { no_ack: true })
        .await
        .expect("basic.get")
    {
        out.push((
            String::from_utf8_lossy(&m.delivery.data).into_owned(),
            m.delivery.redelivered,
        ));
    }
    out
}

/// Ready messages in `queue`, as a passive declare reports them.
pub async fn depth(ch: &Channel, queue: &str) -> u32 {
    ch.queue_declare(
        queue.into(),
        QueueDeclareOptions {
            passive: true,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await
    .expect("passive queue.declare")
    .message_count()
}

/// The broker's own queue object, for checks on its state.
pub fn server_queue(broker: &TestBroker, name: &str) -> Arc<Queue> {
    broker
        .broker()
        .vhost("/")
        .expect("vhost /")
        .queues()
        .into_iter()
        .find(|q| q.name().as_ref() == name)
        .expect("queue exists on the server")
}

/// Waits until `check` holds for the server's queue `name`.
pub async fn wait_queue(broker: &TestBroker, name: &str, check: impl Fn(&Queue) -> bool) -> bool {
    let q = server_queue(broker, name);
    crate::common::wait_for(WAIT, || check(&q)).await
}

/// A consumer on a private queue of `ch` whose only job is to report how the channel
/// ends: lapin hands the close reason to every consumer of a closed channel, while a
/// later call on the channel may only see "channel closed".
pub async fn watch(ch: &Channel) -> Consumer {
    let q = ch
        .queue_declare(
            "".into(),
            QueueDeclareOptions {
                exclusive: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .expect("watch queue");
    consume(ch, q.name().as_str(), "watch").await
}

/// The reply code and text that closed the channel `watch` was made on.
pub async fn closed_with(watch: &mut Consumer) -> (u16, String) {
    match tokio::time::timeout(WAIT, watch.next()).await {
        Ok(Some(Err(e))) => reply(&e).unwrap_or_else(|| panic!("not an AMQP error: {e}")),
        other => panic!("expected the channel to close with an error, got {other:?}"),
    }
}

/// Asserts that the channel `watch` was made on closed with `code` and `text`.
pub async fn assert_closed_with(watch: &mut Consumer, code: u16, text: &str) {
    assert_eq!(closed_with(watch).await, (code, text.to_owned()));
}
