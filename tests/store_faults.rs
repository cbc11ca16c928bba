//! Every store failure path, driven through a real client with a store that injects
//! faults (`warren_store::faults::FaultyStore`), as a normal user: declares and binds
//! the store refuses close the connection with 541 and leave nothing behind, persistent
//! publishes it cannot keep are nacked, a failed `tx.commit` closes with 541, an ack it
//! cannot record is redelivered after a restart, and a slow disk never stalls other
//! connections (the wait for a commit is awaited, not blocked on).

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use lapin::options::*;
use lapin::types::FieldTable;
use lapin::BasicProperties;
use warren_store::faults::{Faults, FaultyStore};
use warren_testkit::{reply, TestBroker};

/// A broker whose store injects faults, on a real sled store in its temp data
/// directory (a restart brings the same data back on a plain store).
async fn faulty_broker() -> (TestBroker, Arc<Faults>) {
    let mut faults = None;
    let broker = TestBroker::start_with_store(|config| {
        let real = warren_broker::recovery::open_store(&config.data_dir, &config.limits)
            .expect("store opens");
        let faulty = FaultyStore::wrap(real);
        faults = Some(faulty.faults().clone());
        faulty
    })
    .await;
    (broker, faults.expect("store made"))
}

fn durable() -> QueueDeclareOptions {
    QueueDeclareOptions {
        durable: true,
        ..Default::default()
    }
}

fn persistent() -> BasicProperties {
    BasicProperties::default().with_delivery_mode(2)
}

/// Asserts a connection close with 541 for a store failure.
#[track_caller]
fn assert_store_failure<T: std::fmt::Debug>(result: lapin::Result<T>) {
    let err = result.expect_err("the store failure should close the connection");
    let (code, text) = reply(&err).expect("an AMQP close");
    assert_eq!(code, 541, "{text}");
    assert!(
        text.starts_with("INTERNAL_ERROR - store failure: "),
        "the text says what failed, named once: {text}"
    );
}

#[tokio::test]
async fn a_durable_declare_the_store_refuses_closes_541_and_leaves_nothing() {
    let (b, faults) = faulty_broker().await;
    let (_conn, ch) = b.channel().await;
    faults.set_fail_writes(true);
    assert_store_failure(
        ch.queue_declare("q".into(), durable(), FieldTable::default())
            .await,
    );
    faults.clear();
    assert!(faults.writes_refused() > 0);
    let vhost = b.broker().vhost("/").unwrap();
    assert!(
        vhost.queue("q", 0).is_err(),
        "the refused queue is not there"
    );
    // The broker keeps serving: the same declare works once the store does.
    let (_conn, ch) = b.channel().await;
    ch.queue_declare("q".into(), durable(), FieldTable::default())
        .await
        .expect("declare after the fault cleared");
    let (_conn, ch) = b.channel().await;
    faults.set_disk_full(true);
    let ex = ExchangeDeclareOptions {
        durable: true,
        ..Default::default()
    };
    assert_store_failure(
        ch.exchange_declare(
            "x".into(),
            lapin::ExchangeKind::Direct,
            ex,
            FieldTable::default(),
        )
        .await,
    );
    assert!(
        vhost.exchange("x").is_err(),
        "the refused exchange is not there"
    );
}

#[tokio::test]
async fn a_declare_whose_sync_fails_closes_541() {
    let (b, faults) = faulty_broker().await;
    let (_conn, ch) = b.channel().await;
    faults.set_fail_syncs(true);
    assert_store_failure(
        ch.queue_declare("q".into(), durable(), FieldTable::default())
            .await,
    );
    assert!(faults.syncs_failed() > 0);
    // A transient queue needs no commit: it is declared even while syncs fail.
    let (_conn, ch) = b.channel().await;
    ch.queue_declare(
        "t".into(),
        QueueDeclareOptions::default(),
        FieldTable::default(),
    )
    .await
    .expect("a transient declare needs no sync");
}

