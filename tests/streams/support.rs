//! Helpers of the stream suites: declaring a stream, publishing numbered messages with
//! confirms, and consumers that read `x-stream-offset` from their deliveries.

use futures_util::StreamExt;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Consumer};
use warren_testkit::args::{s, table};
use warren_testkit::WAIT;

/// The `x-queue-type: stream` argument plus `extra`.
pub fn stream_args(extra: &[(&str, AMQPValue)]) -> FieldTable {
    let mut entries = vec![("x-queue-type", s("stream"))];
    entries.extend(extra.iter().cloned());
    table(&entries)
}

/// Declares durable stream `name` with `extra` arguments.
pub async fn declare_stream(ch: &Channel, name: &str, extra: &[(&str, AMQPValue)]) {
    ch.queue_declare(
        name.into(),
        QueueDeclareOptions {
            durable: true,
            ..Default::default()
        },
        stream_args(extra),
    )
    .await
    .expect("stream declared");
}

/// Publishes `m{from}`..`m{to-1}` to `stream` through the default exchange, confirmed.
pub async fn publish_range(ch: &Channel, stream: &str, from: u64, to: u64) {
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .expect("confirm mode");
    let mut pending = Vec::new();
    for i in from..to {
        pending.push(
            ch.basic_publish(
                "".into(),
                stream.into(),
                BasicPublishOptions::default(),
                format!("m{i}").as_bytes(),
                BasicProperties::default(),
            )
            .await
            .expect("published"),
        );
    }
    for p in pending {
        assert!(
            p.await.expect("confirmed").is_ack(),
            "every publish is acked"
        );
    }
}

/// A consumer of `stream` with prefetch `prefetch` and these consume arguments.
pub async fn consume(
    ch: &Channel,
    stream: &str,
    tag: &str,
    prefetch: u16,
    args: &[(&str, AMQPValue)],
) -> Consumer {
    ch.basic_qos(prefetch, BasicQosOptions::default())
        .await
        .expect("qos");
    ch.basic_consume(
        stream.into(),
        tag.into(),
        BasicConsumeOptions::default(),
        table(args),
    )
    .await
    .expect("consumer attached")
}

/// The delivery's `x-stream-offset` header.
pub fn offset_of(d: &Delivery) -> u64 {
    match d
        .properties
        .headers()
        .as_ref()
        .and_then(|h| h.inner().get("x-stream-offset"))
    {
        Some(AMQPValue::LongLongInt(n)) => *n as u64,
        other => panic!("x-stream-offset should be a long, got {other:?}"),
    }
}

/// Takes `n` deliveries, acking each: their offsets and bodies.
pub async fn take(c: &mut Consumer, n: usize) -> Vec<(u64, String)> {
    let mut out = Vec::new();
    while out.len() < n {
        let d = tokio::time::timeout(WAIT, c.next())
            .await
            .unwrap_or_else(|_| panic!("only {} of {n} deliveries arrived", out.len()))
            .expect("consumer open")
            .expect("a delivery");
        out.push((offset_of(&d), String::from_utf8_lossy(&d.data).into_owned()));
        d.ack(BasicAckOptions::default()).await.expect("acked");
    }
    out
}

/// Asserts nothing more arrives for a short while.
pub async fn nothing_more(c: &mut Consumer) {
    let got = tokio::time::timeout(std::time::Duration::from_millis(300), c.next()).await;
    assert!(got.is_err(), "expected no more deliveries, got {got:?}");
}

/// `(offset, "m{offset}")` for `range`.
pub fn expected(range: std::ops::Range<u64>) -> Vec<(u64, String)> {
    range.map(|i| (i, format!("m{i}"))).collect()
}
