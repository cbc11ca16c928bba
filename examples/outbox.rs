//! The transactional outbox: a database change and the message announcing it, never one
//! without the other, even when the process that publishes dies at any moment.
//!
//! ```text
//!   order service --BEGIN; INSERT order; INSERT outbox row (sent=0); COMMIT--> orders.db
//!                                                                                 |
//!   relay (killed at random, restarted) <--------- unsent outbox rows ------------+
//!     |  publish persistent, message_id = outbox id; await the confirms;
//!     |  then mark the batch sent (one transaction)
//!     v
//!   (example.outbox, durable) --> consumer --BEGIN; INSERT processed id; ship; COMMIT--> shipping.db
//!                                     then ack (a known id: ack, count a duplicate, no work)
//! ```
//!
//! A service cannot change its database and publish atomically. Publish first, and a
//! transaction that then rolls back leaves a message about an order that does not exist;
//! commit first, and a crash before the publish loses the message. The outbox writes
//! the message as a row, in the same transaction as the business row. A relay publishes
//! unsent rows and marks them sent only once the broker has confirmed them:
//! - a relay that dies before the confirms leaves its rows unsent, and the next relay
//!   publishes them (nothing is lost);
//! - a relay that dies after the confirms but before marking the rows sent makes the
//!   next relay publish them again: delivery is at least once.
//!
//! So the consumer is idempotent (see examples/idempotent_consumer.rs): in its own
//! transaction it records the `message_id` in a processed table, together with its work,
//! and acknowledges only after the commit. A repeat is acknowledged without work.
//!
//! Here both databases are SQLite files in a temporary directory. While the service
//! writes its orders, relays run one after another. Each but the last is killed at a
//! point drawn from a seeded generator:
//! - in the middle of a batch, with confirms outstanding;
//! - after the confirms, before the mark-sent transaction (at least one kill is of this
//!   kind, so duplicates must appear and be caught);
//! - after the mark-sent transaction.
//!
//! The kill is hard: the relay's task is aborted and its TCP connection, which goes
//! through a local hop, is cut. The broker sees the socket close without a
//! `connection.close`, as after a `kill -9`. The seed is printed, and the same seed gives
//! the same kill schedule.
//!
//! Run a broker (`cargo run --release --bin warren`, or a RabbitMQ), then
//! `cargo run --example outbox [amqp://guest:guest@127.0.0.1:5672/%2f] [seed]`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicGetOptions, BasicPublishOptions,
    BasicQosOptions, ConfirmSelectOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::uri::AMQPUri;
use lapin::{BasicProperties, Confirmation, Connection, ConnectionProperties};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rusqlite::params;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The queue the relay publishes to.
pub const QUEUE: &str = "example.outbox";

/// Outbox rows a relay reads, publishes and marks sent at a time.
pub const BATCH: usize = 10;

/// A relay is killed in one of its first `KILL_WITHIN` batches. With more than
/// `kills * KILL_WITHIN * BATCH` orders, the outbox cannot drain before every planned
/// kill has happened.
pub const KILL_WITHIN: u32 = 3;

/// Errors from the broker, the databases or the example's own checks.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// Where, within a batch, a relay is killed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KillPoint {
    /// After publishing `after` messages of the batch (at most the batch's size), before
    /// awaiting any confirm: those messages may or may not have reached the queue.
    MidPublish { after: usize },
    /// Every message of the batch confirmed, none marked sent: the next relay publishes
    /// them all again.
    BeforeMarkSent,
    /// The batch marked sent: nothing in it is published again.
    AfterMarkSent,
}

/// One relay's planned death: in its `batch`-th batch (from 0), at `point`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kill {
    pub batch: u32,
    pub point: KillPoint,
}

/// A kill that happened.
#[derive(Debug, Clone)]
pub struct Killed {
    /// The relay's number (1 is the first one started).
    pub relay: u32,
    pub at: Kill,
    /// Messages of the interrupted batch published before the kill.
    pub published: u64,
    /// Of those, confirmed by the broker but not marked sent. The next relay publishes
    /// each again, so each comes back to the consumer as a duplicate.
    pub confirmed_unmarked: u64,
}

