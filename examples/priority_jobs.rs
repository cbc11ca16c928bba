//! Priority jobs: urgent work overtakes a backlog.
//!
//! ```text
//!   producer --priority 0..9--> (example.jobs, x-max-priority=9) --prefetch 1--> worker
//! ```
//!
//! A queue declared with `x-max-priority` keeps one FIFO per priority and always hands
//! out the highest priority first; within a priority, order is kept. The worker takes one
//! job at a time (prefetch 1), so a job published while it works still goes ahead of
//! lower-priority jobs already waiting.
//!
//! Run a broker (`cargo run --release --bin warren`, or a RabbitMQ), then
//! `cargo run --example priority_jobs [amqp://guest:guest@127.0.0.1:5672/%2f]`.

use std::time::Duration;

use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Connection, ConnectionProperties};

/// The priority queue.
pub const QUEUE: &str = "example.jobs";

/// The jobs published before the worker starts: a name and its priority.
pub const BACKLOG: &[(&str, u8)] = &[
    ("nightly-report", 0),
    ("resize-avatar", 5),
    ("send-newsletter", 0),
    ("password-reset-email", 9),
    ("reindex-search", 1),
    ("fraud-check", 9),
];

/// Publishes [`BACKLOG`] (confirmed), then runs a worker; returns the jobs in the order
/// it did them.
pub async fn run(uri: &str, deadline: Duration) -> lapin::Result<Vec<String>> {
    let conn = Connection::connect(uri, ConnectionProperties::default()).await?;
    let ch = conn.create_channel().await?;
    ch.queue_delete(QUEUE.into(), QueueDeleteOptions::default())
        .await?;
    let mut args = FieldTable::default();
    args.insert("x-max-priority".into(), AMQPValue::ShortShortUInt(9));
    ch.queue_declare(QUEUE.into(), QueueDeclareOptions::default(), args)
        .await?;
    ch.confirm_select(ConfirmSelectOptions::default()).await?;
    for (job, priority) in BACKLOG {
        ch.basic_publish(
            "".into(),
            QUEUE.into(),
            BasicPublishOptions::default(),
            job.as_bytes(),
            BasicProperties::default().with_priority(*priority),
        )
        .await?
        .await?;
    }
    ch.basic_qos(1, BasicQosOptions::default()).await?;
    let mut jobs = ch
        .basic_consume(
            QUEUE.into(),
            "worker".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let mut done = Vec::new();
    let work = async {
        while done.len() < BACKLOG.len() {
            let Some(Ok(job)) = jobs.next().await else {
                break;
            };
            done.push(String::from_utf8_lossy(&job.data).into_owned());
            job.ack(BasicAckOptions::default()).await?;
        }
        Ok::<(), lapin::Error>(())
    };
    if let Ok(result) = tokio::time::timeout(deadline, work).await {
        result?;
    }
    ch.queue_delete(QUEUE.into(), QueueDeleteOptions::default())
        .await?;
    conn.close(200, "done".into()).await?;
    Ok(done)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let uri = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned());
    for (i, job) in run(&uri, Duration::from_secs(10)).await?.iter().enumerate() {
        println!("{}. {job}", i + 1);
    }
    Ok(())
}
