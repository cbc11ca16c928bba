//! Queue declaration arguments: `x-queue-type` (classic and quorum), validation errors
//! and redeclaration equivalence, each with RabbitMQ 3.10's reply code and exact text
//! (docs/probes/out-queue-rabbitmq-3.10.8.txt and checks against RabbitMQ with pika).

use lapin::options::QueueDeclareOptions;
use lapin::types::{AMQPValue, FieldTable};
use lapin::Connection;
use warren_testkit::args::*;
use warren_testkit::smart::*;
use warren_testkit::*;

fn durable() -> QueueDeclareOptions {
    QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    }
}

/// Declares `name` on a fresh channel and expects a 406 with `text`.
async fn refused(
    conn: &Connection,
    name: &str,
    options: QueueDeclareOptions,
    args: FieldTable,
    text: &str,
) {
    let ch = conn.create_channel().await.unwrap();
    assert_reply(declare_with(&ch, name, options, args).await, 406, text);
}

#[tokio::test]
async fn classic_and_quorum_queue_types_are_accepted() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(&ch, "classic", table(&[("x-queue-type", s("classic"))]))
        .await
        .unwrap();
    // A missing type means classic: both spellings are equivalent on redeclare.
    declare(&ch, "classic", FieldTable::default())
        .await
        .unwrap();
    declare(&ch, "untyped", FieldTable::default())
        .await
        .unwrap();
    declare(&ch, "untyped", table(&[("x-queue-type", s("classic"))]))
        .await
        .unwrap();
    // What Celery/kombu send for a quorum queue.
    let quorum = || table(&[("x-queue-type", s("quorum"))]);
    declare_with(&ch, "quorum", durable(), quorum())
        .await
        .unwrap();
    declare_with(&ch, "quorum", durable(), quorum())
        .await
        .unwrap();
    publish(&ch, "quorum", b"works").await;
    assert_eq!(
        get_body(&ch, "quorum").await.as_deref(),
        Some(&b"works"[..])
    );
}

#[tokio::test]
async fn quorum_queues_refuse_what_rabbitmq_refuses() {
    let broker = TestBroker::start().await;
    let conn = broker.connect().await;
    let quorum = || table(&[("x-queue-type", s("quorum"))]);
    refused(
        &conn,
        "qq",
        QueueDeclareOptions::default(),
        quorum(),
        "PRECONDITION_FAILED - invalid property 'non-durable' for queue 'qq' in vhost '/'",
    )
    .await;
    let exclusive = QueueDeclareOptions {
        exclusive: true,
        ..durable()
    };
    refused(
        &conn,
        "qq",
        exclusive,
        quorum(),
        "PRECONDITION_FAILED - invalid property 'exclusive-owner' for queue 'qq' in vhost '/'",
    )
    .await;
    let auto_delete = QueueDeclareOptions {
        auto_delete: true,
        ..durable()
    };
    refused(
        &conn,
        "qq",
        auto_delete,
        quorum(),
        "PRECONDITION_FAILED - invalid property 'auto-delete' for queue 'qq' in vhost '/'",
    )
    .await;
    refused(
        &conn,
        "qq",
        durable(),
        table(&[("x-queue-type", s("quorum")), ("x-max-priority", int(5))]),
        "PRECONDITION_FAILED - invalid arg 'x-max-priority' for queue 'qq' in vhost '/' of queue type rabbit_quorum_queue",
    )
    .await;
    // Redeclaring an existing quorum queue as classic.
    let ch = conn.create_channel().await.unwrap();
    declare_with(&ch, "qq", durable(), quorum()).await.unwrap();
    refused(
        &conn,
        "qq",
        durable(),
        FieldTable::default(),
        "PRECONDITION_FAILED - inequivalent arg 'x-queue-type' for queue 'qq' in vhost '/': received none but current is the value 'quorum' of type 'longstr'",
    )
    .await;
    refused(
        &conn,
        "qq",
        durable(),
        table(&[("x-queue-type", s("classic"))]),
        "PRECONDITION_FAILED - inequivalent arg 'x-queue-type' for queue 'qq' in vhost '/': received 'classic' but current is 'quorum'",
    )
    .await;
}

#[tokio::test]
async fn other_queue_types_are_refused_with_a_clear_text() {
    let broker = TestBroker::start().await;
    let conn = broker.connect().await;
    refused(
        &conn,
        "typed",
        QueueDeclareOptions::default(),
        table(&[("x-queue-type", s("foo"))]),
        "PRECONDITION_FAILED - invalid arg 'x-queue-type' for queue 'typed' in vhost '/': \"unsupported queue type 'foo'\"",
    )
    .await;
    refused(
        &conn,
        "typed",
        QueueDeclareOptions::default(),
        table(&[("x-queue-type", int(5))]),
        "PRECONDITION_FAILED - invalid arg 'x-queue-type' for queue 'typed' in vhost '/': {unacceptable_type,signedint}",
    )
    .await;
}

