//! Crash safety of streams in the real `warren` binary: publishers on three connections
//! append persistent messages with confirms to a stream, a named consumer
//! (`x-stream-consumer-name`) holds unacknowledged deliveries, and the broker is killed
//! with SIGKILL at a random moment, then restarted on the same data directory. Twice on
//! one directory; after each restart:
//!
//! - the stream read from `first` has contiguous offsets 0, 1, 2, … in the
//!   `x-stream-offset` header, with nothing twice;
//! - every confirmed message is there, and what is there of each publisher is a prefix
//!   of what it sent, in its publish order (a log loses at most an unconfirmed tail);
//! - the named consumer, attached again without `x-stream-offset`, resumes right after
//!   the last offset it acknowledged before the crash (its acks were made durable by a
//!   later confirmed publish: a confirm waits for a group commit, which covers every
//!   store write before it).
//!
//! The kill delay is seeded from the clock (printed), so each run tries other points.

#[path = "process_support/mod.rs"]
mod process_support;

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{BasicProperties, Channel, Confirmation, Connection, ConnectionProperties};
use process_support::BrokerProcess;

const STREAM: &str = "crash.stream";
const READER: &str = "crash-reader";
const ROUNDS: usize = 2;
const PUBLISHERS: usize = 3;
/// Unconfirmed publishes each publisher keeps in flight.
const WINDOW: usize = 32;
/// Offsets the named consumer acknowledges in each round (from where it resumes).
const ACKED_PER_ROUND: u64 = 40;
const WAIT: Duration = Duration::from_secs(15);

async fn connect(addr: SocketAddr) -> Connection {
    Connection::connect(
        &format!("amqp://guest:guest@{addr}/%2f"),
        ConnectionProperties::default(),
    )
    .await
    .expect("lapin connects")
}

fn args(pairs: &[(&str, AMQPValue)]) -> FieldTable {
    let mut t = FieldTable::default();
    for (k, v) in pairs {
        t.insert(ShortString::from(*k), v.clone());
    }
    t
}

async fn declare(addr: SocketAddr) {
    let conn = connect(addr).await;
    let ch = conn.create_channel().await.unwrap();
    ch.queue_declare(
        STREAM.into(),
        QueueDeclareOptions {
            durable: true,
            ..Default::default()
        },
        args(&[("x-queue-type", AMQPValue::LongString("stream".into()))]),
    )
    .await
    .expect("stream declared");
    let _ = conn.close(200, "declared".into()).await;
}

/// Publishes `{publisher}-{seq}` (persistent, confirms) for seq = 0, 1, … until the
/// connection dies, recording the highest confirmed seq: the confirms of one channel
/// arrive in order, so every seq up to it was confirmed too.
async fn publish_until_killed(addr: SocketAddr, tag: String, confirmed: Arc<Mutex<Option<u64>>>) {
    let conn = connect(addr).await;
    let Ok(ch) = conn.create_channel().await else {
        return;
    };
    if ch
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .is_err()
    {
        return;
    }
    let mut in_flight = VecDeque::new();
    for seq in 0u64.. {
        let Ok(pending) = ch
            .basic_publish(
                "".into(),
                STREAM.into(),
                BasicPublishOptions::default(),
                format!("{tag}-{seq}").as_bytes(),
                BasicProperties::default().with_delivery_mode(2),
            )
            .await
        else {
            return;
        };
        in_flight.push_back((seq, pending));
        while in_flight.len() >= WINDOW {
            let Some((seq, pending)) = in_flight.pop_front() else {
                break;
            };
            match pending.await {
                Ok(Confirmation::Ack(_)) => *confirmed.lock().unwrap() = Some(seq),
                _ => return,
            }
        }
    }
}

/// A consumer of the stream with these arguments (prefetch 100).
async fn consume(ch: &Channel, tag: &str, extra: &[(&str, AMQPValue)]) -> lapin::Consumer {
    ch.basic_qos(100, BasicQosOptions::default())
        .await
        .expect("qos");
    ch.basic_consume(
        STREAM.into(),
        tag.into(),
        BasicConsumeOptions::default(),
        args(extra),
    )
    .await
    .expect("consumer attached")
}

/// The next delivery's `x-stream-offset` and body (acknowledged if `ack`).
async fn next(c: &mut lapin::Consumer, ack: bool) -> (u64, String) {
    let d = tokio::time::timeout(WAIT, c.next())
        .await
        .expect("a delivery in time")
        .expect("consumer open")
        .expect("a delivery");
    let offset = match d
        .properties
        .headers()
        .as_ref()
        .and_then(|h| h.inner().get("x-stream-offset"))
    {
        Some(AMQPValue::LongLongInt(n)) => *n as u64,
        other => panic!("x-stream-offset should be a long, got {other:?}"),
    };
    if ack {
        d.ack(BasicAckOptions::default()).await.expect("acked");
    }
    (offset, String::from_utf8_lossy(&d.data).into_owned())
}

