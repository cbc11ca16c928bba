//! A task queue with competing workers: the pattern most services point at a broker.
//!
//! ```text
//!   producer --(persistent, confirmed)--> (tasks, durable) --prefetch 1--> worker-1
//!                                                          \--prefetch 1--> worker-2
//!                                                           \-------------> worker-3 (crashes)
//! ```
//!
//! - The queue is durable and every task persistent, published with confirms: once the
//!   producer's `publish` returns, the task survives a broker restart.
//! - Each worker takes one task at a time (`basic.qos` prefetch 1) and acknowledges it
//!   when done, so a slow worker does not hoard tasks and the broker spreads them.
//! - One worker crashes (closes its connection) while holding a task it never
//!   acknowledged: the broker puts the task back, marked redelivered, and another
//!   worker does it. Nothing is lost; every task is done exactly once.
//!
//! Run a broker (`cargo run --release --bin warren`, or a RabbitMQ), then
//! `cargo run --example task_queue [amqp://guest:guest@127.0.0.1:5672/%2f]`.
//! `warrenctl list queues --watch 1` in another terminal shows the queue drain.

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Connection, ConnectionProperties};
use tokio::sync::mpsc;

/// The task queue.
pub const QUEUE: &str = "example.tasks";

/// What happened to the tasks.
#[derive(Debug, Default)]
pub struct Report {
    /// Task id → the workers that completed it (exactly one each, if nothing was lost
    /// or doubled).
    pub done_by: BTreeMap<u32, Vec<String>>,
    /// The task the crashing worker held when it crashed.
    pub crashed_holding: Option<u32>,
    /// Tasks that arrived marked redelivered.
    pub redelivered: Vec<u32>,
}

/// One finished task, reported by a worker.
struct Done {
    worker: String,
    task: u32,
    redelivered: bool,
}

/// Runs `workers` workers (the last one crashes on its first task), publishes `tasks`
/// tasks, and waits until every task is done or `deadline` passes.
pub async fn run(
    uri: &str,
    tasks: u32,
    workers: usize,
    deadline: Duration,
) -> lapin::Result<Report> {
    let conn = Connection::connect(uri, ConnectionProperties::default()).await?;
    let ch = conn.create_channel().await?;
    ch.queue_delete(QUEUE.into(), QueueDeleteOptions::default())
        .await?;
    let durable = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    ch.queue_declare(QUEUE.into(), durable, FieldTable::default())
        .await?;

    let (done_tx, mut done_rx) = mpsc::unbounded_channel();
    let (crash_tx, mut crash_rx) = mpsc::unbounded_channel();
    for n in 1..=workers {
        let crashes = n == workers;
        let name = format!("worker-{n}");
        tokio::spawn(worker(
            uri.to_owned(),
            name,
            crashes,
            done_tx.clone(),
            crash_tx.clone(),
        ));
    }
    // Give the workers a moment to attach, so the tasks are spread among them.
    tokio::time::sleep(Duration::from_millis(100)).await;

    ch.confirm_select(ConfirmSelectOptions::default()).await?;
    for task in 0..tasks {
        let props = BasicProperties::default().with_delivery_mode(2);
        ch.basic_publish(
            "".into(),
            QUEUE.into(),
            BasicPublishOptions::default(),
            task.to_string().as_bytes(),
            props,
        )
        .await?
        .await?;
    }
    println!("published {tasks} tasks");

    let mut report = Report::default();
    let collect = async {
        while report.done_by.len() < tasks as usize {
            tokio::select! {
                Some(done) = done_rx.recv() => {
                    let Done { worker, task, redelivered } = done;
                    if redelivered {
                        report.redelivered.push(task);
                    }
                    report.done_by.entry(task).or_default().push(worker);
                }
                Some(task) = crash_rx.recv() => {
                    println!("worker-{workers} crashed holding task {task}");
                    report.crashed_holding = Some(task);
                }
            }
        }
    };
    if tokio::time::timeout(deadline, collect).await.is_err() {
        println!("gave up waiting: {} of {tasks} done", report.done_by.len());
    }
    conn.close(200, "done".into()).await?;
    Ok(report)
}

/// A worker: one task at a time, acknowledged when done. A crashing worker closes its
/// connection on its first task without acknowledging it.
async fn worker(
    uri: String,
    name: String,
    crashes: bool,
    done: mpsc::UnboundedSender<Done>,
    crashed: mpsc::UnboundedSender<u32>,
) -> lapin::Result<()> {
    let conn = Connection::connect(&uri, ConnectionProperties::default()).await?;
    let ch = conn.create_channel().await?;
    ch.basic_qos(1, BasicQosOptions::default()).await?;
    let mut deliveries = ch
        .basic_consume(
            QUEUE.into(),
            name.as_str().into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    while let Some(delivery) = deliveries.next().await {
        let delivery = delivery?;
        let task: u32 = String::from_utf8_lossy(&delivery.data).parse().unwrap_or(0);
        if crashes {
            let _ = crashed.send(task);
            // Gone without an ack: the broker requeues the task for the others.
            return conn.close(320, "crash".into()).await;
        }
        // The work itself: a few milliseconds.
        tokio::time::sleep(Duration::from_millis(u64::from(task % 5))).await;
        delivery.ack(BasicAckOptions::default()).await?;
        let _ = done.send(Done {
            worker: name.clone(),
            task,
            redelivered: delivery.redelivered,
        });
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let uri = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned());
    let report = run(&uri, 100, 3, Duration::from_secs(30)).await?;
    let mut per_worker: BTreeMap<&str, usize> = BTreeMap::new();
    for workers in report.done_by.values() {
        for w in workers {
            *per_worker.entry(w).or_default() += 1;
        }
    }
    println!("tasks done per worker: {per_worker:?}");
    println!("redelivered after the crash: {:?}", report.redelivered);
    if report.done_by.len() != 100 || report.done_by.values().any(|w| w.len() != 1) {
        return Err("a task was lost or done twice".into());
    }
    Ok(())
}
