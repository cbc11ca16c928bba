//! Queues against RabbitMQ 3.10's measured behaviour (docs/rabbitmq-reference.md §3):
//! redeclare equivalence and its texts, which arguments are compared, exclusivity per
//! operation, reserved and server-generated names, delete/purge counts, auto-delete and
//! the empty-name shortcut.

use std::time::Duration;

use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicGetOptions, BasicQosOptions,
    ConfirmSelectOptions, QueueBindOptions, QueueDeclareOptions, QueueDeleteOptions,
    QueuePurgeOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::{BasicProperties, Channel, Connection};
use warren_testkit::{assert_reply, depth, passive, TestBroker};

fn args(entries: &[(&str, AMQPValue)]) -> FieldTable {
    let mut t = FieldTable::default();
    for (k, v) in entries {
        t.insert((*k).into(), v.clone());
    }
    t
}

fn s(v: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(v))
}

fn opts() -> QueueDeclareOptions {
    QueueDeclareOptions::default()
}

async fn declare(ch: &Channel, name: &str, o: QueueDeclareOptions, a: FieldTable) {
    ch.queue_declare(name.into(), o, a).await.expect("declare");
}

/// Publishes `n` messages to `queue` through the default exchange and waits for them.
async fn fill(ch: &Channel, queue: &str, n: usize) {
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    for _ in 0..n {
        warren_testkit::publish_confirmed(ch, "", queue, BasicProperties::default())
            .await
            .unwrap();
    }
}

// ---- redeclare

#[tokio::test]
async fn redeclare_with_other_durable_or_auto_delete_is_406() {
    let broker = TestBroker::start().await;
    let conn = broker.connect().await;
    let ch = conn.create_channel().await.unwrap();
    declare(&ch, "q", opts(), FieldTable::default()).await;
    for (flag, o) in [
        (
            "durable",
            QueueDeclareOptions {
                durable: true,
                ..opts()
            },
        ),
        (
            "auto_delete",
            QueueDeclareOptions {
                auto_delete: true,
                ..opts()
            },
        ),
    ] {
        let ch = conn.create_channel().await.unwrap();
        assert_reply(
            ch.queue_declare("q".into(), o, FieldTable::default()).await,
            406,
            &format!("PRECONDITION_FAILED - inequivalent arg '{flag}' for queue 'q' in vhost '/': received 'true' but current is 'false'"),
        );
    }
}

const LOCKED: &str = "RESOURCE_LOCKED - cannot obtain exclusive access to locked queue 'q' in vhost '/'. It could be originally declared on another connection or the exclusive property value does not match that of the original declaration.";

#[tokio::test]
async fn redeclare_with_another_exclusive_flag_is_405_even_on_the_same_connection() {
    let broker = TestBroker::start().await;
    let conn = broker.connect().await;
    let ch = conn.create_channel().await.unwrap();
    declare(&ch, "q", opts(), FieldTable::default()).await;
    let exclusive = QueueDeclareOptions {
        exclusive: true,
        ..opts()
    };
    assert_reply(
        ch.queue_declare("q".into(), exclusive, FieldTable::default())
            .await,
        405,
        LOCKED,
    );
    let ch = conn.create_channel().await.unwrap();
    declare(&ch, "q2", exclusive, FieldTable::default()).await;
    assert_reply(
        ch.queue_declare("q2".into(), opts(), FieldTable::default())
            .await,
        405,
        &LOCKED.replace("'q'", "'q2'"),
    );
}

#[tokio::test]
async fn exclusive_queues_are_never_durable() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    let exclusive = QueueDeclareOptions {
        exclusive: true,
        ..opts()
    };
    declare(
        &ch,
        "q",
        QueueDeclareOptions {
            durable: true,
            ..exclusive
        },
        FieldTable::default(),
    )
    .await;
    declare(&ch, "q", exclusive, FieldTable::default()).await;
}

#[tokio::test]
async fn redeclare_adding_a_compared_argument_is_406() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(&ch, "q", opts(), FieldTable::default()).await;
    assert_reply(
        ch.queue_declare("q".into(), opts(), args(&[("x-message-ttl", AMQPValue::LongInt(1000))]))
            .await,
        406,
        "PRECONDITION_FAILED - inequivalent arg 'x-message-ttl' for queue 'q' in vhost '/': received the value '1000' of type 'signedint' but current is none",
    );
}