/// What happened, end to end.
#[derive(Debug, Default)]
pub struct Report {
    pub seed: u64,
    /// Orders the service committed, each with its outbox row.
    pub orders_written: u64,
    /// Messages the relays published, re-publications included.
    pub published: u64,
    /// Publications the broker confirmed.
    pub confirmed: u64,
    /// The relays killed, in order.
    pub kills: Vec<Killed>,
    /// Outbox rows still unsent at the end (0: the last relay drained the outbox).
    pub unsent_left: u64,
    /// Messages the consumer received.
    pub deliveries: u64,
    /// Deliveries whose `message_id` was already processed: acknowledged without work.
    pub duplicates_caught: u64,
    /// Distinct orders the consumer shipped.
    pub processed: u64,
    /// Shipment rows written: equal to `processed` when no order was shipped twice.
    pub shipments: u64,
}

/// A seed from the clock, for runs that do not pass one.
pub fn fresh_seed() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// The kill schedule for `kills` relays, drawn from `seed`. At least one kill falls
/// between the confirms and the mark-sent transaction.
pub fn kill_schedule(seed: u64, kills: u32) -> Vec<Kill> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut plan: Vec<Kill> = (0..kills)
        .map(|_| {
            let point = match rng.random_range(0..3) {
                0 => KillPoint::MidPublish {
                    after: rng.random_range(1..=BATCH),
                },
                1 => KillPoint::BeforeMarkSent,
                _ => KillPoint::AfterMarkSent,
            };
            Kill {
                batch: rng.random_range(0..KILL_WITHIN),
                point,
            }
        })
        .collect();
    if !plan.is_empty() && !plan.iter().any(|k| k.point == KillPoint::BeforeMarkSent) {
        let i = rng.random_range(0..plan.len());
        plan[i].point = KillPoint::BeforeMarkSent;
    }
    plan
}

/// The service writes `orders` orders while relays publish them, `kills` of the relays
/// being killed as [`kill_schedule`] draws from `seed`, and a consumer ships each order.
/// Fails if it all takes longer than `deadline`.
pub async fn run(
    uri: &str,
    orders: u32,
    kills: u32,
    seed: u64,
    deadline: Duration,
) -> Result<Report, Error> {
    match tokio::time::timeout(deadline, run_inner(uri, orders, kills, seed)).await {
        Ok(report) => report,
        Err(_) => Err(format!("not done within {deadline:?} (seed {seed})").into()),
    }
}

