//! Topic routing: subscribers choose messages by pattern over dot-separated routing keys,
//! here logs keyed `<service>.<severity>`.
//!
//! ```text
//!                                    "*.error"   --> (errors)     every service's errors
//!   services --> [example.logs, topic] "billing.#" --> (billing)  everything from billing
//!                                    "#"         --> (archive)    everything
//! ```
//!
//! In a binding key `*` matches exactly one word and `#` zero or more. A message
//! reaches every queue with a matching binding once, however many of its bindings match.
//!
//! Run a broker (`cargo run --release --bin warren`, or a RabbitMQ), then
//! `cargo run --example topic_routing [amqp://guest:guest@127.0.0.1:5672/%2f]`.

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::StreamExt;
use lapin::options::{
    BasicConsumeOptions, BasicPublishOptions, ExchangeDeclareOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Connection, ConnectionProperties, ExchangeKind};

/// The topic exchange.
pub const EXCHANGE: &str = "example.logs";

/// The subscribers: a name and its binding keys.
pub const SUBSCRIBERS: &[(&str, &[&str])] = &[
    ("errors", &["*.error"]),
    ("billing", &["billing.#"]),
    ("archive", &["#"]),
];

/// The log lines published, by routing key.
pub const LOGS: &[&str] = &[
    "billing.info",
    "billing.error",
    "auth.error",
    "auth.debug",
    "billing.invoice.sent",
];

/// Publishes [`LOGS`] and returns the routing keys each subscriber received.
pub async fn run(uri: &str, deadline: Duration) -> lapin::Result<BTreeMap<String, Vec<String>>> {
    let conn = Connection::connect(uri, ConnectionProperties::default()).await?;
    let ch = conn.create_channel().await?;
    ch.exchange_declare(
        EXCHANGE.into(),
        ExchangeKind::Topic,
        ExchangeDeclareOptions::default(),
        FieldTable::default(),
    )
    .await?;
    let mut consumers = Vec::new();
    for (name, keys) in SUBSCRIBERS {
        let exclusive = QueueDeclareOptions {
            exclusive: true,
            ..QueueDeclareOptions::default()
        };
        let queue = ch
            .queue_declare("".into(), exclusive, FieldTable::default())
            .await?;
        for key in *keys {
            ch.queue_bind(
                queue.name().as_str().into(),
                EXCHANGE.into(),
                (*key).into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
        }
        let no_ack = BasicConsumeOptions {
            no_ack: true,
            ..BasicConsumeOptions::default()
        };
        let consumer = ch
            .basic_consume(
                queue.name().as_str().into(),
                "".into(),
                no_ack,
                FieldTable::default(),
            )
            .await?;
        consumers.push((*name, consumer));
    }
    for key in LOGS {
        ch.basic_publish(
            EXCHANGE.into(),
            (*key).into(),
            BasicPublishOptions::default(),
            format!("a log line from {key}").as_bytes(),
            BasicProperties::default(),
        )
        .await?;
    }
    // A marker every subscriber gets last ("*.error", "billing.#" and "#" all match it).
    ch.basic_publish(
        EXCHANGE.into(),
        "billing.error".into(),
        BasicPublishOptions::default(),
        b"end",
        BasicProperties::default(),
    )
    .await?;
    let mut received = BTreeMap::new();
    let collect = async {
        for (name, consumer) in consumers.iter_mut() {
            let got: &mut Vec<String> = received.entry((*name).to_owned()).or_default();
            while let Some(Ok(d)) = consumer.next().await {
                if d.data == b"end" {
                    break;
                }
                got.push(d.routing_key.to_string());
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
    for (name, keys) in run(&uri, Duration::from_secs(10)).await? {
        println!("{name:>8}: {keys:?}");
    }
    Ok(())
}