#[tokio::test]
async fn redeclare_omitting_a_compared_argument_is_406() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(
        &ch,
        "q",
        opts(),
        args(&[("x-message-ttl", AMQPValue::LongInt(1000))]),
    )
    .await;
    assert_reply(
        ch.queue_declare("q".into(), opts(), FieldTable::default()).await,
        406,
        "PRECONDITION_FAILED - inequivalent arg 'x-message-ttl' for queue 'q' in vhost '/': received none but current is the value '1000' of type 'signedint'",
    );
}

#[tokio::test]
async fn redeclare_with_another_argument_value_is_406() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(
        &ch,
        "q",
        opts(),
        args(&[("x-message-ttl", AMQPValue::LongInt(1000))]),
    )
    .await;
    assert_reply(
        ch.queue_declare("q".into(), opts(), args(&[("x-message-ttl", AMQPValue::LongInt(2000))]))
            .await,
        406,
        "PRECONDITION_FAILED - inequivalent arg 'x-message-ttl' for queue 'q' in vhost '/': received '2000' but current is '1000'",
    );
}

#[tokio::test]
async fn integer_arguments_compare_by_value_across_widths() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(
        &ch,
        "q",
        opts(),
        args(&[("x-message-ttl", AMQPValue::LongInt(1000))]),
    )
    .await;
    declare(
        &ch,
        "q",
        opts(),
        args(&[("x-message-ttl", AMQPValue::LongLongInt(1000))]),
    )
    .await;
}

#[tokio::test]
async fn an_integer_argument_redeclared_as_a_string_is_406() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(
        &ch,
        "q",
        opts(),
        args(&[("x-message-ttl", AMQPValue::LongInt(1000))]),
    )
    .await;
    assert_reply(
        ch.queue_declare("q".into(), opts(), args(&[("x-message-ttl", s("1000"))]))
            .await,
        406,
        "PRECONDITION_FAILED - inequivalent arg 'x-message-ttl' for queue 'q' in vhost '/': received '1000' but current is '1000'",
    );
}

#[tokio::test]
async fn every_compared_argument_is_checked_on_redeclare() {
    let broker = TestBroker::start().await;
    let conn = broker.connect().await;
    let int = AMQPValue::LongInt;
    let cases: Vec<(&str, AMQPValue, FieldTable)> = vec![
        ("x-expires", int(60000), FieldTable::default()),
        ("x-max-length", int(10), FieldTable::default()),
        ("x-max-length-bytes", int(1000), FieldTable::default()),
        ("x-dead-letter-exchange", s("dlx"), FieldTable::default()),
        (
            "x-dead-letter-routing-key",
            s("a"),
            args(&[("x-dead-letter-exchange", s("dlx"))]),
        ),
        ("x-max-priority", int(5), FieldTable::default()),
        ("x-queue-mode", s("lazy"), FieldTable::default()),
        ("x-overflow", s("reject-publish"), FieldTable::default()),
        (
            "x-single-active-consumer",
            AMQPValue::Boolean(true),
            FieldTable::default(),
        ),
        (
            "x-queue-master-locator",
            s("min-masters"),
            FieldTable::default(),
        ),
    ];
    for (i, (key, value, base)) in cases.into_iter().enumerate() {
        let ch = conn.create_channel().await.unwrap();
        let name = format!("q{i}");
        let mut with = base.clone();
        with.insert(key.into(), value.clone());
        declare(&ch, &name, opts(), with).await;
        let shown = match &value {
            AMQPValue::LongString(v) => (v.to_string(), "longstr"),
            AMQPValue::Boolean(b) => (b.to_string(), "bool"),
            AMQPValue::LongInt(n) => (n.to_string(), "signedint"),
            other => unreachable!("{other:?}"),
        };
        assert_reply(
            ch.queue_declare(name.as_str().into(), opts(), base).await,
            406,
            &format!(
                "PRECONDITION_FAILED - inequivalent arg '{key}' for queue '{name}' in vhost '/': received none but current is the value '{}' of type '{}'",
                shown.0, shown.1
            ),
        );
    }
}

#[tokio::test]
async fn other_arguments_are_not_compared() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(
        &ch,
        "q",
        opts(),
        args(&[
            ("x-foo", s("bar")),
            ("foo", AMQPValue::LongInt(1)),
            ("x-queue-type", s("classic")),
        ]),
    )
    .await;
    declare(&ch, "q", opts(), FieldTable::default()).await;
    declare(&ch, "q", opts(), args(&[("x-foo", s("other"))])).await;
}

#[tokio::test]
async fn a_classic_queue_redeclared_as_quorum_is_406() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    let durable = QueueDeclareOptions {
        durable: true,
        ..opts()
    };
    declare(&ch, "q", durable, FieldTable::default()).await;
    assert_reply(
        ch.queue_declare("q".into(), durable, args(&[("x-queue-type", s("quorum"))]))
            .await,
        406,
        "PRECONDITION_FAILED - inequivalent arg 'x-queue-type' for queue 'q' in vhost '/': received the value 'quorum' of type 'longstr' but current is none",
    );
}