async fn run_inner(uri: &str, orders: u32, kills: u32, seed: u64) -> Result<Report, Error> {
    let plan = kill_schedule(seed, kills);
    println!("seed {seed}; kill schedule: {plan:?}");
    let dir = tempfile::tempdir()?;
    let orders_db = dir.path().join("orders.db");
    let shipping_db = dir.path().join("shipping.db");
    open(&orders_db)?.execute_batch(
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer TEXT NOT NULL,
                              sku TEXT NOT NULL, qty INTEGER NOT NULL);
         CREATE TABLE outbox (id INTEGER PRIMARY KEY, payload TEXT NOT NULL,
                              sent INTEGER NOT NULL DEFAULT 0);
         CREATE INDEX outbox_unsent ON outbox (id) WHERE sent = 0;",
    )?;
    open(&shipping_db)?.execute_batch(
        "CREATE TABLE processed (message_id TEXT PRIMARY KEY);
         CREATE TABLE shipments (order_id INTEGER NOT NULL, sku TEXT NOT NULL,
                                 qty INTEGER NOT NULL);",
    )?;

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

    let (stop_consumer, stopped) = oneshot::channel();
    let consumer = tokio::spawn(consumer(uri.to_owned(), shipping_db.clone(), stopped));
    let service_done = Arc::new(AtomicBool::new(false));
    let service = tokio::spawn(order_service(
        orders_db.clone(),
        orders,
        Arc::clone(&service_done),
    ));

    // Relays go through a hop that can be cut, to the broker's own address.
    let amqp_uri: AMQPUri = uri.parse()?;
    let broker =
        tokio::net::lookup_host((amqp_uri.authority.host.as_str(), amqp_uri.authority.port))
            .await?
            .next()
            .ok_or("the broker's host does not resolve")?;
    let counters = Arc::new(Counters::default());
    let mut report = Report {
        seed,
        ..Report::default()
    };
    // One relay per planned kill, then one that runs until the outbox is drained.
    for relay_no in 1..=plan.len() as u32 + 1 {
        let link = Link::open(broker).await?;
        let mut relay_uri = amqp_uri.clone();
        relay_uri.authority.host = "127.0.0.1".to_owned();
        relay_uri.authority.port = link.port;
        let (reached, kill_reached) = oneshot::channel();
        let tripwire = plan
            .get(relay_no as usize - 1)
            .map(|&at| Tripwire::new(relay_no, at, reached));
        let mut task = tokio::spawn(relay(
            relay_uri,
            orders_db.clone(),
            Arc::clone(&service_done),
            Arc::clone(&counters),
            tripwire,
        ));
        tokio::select! {
            finished = &mut task => {
                // The outbox is drained and the service done (a relay whose kill point
                // never came ends here too, and the report shows one kill fewer).
                finished??;
                link.cut().await;
            }
            Ok(killed) = kill_reached => {
                // The relay is parked at its kill point: die there, like a crashed process.
                link.cut().await;
                task.abort();
                let _ = task.await;
                println!("killed relay {relay_no}: {killed:?}");
                report.kills.push(killed);
            }
        }
    }
    report.orders_written = service.await??;
    report.published = counters.published.load(Ordering::SeqCst);
    report.confirmed = counters.confirmed.load(Ordering::SeqCst);
    report.unsent_left = count(&orders_db, "SELECT COUNT(*) FROM outbox WHERE sent = 0")?;

    // Every copy of every message is in the queue now: the consumer takes the rest.
    let _ = stop_consumer.send(());
    let tally = consumer.await??;
    report.deliveries = tally.deliveries;
    report.duplicates_caught = tally.duplicates;
    report.processed = count(
        &shipping_db,
        "SELECT COUNT(DISTINCT order_id) FROM shipments",
    )?;
    report.shipments = count(&shipping_db, "SELECT COUNT(*) FROM shipments")?;

    ch.queue_delete(QUEUE.into(), QueueDeleteOptions::default())
        .await?;
    conn.close(200, "done".into()).await?;
    Ok(report)
}

/// The number a `SELECT COUNT(...)` query returns.
fn count(path: &Path, query: &str) -> rusqlite::Result<u64> {
    let n: i64 = open(path)?.query_row(query, [], |row| row.get(0))?;
    Ok(n as u64)
}

/// Opens one of the SQLite databases. WAL lets the relay read while the service writes;
/// `synchronous = NORMAL` still survives a crash of the process (not of the machine).
fn open(path: &Path) -> rusqlite::Result<rusqlite::Connection> {
    let db = rusqlite::Connection::open(path)?;
    db.busy_timeout(Duration::from_secs(5))?;
    let mode: String = db.pragma_update_and_check(None, "journal_mode", "wal", |row| row.get(0))?;
    debug_assert_eq!(mode, "wal");
    db.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(db)
}

