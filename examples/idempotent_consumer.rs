//! An idempotent consumer: at-least-once delivery made effectively-once.
//!
//! ```text
//!   producer --message_id=order-N (some sent twice)--> (example.orders) --> consumer
//!                                                                            |
//!                                              processed-ids store <---------+
//! ```
//!
//! A broker delivers at least once. A producer that retries after a lost confirm sends
//! a message twice, and a consumer that dies after doing its work but before its ack
//! gets that message again. So the consumer keys its work by `message_id`:
//! 1. it looks the id up in its processed-ids store;
//! 2. it does the work and records the id, together (in a real service, in one database
//!    transaction);
//! 3. only then it acknowledges.
//!
//! A repeat is acknowledged without doing the work twice.
//!
//! The store here is a shared in-memory set standing for that table. A first consumer
//! crashes right after its work, before its ack: the broker redelivers the message, and
//! the second consumer finds the id already recorded.
//!
//! Run a broker (`cargo run --release --bin warren`, or a RabbitMQ), then
//! `cargo run --example idempotent_consumer [amqp://guest:guest@127.0.0.1:5672/%2f]`.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Connection, ConnectionProperties};

/// The queue.
pub const QUEUE: &str = "example.orders";

/// What the consumers did.
#[derive(Debug, Default)]
pub struct Report {
    /// Order id → how many times its work was done (1 each, if idempotence holds).
    pub work_done: BTreeMap<String, u32>,
    /// Deliveries recognised as repeats and acknowledged without work.
    pub repeats_skipped: u32,
}

/// The processed-ids store (stands for a table written in the work's transaction).
type Processed = Arc<Mutex<HashSet<String>>>;

/// Publishes `orders` orders, sending every third one twice, and consumes them with a
/// first consumer that crashes after its first piece of work, then a second one.
pub async fn run(uri: &str, orders: u32, deadline: Duration) -> lapin::Result<Report> {
    let conn = Connection::connect(uri, ConnectionProperties::default()).await?;
    let ch = conn.create_channel().await?;
    ch.queue_delete(QUEUE.into(), QueueDeleteOptions::default())
        .await?;
    ch.queue_declare(
        QUEUE.into(),
        QueueDeclareOptions::default(),
        FieldTable::default(),
    )
    .await?;
    ch.confirm_select(ConfirmSelectOptions::default()).await?;
    let mut sent = 0;
    for i in 0..orders {
        let id = format!("order-{i}");
        let copies = if i % 3 == 0 { 2 } else { 1 };
        for _ in 0..copies {
            ch.basic_publish(
                "".into(),
                QUEUE.into(),
                BasicPublishOptions::default(),
                id.as_bytes(),
                BasicProperties::default().with_message_id(id.as_str().into()),
            )
            .await?
            .await?;
            sent += 1;
        }
    }
    let processed: Processed = Arc::default();
    let report = Arc::new(Mutex::new(Report::default()));
    // The first consumer does one order's work, records it, and dies before its ack.
    consume(uri, &processed, &report, Some(1), sent, deadline).await?;
    // The second one gets every message, the crashed one's order included (redelivered).
    consume(uri, &processed, &report, None, sent, deadline).await?;
    ch.queue_delete(QUEUE.into(), QueueDeleteOptions::default())
        .await?;
    conn.close(200, "done".into()).await?;
    let report = std::mem::take(&mut *report.lock().expect("report lock"));
    Ok(report)
}

/// Consumes `expected` deliveries, or until `crash_after` of them, then drops the
/// connection without acknowledging the last one.
async fn consume(
    uri: &str,
    processed: &Processed,
    report: &Arc<Mutex<Report>>,
    crash_after: Option<u32>,
    expected: u32,
    deadline: Duration,
) -> lapin::Result<()> {
    let conn = Connection::connect(uri, ConnectionProperties::default()).await?;
    let ch = conn.create_channel().await?;
    ch.basic_qos(1, BasicQosOptions::default()).await?;
    let mut deliveries = ch
        .basic_consume(
            QUEUE.into(),
            "".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let mut seen = 0;
    let work = async {
        while seen < expected {
            let Some(Ok(delivery)) = deliveries.next().await else {
                return Ok(());
            };
            let id = delivery
                .properties
                .message_id()
                .as_ref()
                .map(|s| s.to_string())
                .unwrap_or_default();
            // Check, work and record together; acknowledge only afterwards.
            let first_time = processed.lock().expect("store lock").insert(id.clone());
            {
                let mut r = report.lock().expect("report lock");
                if first_time {
                    *r.work_done.entry(id).or_default() += 1;
                } else {
                    r.repeats_skipped += 1;
                }
            }
            seen += 1;
            if crash_after == Some(seen) {
                // Dies between the work and the ack: the broker will redeliver.
                return conn.close(320, "crash".into()).await;
            }
            delivery.ack(BasicAckOptions::default()).await?;
        }
        conn.close(200, "done".into()).await
    };
    match tokio::time::timeout(deadline, work).await {
        Ok(result) => result,
        Err(_) => Ok(()),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let uri = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned());
    let report = run(&uri, 9, Duration::from_secs(10)).await?;
    println!("work done per order: {:?}", report.work_done);
    println!(
        "repeats acknowledged without work: {}",
        report.repeats_skipped
    );
    if report.work_done.values().any(|n| *n != 1) {
        return Err("an order's work was done twice".into());
    }
    Ok(())
}