#[tokio::test]
async fn a_binding_the_store_refuses_closes_541_and_is_not_made() {
    let (b, faults) = faulty_broker().await;
    let (_conn, ch) = b.channel().await;
    ch.queue_declare("q".into(), durable(), FieldTable::default())
        .await
        .unwrap();
    faults.set_fail_writes(true);
    assert_store_failure(
        ch.queue_bind(
            "q".into(),
            "amq.direct".into(),
            "k".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await,
    );
    let vhost = b.broker().vhost("/").unwrap();
    let mut routed = Vec::new();
    vhost.route("amq.direct", "k", None, &mut routed).unwrap();
    assert!(routed.is_empty(), "the refused binding routes nothing");
}

#[tokio::test]
async fn persistent_publishes_the_store_cannot_keep_are_nacked() {
    let (b, faults) = faulty_broker().await;
    let (_conn, ch) = b.channel().await;
    ch.queue_declare("q".into(), durable(), FieldTable::default())
        .await
        .unwrap();
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    let publish = |props: BasicProperties| {
        let ch = ch.clone();
        async move {
            ch.basic_publish(
                "".into(),
                "q".into(),
                BasicPublishOptions::default(),
                b"m",
                props,
            )
            .await
            .expect("publish")
            .await
            .expect("confirm")
        }
    };
    faults.set_disk_full(true);
    assert!(publish(persistent()).await.is_nack(), "disk full: nack");
    assert!(
        publish(BasicProperties::default()).await.is_ack(),
        "a transient message needs no disk"
    );
    faults.set_disk_full(false);
    faults.set_fail_syncs(true);
    assert!(publish(persistent()).await.is_nack(), "sync failed: nack");
    faults.clear();
    assert!(
        publish(persistent()).await.is_ack(),
        "the store works again"
    );
}

#[tokio::test]
async fn a_tx_commit_whose_sync_fails_closes_541() {
    let (b, faults) = faulty_broker().await;
    let (_conn, ch) = b.channel().await;
    ch.queue_declare("q".into(), durable(), FieldTable::default())
        .await
        .unwrap();
    ch.tx_select().await.unwrap();
    ch.basic_publish(
        "".into(),
        "q".into(),
        BasicPublishOptions::default(),
        b"m",
        persistent(),
    )
    .await
    .unwrap();
    faults.set_fail_syncs(true);
    assert_store_failure(ch.tx_commit().await);
}

#[tokio::test]
async fn an_ack_the_store_cannot_record_is_redelivered_after_a_restart() {
    let (mut b, faults) = faulty_broker().await;
    {
        let (_conn, ch) = b.channel().await;
        ch.queue_declare("q".into(), durable(), FieldTable::default())
            .await
            .unwrap();
        ch.confirm_select(ConfirmSelectOptions::default())
            .await
            .unwrap();
        let confirm = ch
            .basic_publish(
                "".into(),
                "q".into(),
                BasicPublishOptions::default(),
                b"job",
                persistent(),
            )
            .await
            .unwrap()
            .await
            .unwrap();
        assert!(confirm.is_ack());
        let m = ch
            .basic_get("q".into(), BasicGetOptions::default())
            .await
            .unwrap()
            .expect("the message");
        faults.set_fail_writes(true);
        ch.basic_ack(m.delivery_tag, BasicAckOptions::default())
            .await
            .expect("the client's ack is accepted");
        // The channel stays usable: the failure is the broker's to log, not the client's.
        let count = ch
            .queue_declare(
                "q".into(),
                QueueDeclareOptions {
                    passive: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .expect("channel still open")
            .message_count();
        assert_eq!(count, 0);
    }
    b.restart().await;
    let (_conn, ch) = b.channel().await;
    let m = ch
        .basic_get("q".into(), BasicGetOptions::default())
        .await
        .unwrap()
        .expect("an ack the store never recorded is not lost: it comes back");
    assert_eq!(m.data, b"job");
    assert!(m.redelivered, "it was delivered before the restart");
}

/// One thread runs the broker and both clients. A durable declare waits 500 ms for its
/// commit; meanwhile another connection's publishes and deliveries keep flowing. A
/// blocking wait for the commit would stall the only thread for those 500 ms.
#[tokio::test(flavor = "current_thread")]
async fn a_slow_disk_stalls_no_other_connection() {
    const DELAY: Duration = Duration::from_millis(500);
    let (b, faults) = faulty_broker().await;
    let (_slow_conn, slow) = b.channel().await;
    let (_conn, ch) = b.channel().await;
    ch.queue_declare(
        "work".into(),
        QueueDeclareOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    let mut consumer = ch
        .basic_consume(
            "work".into(),
            "c".into(),
            BasicConsumeOptions {
                no_ack: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    faults.set_sync_delay(DELAY);
    let started = Instant::now();
    let declare = tokio::spawn(async move {
        slow.queue_declare("durable".into(), durable(), FieldTable::default())
            .await
            .expect("the slow declare completes");
        started.elapsed()
    });
    // Give the declare time to reach the broker and start waiting for its commit.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut round_trips = 0;
    while started.elapsed() < DELAY / 2 {
        ch.basic_publish(
            "".into(),
            "work".into(),
            BasicPublishOptions::default(),
            b"ping",
            BasicProperties::default(),
        )
        .await
        .unwrap();
        let d = tokio::time::timeout(DELAY / 2, consumer.next())
            .await
            .expect("a delivery while the other connection waits for the disk")
            .expect("consumer open")
            .expect("delivery");
        assert_eq!(d.data, b"ping");
        round_trips += 1;
    }
    assert!(
        !declare.is_finished(),
        "the declare is still waiting for its commit"
    );
    let took = declare.await.unwrap();
    assert!(
        took >= DELAY,
        "the declare-ok waited for the slow commit ({took:?})"
    );
    assert!(
        round_trips >= 5,
        "only {round_trips} round trips while the disk was slow"
    );
}

/// While a durable declare waits for a slow commit on one connection, the broker keeps
/// heart-beating another connection (one thread runs everything).
#[tokio::test(flavor = "current_thread")]
async fn heartbeats_flow_while_a_commit_is_slow() {
    use warren_protocol::Frame;
    use warren_testkit::raw::{Event, RawClient, TuneOk};
    const DELAY: Duration = Duration::from_millis(2_500);
    let (b, faults) = faulty_broker().await;
    let addr = b.addr;
    let mut beating = RawClient::open_with(
        addr,
        TuneOk {
            heartbeat: 1,
            ..TuneOk::default()
        },
    )
    .await;
    let (_slow_conn, slow) = b.channel().await;
    faults.set_sync_delay(DELAY);
    let started = Instant::now();
    let declare = tokio::spawn(async move {
        slow.queue_declare("durable".into(), durable(), FieldTable::default())
            .await
            .expect("the slow declare completes");
        started.elapsed()
    });
    let mut heartbeats = 0;
    while started.elapsed() < DELAY - Duration::from_millis(500) {
        match beating.next_event(Duration::from_millis(200)).await {
            Event::Frame(Frame::Heartbeat) => {
                heartbeats += 1;
                // Answer, as a client must, or the broker drops it after two intervals.
                beating.send_heartbeat().await;
            }
            Event::Eof => panic!("the heart-beating connection was closed"),
            _ => {}
        }
    }
    assert!(
        !declare.is_finished(),
        "the declare is still waiting for its commit"
    );
    assert!(
        heartbeats >= 2,
        "{heartbeats} heartbeats in {:?} while the other connection waited for the disk",
        started.elapsed()
    );
    assert!(declare.await.unwrap() >= DELAY);
}