/// The order service: writes `orders` orders, a few at a time, and returns how many it
/// committed.
async fn order_service(path: PathBuf, orders: u32, done: Arc<AtomicBool>) -> Result<u64, Error> {
    let mut db = open(&path)?;
    for n in 0..orders {
        write_order(&mut db, n)?;
        if n % 10 == 9 {
            // Orders arrive over time, while the relays run.
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    done.store(true, Ordering::SeqCst);
    Ok(u64::from(orders))
}

/// One order and its outbox row, in one transaction.
fn write_order(db: &mut rusqlite::Connection, n: u32) -> rusqlite::Result<()> {
    const SKUS: [&str; 4] = ["kettle", "teapot", "mug", "saucer"];
    let customer = format!("customer-{}", n % 7);
    let sku = SKUS[n as usize % SKUS.len()];
    let qty = 1 + n % 3;
    let tx = db.transaction()?;
    tx.execute(
        "INSERT INTO orders (customer, sku, qty) VALUES (?1, ?2, ?3)",
        params![customer, sku, qty],
    )?;
    let event = serde_json::json!({
        "event": "order.created",
        "order_id": tx.last_insert_rowid(),
        "customer": customer,
        "sku": sku,
        "qty": qty,
    });
    tx.execute(
        "INSERT INTO outbox (payload) VALUES (?1)",
        params![event.to_string()],
    )?;
    // Both rows or neither.
    tx.commit()
}

/// What all the relays published and got confirmed.
#[derive(Default)]
struct Counters {
    published: AtomicU64,
    confirmed: AtomicU64,
}

/// How far a relay has got in its current batch.
enum Stage {
    /// `n` messages published, confirms not awaited.
    Published(usize),
    /// Confirms received for `acked` messages, nothing marked sent.
    Confirmed { acked: usize },
    /// The batch marked sent.
    Marked,
}

/// The example's fault injection: a relay with a tripwire parks at its kill point and
/// tells the supervisor, which kills it there. A real relay has none; a crash can come
/// at any instruction. The tripwire only lets the example choose the moment, from the
/// seed, and know what the kill interrupted.
struct Tripwire {
    relay: u32,
    at: Kill,
    reached: Option<oneshot::Sender<Killed>>,
}

impl Tripwire {
    fn new(relay: u32, at: Kill, reached: oneshot::Sender<Killed>) -> Self {
        Tripwire {
            relay,
            at,
            reached: Some(reached),
        }
    }

    /// Parks forever if the relay is at its kill point: `batch`, at `stage` of a batch of
    /// `len` messages.
    async fn check(&mut self, batch: u32, len: usize, stage: Stage) {
        if batch != self.at.batch {
            return;
        }
        let (due, published, confirmed_unmarked) = match (self.at.point, stage) {
            (KillPoint::MidPublish { after }, Stage::Published(n)) => (n == after.min(len), n, 0),
            (KillPoint::BeforeMarkSent, Stage::Confirmed { acked }) => (true, len, acked),
            (KillPoint::AfterMarkSent, Stage::Marked) => (true, len, 0),
            _ => (false, 0, 0),
        };
        if !due {
            return;
        }
        if let Some(reached) = self.reached.take() {
            let _ = reached.send(Killed {
                relay: self.relay,
                at: self.at,
                published: published as u64,
                confirmed_unmarked: confirmed_unmarked as u64,
            });
            std::future::pending::<()>().await;
        }
    }
}

/// The relay: publishes unsent outbox rows in batches, persistent and confirmed, and
/// marks each batch sent once its confirms are in. Returns when the service is done and
/// the outbox drained.
async fn relay(
    uri: AMQPUri,
    path: PathBuf,
    service_done: Arc<AtomicBool>,
    counters: Arc<Counters>,
    mut tripwire: Option<Tripwire>,
) -> Result<(), Error> {
    let mut db = open(&path)?;
    let conn = Connection::connect_uri(uri, ConnectionProperties::default()).await?;
    let ch = conn.create_channel().await?;
    ch.confirm_select(ConfirmSelectOptions::default()).await?;
    let mut batch = 0;
    loop {
        // Read the flag before the rows: an empty outbox after the service's last commit
        // is really empty.
        let service_finished = service_done.load(Ordering::SeqCst);
        let rows = unsent(&db)?;
        if rows.is_empty() {
            if service_finished {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        }
        let mut confirms = Vec::with_capacity(rows.len());
        for (id, payload) in &rows {
            let props = BasicProperties::default()
                .with_delivery_mode(2)
                .with_content_type("application/json".into())
                .with_message_id(id.to_string().into());
            let confirm = ch
                .basic_publish(
                    "".into(),
                    QUEUE.into(),
                    BasicPublishOptions {
                        mandatory: true,
                        ..BasicPublishOptions::default()
                    },
                    payload.as_bytes(),
                    props,
                )
                .await?;
            counters.published.fetch_add(1, Ordering::SeqCst);
            confirms.push((*id, confirm));
            if let Some(t) = &mut tripwire {
                t.check(batch, rows.len(), Stage::Published(confirms.len()))
                    .await;
            }
        }
        let mut acked = Vec::with_capacity(rows.len());
        for (id, confirm) in confirms {
            match confirm.await? {
                Confirmation::Ack(None) => acked.push(id),
                Confirmation::Ack(Some(returned)) => {
                    return Err(
                        format!("outbox row {id} was unroutable: {}", returned.reply_text).into(),
                    )
                }
                // Refused by the broker: left unsent, published again on the next pass.
                Confirmation::Nack(_) => {}
                Confirmation::NotRequested => {
                    return Err("the channel is not in confirm mode".into())
                }
            }
        }
        counters
            .confirmed
            .fetch_add(acked.len() as u64, Ordering::SeqCst);
        if let Some(t) = &mut tripwire {
            t.check(batch, rows.len(), Stage::Confirmed { acked: acked.len() })
                .await;
        }
        mark_sent(&mut db, &acked)?;
        if let Some(t) = &mut tripwire {
            t.check(batch, rows.len(), Stage::Marked).await;
        }
        batch += 1;
    }
    conn.close(200, "drained".into()).await?;
    Ok(())
}

/// Marks the outbox rows `ids` sent, in one transaction.
fn mark_sent(db: &mut rusqlite::Connection, ids: &[i64]) -> rusqlite::Result<()> {
    let tx = db.transaction()?;
    for id in ids {
        tx.execute("UPDATE outbox SET sent = 1 WHERE id = ?1", [id])?;
    }
    tx.commit()
}

/// The oldest unsent outbox rows, at most [`BATCH`].
fn unsent(db: &rusqlite::Connection) -> rusqlite::Result<Vec<(i64, String)>> {
    let mut stmt =
        db.prepare("SELECT id, payload FROM outbox WHERE sent = 0 ORDER BY id LIMIT ?1")?;
    let rows = stmt.query_map([BATCH as i64], |row| Ok((row.get(0)?, row.get(1)?)))?;
    rows.collect()
}

/// A TCP hop between one relay and the broker. Cutting it closes both sockets at once:
/// the broker sees the relay's connection vanish without a `connection.close`, as when
/// the relay's process is killed.
struct Link {
    port: u16,
    task: JoinHandle<()>,
}

impl Link {
    async fn open(broker: SocketAddr) -> std::io::Result<Link> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let port = listener.local_addr()?.port();
        let task = tokio::spawn(async move {
            let Ok((mut relay, _)) = listener.accept().await else {
                return;
            };
            let Ok(mut broker) = TcpStream::connect(broker).await else {
                return;
            };
            let _ = tokio::io::copy_bidirectional(&mut relay, &mut broker).await;
        });
        Ok(Link { port, task })
    }

    async fn cut(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

/// What the consumer saw.
#[derive(Default)]
struct Tally {
    deliveries: u64,
    duplicates: u64,
}

/// The consumer: ships each order once, whatever the number of copies. Runs until
/// `stop`, then cancels and takes what is left in the queue.
async fn consumer(
    uri: String,
    path: PathBuf,
    mut stop: oneshot::Receiver<()>,
) -> Result<Tally, Error> {
    const TAG: &str = "shipping";
    let mut db = open(&path)?;
    let conn = Connection::connect(&uri, ConnectionProperties::default()).await?;
    let ch = conn.create_channel().await?;
    ch.basic_qos(20, BasicQosOptions::default()).await?;
    let mut deliveries = ch
        .basic_consume(
            QUEUE.into(),
            TAG.into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let mut tally = Tally::default();
    loop {
        tokio::select! {
            delivery = deliveries.next() => match delivery {
                Some(delivery) => ship(&mut db, delivery?, &mut tally).await?,
                None => return Err("the broker cancelled the consumer".into()),
            },
            _ = &mut stop => break,
        }
    }
    // Deliveries already sent to us arrive before the cancel-ok, and end the stream.
    ch.basic_cancel(TAG.into(), BasicCancelOptions::default())
        .await?;
    while let Some(delivery) = deliveries.next().await {
        ship(&mut db, delivery?, &mut tally).await?;
    }
    while let Some(message) = ch
        .basic_get(QUEUE.into(), BasicGetOptions::default())
        .await?
    {
        ship(&mut db, message.delivery, &mut tally).await?;
    }
    conn.close(200, "done".into()).await?;
    Ok(tally)
}

/// Ships the order unless its message was already processed, then acknowledges.
async fn ship(
    db: &mut rusqlite::Connection,
    delivery: Delivery,
    tally: &mut Tally,
) -> Result<(), Error> {
    tally.deliveries += 1;
    let id = delivery
        .properties
        .message_id()
        .as_ref()
        .ok_or("a message without a message_id")?
        .to_string();
    let order: serde_json::Value = serde_json::from_slice(&delivery.data)?;
    if !record_and_ship(db, &id, &order)? {
        tally.duplicates += 1;
    }
    // Only after the commit: a crash before this line gets the message redelivered, and
    // the processed table turns it into a duplicate.
    delivery.ack(BasicAckOptions::default()).await?;
    Ok(())
}

/// Records the message id and ships the order, in one transaction; if the id is already
/// there, does nothing. Returns whether the order was shipped.
fn record_and_ship(
    db: &mut rusqlite::Connection,
    message_id: &str,
    order: &serde_json::Value,
) -> rusqlite::Result<bool> {
    let tx = db.transaction()?;
    let first_time = tx.execute(
        "INSERT OR IGNORE INTO processed (message_id) VALUES (?1)",
        [message_id],
    )? == 1;
    if first_time {
        tx.execute(
            "INSERT INTO shipments (order_id, sku, qty) VALUES (?1, ?2, ?3)",
            params![
                order["order_id"].as_i64(),
                order["sku"].as_str(),
                order["qty"].as_i64()
            ],
        )?;
    }
    tx.commit()?;
    Ok(first_time)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let uri = args
        .next()
        .unwrap_or_else(|| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned());
    let seed = match args.next() {
        Some(seed) => seed.parse()?,
        None => fresh_seed(),
    };
    let orders = 500;
    let report = run(&uri, orders, 5, seed, Duration::from_secs(60)).await?;
    let republished = report.published.saturating_sub(report.orders_written);
    println!("seed:                {seed} (pass it as the second argument to replay)");
    println!("orders written:      {}", report.orders_written);
    println!(
        "messages published:  {} ({republished} published again after a kill)",
        report.published
    );
    println!("confirmed:           {}", report.confirmed);
    println!("relays killed:       {}", report.kills.len());
    for k in &report.kills {
        println!(
            "  relay {} in its batch {} at {:?}: {} published, {} confirmed but not marked sent",
            k.relay, k.at.batch, k.at.point, k.published, k.confirmed_unmarked
        );
    }
    println!("deliveries:          {}", report.deliveries);
    println!("duplicates caught:   {}", report.duplicates_caught);
    println!(
        "orders processed:    {} ({} shipments)",
        report.processed, report.shipments
    );
    if report.processed != u64::from(orders) || report.shipments != u64::from(orders) {
        return Err("an order was lost or shipped twice".into());
    }
    Ok(())
}
