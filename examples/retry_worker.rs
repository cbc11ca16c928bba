//! Retry with backoff through TTL and dead-letter exchanges, and a parking-lot queue for
//! jobs that keep failing: the pattern production RabbitMQ users build, run against
//! Warren with the lapin client.
//!
//! ```text
//!             publish (key attempt-1)
//!                     |
//!                     v
//!   +-------------> [demo.jobs] --attempt-1/2/3--> (demo.work) --> worker
//!   |                                                 | nack (requeue=false)
//!   |                                                 v  dead-lettered with its key
//!   |                                           [demo.retry]
//!   |                              attempt-1 /          \ attempt-2
//!   |                                       v            v
//!   |             (demo.retry.1, TTL 100 ms)             (demo.retry.2, TTL 200 ms)
//!   |                 | expires: dead-lettered             | expires: dead-lettered
//!   +-- key attempt-2-+                                    +-- key attempt-3 --+
//!                                                                              |
//!   attempt 3 fails: the worker publishes the job to (demo.parking) and acks it.
//! ```
//!
//! The worker never sleeps or holds a failed job: the broker keeps it in a retry queue
//! until its TTL ends, then routes it back. The attempt number comes from the `x-death`
//! header the broker writes (one rejection in `demo.work` per failed attempt), so the
//! worker is stateless and any number of them can run.
//!
//! Run a broker (`cargo run --release --bin warren`), then
//! `cargo run --example retry_worker [amqp://guest:guest@127.0.0.1:5672/%2f]`.
//! The demo declares its queues afresh (deleting leftovers of an earlier run),
//! processes four jobs, prints what happens and exits once every job is done or parked.

use std::time::Duration;

use futures_util::StreamExt;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
    QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind};

/// Where jobs are published, and where retried jobs come back to.
pub const JOBS_EXCHANGE: &str = "demo.jobs";
/// Dead-letter exchange of the work queue: routes a failed job by its attempt key.
pub const RETRY_EXCHANGE: &str = "demo.retry";
/// The queue workers consume from.
pub const WORK_QUEUE: &str = "demo.work";
/// Jobs that failed [`MAX_ATTEMPTS`] times end here for a human to look at.
pub const PARKING_QUEUE: &str = "demo.parking";
/// Attempts before a job is parked.
pub const MAX_ATTEMPTS: u32 = 3;
/// Wait before attempt 2, attempt 3, … (kept short for the demo; minutes in real life).
pub const RETRY_DELAYS_MS: [i32; 2] = [100, 200];
/// Header telling the demo worker how many attempts of a job fail before one succeeds.
pub const FAILURES_HEADER: &str = "x-demo-failures";
/// Header the worker adds to a parked job: how many attempts it had.
pub const ATTEMPTS_HEADER: &str = "x-attempts";

/// A demo job: its name and how many of its attempts fail.
#[derive(Debug, Clone)]
pub struct Job {
    /// Job name, sent as the message body.
    pub name: String,
    /// Attempts that fail before one succeeds (`u32::MAX`: it never succeeds).
    pub failures: u32,
}

/// What happened to the jobs.
#[derive(Debug, Default)]
pub struct Report {
    /// Jobs that succeeded, with the attempt that did it.
    pub completed: Vec<(String, u32)>,
    /// Jobs moved to the parking lot, with the attempts they had.
    pub parked: Vec<(String, u32)>,
    /// Every attempt, in order: job name, attempt number, whether it succeeded.
    pub attempts: Vec<(String, u32, bool)>,
}

/// Retry queue name for the wait after failed attempt `n` (1-based).
pub fn retry_queue(n: usize) -> String {
    format!("{RETRY_EXCHANGE}.{n}")
}

/// Routing key carrying attempt `n` (1-based).
pub fn attempt_key(n: usize) -> String {
    format!("attempt-{n}")
}

fn text(s: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(s))
}

fn args(entries: &[(&str, AMQPValue)]) -> FieldTable {
    let mut t = FieldTable::default();
    for (k, v) in entries {
        t.insert(ShortString::from(*k), v.clone());
    }
    t
}

