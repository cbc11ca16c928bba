//! Headers routing: queues choose messages by header values, not by routing key.
//!
//! ```text
//!                                        x-match=all, format=pdf, type=report --> (pdf-reports)
//!   producer --> [example.documents, headers]
//!                                        x-match=any, format=pdf, type=log    --> (pdf-or-logs)
//! ```
//!
//! A binding's arguments are its match: with `x-match=all` every listed header must be
//! equal, with `x-match=any` one is enough. The routing key is ignored.
//!
//! Run a broker (`cargo run --release --bin warren`, or a RabbitMQ), then
//! `cargo run --example headers_routing [amqp://guest:guest@127.0.0.1:5672/%2f]`.

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::StreamExt;
use lapin::options::{
    BasicConsumeOptions, BasicPublishOptions, ExchangeDeclareOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Connection, ConnectionProperties, ExchangeKind};

/// The headers exchange.
pub const EXCHANGE: &str = "example.documents";

fn table(pairs: &[(&str, &str)]) -> FieldTable {
    let mut t = FieldTable::default();
    for (k, v) in pairs {
        t.insert((*k).into(), AMQPValue::LongString((*v).into()));
    }
    t
}

/// The queues: a name and its binding's match.
pub const BINDINGS: &[(&str, &[(&str, &str)])] = &[
    (
        "pdf-reports",
        &[("x-match", "all"), ("format", "pdf"), ("type", "report")],
    ),
    (
        "pdf-or-logs",
        &[("x-match", "any"), ("format", "pdf"), ("type", "log")],
    ),
];

/// The documents published: a name and its headers.
pub const DOCUMENTS: &[(&str, &[(&str, &str)])] = &[
    ("q3-report.pdf", &[("format", "pdf"), ("type", "report")]),
    ("q3-report.docx", &[("format", "docx"), ("type", "report")]),
    ("access.log", &[("format", "text"), ("type", "log")]),
    ("scan.pdf", &[("format", "pdf"), ("type", "scan")]),
];

/// Publishes [`DOCUMENTS`] and returns the names each queue received.
pub async fn run(uri: &str, deadline: Duration) -> lapin::Result<BTreeMap<String, Vec<String>>> {
    let conn = Connection::connect(uri, ConnectionProperties::default()).await?;
    let ch = conn.create_channel().await?;
    ch.exchange_declare(
        EXCHANGE.into(),
        ExchangeKind::Headers,
        ExchangeDeclareOptions::default(),
        FieldTable::default(),
    )
    .await?;
    let mut consumers = Vec::new();
    for (name, matching) in BINDINGS {
        let exclusive = QueueDeclareOptions {
            exclusive: true,
            ..QueueDeclareOptions::default()
        };
        let queue = ch
            .queue_declare("".into(), exclusive, FieldTable::default())
            .await?;
        ch.queue_bind(
            queue.name().as_str().into(),
            EXCHANGE.into(),
            "".into(),
            QueueBindOptions::default(),
            table(matching),
        )
        .await?;
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
    for (name, headers) in DOCUMENTS {
        ch.basic_publish(
            EXCHANGE.into(),
            "".into(),
            BasicPublishOptions::default(),
            name.as_bytes(),
            BasicProperties::default().with_headers(table(headers)),
        )
        .await?;
    }
    // A marker both bindings match, published last.
    let end = [("format", "pdf"), ("type", "report")];
    ch.basic_publish(
        EXCHANGE.into(),
        "".into(),
        BasicPublishOptions::default(),
        b"end",
        BasicProperties::default().with_headers(table(&end)),
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
                got.push(String::from_utf8_lossy(&d.data).into_owned());
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
    for (queue, docs) in run(&uri, Duration::from_secs(10)).await? {
        println!("{queue:>12}: {docs:?}");
    }
    Ok(())
}