#[tokio::test]
async fn invalid_arguments_are_refused_with_rabbitmq_texts() {
    let broker = TestBroker::start().await;
    let conn = broker.connect().await;
    let invalid = |key: &str, detail: &str| {
        format!("PRECONDITION_FAILED - invalid arg '{key}' for queue 'args' in vhost '/': {detail}")
    };
    let cases: Vec<(&str, AMQPValue, String)> = vec![
        ("x-message-ttl", int(-1), invalid("x-message-ttl", "{value_negative,-1}")),
        ("x-message-ttl", s("abc"), invalid("x-message-ttl", "\"expected integer, got longstr\"")),
        (
            "x-message-ttl",
            long(1 << 40),
            invalid("x-message-ttl", "{value_too_large,1099511627776}"),
        ),
        (
            "x-message-ttl",
            AMQPValue::Double(1000.0),
            invalid("x-message-ttl", "\"expected integer, got double\""),
        ),
        ("x-expires", int(0), invalid("x-expires", "{value_zero,0}")),
        ("x-expires", int(-5), invalid("x-expires", "{value_negative,-5}")),
        ("x-expires", s("abc"), invalid("x-expires", "\"expected integer, got longstr\"")),
        ("x-max-length", int(-1), invalid("x-max-length", "{value_negative,-1}")),
        ("x-max-length-bytes", int(-1), invalid("x-max-length-bytes", "{value_negative,-1}")),
        ("x-queue-mode", s("foo"), invalid("x-queue-mode", "\"unsupported queue mode 'foo'\"")),
        ("x-overflow", s("foo"), invalid("x-overflow", "invalid_overflow")),
        (
            "x-dead-letter-exchange",
            int(5),
            "PRECONDITION_FAILED - invalid type 'signedint' for arg 'x-dead-letter-exchange' in queue 'args' in vhost '/'".into(),
        ),
        (
            "x-dead-letter-routing-key",
            s("rk"),
            invalid("x-dead-letter-routing-key", "routing_key_but_no_dlx_defined"),
        ),
        (
            "x-single-active-consumer",
            s("yes"),
            invalid("x-single-active-consumer", "{unacceptable_type,longstr}"),
        ),
        (
            "x-single-active-consumer",
            int(1),
            invalid("x-single-active-consumer", "{unacceptable_type,signedint}"),
        ),
        ("x-max-priority", int(256), invalid("x-max-priority", "{max_value_exceeded,256}")),
    ];
    for (key, value, text) in cases {
        refused(
            &conn,
            "args",
            QueueDeclareOptions::default(),
            table(&[(key, value)]),
            &text,
        )
        .await;
    }
    // None of those declarations created the queue.
    assert!(!queue_exists(&conn, "args").await);
}

#[tokio::test]
async fn accepted_edge_values_and_unknown_arguments() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    let ok = [
        ("x-message-ttl", int(0)),
        ("x-max-priority", int(255)),
        ("x-max-priority", int(0)),
        ("x-overflow", s("reject-publish-dlx")),
        ("x-queue-mode", s("lazy")),
        ("x-foo-unknown", s("bar")),
    ];
    for (i, (key, value)) in ok.into_iter().enumerate() {
        let name = format!("ok-{i}");
        declare(&ch, &name, table(&[(key, value)]))
            .await
            .unwrap_or_else(|e| panic!("{key}: {e}"));
    }
}

#[tokio::test]
async fn redeclaring_with_other_arguments_is_refused() {
    let broker = TestBroker::start().await;
    let conn = broker.connect().await;
    let ch = conn.create_channel().await.unwrap();
    declare(&ch, "eq", table(&[("x-message-ttl", int(1000))]))
        .await
        .unwrap();
    // The same value with another integer width is equivalent.
    declare(&ch, "eq", table(&[("x-message-ttl", long(1000))]))
        .await
        .unwrap();
    // Unknown arguments are not compared.
    declare(
        &ch,
        "eq",
        table(&[("x-message-ttl", int(1000)), ("x-foo", s("a"))]),
    )
    .await
    .unwrap();
    let prefix =
        "PRECONDITION_FAILED - inequivalent arg 'x-message-ttl' for queue 'eq' in vhost '/'";
    refused(
        &conn,
        "eq",
        QueueDeclareOptions::default(),
        FieldTable::default(),
        &format!("{prefix}: received none but current is the value '1000' of type 'signedint'"),
    )
    .await;
    refused(
        &conn,
        "eq",
        QueueDeclareOptions::default(),
        table(&[("x-message-ttl", int(2000))]),
        &format!("{prefix}: received '2000' but current is '1000'"),
    )
    .await;
    refused(
        &conn,
        "eq",
        QueueDeclareOptions::default(),
        table(&[("x-message-ttl", s("1000"))]),
        &format!("{prefix}: received '1000' but current is '1000'"),
    )
    .await;
    let ch = conn.create_channel().await.unwrap();
    declare(&ch, "plain", FieldTable::default()).await.unwrap();
    refused(
        &conn,
        "plain",
        QueueDeclareOptions::default(),
        table(&[("x-max-priority", int(5))]),
        "PRECONDITION_FAILED - inequivalent arg 'x-max-priority' for queue 'plain' in vhost '/': received the value '5' of type 'signedint' but current is none",
    )
    .await;
}
