//! The lapin calls every suite makes: queue depth, draining a queue, confirmed
//! publishes, waiting for a delivery.

use futures_util::StreamExt;
use lapin::message::Delivery;
use lapin::options::{BasicGetOptions, BasicPublishOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, Consumer};

use crate::poll::WAIT;
use crate::reply::reply;

/// `queue.declare` options for a passive declare.
pub fn passive() -> QueueDeclareOptions {
    QueueDeclareOptions {
        passive: true,
        ..Default::default()
    }
}

/// Ready messages in `queue`, as a passive declare reports them.
pub async fn depth(ch: &Channel, queue: &str) -> u32 {
    ch.queue_declare(queue.into(), passive(), FieldTable::default())
        .await
        .expect("passive queue.declare")
        .message_count()
}

/// Whether a queue exists, from a passive declare on a fresh channel (a 404 closes it;
/// any other error fails the test).
pub async fn queue_exists(conn: &Connection, queue: &str) -> bool {
    let ch = conn.create_channel().await.expect("channel");
    match ch
        .queue_declare(queue.into(), passive(), FieldTable::default())
        .await
    {
        Ok(_) => {
            let _ = ch.close(200, "bye".into()).await;
            true
        }
        Err(e) => {
            assert_eq!(reply(&e).map(|(code, _)| code), Some(404), "{e}");
            false
        }
    }
}

/// Takes every ready message of `queue` with auto-ack `basic.get`s, in order: bodies
/// (as text) and redelivered flags. The queue holds no ready message afterwards unless
/// one arrived meanwhile.
pub async fn drain(ch: &Channel, queue: &str) -> Vec<(String, bool)> {
    take_all(ch, queue)
        .await
        .into_iter()
        .map(|d| (String::from_utf8_lossy(&d.data).into_owned(), d.redelivered))
        .collect()
}

/// [`drain`], keeping only the bodies as bytes.
pub async fn drain_bodies(ch: &Channel, queue: &str) -> Vec<Vec<u8>> {
    take_all(ch, queue)
        .await
        .into_iter()
        .map(|d| d.data)
        .collect()
}

/// Every ready message of `queue`, taken with auto-ack `basic.get`s.
async fn take_all(ch: &Channel, queue: &str) -> Vec<Delivery> {
    let mut out = Vec::new();
    while let Some(m) = ch
        .basic_get(queue.into(), BasicGetOptions { no_ack: true })
        .await
        .expect("basic.get")
    {
        out.push(m.delivery);
    }
    out
}

/// Publishes `b"m"` on a channel in confirm mode and waits for the broker's confirm, so
/// the message has been routed when this returns.
pub async fn publish_confirmed(
    ch: &Channel,
    exchange: &str,
    routing_key: &str,
    properties: BasicProperties,
) -> lapin::Result<lapin::Confirmation> {
    ch.basic_publish(
        exchange.into(),
        routing_key.into(),
        BasicPublishOptions::default(),
        b"m",
        properties,
    )
    .await?
    .await
}

/// The next delivery of `consumer`; fails the test if none comes within [`WAIT`].
pub async fn next_delivery(consumer: &mut Consumer) -> Delivery {
    tokio::time::timeout(WAIT, consumer.next())
        .await
        .expect("a delivery should arrive")
        .expect("the consumer should not end")
        .expect("the delivery should not be an error")
}
