//! What stream queues refuse, with RabbitMQ 3.10.8's reply codes and texts (each
//! checked against a real RabbitMQ): non-durable, exclusive and auto-delete streams,
//! the queue arguments streams do not support, bad `x-max-age` and segment sizes, a
//! consumer without a prefetch or with automatic acknowledgement, `basic.get`,
//! `queue.purge`, nack and reject, bad `x-stream-offset` values; and redeclaration
//! equivalence of the stream arguments.

#[path = "streams/support.rs"]
#[allow(dead_code)]
mod support;

use lapin::options::{
    BasicConsumeOptions, BasicGetOptions, BasicNackOptions, BasicQosOptions, BasicRejectOptions,
    QueueDeclareOptions, QueuePurgeOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use support::*;
use warren_testkit::args::{boolean, int, long, s, table};
use warren_testkit::{assert_reply, TestBroker, WAIT};

fn durable(durable: bool, exclusive: bool, auto_delete: bool) -> QueueDeclareOptions {
    QueueDeclareOptions {
        durable,
        exclusive,
        auto_delete,
        ..Default::default()
    }
}

#[tokio::test]
async fn declarations_streams_refuse() {
    let broker = TestBroker::start().await;
    let pf = |t: &str| format!("PRECONDITION_FAILED - {t}");
    let cases: Vec<(QueueDeclareOptions, FieldTable, String)> = vec![
        (durable(false, false, false), stream_args(&[]), pf("invalid property 'non-durable' for queue 's' in vhost '/'")),
        (durable(true, true, false), stream_args(&[]), pf("invalid property 'exclusive-owner' for queue 's' in vhost '/'")),
        (durable(true, false, true), stream_args(&[]), pf("invalid property 'auto-delete' for queue 's' in vhost '/'")),
        (durable(false, true, true), stream_args(&[]), pf("invalid property 'auto-delete' for queue 's' in vhost '/'")),
        // Arguments are checked before properties.
        (durable(false, false, false), stream_args(&[("x-max-length", int(1))]), pf("invalid arg 'x-max-length' for queue 's' in vhost '/' of queue type rabbit_stream_queue")),
        // The first refused one in the table's order (lapin sends its keys sorted).
        (durable(true, false, false), stream_args(&[("x-message-ttl", int(1)), ("x-max-length", int(1))]), pf("invalid arg 'x-max-length' for queue 's' in vhost '/' of queue type rabbit_stream_queue")),
        (durable(true, false, false), stream_args(&[("x-max-age", int(10))]), pf("invalid arg 'x-max-age' for queue 's' in vhost '/': {unacceptable_type,signedint}")),
        (durable(true, false, false), stream_args(&[("x-max-age", s("0D"))]), pf("invalid arg 'x-max-age' for queue 's' in vhost '/': invalid_max_age")),
        (durable(true, false, false), stream_args(&[("x-max-age", s("5d"))]), pf("invalid arg 'x-max-age' for queue 's' in vhost '/': invalid_max_age")),
        (durable(true, false, false), stream_args(&[("x-stream-max-segment-size-bytes", s("abc"))]), pf("invalid arg 'x-stream-max-segment-size-bytes' for queue 's' in vhost '/': \"expected integer, got longstr\"")),
        (durable(true, false, false), stream_args(&[("x-stream-max-segment-size-bytes", int(-5))]), pf("invalid arg 'x-stream-max-segment-size-bytes' for queue 's' in vhost '/': {value_negative,-5}")),
        (durable(true, false, false), stream_args(&[("x-max-length-bytes", int(-1))]), pf("invalid arg 'x-max-length-bytes' for queue 's' in vhost '/': {value_negative,-1}")),
    ];
    for key in [
        "x-expires",
        "x-dead-letter-exchange",
        "x-max-priority",
        "x-overflow",
        "x-single-active-consumer",
        "x-queue-mode",
        "x-delivery-limit",
        "x-queue-version",
    ] {
        let value = match key {
            "x-dead-letter-exchange" => s("dlx"),
            "x-overflow" => s("reject-publish"),
            "x-queue-mode" => s("lazy"),
            "x-single-active-consumer" => boolean(true),
            _ => int(3),
        };
        let (_c, ch) = broker.channel().await;
        assert_reply(
            ch.queue_declare(
                "s".into(),
                durable(true, false, false),
                stream_args(&[(key, value)]),
            )
            .await,
            406,
            &pf(&format!(
                "invalid arg '{key}' for queue 's' in vhost '/' of queue type rabbit_stream_queue"
            )),
        );
    }
    for (options, args, text) in cases {
        let (_c, ch) = broker.channel().await;
        assert_reply(
            ch.queue_declare("s".into(), options, args).await,
            406,
            &text,
        );
    }
    // Accepted: every unit of x-max-age, sizes, and arguments RabbitMQ ignores.
    let (_c, ch) = broker.channel().await;
    for (i, age) in ["1Y", "1M", "7D", "1h", "30m", "10s"]
        .into_iter()
        .enumerate()
    {
        declare_stream(&ch, &format!("age{i}"), &[("x-max-age", s(age))]).await;
    }
    declare_stream(
        &ch,
        "sized",
        &[
            ("x-max-length-bytes", long(1 << 30)),
            ("x-stream-max-segment-size-bytes", long(1 << 20)),
            ("x-initial-cluster-size", int(1)),
            ("x-foo", int(1)),
        ],
    )
    .await;
    broker.stop().await;
}

#[tokio::test]
async fn redeclaring_a_stream_checks_its_arguments() {
    let broker = TestBroker::start().await;
    let (_c, ch) = broker.channel().await;
    declare_stream(&ch, "s2", &[("x-max-age", s("7D"))]).await;
    declare_stream(&ch, "s2", &[("x-max-age", s("7D"))]).await;
    let pf = |t: &str| format!("PRECONDITION_FAILED - {t}");
    let (_c, ch) = broker.channel().await;
    assert_reply(
        ch.queue_declare("s2".into(), durable(true, false, false), stream_args(&[("x-max-age", s("1h"))])).await,
        406,
        &pf("inequivalent arg 'x-max-age' for queue 's2' in vhost '/': received '1h' but current is '7D'"),
    );
    let (_c, ch) = broker.channel().await;
    assert_reply(
        ch.queue_declare("s2".into(), durable(true, false, false), stream_args(&[])).await,
        406,
        &pf("inequivalent arg 'x-max-age' for queue 's2' in vhost '/': received none but current is the value '7D' of type 'longstr'"),
    );
    let (_c, ch) = broker.channel().await;
    assert_reply(
        ch.queue_declare("s2".into(), durable(true, false, false), FieldTable::default()).await,
        406,
        &pf("inequivalent arg 'x-queue-type' for queue 's2' in vhost '/': received none but current is the value 'stream' of type 'longstr'"),
    );
    broker.stop().await;
}

#[tokio::test]
async fn consumers_and_operations_streams_refuse() {
    let broker = TestBroker::start().await;
    let (_c, ch) = broker.channel().await;
    declare_stream(&ch, "s3", &[]).await;
    publish_range(&ch, "s3", 0, 3).await;
    let consume = |ch: lapin::Channel, no_ack: bool, args: FieldTable| async move {
        ch.basic_consume(
            "s3".into(),
            "".into(),
            BasicConsumeOptions {
                no_ack,
                ..Default::default()
            },
            args,
        )
        .await
    };
    let (_c, ch) = broker.channel().await;
    assert_reply(
        consume(ch, false, FieldTable::default()).await,
        406,
        "PRECONDITION_FAILED - consumer prefetch count is not set for 'queue 's3' in vhost '/''",
    );
    // A channel-wide prefetch does not count.
    let (_c, ch) = broker.channel().await;
    ch.basic_qos(10, BasicQosOptions { global: true })
        .await
        .unwrap();
    assert_reply(
        consume(ch, false, FieldTable::default()).await,
        406,
        "PRECONDITION_FAILED - consumer prefetch count is not set for 'queue 's3' in vhost '/''",
    );
    let (_c, ch) = broker.channel().await;
    ch.basic_qos(10, BasicQosOptions::default()).await.unwrap();
    assert_reply(
        consume(ch, true, FieldTable::default()).await,
        540,
        "NOT_IMPLEMENTED - automatic acknowledgement not supported by stream queues queue 's3' in vhost '/'",
    );
    let bad_offset = |v: AMQPValue| table(&[("x-stream-offset", v)]);
    for (value, text) in [
        (s("2"), "{invalid_stream_offset_arg,{longstr,<<\"2\">>}}"),
        (
            s("foo"),
            "{invalid_stream_offset_arg,{longstr,<<\"foo\">>}}",
        ),
        (boolean(true), "{invalid_stream_offset_arg,{bool,true}}"),
    ] {
        let (_c, ch) = broker.channel().await;
        ch.basic_qos(10, BasicQosOptions::default()).await.unwrap();
        assert_reply(
            consume(ch, false, bad_offset(value)).await,
            406,
            &format!("PRECONDITION_FAILED - invalid arg 'x-stream-offset' for queue 's3' in vhost '/': {text}"),
        );
    }
    let (_c, ch) = broker.channel().await;
    assert_reply(
        ch.basic_get("s3".into(), BasicGetOptions::default()).await,
        540,
        "NOT_IMPLEMENTED - basic.get not supported by stream queues queue 's3' in vhost '/'",
    );
    let (_c, ch) = broker.channel().await;
    assert_reply(
        ch.queue_purge("s3".into(), QueuePurgeOptions::default())
            .await,
        540,
        "NOT_IMPLEMENTED - queue.purge not supported by stream queues queue 's3' in vhost '/'",
    );
    for nack in [true, false] {
        let (conn, ch) = broker.channel().await;
        let mut c = support::consume(&ch, "s3", "n", 10, &[("x-stream-offset", s("first"))]).await;
        let d = tokio::time::timeout(WAIT, futures_util::StreamExt::next(&mut c))
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if nack {
            d.nack(BasicNackOptions {
                requeue: true,
                ..Default::default()
            })
            .await
            .unwrap();
        } else {
            d.reject(BasicRejectOptions { requeue: false })
                .await
                .unwrap();
        }
        warren_testkit::eventually(WAIT, || {
            let conn = &conn;
            async move { !conn.status().connected() }
        })
        .await;
        // Deliveries already sent come first, then the close.
        let mut closed = futures_util::StreamExt::next(&mut c).await;
        while let Some(Ok(_)) = closed {
            closed = futures_util::StreamExt::next(&mut c).await;
        }
        match closed {
            Some(Err(e)) => assert_eq!(
                warren_testkit::reply(&e),
                Some((540, "NOT_IMPLEMENTED - basic.nack and basic.reject not supported by stream queues queue 's3' in vhost '/'".to_owned()))
            ),
            other => panic!("expected the connection to close, got {other:?}"),
        }
    }
    // The stream lost nothing to any of that.
    let (_c, ch) = broker.channel().await;
    assert_eq!(warren_testkit::depth(&ch, "s3").await, 3);
    broker.stop().await;
}