/// Declares the exchanges and queues of the pipeline (see the module docs), deleting
/// the demo queues of an earlier run first so the demo starts empty.
pub async fn declare_topology(ch: &Channel) -> lapin::Result<()> {
    let durable_exchange = ExchangeDeclareOptions {
        durable: true,
        ..ExchangeDeclareOptions::default()
    };
    let durable_queue = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    let retry_queues: Vec<String> = (1..=RETRY_DELAYS_MS.len()).map(retry_queue).collect();
    for q in [WORK_QUEUE, PARKING_QUEUE]
        .into_iter()
        .chain(retry_queues.iter().map(String::as_str))
    {
        ch.queue_delete(q.into(), QueueDeleteOptions::default())
            .await?;
    }
    for ex in [JOBS_EXCHANGE, RETRY_EXCHANGE] {
        ch.exchange_declare(
            ex.into(),
            ExchangeKind::Direct,
            durable_exchange,
            FieldTable::default(),
        )
        .await?;
    }
    // The work queue: failed jobs are dead-lettered to the retry exchange, keeping the
    // routing key (`attempt-N`) they arrived with.
    ch.queue_declare(
        WORK_QUEUE.into(),
        durable_queue,
        args(&[("x-dead-letter-exchange", text(RETRY_EXCHANGE))]),
    )
    .await?;
    for n in 1..=MAX_ATTEMPTS as usize {
        ch.queue_bind(
            WORK_QUEUE.into(),
            JOBS_EXCHANGE.into(),
            attempt_key(n).into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    }
    // One retry queue per failed attempt, each waiting longer; when its TTL ends a job
    // is dead-lettered back to the jobs exchange with the next attempt's key.
    for (i, delay) in RETRY_DELAYS_MS.iter().enumerate() {
        let n = i + 1;
        let queue = retry_queue(n);
        ch.queue_declare(
            queue.as_str().into(),
            durable_queue,
            args(&[
                ("x-message-ttl", AMQPValue::LongInt(*delay)),
                ("x-dead-letter-exchange", text(JOBS_EXCHANGE)),
                ("x-dead-letter-routing-key", text(&attempt_key(n + 1))),
            ]),
        )
        .await?;
        ch.queue_bind(
            queue.as_str().into(),
            RETRY_EXCHANGE.into(),
            attempt_key(n).into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    }
    ch.queue_declare(PARKING_QUEUE.into(), durable_queue, FieldTable::default())
        .await?;
    Ok(())
}

/// The attempt a delivery is: one more than the failed attempts recorded in its
/// `x-death` header (the broker counts each rejection in the work queue).
pub fn attempt_of(properties: &BasicProperties) -> u32 {
    let Some(AMQPValue::FieldArray(deaths)) = properties
        .headers()
        .as_ref()
        .and_then(|h| h.inner().get("x-death"))
    else {
        return 1;
    };
    let failed: i64 = deaths
        .as_slice()
        .iter()
        .filter_map(|d| match d {
            AMQPValue::FieldTable(t) => Some(t),
            _ => None,
        })
        .filter(|t| {
            field_text(t, "queue") == Some(WORK_QUEUE)
                && field_text(t, "reason") == Some("rejected")
        })
        .filter_map(|t| match t.inner().get("count") {
            Some(AMQPValue::LongLongInt(n)) => Some(*n),
            Some(AMQPValue::LongInt(n)) => Some(i64::from(*n)),
            _ => None,
        })
        .sum();
    u32::try_from(failed).unwrap_or(u32::MAX).saturating_add(1)
}

fn field_text<'a>(t: &'a FieldTable, key: &str) -> Option<&'a str> {
    match t.inner().get(key) {
        Some(AMQPValue::LongString(s)) => std::str::from_utf8(s.as_bytes()).ok(),
        _ => None,
    }
}

/// The demo's stand-in for real work: succeeds once `attempt` is past the job's
/// planned failures.
fn do_work(delivery: &Delivery, attempt: u32) -> bool {
    let failures = match delivery
        .properties
        .headers()
        .as_ref()
        .and_then(|h| h.inner().get(FAILURES_HEADER))
    {
        Some(AMQPValue::LongUInt(n)) => *n,
        _ => 0,
    };
    attempt > failures
}