/// The whole stream from `first`: a marker is appended (confirmed) and everything
/// before it read. Asserts contiguous offsets from 0; returns the bodies in order.
async fn read_all(addr: SocketAddr, marker: &str) -> Vec<String> {
    let conn = connect(addr).await;
    let ch = conn.create_channel().await.unwrap();
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    let confirm = ch
        .basic_publish(
            "".into(),
            STREAM.into(),
            BasicPublishOptions::default(),
            marker.as_bytes(),
            BasicProperties::default().with_delivery_mode(2),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    assert!(matches!(confirm, Confirmation::Ack(_)), "marker confirmed");
    let mut c = consume(
        &ch,
        "check",
        &[("x-stream-offset", AMQPValue::LongString("first".into()))],
    )
    .await;
    let mut bodies = Vec::new();
    loop {
        let (offset, body) = next(&mut c, true).await;
        assert_eq!(offset, bodies.len() as u64, "offsets are contiguous from 0");
        if body == marker {
            break;
        }
        bodies.push(body);
    }
    let _ = conn.close(200, "read".into()).await;
    bodies
}

/// Every confirmed message of every publisher is in `bodies`, each publisher's messages
/// form a prefix of what it sent, in order, and nothing is there twice.
fn check(
    round: usize,
    bodies: &[String],
    confirmed: &BTreeMap<String, u64>,
    broker: &BrokerProcess,
) {
    let mut seen = HashSet::new();
    let mut next_seq: BTreeMap<&str, u64> = BTreeMap::new();
    for b in bodies {
        assert!(seen.insert(b.as_str()), "round {round}: {b} twice");
        if b.starts_with("marker") {
            continue;
        }
        let (tag, seq) = b.rsplit_once('-').expect("tag-seq");
        let seq: u64 = seq.parse().expect("seq");
        let expected = next_seq.entry(tag).or_insert(0);
        assert_eq!(
            seq, *expected,
            "round {round}: {tag} out of order or with a gap"
        );
        *expected += 1;
    }
    for (tag, last) in confirmed {
        let have = next_seq.get(tag.as_str()).copied().unwrap_or(0);
        assert!(
            have > *last,
            "round {round}: {tag} confirmed up to {last}, the stream has {have} of it\n{}",
            broker.log()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirmed_stream_appends_and_a_named_consumers_offset_survive_sigkill() {
    let mut seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
        | 1;
    eprintln!("seed {seed}");
    let mut broker = BrokerProcess::start(&[]).await;
    declare(broker.addr).await;
    // Publisher tag -> highest confirmed seq, over all rounds.
    let mut confirmed: BTreeMap<String, u64> = BTreeMap::new();
    // The named consumer's position: the next offset it should get.
    let mut resume_at = 0u64;
    for round in 0..ROUNDS {
        // Something to acknowledge: the first round has an empty stream.
        let warmup = format!("warmup{round}");
        let tally = Arc::new(Mutex::new(None));
        let filler = tokio::spawn(publish_until_killed(
            broker.addr,
            warmup.clone(),
            tally.clone(),
        ));
        tokio::time::sleep(Duration::from_millis(300)).await;
        // The named consumer acknowledges ACKED_PER_ROUND more offsets, then keeps its
        // further deliveries unacknowledged; the qos-ok proves the acks were handled.
        let reader = connect(broker.addr).await;
        let rch = reader.create_channel().await.unwrap();
        let name = [(
            "x-stream-consumer-name",
            AMQPValue::LongString(READER.into()),
        )];
        // Without a tracked offset yet, a consumer starts at `next`: the first round
        // asks for `first`; later ones resume where the name left off.
        let from_first = [
            name[0].clone(),
            ("x-stream-offset", AMQPValue::LongString("first".into())),
        ];
        let attach: &[_] = if round == 0 { &from_first } else { &name };
        let mut c = consume(&rch, "reader", attach).await;
        for i in 0..ACKED_PER_ROUND {
            let (offset, _) = next(&mut c, true).await;
            assert_eq!(
                offset,
                resume_at + i,
                "round {round}: the reader resumes in place"
            );
        }
        rch.basic_qos(100, BasicQosOptions::default())
            .await
            .unwrap();
        resume_at += ACKED_PER_ROUND;
        // Publishers whose confirms come after those acks were handled: the first
        // confirm makes them durable (one is waited for below).
        let tallies: Vec<_> = (0..PUBLISHERS)
            .map(|p| {
                let tag = format!("r{round}p{p}");
                let tally = Arc::new(Mutex::new(None));
                let task = tokio::spawn(publish_until_killed(
                    broker.addr,
                    tag.clone(),
                    tally.clone(),
                ));
                (tag, tally, task)
            })
            .collect();
        let durable = until(|| tallies.iter().any(|(_, t, _)| t.lock().unwrap().is_some())).await;
        assert!(durable, "a publish after the acks was confirmed");
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let delay = Duration::from_millis(100 + seed % 500);
        tokio::time::sleep(delay).await;
        broker.kill_and_restart().await;
        drop(c);
        let _ = tokio::time::timeout(WAIT, filler).await;
        let mut tallies: Vec<_> = tallies
            .into_iter()
            .map(|(tag, tally, task)| (tag, tally, Some(task)))
            .collect();
        tallies.push((warmup, tally, None));
        for (tag, tally, task) in tallies {
            if let Some(task) = task {
                let _ = tokio::time::timeout(WAIT, task).await;
            }
            if let Some(seq) = *tally.lock().unwrap() {
                confirmed.insert(tag, seq);
            }
        }
        eprintln!(
            "round {round}: killed {delay:?} after the first confirm; confirmed {confirmed:?}"
        );

        let bodies = read_all(broker.addr, &format!("marker{round}")).await;
        check(round, &bodies, &confirmed, &broker);
        // The named consumer, without x-stream-offset, resumes after its last ack.
        let reader = connect(broker.addr).await;
        let rch = reader.create_channel().await.unwrap();
        let mut c = consume(&rch, "reader", &name).await;
        let (offset, body) = next(&mut c, false).await;
        assert_eq!(offset, resume_at, "round {round}: resumed at {body}");
        let _ = reader.close(200, "checked".into()).await;
    }
    assert!(
        confirmed.keys().any(|t| t.starts_with('r')),
        "no publish during a crash was confirmed: the test proved nothing"
    );
}

/// Polls `f` every 10 ms for up to 15 s.
async fn until(mut f: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + WAIT;
    while tokio::time::Instant::now() < deadline {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}