// ---- passive, names

#[tokio::test]
async fn passive_declare_ignores_flags_and_arguments() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(&ch, "q", opts(), FieldTable::default()).await;
    declare(
        &ch,
        "q",
        QueueDeclareOptions {
            passive: true,
            durable: true,
            auto_delete: true,
            ..opts()
        },
        args(&[("x-message-ttl", AMQPValue::LongInt(5))]),
    )
    .await;
}

#[tokio::test]
async fn passive_declare_of_a_missing_queue_is_404() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    assert_reply(
        ch.queue_declare("no-such-queue".into(), passive(), FieldTable::default())
            .await,
        404,
        "NOT_FOUND - no queue 'no-such-queue' in vhost '/'",
    );
}

#[tokio::test]
async fn passive_declare_of_the_empty_name_is_404_even_after_a_declare() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(&ch, "", opts(), FieldTable::default()).await;
    assert_reply(
        ch.queue_declare("".into(), passive(), FieldTable::default())
            .await,
        404,
        "NOT_FOUND - no queue '' in vhost '/'",
    );
}

#[tokio::test]
async fn declaring_an_amq_prefixed_queue_is_403() {
    let broker = TestBroker::start().await;
    let conn = broker.connect().await;
    let ch = conn.create_channel().await.unwrap();
    assert_reply(
        ch.queue_declare("amq.foo".into(), opts(), FieldTable::default())
            .await,
        403,
        "ACCESS_REFUSED - queue name 'amq.foo' contains reserved prefix 'amq.*'",
    );
    let ch = conn.create_channel().await.unwrap();
    assert_reply(
        ch.queue_declare("amq.foo".into(), passive(), FieldTable::default())
            .await,
        404,
        "NOT_FOUND - no queue 'amq.foo' in vhost '/'",
    );
    let ch = conn.create_channel().await.unwrap();
    declare(&ch, "AMQ.foo", opts(), FieldTable::default()).await;
}

