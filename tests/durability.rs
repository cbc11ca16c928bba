//! Durability across restarts: the in-process broker is stopped and started again on the
//! same data directory (`TestBroker::restart`). Durable exchanges, queues (with their
//! arguments) and bindings come back; transient ones do not; deletions stay deleted; a
//! second broker on the same directory is refused. Persistent messages in durable queues
//! come back in order, redelivered if they were delivered, with their TTLs counting from
//! the original publish; acked, rejected, purged, dropped and expired ones do not;
//! transient messages never do.

use std::time::{Duration, Instant};

use lapin::options::{
    BasicAckOptions, BasicGetOptions, BasicPublishOptions, BasicRejectOptions,
    ConfirmSelectOptions, ExchangeBindOptions, ExchangeDeclareOptions, ExchangeDeleteOptions,
    QueueBindOptions, QueueDeclareOptions, QueueDeleteOptions, QueuePurgeOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::{BasicProperties, Channel, ExchangeKind};
use lapin::{Confirmation, Connection};
use warren_testkit::{assert_reply, depth, drain, eventually, passive, TestBroker};

fn args(entries: &[(&str, AMQPValue)]) -> FieldTable {
    let mut t = FieldTable::default();
    for (k, v) in entries {
        t.insert((*k).into(), v.clone());
    }
    t
}

fn durable_queue() -> QueueDeclareOptions {
    QueueDeclareOptions {
        durable: true,
        ..Default::default()
    }
}

fn durable_exchange() -> ExchangeDeclareOptions {
    ExchangeDeclareOptions {
        durable: true,
        ..Default::default()
    }
}

async fn exchange_exists(broker: &TestBroker, name: &str) -> bool {
    let (_conn, ch) = broker.channel().await;
    ch.exchange_declare(
        name.into(),
        ExchangeKind::Direct,
        ExchangeDeclareOptions {
            passive: true,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await
    .is_ok()
}

async fn queue_exists(broker: &TestBroker, name: &str) -> bool {
    let (_conn, ch) = broker.channel().await;
    ch.queue_declare(name.into(), passive(), FieldTable::default())
        .await
        .is_ok()
}

/// Publishes a transient message and says whether it reached `queue` (then takes it).
async fn routes_to(ch: &Channel, exchange: &str, key: &str, queue: &str) -> bool {
    ch.basic_publish(
        exchange.into(),
        key.into(),
        Default::default(),
        b"probe",
        BasicProperties::default(),
    )
    .await
    .unwrap();
    // The publish is asynchronous; a passive declare on the same channel is answered
    // after it was routed.
    let routed = depth(ch, queue).await > 0;
    if routed {
        ch.basic_get(queue.into(), BasicGetOptions { no_ack: true })
            .await
            .unwrap();
    }
    routed
}

#[tokio::test]
async fn durable_topology_survives_a_restart_and_transient_does_not() {
    let mut broker = TestBroker::start().await;
    {
        let (_conn, ch) = broker.channel().await;
        ch.exchange_declare(
            "d.topic".into(),
            ExchangeKind::Topic,
            durable_exchange(),
            FieldTable::default(),
        )
        .await
        .unwrap();
        ch.exchange_declare(
            "d.fanout".into(),
            ExchangeKind::Fanout,
            durable_exchange(),
            FieldTable::default(),
        )
        .await
        .unwrap();
        ch.exchange_declare(
            "t.direct".into(),
            ExchangeKind::Direct,
            ExchangeDeclareOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
        let qargs = args(&[
            ("x-max-length", AMQPValue::LongInt(5)),
            (
                "x-queue-mode",
                AMQPValue::LongString(LongString::from("lazy")),
            ),
        ]);
        ch.queue_declare("d.q".into(), durable_queue(), qargs)
            .await
            .unwrap();
        ch.queue_declare(
            "t.q".into(),
            QueueDeclareOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
        ch.queue_bind(
            "d.q".into(),
            "d.topic".into(),
            "a.*".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
        ch.exchange_bind(
            "d.topic".into(),
            "d.fanout".into(),
            "".into(),
            ExchangeBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
        // A binding to a transient queue is transient.
        ch.queue_bind(
            "t.q".into(),
            "d.topic".into(),
            "b.*".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    }
    broker.restart().await;

    assert!(exchange_exists(&broker, "d.topic").await);
    assert!(exchange_exists(&broker, "d.fanout").await);
    assert!(!exchange_exists(&broker, "t.direct").await);
    assert!(queue_exists(&broker, "d.q").await);
    assert!(!queue_exists(&broker, "t.q").await);

    let (_conn, ch) = broker.channel().await;
    // The queue kept its arguments: a redeclare without them is inequivalent.
    assert_reply(
        ch.queue_declare("d.q".into(), durable_queue(), FieldTable::default())
            .await,
        406,
        "PRECONDITION_FAILED - inequivalent arg 'x-max-length' for queue 'd.q' in vhost '/': \
         received none but current is the value '5' of type 'signedint'",
    );
    let (_conn, ch) = broker.channel().await;
    // The exchange kept its type, and both bindings route.
    assert!(routes_to(&ch, "d.topic", "a.x", "d.q").await);
    assert!(!routes_to(&ch, "d.topic", "c.x", "d.q").await);
    assert!(routes_to(&ch, "d.fanout", "a.y", "d.q").await);
    assert_reply(
        ch.exchange_declare(
            "d.topic".into(),
            ExchangeKind::Direct,
            durable_exchange(),
            FieldTable::default(),
        )
        .await,
        406,
        "PRECONDITION_FAILED - inequivalent arg 'type' for exchange 'd.topic' in vhost '/': \
         received 'direct' but current is 'topic'",
    );
}

#[tokio::test]
async fn deletions_and_unbinds_stay_done_after_a_restart() {
    let mut broker = TestBroker::start().await;
    {
        let (_conn, ch) = broker.channel().await;
        for x in ["x.keep", "x.gone"] {
            ch.exchange_declare(
                x.into(),
                ExchangeKind::Direct,
                durable_exchange(),
                FieldTable::default(),
            )
            .await
            .unwrap();
        }
        for q in ["q.keep", "q.gone"] {
            ch.queue_declare(q.into(), durable_queue(), FieldTable::default())
                .await
                .unwrap();
            for key in ["k1", "k2"] {
                ch.queue_bind(
                    q.into(),
                    "x.keep".into(),
                    key.into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await
                .unwrap();
            }
        }
        ch.queue_unbind(
            "q.keep".into(),
            "x.keep".into(),
            "k2".into(),
            FieldTable::default(),
        )
        .await
        .unwrap();
        ch.queue_delete("q.gone".into(), QueueDeleteOptions::default())
            .await
            .unwrap();
        ch.exchange_delete("x.gone".into(), ExchangeDeleteOptions::default())
            .await
            .unwrap();
    }
    broker.restart().await;
    assert!(exchange_exists(&broker, "x.keep").await);
    assert!(!exchange_exists(&broker, "x.gone").await);
    assert!(queue_exists(&broker, "q.keep").await);
    assert!(!queue_exists(&broker, "q.gone").await);
    let (_conn, ch) = broker.channel().await;
    assert!(routes_to(&ch, "x.keep", "k1", "q.keep").await);
    assert!(!routes_to(&ch, "x.keep", "k2", "q.keep").await);
    // Restarting twice changes nothing.
    drop((_conn, ch));
    broker.restart().await;
    assert!(queue_exists(&broker, "q.keep").await);
    assert!(!queue_exists(&broker, "q.gone").await);
}

#[tokio::test]
async fn a_second_broker_on_the_same_data_dir_is_refused_as_locked() {
    let broker = TestBroker::start().await;
    let config = warren_server::ServerConfig {
        listen: vec!["127.0.0.1:0".parse().unwrap()],
        data_dir: broker.data_dir().to_path_buf(),
        management_listen: None,
        ..Default::default()
    };
    let err = match warren_server::Server::start(config).await {
        Ok(_) => panic!("a second broker must not open a locked data directory"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("locked"), "{err}");
    assert!(
        err.contains(&broker.data_dir().join("store").display().to_string()),
        "the error names the directory: {err}"
    );
}

// ---- persistent messages

fn persistent() -> BasicProperties {
    BasicProperties::default().with_delivery_mode(2)
}

/// Publishes `body` to `queue` through the default exchange and returns the confirm
/// (the channel must be in confirm mode).
async fn publish(ch: &Channel, queue: &str, body: &str, props: BasicProperties) -> Confirmation {
    ch.basic_publish(
        "".into(),
        queue.into(),
        BasicPublishOptions::default(),
        body.as_bytes(),
        props,
    )
    .await
    .expect("publish")
    .await
    .expect("confirm")
}

/// A confirm-mode channel.
async fn confirming(broker: &TestBroker) -> (Connection, Channel) {
    let (conn, ch) = broker.channel().await;
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    (conn, ch)
}

async fn declare_durable(ch: &Channel, name: &str, arguments: FieldTable) {
    ch.queue_declare(name.into(), durable_queue(), arguments)
        .await
        .expect("durable declare");
}

fn bodies(v: &[(&str, bool)]) -> Vec<(String, bool)> {
    v.iter().map(|(b, r)| (b.to_string(), *r)).collect()
}

#[tokio::test]
async fn persistent_messages_come_back_in_order_and_delivered_ones_as_redelivered() {
    let mut broker = TestBroker::start().await;
    {
        let (_conn, ch) = confirming(&broker).await;
        declare_durable(&ch, "pm", FieldTable::default()).await;
        ch.queue_declare(
            "tq".into(),
            QueueDeclareOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
        for i in 0..6 {
            let c = publish(&ch, "pm", &format!("p{i}"), persistent()).await;
            assert_eq!(c, Confirmation::Ack(None));
            // Transient messages in a durable queue, and persistent ones in a transient
            // queue, are not kept.
            publish(&ch, "pm", &format!("t{i}"), BasicProperties::default()).await;
            publish(&ch, "tq", &format!("x{i}"), persistent()).await;
        }
        // p0 acked, t0 acked, p1 delivered and left unacked.
        let mut tags = Vec::new();
        for _ in 0..3 {
            let m = ch
                .basic_get("pm".into(), BasicGetOptions::default())
                .await
                .unwrap()
                .expect("a message");
            tags.push(m.delivery_tag);
        }
        for tag in &tags[..2] {
            ch.basic_ack(*tag, BasicAckOptions::default())
                .await
                .unwrap();
        }
        // A round trip, so the acks were handled before the stop.
        depth(&ch, "pm").await;
    }
    broker.restart().await;
    let (_conn, ch) = broker.channel().await;
    assert!(!queue_exists(&broker, "tq").await);
    assert_eq!(
        drain(&ch, "pm").await,
        bodies(&[
            ("p1", true),
            ("p2", false),
            ("p3", false),
            ("p4", false),
            ("p5", false)
        ])
    );
    drop((_conn, ch));
    // Everything was acked: nothing comes back a second time.
    broker.restart().await;
    let (_conn, ch) = broker.channel().await;
    assert_eq!(drain(&ch, "pm").await, vec![]);
}

#[tokio::test]
async fn a_message_in_several_durable_queues_leaves_each_on_its_own() {
    let mut broker = TestBroker::start().await;
    {
        let (_conn, ch) = confirming(&broker).await;
        ch.exchange_declare(
            "fan".into(),
            ExchangeKind::Fanout,
            durable_exchange(),
            FieldTable::default(),
        )
        .await
        .unwrap();
        for q in ["f1", "f2", "f3"] {
            declare_durable(&ch, q, FieldTable::default()).await;
            ch.queue_bind(
                q.into(),
                "fan".into(),
                "".into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .unwrap();
        }
        for i in 0..3 {
            let c = ch
                .basic_publish(
                    "fan".into(),
                    "".into(),
                    BasicPublishOptions::default(),
                    format!("m{i}").as_bytes(),
                    persistent(),
                )
                .await
                .unwrap()
                .await
                .unwrap();
            assert_eq!(c, Confirmation::Ack(None));
        }
        // f1: all acked; f2: the first rejected without requeue; f3: purged.
        assert_eq!(drain(&ch, "f1").await.len(), 3);
        let m = ch
            .basic_get("f2".into(), BasicGetOptions::default())
            .await
            .unwrap()
            .unwrap();
        ch.basic_reject(m.delivery_tag, BasicRejectOptions { requeue: false })
            .await
            .unwrap();
        ch.queue_purge("f3".into(), QueuePurgeOptions::default())
            .await
            .unwrap();
    }
    broker.restart().await;
    let (_conn, ch) = broker.channel().await;
    assert_eq!(drain(&ch, "f1").await, vec![]);
    assert_eq!(
        drain(&ch, "f2").await,
        bodies(&[("m1", false), ("m2", false)])
    );
    assert_eq!(drain(&ch, "f3").await, vec![]);
}

#[tokio::test]
async fn max_length_drops_and_queue_deletion_remove_stored_messages() {
    let mut broker = TestBroker::start().await;
    {
        let (_conn, ch) = confirming(&broker).await;
        declare_durable(&ch, "cap", args(&[("x-max-length", AMQPValue::LongInt(2))])).await;
        declare_durable(&ch, "doomed", FieldTable::default()).await;
        for i in 0..5 {
            publish(&ch, "cap", &format!("c{i}"), persistent()).await;
            publish(&ch, "doomed", &format!("d{i}"), persistent()).await;
        }
        ch.queue_delete("doomed".into(), QueueDeleteOptions::default())
            .await
            .unwrap();
        // Declared again, empty: the old messages must not come back into it.
        declare_durable(&ch, "doomed", FieldTable::default()).await;
    }
    broker.restart().await;
    let (_conn, ch) = broker.channel().await;
    assert_eq!(
        drain(&ch, "cap").await,
        bodies(&[("c3", false), ("c4", false)])
    );
    assert_eq!(drain(&ch, "doomed").await, vec![]);
}

#[tokio::test]
async fn ttls_keep_counting_from_the_original_publish_across_a_restart() {
    let mut broker = TestBroker::start().await;
    let ttl = 300;
    let published = {
        let (_conn, ch) = confirming(&broker).await;
        declare_durable(&ch, "dlq", FieldTable::default()).await;
        declare_durable(
            &ch,
            "short",
            args(&[
                ("x-message-ttl", AMQPValue::LongInt(ttl)),
                ("x-dead-letter-exchange", AMQPValue::LongString("".into())),
                (
                    "x-dead-letter-routing-key",
                    AMQPValue::LongString("dlq".into()),
                ),
            ]),
        )
        .await;
        declare_durable(&ch, "long", FieldTable::default()).await;
        let published = Instant::now();
        publish(&ch, "short", "s", persistent()).await;
        publish(
            &ch,
            "long",
            "l",
            persistent().with_expiration("600000".into()),
        )
        .await;
        published
    };
    broker.stop_server().await;
    // The short TTL runs out while the broker is down.
    let down_until = published + Duration::from_millis(ttl as u64 + 200);
    tokio::time::sleep_until(down_until.into()).await;
    broker.start_again().await;
    let (_conn, ch) = broker.channel().await;
    // Expired at recovery (not 300 ms after the restart), and dead-lettered.
    assert_eq!(depth(&ch, "short").await, 0);
    assert_eq!(drain(&ch, "dlq").await.len(), 1);
    assert_eq!(drain(&ch, "long").await, bodies(&[("l", false)]));
}

#[tokio::test]
async fn a_transaction_commit_is_durable_when_commit_ok_arrives() {
    let mut broker = TestBroker::start().await;
    {
        let (_conn, ch) = broker.channel().await;
        declare_durable(&ch, "txq", FieldTable::default()).await;
        ch.tx_select().await.unwrap();
        for i in 0..3 {
            ch.basic_publish(
                "".into(),
                "txq".into(),
                BasicPublishOptions::default(),
                format!("tx{i}").as_bytes(),
                persistent(),
            )
            .await
            .unwrap();
        }
        ch.tx_commit().await.unwrap();
        ch.basic_publish(
            "".into(),
            "txq".into(),
            BasicPublishOptions::default(),
            b"rolled back",
            persistent(),
        )
        .await
        .unwrap();
        ch.tx_rollback().await.unwrap();
    }
    broker.restart().await;
    let (_conn, ch) = broker.channel().await;
    assert_eq!(
        drain(&ch, "txq").await,
        bodies(&[("tx0", false), ("tx1", false), ("tx2", false)])
    );
}

#[tokio::test]
async fn confirms_stay_in_order_with_nacks_of_refused_publishes() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = confirming(&broker).await;
    declare_durable(
        &ch,
        "full",
        args(&[
            ("x-max-length", AMQPValue::LongInt(1)),
            ("x-overflow", AMQPValue::LongString("reject-publish".into())),
        ]),
    )
    .await;
    let mut pending = Vec::new();
    for i in 0..4 {
        pending.push(
            ch.basic_publish(
                "".into(),
                "full".into(),
                BasicPublishOptions::default(),
                format!("r{i}").as_bytes(),
                persistent(),
            )
            .await
            .unwrap(),
        );
    }
    let mut got = Vec::new();
    for p in pending {
        got.push(matches!(p.await.unwrap(), Confirmation::Ack(_)));
    }
    assert_eq!(got, vec![true, false, false, false]);
}

#[tokio::test]
async fn persistent_messages_held_by_a_durable_delayed_exchange_survive_a_restart() {
    let mut broker = TestBroker::start().await;
    let published = {
        let (_conn, ch) = confirming(&broker).await;
        ch.exchange_declare(
            "delayed".into(),
            ExchangeKind::Custom("x-delayed-message".into()),
            durable_exchange(),
            args(&[("x-delayed-type", AMQPValue::LongString("direct".into()))]),
        )
        .await
        .unwrap();
        declare_durable(&ch, "later", FieldTable::default()).await;
        ch.queue_bind(
            "later".into(),
            "delayed".into(),
            "k".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
        let published = Instant::now();
        for (body, delay, props) in [
            ("due-while-down", 300, persistent()),
            ("due-after-restart", 1500, persistent()),
            ("transient", 300, BasicProperties::default()),
        ] {
            let c = ch
                .basic_publish(
                    "delayed".into(),
                    "k".into(),
                    BasicPublishOptions::default(),
                    body.as_bytes(),
                    props.with_headers(args(&[("x-delay", AMQPValue::LongInt(delay))])),
                )
                .await
                .unwrap()
                .await
                .unwrap();
            assert_eq!(c, Confirmation::Ack(None));
        }
        assert_eq!(depth(&ch, "later").await, 0, "nothing is due yet");
        published
    };
    broker.stop_server().await;
    tokio::time::sleep_until((published + Duration::from_millis(500)).into()).await;
    broker.start_again().await;
    let (_conn, ch) = broker.channel().await;
    let ch_ref = &ch;
    eventually(Duration::from_secs(10), || async move {
        depth(ch_ref, "later").await >= 2
    })
    .await;
    assert_eq!(
        depth(&ch, "later").await,
        2,
        "both persistent delayed messages were routed"
    );
    drop((_conn, ch));
    // Routed messages leave the delayed store: a restart does not route them again.
    broker.restart().await;
    let (_conn, ch) = broker.channel().await;
    assert_eq!(
        drain(&ch, "later").await,
        bodies(&[("due-while-down", false), ("due-after-restart", false)])
    );
}

#[tokio::test]
async fn an_auto_deleted_durable_exchange_stays_deleted_after_a_restart() {
    let mut broker = TestBroker::start().await;
    {
        let (_conn, ch) = broker.channel().await;
        ch.exchange_declare(
            "auto".into(),
            ExchangeKind::Direct,
            ExchangeDeclareOptions {
                durable: true,
                auto_delete: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
        declare_durable(&ch, "bound", FieldTable::default()).await;
        ch.queue_bind(
            "bound".into(),
            "auto".into(),
            "k".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
        // Its last binding goes with the queue: the exchange is auto-deleted.
        ch.queue_delete("bound".into(), QueueDeleteOptions::default())
            .await
            .unwrap();
    }
    assert!(!exchange_exists(&broker, "auto").await);
    broker.restart().await;
    assert!(!exchange_exists(&broker, "auto").await);
}