/// Publishes `jobs` and runs one worker until every job has completed or been parked.
/// Returns what happened; fails if the broker does, or if the jobs are not all settled
/// within `deadline`.
pub async fn run(uri: &str, jobs: &[Job], deadline: Duration) -> lapin::Result<Report> {
    let conn = Connection::connect(uri, ConnectionProperties::default()).await?;
    let ch = conn.create_channel().await?;
    declare_topology(&ch).await?;
    // Confirms make parking safe: a job is acked only once the parking lot has it.
    ch.confirm_select(ConfirmSelectOptions::default()).await?;
    for job in jobs {
        let headers = args(&[(FAILURES_HEADER, AMQPValue::LongUInt(job.failures))]);
        let props = BasicProperties::default()
            .with_delivery_mode(2)
            .with_headers(headers);
        ch.basic_publish(
            JOBS_EXCHANGE.into(),
            attempt_key(1).into(),
            BasicPublishOptions::default(),
            job.name.as_bytes(),
            props,
        )
        .await?
        .await?;
        println!(
            "published {:<10} (fails {} time(s))",
            job.name,
            failures_text(job.failures)
        );
    }
    ch.basic_qos(10, BasicQosOptions::default()).await?;
    let mut consumer = ch
        .basic_consume(
            WORK_QUEUE.into(),
            "retry-worker".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let mut report = Report::default();
    let work = async {
        while report.completed.len() + report.parked.len() < jobs.len() {
            let Some(delivery) = consumer.next().await else {
                break;
            };
            handle(&ch, delivery?, &mut report).await?;
        }
        Ok::<(), lapin::Error>(())
    };
    match tokio::time::timeout(deadline, work).await {
        Ok(result) => result?,
        Err(_) => println!("gave up waiting: {report:?}"),
    }
    conn.close(200, "done".into()).await?;
    Ok(report)
}

fn failures_text(failures: u32) -> String {
    match failures {
        u32::MAX => "always fails".to_owned(),
        0 => "succeeds at once".to_owned(),
        n => format!("fails {n} time(s)"),
    }
}

/// Processes one delivery: ack on success; on failure, dead-letter it into the next
/// retry queue, or park it once it has had [`MAX_ATTEMPTS`].
async fn handle(ch: &Channel, delivery: Delivery, report: &mut Report) -> lapin::Result<()> {
    let name = String::from_utf8_lossy(&delivery.data).into_owned();
    let attempt = attempt_of(&delivery.properties);
    let ok = do_work(&delivery, attempt);
    report.attempts.push((name.clone(), attempt, ok));
    if ok {
        println!("{name:<10} attempt {attempt}: done");
        delivery.ack(BasicAckOptions::default()).await?;
        report.completed.push((name, attempt));
    } else if attempt >= MAX_ATTEMPTS {
        println!("{name:<10} attempt {attempt}: failed, parking it after {attempt} attempts");
        let mut headers = delivery.properties.headers().clone().unwrap_or_default();
        headers.insert(ATTEMPTS_HEADER.into(), AMQPValue::LongUInt(attempt));
        let props = delivery.properties.clone().with_headers(headers);
        ch.basic_publish(
            "".into(),
            PARKING_QUEUE.into(),
            BasicPublishOptions::default(),
            &delivery.data,
            props,
        )
        .await?
        .await?;
        delivery.ack(BasicAckOptions::default()).await?;
        report.parked.push((name, attempt));
    } else {
        let delay = RETRY_DELAYS_MS[attempt as usize - 1];
        println!("{name:<10} attempt {attempt}: failed, retrying in {delay} ms");
        delivery
            .nack(BasicNackOptions {
                multiple: false,
                requeue: false,
            })
            .await?;
    }
    Ok(())
}

/// The jobs the demo runs: one succeeds at once, two after retries, one never.
pub fn demo_jobs() -> Vec<Job> {
    [
        ("resize-1", 0),
        ("email-2", 1),
        ("report-3", 2),
        ("poison-4", u32::MAX),
    ]
    .into_iter()
    .map(|(name, failures)| Job {
        name: name.to_owned(),
        failures,
    })
    .collect()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let uri = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned());
    let jobs = demo_jobs();
    let report = run(&uri, &jobs, Duration::from_secs(30)).await?;
    println!("completed: {:?}", report.completed);
    println!("parked:    {:?}", report.parked);
    if report.completed.len() + report.parked.len() < jobs.len() {
        return Err("not every job was settled in time".into());
    }
    Ok(())
}
