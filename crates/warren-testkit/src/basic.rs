//! One-line lapin calls of the basic-class suites (basic, consume, confirms,
//! transactions): plain declares and publishes, consumers, `basic.get` that must find a
//! message.

use lapin::options::{
    BasicConsumeOptions, BasicGetOptions, BasicPublishOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Consumer};

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
