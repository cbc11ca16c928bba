//! Delayed jobs: run this in N seconds (a reminder, a retry, a scheduled send) without a
//! scheduler of your own.
//!
//! ```text
//!   producer --x-delay: 300 ms--> [example.delayed, x-delayed-message (direct)] ..held..
//!                                       ..due--> (example.due) --> worker
//! ```
//!
//! An `x-delayed-message` exchange holds each message until its `x-delay` header (in
//! milliseconds) has passed, then routes it like the exchange type named in
//! `x-delayed-type`. Warren has this exchange built in, and stores held persistent
//! messages so they survive a restart. RabbitMQ needs its
//! `rabbitmq_delayed_message_exchange` plugin for the same program.
//!
//! Run a broker (`cargo run --release --bin warren`), then
//! `cargo run --example delayed_jobs [amqp://guest:guest@127.0.0.1:5672/%2f]`.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, ConfirmSelectOptions,
    ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Connection, ConnectionProperties, ExchangeKind};

/// The delaying exchange.
pub const EXCHANGE: &str = "example.delayed";
/// Where due jobs arrive.
pub const QUEUE: &str = "example.due";

/// The jobs: a name and its delay in milliseconds.
pub const JOBS: &[(&str, i64)] = &[("send-reminder", 600), ("now", 0), ("retry-payment", 300)];

/// Publishes [`JOBS`] (confirmed) and returns, in arrival order, each job with how long
/// after publishing it arrived.
pub async fn run(uri: &str, deadline: Duration) -> lapin::Result<Vec<(String, Duration)>> {
    let conn = Connection::connect(uri, ConnectionProperties::default()).await?;
    let ch = conn.create_channel().await?;
    let mut args = FieldTable::default();
    args.insert(
        "x-delayed-type".into(),
        AMQPValue::LongString("direct".into()),
    );
    ch.exchange_declare(
        EXCHANGE.into(),
        ExchangeKind::Custom("x-delayed-message".into()),
        ExchangeDeclareOptions::default(),
        args,
    )
    .await?;
    ch.queue_declare(
        QUEUE.into(),
        QueueDeclareOptions::default(),
        FieldTable::default(),
    )
    .await?;
    ch.queue_bind(
        QUEUE.into(),
        EXCHANGE.into(),
        "job".into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await?;
    let mut due = ch
        .basic_consume(
            QUEUE.into(),
            "worker".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    ch.confirm_select(ConfirmSelectOptions::default()).await?;
    let start = Instant::now();
    for (job, delay_ms) in JOBS {
        let mut headers = FieldTable::default();
        headers.insert("x-delay".into(), AMQPValue::LongLongInt(*delay_ms));
        ch.basic_publish(
            EXCHANGE.into(),
            "job".into(),
            BasicPublishOptions::default(),
            job.as_bytes(),
            BasicProperties::default().with_headers(headers),
        )
        .await?
        .await?;
    }
    let mut arrived = Vec::new();
    let work = async {
        while arrived.len() < JOBS.len() {
            let Some(Ok(job)) = due.next().await else {
                break;
            };
            arrived.push((
                String::from_utf8_lossy(&job.data).into_owned(),
                start.elapsed(),
            ));
            job.ack(BasicAckOptions::default()).await?;
        }
        Ok::<(), lapin::Error>(())
    };
    if let Ok(result) = tokio::time::timeout(deadline, work).await {
        result?;
    }
    conn.close(200, "done".into()).await?;
    Ok(arrived)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let uri = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned());
    for (job, after) in run(&uri, Duration::from_secs(10)).await? {
        println!("{job:<14} arrived after {} ms", after.as_millis());
    }
    Ok(())
}
