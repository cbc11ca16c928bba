//! Publish/subscribe: every subscriber gets every message.
//!
//! ```text
//!                                  +--> (server-named, exclusive) --> subscriber-1
//!   publisher --> [example.events, fanout] --> (server-named, exclusive) --> subscriber-2
//!                                  +--> (server-named, exclusive) --> subscriber-3
//! ```
//!
//! Each subscriber declares its own queue (server-named, exclusive: it goes away with the
//! subscriber) and binds it to a fanout exchange, which copies every message to every
//! bound queue. A subscriber that is not running misses what is published meanwhile:
//! that is what distinguishes pub/sub from a task queue.
//!
//! Run a broker (`cargo run --release --bin warren`, or a RabbitMQ), then
//! `cargo run --example pub_sub [amqp://guest:guest@127.0.0.1:5672/%2f]`.

use std::time::Duration;

use futures_util::StreamExt;
use lapin::options::{
    BasicConsumeOptions, BasicPublishOptions, ExchangeDeclareOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Connection, ConnectionProperties, ExchangeKind};

/// The fanout exchange.
pub const EXCHANGE: &str = "example.events";

/// Starts `subscribers` subscribers, publishes `messages` events, and returns what each
/// subscriber received, in order (or what it had when `deadline` passed).
pub async fn run(
    uri: &str,
    subscribers: usize,
    messages: usize,
    deadline: Duration,
) -> lapin::Result<Vec<Vec<String>>> {
    let conn = Connection::connect(uri, ConnectionProperties::default()).await?;
    let ch = conn.create_channel().await?;
    ch.exchange_declare(
        EXCHANGE.into(),
        ExchangeKind::Fanout,
        ExchangeDeclareOptions::default(),
        FieldTable::default(),
    )
    .await?;
    let mut streams = Vec::new();
    for _ in 0..subscribers {
        let queue = ch
            .queue_declare(
                "".into(),
                QueueDeclareOptions {
                    exclusive: true,
                    ..QueueDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await?;
        ch.queue_bind(
            queue.name().as_str().into(),
            EXCHANGE.into(),
            "".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
        let consumer = ch
            .basic_consume(
                queue.name().as_str().into(),
                "".into(),
                BasicConsumeOptions {
                    no_ack: true,
                    ..BasicConsumeOptions::default()
                },
                FieldTable::default(),
            )
            .await?;
        streams.push(consumer);
    }
    for i in 0..messages {
        ch.basic_publish(
            EXCHANGE.into(),
            "".into(),
            BasicPublishOptions::default(),
            format!("event-{i}").as_bytes(),
            BasicProperties::default(),
        )
        .await?;
    }
    let mut received = vec![Vec::new(); subscribers];
    let collect = async {
        for (stream, got) in streams.iter_mut().zip(received.iter_mut()) {
            while got.len() < messages {
                match stream.next().await {
                    Some(Ok(d)) => got.push(String::from_utf8_lossy(&d.data).into_owned()),
                    _ => break,
                }
            }
        }
    };
    let _ = tokio::time::timeout(deadline, collect).await;
    conn.close(200, "done".into()).await?;
    Ok(received)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let uri = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned());
    let received = run(&uri, 3, 5, Duration::from_secs(10)).await?;
    for (i, got) in received.iter().enumerate() {
        println!("subscriber-{}: {got:?}", i + 1);
    }
    if received.iter().any(|got| got.len() != 5) {
        return Err("a subscriber missed an event".into());
    }
    Ok(())
}