#[tokio::test]
async fn server_named_queues_look_like_rabbitmqs() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    let a = ch
        .queue_declare("".into(), opts(), FieldTable::default())
        .await
        .unwrap();
    let b = ch
        .queue_declare(
            "".into(),
            QueueDeclareOptions {
                durable: true,
                ..opts()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    for q in [&a, &b] {
        let name = q.name().as_str();
        let suffix = name.strip_prefix("amq.gen-").expect("amq.gen- prefix");
        assert_eq!(suffix.len(), 22, "{name}");
        assert!(suffix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    }
    assert_ne!(a.name(), b.name());
}

#[tokio::test]
async fn the_empty_queue_name_without_a_prior_declare_is_404() {
    let broker = TestBroker::start().await;
    let conn = broker.connect().await;
    let ch = conn.create_channel().await.unwrap();
    assert_reply(
        ch.queue_delete("".into(), QueueDeleteOptions::default())
            .await,
        404,
        "NOT_FOUND - no previously declared queue",
    );
    let ch = conn.create_channel().await.unwrap();
    assert_reply(
        ch.queue_bind(
            "".into(),
            "amq.direct".into(),
            "k".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await,
        404,
        "NOT_FOUND - no previously declared queue",
    );
}

#[tokio::test]
async fn binding_the_empty_queue_name_uses_the_last_declared_queue_and_its_name_as_key() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(&ch, "named", opts(), FieldTable::default()).await;
    ch.queue_bind(
        "".into(),
        "amq.direct".into(),
        "".into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    warren_testkit::publish_confirmed(&ch, "amq.direct", "named", BasicProperties::default())
        .await
        .unwrap();
    warren_testkit::publish_confirmed(&ch, "amq.direct", "", BasicProperties::default())
        .await
        .unwrap();
    assert_eq!(depth(&ch, "named").await, 1);
}

// ---- delete and purge

#[tokio::test]
async fn deleting_a_missing_queue_succeeds_with_0() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    let n = ch
        .queue_delete(
            "no-such-queue".into(),
            QueueDeleteOptions {
                if_unused: true,
                if_empty: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(n, 0);
}

#[tokio::test]
async fn purging_a_missing_queue_is_404() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    assert_reply(
        ch.queue_purge("no-such-queue".into(), QueuePurgeOptions::default())
            .await,
        404,
        "NOT_FOUND - no queue 'no-such-queue' in vhost '/'",
    );
}

#[tokio::test]
async fn delete_and_purge_count_ready_messages_only() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(&ch, "q", opts(), FieldTable::default()).await;
    fill(&ch, "q", 3).await;
    assert_eq!(
        ch.queue_purge("q".into(), QueuePurgeOptions::default())
            .await
            .unwrap(),
        3
    );
    fill(&ch, "q", 4).await;
    let got = ch
        .basic_get("q".into(), BasicGetOptions::default())
        .await
        .unwrap()
        .expect("a message");
    let declared = ch
        .queue_declare("q".into(), passive(), FieldTable::default())
        .await
        .unwrap();
    assert_eq!(declared.message_count(), 3);
    assert_eq!(
        ch.queue_delete("q".into(), QueueDeleteOptions::default())
            .await
            .unwrap(),
        3
    );
    drop(got);
}

#[tokio::test]
async fn delete_if_empty_with_ready_messages_is_406() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(&ch, "q", opts(), FieldTable::default()).await;
    fill(&ch, "q", 1).await;
    assert_reply(
        ch.queue_delete(
            "q".into(),
            QueueDeleteOptions {
                if_empty: true,
                ..Default::default()
            },
        )
        .await,
        406,
        "PRECONDITION_FAILED - queue 'q' in vhost '/' not empty",
    );
}

#[tokio::test]
async fn delete_if_empty_ignores_unacked_messages() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(&ch, "q", opts(), FieldTable::default()).await;
    fill(&ch, "q", 1).await;
    let _unacked = ch
        .basic_get("q".into(), BasicGetOptions::default())
        .await
        .unwrap()
        .expect("a message");
    let n = ch
        .queue_delete(
            "q".into(),
            QueueDeleteOptions {
                if_empty: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(n, 0);
}

#[tokio::test]
async fn delete_if_unused_with_a_consumer_is_406() {
    let broker = TestBroker::start().await;
    let (_c1, consumer_ch) = broker.channel().await;
    declare(&consumer_ch, "q", opts(), FieldTable::default()).await;
    let _consumer = consumer_ch
        .basic_consume(
            "q".into(),
            "ct".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let (_c2, ch) = broker.channel().await;
    assert_reply(
        ch.queue_delete(
            "q".into(),
            QueueDeleteOptions {
                if_unused: true,
                ..Default::default()
            },
        )
        .await,
        406,
        "PRECONDITION_FAILED - queue 'q' in vhost '/' in use",
    );
}

#[tokio::test]
async fn deleting_a_queue_cancels_its_consumers() {
    let broker = TestBroker::start().await;
    let (_c1, consumer_ch) = broker.channel().await;
    declare(&consumer_ch, "q", opts(), FieldTable::default()).await;
    let mut consumer = consumer_ch
        .basic_consume(
            "q".into(),
            "ct".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let (_c2, ch) = broker.channel().await;
    ch.queue_delete("q".into(), QueueDeleteOptions::default())
        .await
        .unwrap();
    let next = tokio::time::timeout(Duration::from_secs(5), consumer.next())
        .await
        .expect("the consumer ends");
    assert!(next.is_none(), "got {next:?}");
}

#[tokio::test]
async fn declare_ok_counts_ready_messages_and_consumers() {
    let broker = TestBroker::start().await;
    let (_c1, ch) = broker.channel().await;
    declare(&ch, "q", opts(), FieldTable::default()).await;
    fill(&ch, "q", 3).await;
    assert_eq!(depth(&ch, "q").await, 3);
    let (_c2, consumer_ch) = broker.channel().await;
    consumer_ch
        .basic_qos(2, BasicQosOptions::default())
        .await
        .unwrap();
    let mut consumer = consumer_ch
        .basic_consume(
            "q".into(),
            "ct".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    for _ in 0..2 {
        consumer.next().await.expect("delivery").expect("ok");
    }
    let declared = ch
        .queue_declare("q".into(), passive(), FieldTable::default())
        .await
        .unwrap();
    assert_eq!(
        (declared.message_count(), declared.consumer_count()),
        (1, 1)
    );
}

// ---- exclusive queues

async fn exclusive_queue(broker: &TestBroker) -> (Connection, Channel) {
    let (conn, ch) = broker.channel().await;
    declare(
        &ch,
        "q",
        QueueDeclareOptions {
            exclusive: true,
            ..opts()
        },
        FieldTable::default(),
    )
    .await;
    (conn, ch)
}

#[tokio::test]
async fn other_connections_get_405_for_every_operation_on_an_exclusive_queue() {
    let broker = TestBroker::start().await;
    let _owner = exclusive_queue(&broker).await;
    let other = broker.connect().await;
    macro_rules! locked {
        ($ch:ident => $op:expr) => {{
            let $ch = other.create_channel().await.unwrap();
            assert_reply($op.await, 405, LOCKED);
        }};
    }
    locked!(ch => ch.queue_declare("q".into(), QueueDeclareOptions { exclusive: true, ..opts() }, FieldTable::default()));
    locked!(ch => ch.queue_declare("q".into(), opts(), FieldTable::default()));
    locked!(ch => ch.queue_declare("q".into(), passive(), FieldTable::default()));
    locked!(ch => ch.basic_consume("q".into(), "c".into(), BasicConsumeOptions::default(), FieldTable::default()));
    locked!(ch => ch.basic_get("q".into(), BasicGetOptions::default()));
    locked!(ch => ch.queue_bind("q".into(), "amq.direct".into(), "k".into(), QueueBindOptions::default(), FieldTable::default()));
    locked!(ch => ch.queue_unbind("q".into(), "amq.direct".into(), "k".into(), FieldTable::default()));
    locked!(ch => ch.queue_purge("q".into(), QueuePurgeOptions::default()));
    locked!(ch => ch.queue_delete("q".into(), QueueDeleteOptions::default()));
    locked!(ch => ch.queue_delete("q".into(), QueueDeleteOptions { if_unused: true, ..Default::default() }));
}

#[tokio::test]
async fn other_connections_may_publish_to_an_exclusive_queue() {
    let broker = TestBroker::start().await;
    let (_owner, owner_ch) = exclusive_queue(&broker).await;
    owner_ch
        .queue_bind(
            "q".into(),
            "amq.direct".into(),
            "k".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let (_other, ch) = broker.channel().await;
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    warren_testkit::publish_confirmed(&ch, "", "q", BasicProperties::default())
        .await
        .unwrap();
    warren_testkit::publish_confirmed(&ch, "amq.direct", "k", BasicProperties::default())
        .await
        .unwrap();
    assert_eq!(depth(&owner_ch, "q").await, 2);
}

#[tokio::test]
async fn an_exclusive_queue_goes_when_its_connection_closes() {
    let broker = TestBroker::start().await;
    let (owner, _ch) = exclusive_queue(&broker).await;
    owner.close(200, "bye".into()).await.unwrap();
    let (_other, ch) = broker.channel().await;
    assert_reply(
        ch.queue_declare("q".into(), passive(), FieldTable::default())
            .await,
        404,
        "NOT_FOUND - no queue 'q' in vhost '/'",
    );
}

// ---- auto-delete

#[tokio::test]
async fn an_auto_delete_queue_stays_until_its_last_consumer_goes() {
    let broker = TestBroker::start().await;
    let conn = broker.connect().await;
    let ch = conn.create_channel().await.unwrap();
    declare(
        &ch,
        "q",
        QueueDeclareOptions {
            auto_delete: true,
            ..opts()
        },
        FieldTable::default(),
    )
    .await;
    assert_eq!(depth(&ch, "q").await, 0, "never consumed: stays");
    let mut consumers = Vec::new();
    for tag in ["c1", "c2"] {
        // Kept alive: lapin cancels a consumer whose stream is dropped.
        consumers.push(
            ch.basic_consume(
                "q".into(),
                tag.into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .unwrap(),
        );
    }
    ch.basic_cancel("c1".into(), BasicCancelOptions::default())
        .await
        .unwrap();
    assert_eq!(depth(&ch, "q").await, 0, "one consumer left");
    ch.basic_cancel("c2".into(), BasicCancelOptions::default())
        .await
        .unwrap();
    assert_reply(
        ch.queue_declare("q".into(), passive(), FieldTable::default())
            .await,
        404,
        "NOT_FOUND - no queue 'q' in vhost '/'",
    );
}

#[tokio::test]
async fn closing_a_channel_requeues_its_unacked_messages() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(&ch, "q", opts(), FieldTable::default()).await;
    fill(&ch, "q", 1).await;
    let (_c2, consumer_ch) = broker.channel().await;
    let got = consumer_ch
        .basic_get("q".into(), BasicGetOptions::default())
        .await
        .unwrap()
        .expect("a message");
    assert!(!got.delivery.redelivered);
    consumer_ch.close(200, "bye".into()).await.unwrap();
    let again = ch
        .basic_get("q".into(), BasicGetOptions::default())
        .await
        .unwrap()
        .expect("requeued");
    assert!(again.delivery.redelivered);
    again
        .delivery
        .ack(BasicAckOptions::default())
        .await
        .unwrap();
}
